"""Evaluate a text-to-image GAN's text alignment: does it draw the hair and eye colours the prompt asks for?

An independent judge (:mod:`training.evaluation.attribute_classifier`, a small CNN trained by us on the train
split of ``anime_faces_tagged`` only) names the hair and eye colour of every generated face, and
we count how often that is the colour the prompt named. Every one of the 12 x 11 hair/eye pairs is
asked for, with the same ``--seeds`` seeds for every phrasing (so the phrasings differ only in their
text, never in their noise):

* **tag prompts**: the data's own wording, ``training.captions.tag_prompt`` ("blonde hair blue eyes");
* **free-form prompts**: the 7 held-out templates of ``training.captions.free_form_prompts``, never
  used in training ("manga heroine with blonde locks and blue irises", ...): does the model follow
  wording it has not seen?

Hair, eye and both-correct accuracy are reported beside two references: the **ceiling**, the
classifier's own accuracy on the real test faces (it cannot judge generated faces better than real
ones), and **chance**, 1/12, 1/11 and 1/132: what any generator that ignores the text scores, whatever
it draws, because every colour is asked for equally often. The JSON (``--json``) adds the scores per
hair colour, per eye colour and per template, and the confusion counts (asked for vs seen).

Command line (the old form ``python -m training.evaluate_text2image`` works too)::

    python -m training.evaluation.text2image --model checkpoints/anime-text2image --seeds 4 \\
        --json scores.json --card

The classifier is trained on the first run (a few minutes on one CPU thread) and cached in
``runs/attribute_classifier/``. From code, call :func:`alignment_metrics` with any
``generate(prompt, seeds) -> images`` callable (:func:`pipeline_generator` wraps a pipeline).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from training.captions import EYE_COLOURS, HAIR_COLOURS, HELD_OUT_TEMPLATES, free_form_prompts, tag_prompt
from training.card import dataset_name, display_path, evaluated_model_folder, write_evaluation, write_json
from training.evaluation.attribute_classifier import (
    DEFAULT_CACHE_DIR,
    DEFAULT_DATA,
    AttributeClassifier,
    AttributeConfig,
    colour_indices,
    describe_test,
    load_or_train_attribute_classifier,
    predict_attributes,
    score_attributes,
)
from training.evaluation.images import generated_uint8

#: ``generate(prompt, seeds)`` -> one image per seed: uint8 or float [0, 1] (N, 3, H, W), a list of
#: (3, H, W) tensors, or an object with ``.images`` holding either.
Generate = Callable[[str, list[int]], Any]

#: The two phrasings scored, each a function (hair, eye) -> prompts.
PHRASINGS: dict[str, Callable[[str, str], list[str]]] = {
    "tag": lambda hair, eye: [tag_prompt(hair, eye)],
    "free_form": free_form_prompts,
}
_SUMMARY = ("num_images", "hair_accuracy", "eye_accuracy", "both_accuracy")


def all_pairs() -> list[tuple[str, str]]:
    """Every (hair, eye) colour pair of the data, 12 x 11 = 132, hair-major."""
    return [(hair, eye) for hair in HAIR_COLOURS for eye in EYE_COLOURS]


def alignment_metrics(
    generate: Generate,
    classifier: AttributeClassifier,
    *,
    seeds: int = 4,
    first_seed: int = 0,
    pairs: Sequence[tuple[str, str]] | None = None,
    image_size: int = 64,
    log: Callable[[str], None] | None = None,
) -> dict:
    """How often the classifier sees the prompted hair / eye colour in generated images, per phrasing.

    Args:
        generate: ``generate(prompt, seeds)`` -> one image per seed (see :data:`Generate`).
        classifier: an :class:`~training.evaluation.attribute_classifier.AttributeClassifier` (from
            :func:`~training.evaluation.attribute_classifier.load_or_train_attribute_classifier`).
        seeds: images per prompt, seeds ``first_seed .. first_seed + seeds - 1``; the same seeds for every
            prompt, so tag and free-form images differ only by their text.
        pairs: (hair, eye) colour words to ask for; default all 132 (chance is exact only for all of them,
            or any set asking for every colour equally often).
        image_size: the classifier's input size (generated images are resized to it if they differ).
        log: called with one progress line per phrasing.

    Returns:
        ``{"tag": ..., "free_form": ..., "chance": {"hair", "eye", "both"}, "seeds": [...], "num_pairs",
        "seconds_generate", "seconds_classify"}``; each phrasing's entry is
        :func:`~training.evaluation.attribute_classifier.score_attributes` (accuracies overall, per prompted hair and
        eye colour, confusion counts) plus ``prompts_per_pair``, and free-form adds ``per_template``.

    Example:
        >>> from training.evaluation.attribute_classifier import AttributeClassifier
        >>> grey = lambda prompt, seeds: torch.full((len(seeds), 3, 16, 16), 128, dtype=torch.uint8)
        >>> r = alignment_metrics(grey, AttributeClassifier(4, 16), seeds=1, pairs=[("red", "blue")], image_size=16)
        >>> r["tag"]["num_images"], r["free_form"]["num_images"], round(r["chance"]["hair"], 4)
        (1, 7, 0.0833)
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}.")
    pairs = list(pairs) if pairs is not None else all_pairs()
    if not pairs:
        raise ValueError("alignment_metrics needs at least one (hair, eye) pair.")
    seed_list = list(range(first_seed, first_seed + seeds))
    result: dict[str, Any] = {"seeds": seed_list, "num_pairs": len(pairs)}
    timing = {"seconds_generate": 0.0, "seconds_classify": 0.0}
    for kind, prompts_of in PHRASINGS.items():
        # 1. every prompt of every pair, all seeds; remember what was asked for and by which template
        hair_pred, eye_pred, hair_asked, eye_asked, template = [], [], [], [], []
        for hair, eye in pairs:
            for k, prompt in enumerate(prompts_of(hair, eye)):
                start = time.perf_counter()
                images = generated_uint8(generate(prompt, seed_list), len(seed_list))
                timing["seconds_generate"] += time.perf_counter() - start
                start = time.perf_counter()
                predicted = predict_attributes(classifier, images, image_size)
                timing["seconds_classify"] += time.perf_counter() - start
                hair_pred.append(predicted[0])
                eye_pred.append(predicted[1])
                hair_asked += [hair] * len(seed_list)
                eye_asked += [eye] * len(seed_list)
                template += [k] * len(seed_list)
        # 2. scores against the prompted colours
        hair_pred_t, eye_pred_t = torch.cat(hair_pred), torch.cat(eye_pred)
        hair_true, eye_true = colour_indices(hair_asked, HAIR_COLOURS), colour_indices(eye_asked, EYE_COLOURS)
        scores = score_attributes(hair_pred_t, eye_pred_t, hair_true, eye_true)
        scores["prompts_per_pair"] = len(prompts_of(*pairs[0]))
        if kind == "free_form":
            scores["per_template"] = _per_template(hair_pred_t, eye_pred_t, hair_true, eye_true, torch.tensor(template))
        result[kind] = scores
        if log:
            log(f"{kind}: {_summary_line(scores)}")
    result["chance"] = {"hair": 1 / len(HAIR_COLOURS), "eye": 1 / len(EYE_COLOURS)}
    result["chance"]["both"] = result["chance"]["hair"] * result["chance"]["eye"]
    result.update(timing)
    return result


def _per_template(
    hair_pred: torch.Tensor,
    eye_pred: torch.Tensor,
    hair_true: torch.Tensor,
    eye_true: torch.Tensor,
    template: torch.Tensor,
) -> dict[str, dict]:
    """The summary accuracies of each held-out free-form template's images (``template``: each image's index)."""
    out = {}
    for k, text in enumerate(HELD_OUT_TEMPLATES):
        chosen = template == k
        subset = score_attributes(hair_pred[chosen], eye_pred[chosen], hair_true[chosen], eye_true[chosen])
        out[text] = {key: subset[key] for key in _SUMMARY}
    return out


def _summary_line(scores: dict) -> str:
    return (
        f"hair {100 * scores['hair_accuracy']:.1f}%, eye {100 * scores['eye_accuracy']:.1f}%, "
        f"both {100 * scores['both_accuracy']:.1f}% of {scores['num_images']} images"
    )


def pipeline_generator(pipe: Any, truncation: float | None = None, max_images: int = 64) -> Generate:
    """``generate(prompt, seeds)`` for a :class:`~gan_models.pipelines.text2image.TextToImageGANPipeline`.

    Runs of consecutive seeds go through one call each (image ``i`` of a call comes from seed ``seed + i``),
    at most ``max_images`` per call; ``truncation=None`` keeps the pipeline's default.

    Example:
        >>> calls = []
        >>> fake = lambda **kw: calls.append((kw["seed"], kw["num_images"])) or torch.zeros(kw["num_images"], 3, 4, 4)
        >>> pipeline_generator(fake, max_images=2)("red hair blue eyes", [0, 1, 2, 7]).shape, calls
        (torch.Size([4, 3, 4, 4]), [(0, 2), (2, 1), (7, 1)])
    """
    options = {} if truncation is None else {"truncation": truncation}

    def generate(prompt: str, seeds: list[int]) -> torch.Tensor:
        runs: list[list[int]] = []
        for seed in seeds:
            if runs and seed == runs[-1][-1] + 1 and len(runs[-1]) < max_images:
                runs[-1].append(seed)
            else:
                runs.append([seed])
        out = [
            generated_uint8(
                pipe(prompt=prompt, num_images=len(run), seed=run[0], output_type="pt", **options), len(run)
            )
            for run in runs
        ]
        return torch.cat(out)

    return generate


def format_report(result: dict, model: str = "", detail: bool = False) -> str:
    """The CLI's markdown table of an :func:`alignment_metrics` result (plus ``real`` and ``protocol`` if present).

    ``detail`` adds a table per prompted hair colour and per prompted eye colour.

    Example:
        >>> scores = {"num_images": 4, "hair_accuracy": 0.5, "eye_accuracy": 0.25, "both_accuracy": 0.25}
        >>> print(format_report({"tag": scores, "chance": {"hair": 1 / 12, "eye": 1 / 11, "both": 1 / 132}}))
        | images judged by the attribute classifier | hair | eye | both |
        |---|---:|---:|---:|
        | generated, tag prompts ("blonde hair blue eyes"), 4 images | 50.0% | 25.0% | 25.0% |
        | *chance:* any generator that ignores the text | 8.3% | 9.1% | 0.8% |
    """

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    def row(label: str, scores: dict) -> str:
        cells = " | ".join(pct(scores.get(f"{key}_accuracy")) for key in ("hair", "eye", "both"))
        return f"| {label} | {cells} |"

    lines = ([f"### {model}", ""] if model else []) + [
        "| images judged by the attribute classifier | hair | eye | both |",
        "|---|---:|---:|---:|",
    ]
    if "tag" in result:
        lines.append(
            row(
                f'generated, tag prompts ("blonde hair blue eyes"), {result["tag"]["num_images"]:,} images',
                result["tag"],
            )
        )
    if "free_form" in result:
        count = result["free_form"]["num_images"]
        lines.append(
            row(
                f"generated, free-form prompts ({len(HELD_OUT_TEMPLATES)} held-out templates), {count:,} images",
                result["free_form"],
            )
        )
    if "real" in result:
        real = result["real"]
        lines.append(row(f"*ceiling:* real test faces, {real['num_images']:,}", real))
        balanced = {
            "hair_accuracy": real.get("hair_balanced_accuracy"),
            "eye_accuracy": real.get("eye_balanced_accuracy"),
        }
        lines.append(row("*ceiling:* real test faces, mean over colours (balanced)", balanced))
    if "chance" in result:
        lines.append(
            row(
                "*chance:* any generator that ignores the text",
                {f"{k}_accuracy": v for k, v in result["chance"].items()},
            )
        )
    if detail:
        for attribute, colours in (("hair", HAIR_COLOURS), ("eye", EYE_COLOURS)):
            columns = [f"{kind}: {key}" for kind in ("tag", "free") for key in ("hair", "eye", "both")]
            lines += ["", f"| prompted {attribute} colour | " + " | ".join(columns) + " |", "|---|" + "---:|" * 6]
            for colour in colours:
                cells = []
                for kind in PHRASINGS:
                    scores = result.get(kind, {}).get(f"per_{attribute}", {}).get(colour, {})
                    cells += [pct(scores.get(f"{key}_accuracy")) for key in ("hair", "eye", "both")]
                lines.append(f"| {colour} | " + " | ".join(cells) + " |")
    if result.get("protocol"):
        lines += ["", f"Protocol: {result['protocol']}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def _check_model_path(model: str) -> None:
    """A ``--model`` written as a local path (``checkpoints/x``, ``./x``, ``/abs/x``) must be a folder;
    otherwise :func:`gan_models.hub.resolve_model` would take ``checkpoints/x`` for a Hub repo id."""
    path = Path(model).expanduser()
    local = path.is_absolute() or model.startswith((".", "~")) or (len(path.parts) > 1 and Path(path.parts[0]).is_dir())
    if local and not path.is_dir():
        raise FileNotFoundError(
            f"--model {model!r} is not a folder. Train one with `python training/train_text2image.py --config "
            "training/configs/anime_text2image.yaml` (it exports runs/anime-text2image/pipeline) or pass a saved "
            "TextToImageGANPipeline folder."
        )


def _check_pipeline_class(location: str) -> None:
    """A local model folder must hold a TextToImageGANPipeline (checked before the classifier trains)."""
    index = Path(location) / "model_index.json"
    if index.is_file():
        class_name = json.loads(index.read_text()).get("_class_name")
        if class_name != "TextToImageGANPipeline":
            raise ValueError(
                f"{location} holds a {class_name}, not a TextToImageGANPipeline; pass a text-to-image model."
            )


def _load_pipeline(location: str, device: str):
    """The TextToImageGANPipeline at ``location``, float32 on ``device``, progress bars off."""
    from diffusers.utils import logging as diffusers_logging

    from gan_models.pipelines.text2image import TextToImageGANPipeline

    diffusers_logging.disable_progress_bar()  # "Loading pipeline components": noise in a report
    pipe = TextToImageGANPipeline.from_pretrained(location, dtype=torch.float32).to(device)
    pipe.set_progress_bar_config(disable=True)
    pipe.generator.eval()
    return pipe


def _parser() -> argparse.ArgumentParser:
    """The command line's flags (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.text2image",
        description="Text alignment of a text-to-image GAN: hair / eye colour accuracy judged by our own classifier.",
    )
    parser.add_argument("--model", required=True, help="a bundled name (e.g. anime-text2image) or a saved folder")
    parser.add_argument(
        "--train", type=Path, default=DEFAULT_DATA / "train", help="tagged split the classifier learns from"
    )
    parser.add_argument(
        "--test", type=Path, default=DEFAULT_DATA / "test", help="tagged split for the classifier's ceiling"
    )
    parser.add_argument(
        "--seeds", type=int, default=4, help="images per prompt, the same seeds for every prompt (default 4)"
    )
    parser.add_argument("--first-seed", type=int, default=0, help="first of those seeds (default 0)")
    parser.add_argument("--truncation", type=float, help="psi of the generated images (default: the pipeline's, 0.7)")
    parser.add_argument("--card", action="store_true", help="write the scores into the model folder's card")
    parser.add_argument(
        "--json", type=Path, help="write all numbers, the breakdowns and the protocol to this JSON file"
    )
    parser.add_argument("--classifier-dir", type=Path, default=DEFAULT_CACHE_DIR, help="attribute classifier cache")
    parser.add_argument("--retrain-classifier", action="store_true", help="train the classifier even if cached")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="generator device")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    # 1. check the arguments before any slow work
    if args.seeds < 1:
        parser.error(f"--seeds must be positive, got {args.seeds}.")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}.")
    if args.truncation is not None and not math.isfinite(args.truncation):
        parser.error(f"--truncation must be a finite number, got {args.truncation}.")
    for flag in ("train", "test"):
        folder = getattr(args, flag)
        if not (folder / "captions.csv").is_file():
            parser.error(f"--{flag} {str(folder)!r} is not a tagged split (a folder with captions.csv and images/).")
    try:
        _check_model_path(args.model)
        location, folder = evaluated_model_folder(args.model, card=args.card, grid=False)
        _check_pipeline_class(location)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))

    # 2. the classifier (cached, or trained on the train split only) and its ceiling on the test split
    cfg = AttributeConfig()
    classifier, classifier_info = load_or_train_attribute_classifier(
        args.train,
        args.test,
        config=cfg,
        cache_dir=args.classifier_dir,
        retrain=args.retrain_classifier,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(f"Attribute classifier, real test faces: {describe_test(classifier_info['test'])}", file=sys.stderr)

    # 3. the model and the numbers
    try:
        pipe = _load_pipeline(location, args.device)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    from gan_models.checks import NUM_IMAGES
    from gan_models.pipelines.text2image import DEFAULT_TRUNCATION

    truncation = DEFAULT_TRUNCATION if args.truncation is None else args.truncation
    result: dict[str, Any] = alignment_metrics(
        pipeline_generator(pipe, truncation, NUM_IMAGES.high),
        classifier,
        seeds=args.seeds,
        first_seed=args.first_seed,
        image_size=cfg.image_size,
        log=lambda line: print(line, file=sys.stderr),
    )
    real = classifier_info["test"]
    result.update(
        model=args.model,
        truncation=truncation,
        resolution=pipe.resolution,
        real={
            key: real[key]
            for key in (*_SUMMARY, "hair_balanced_accuracy", "eye_balanced_accuracy", "per_hair", "per_eye")
        },
        classifier={k: classifier_info[k] for k in ("config", "train", "cache") if k in classifier_info},
        protocol=_protocol(args, truncation, result, classifier_info),
    )
    print(format_report(result, model=args.model, detail=True), end="\n\n")

    # 4. card, json
    if args.card:
        _write_card(args, folder, result)
    if args.json:
        write_json(args.json, result)
    return 0


def _protocol(args: argparse.Namespace, truncation: float, result: dict, info: dict) -> str:
    cfg, train, test = info["config"], info["train"], info["test"]
    seeds = result["seeds"]
    images = (
        f"{len(seeds)} images per prompt (seeds {seeds[0]}-{seeds[-1]}"
        if len(seeds) > 1
        else f"1 image per prompt (seed {seeds[0]}"
    )
    return (
        f"For each of the {result['num_pairs']} hair x eye colour pairs, {images}, the same for every prompt, so "
        f"phrasings differ only in text; truncation psi = "
        f"{truncation:g} towards the prompt's mean w; const noise; rounded to 8 bits) from the tag prompt "
        "(`training.captions.tag_prompt`, the data's own wording) and from each of the "
        f"{len(HELD_OUT_TEMPLATES)} free-form templates never used in training "
        "(`training.captions.HELD_OUT_TEMPLATES`), "
        f"{result['tag']['num_images']:,} + {result['free_form']['num_images']:,} images. Judge: an independent CNN "
        f"(4 stride-2 conv blocks, width {cfg['width']}, {cfg['image_size']} px input, a linear 12-way hair and "
        f"11-way eye head on the whole last feature map, class-balanced cross-entropy, {cfg['epochs']} epochs, seed "
        f"{cfg['seed']}, augmented with flips, shifts, blur, noise and JPEG but no colour jitter) trained only on "
        f"{display_path(Path(train['data']))} ({train['num_images']:,} faces); on the {test['num_images']} faces of "
        f"{display_path(Path(test['data']))} it is right about hair {100 * test['hair_accuracy']:.1f}%, eyes "
        f"{100 * test['eye_accuracy']:.1f}% and both {100 * test['both_accuracy']:.1f}% of the time (the ceiling). "
        "Accuracy = share of images whose predicted colour is the prompted one; chance (1/12, 1/11, 1/132) is "
        "exactly what a generator that ignores the text scores, since every colour is asked for equally often."
    )


def _write_card(args: argparse.Namespace, folder: Path, result: dict) -> None:
    """Scores, protocol and reproduce line into the model card's Evaluation section."""
    command = (
        f"python -m training.evaluate_text2image --model {args.model} --seeds {args.seeds}"
        + (f" --first-seed {args.first_seed}" if args.first_seed else "")
        + (f" --truncation {args.truncation:g}" if args.truncation is not None else "")
        + "".join(
            f" --{flag} {display_path(getattr(args, flag))}"
            for flag in ("train", "test")
            if getattr(args, flag).resolve() != (DEFAULT_DATA / flag).resolve()
        )
    )
    markdown = (
        format_report({k: v for k, v in result.items() if k != "protocol"})
        + "\n\nRead each row against the two references: the classifier cannot judge generated faces better than "
        "real ones (ceiling), and chance is what ignoring the text scores. Per colour and per template: `--json`.\n\n"
        f"Protocol: {result['protocol']}\n\nReproduce: `{command}`\n"
    )
    dataset = dataset_name(args.test.resolve()).replace(" ", "_") or "test"
    metrics = {
        f"{dataset} {kind}_{key}": result[kind][key]
        for kind in PHRASINGS
        for key in ("hair_accuracy", "eye_accuracy", "both_accuracy")
    }
    write_evaluation(folder, markdown, metrics)


if __name__ == "__main__":
    sys.exit(main())
