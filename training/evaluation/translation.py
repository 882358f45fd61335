"""Evaluate an unpaired translator (CycleGAN) on a test split: cycle consistency, an independent judge, a grid.

The numbers (:mod:`training.evaluation.translation_metrics`) are shared by the training recipe's
validation and this command line, so the numbers in a run's logs and on the model card are computed
the same way. Two questions, two numbers:

* **Cycle-consistency PSNR** (higher = more of the input survives a round trip): each test image x
  (uint8) goes x -> G(x) -> F(G(x)) through the generators at their native size (the test images'
  own size: no resizing, no tiling), both translations rounded to uint8 as a user would see them;
  PSNR over RGB (peak 255, no border crop), averaged per image. Alone it rewards doing nothing: an
  identity translator scores a perfect 100 dB.
* **Target-domain share** (higher = the translation looks like the other domain): an independent
  CNN (:mod:`training.evaluation.domain_classifier`, trained by us on the train split only, A = 0,
  B = 1) judges every translation; the share with P(target) >= 0.5. Alone it rewards ignoring the input: the
  classifier calls almost anything that is not a photograph "anime" (even an untrained generator's
  smudges), so A -> B is the lenient direction.

So the report sets both beside references: the identity translator (100 dB, and the share of the
untranslated inputs the classifier already calls the target domain), an unrelated reconstruction
(PSNR between a test image and another test image of the same side: a cycle that kept nothing), the
classifier's accuracy on the untranslated inputs (its ceiling), and the mean L1 change input ->
translation (0 for the identity).

Command line (the old form ``python -m training.evaluate_translation`` works too)::

    python -m training.evaluation.translation --model face2anime --train-a ../shared/data/face2anime/trainA \\
        --train-b ../shared/data/face2anime/trainB --test-a ../shared/data/face2anime/testA \\
        --test-b ../shared/data/face2anime/testB --grid --card --json scores.json

(the data arguments default to exactly these folders). The classifier is trained on the first run
(about 75 s on one CPU thread) and cached in ``runs/domain_classifier/``.

The numbers are computed in :mod:`training.evaluation.translation_metrics`: from training, call its
:func:`~training.evaluation.translation_metrics.cycle_metrics` (cheap) at each validation, or
:func:`~training.evaluation.translation_metrics.translation_metrics` with a classifier from
:func:`training.evaluation.domain_classifier.load_or_train_classifier`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from training.card import (
    REPO_ROOT,
    dataset_name,
    display_path,
    evaluated_model_folder,
    licence_note,
    save_sample_grid,
    write_evaluation,
    write_json,
)
from training.evaluation.domain_classifier import DEFAULT_CACHE_DIR, ClassifierConfig, load_or_train_classifier
from training.evaluation.fid import make_feature_extractor
from training.evaluation.translation_metrics import GRID_COUNT, translation_grid, translation_metrics

#: The test data the command line reads by default (``../shared/data/face2anime`` beside the repo).
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "face2anime"


def format_report(result: dict, model: str = "", domain_a: str = "A", domain_b: str = "B") -> str:
    """The CLI's markdown table of a :func:`~training.evaluation.translation_metrics.translation_metrics` result
    (plus ``protocol`` if present).

    Example:
        >>> print(format_report({"cycle_psnr_aba": 25.0, "cycle_psnr_bab": 24.0}))
        | test images | A → B | B → A |
        |---|---:|---:|
        | cycle-consistency PSNR (there and back), dB | 25.00 | 24.00 |
    """

    def cell(key: str, kind: str) -> str:
        value = result.get(key)
        if value is None:
            return "n/a"
        formats = {"db": ".2f", "prob": ".3f", "l1": ".4f", "fid": ".2f", "kid": ".4f"}
        return f"{100 * value:.1f}%" if kind == "pct" else f"{value:{formats[kind]}}"

    rows = [
        ("cycle-consistency PSNR (there and back), dB", "cycle_psnr_aba", "cycle_psnr_bab", "db"),
        ("translations judged the target domain", "target_share_a_to_b", "target_share_b_to_a", "pct"),
        ("mean P(target domain) of the translations", "target_prob_a_to_b", "target_prob_b_to_a", "prob"),
        ("mean L1 change input → translation (0-1 scale)", "l1_change_a_to_b", "l1_change_b_to_a", "l1"),
        ("FID of the translations vs the target test images (random-net features)", "fid_a_to_b", "fid_b_to_a", "fid"),
        ("KID, same features", "kid_a_to_b", "kid_b_to_a", "kid"),
        (
            "*reference, identity translator:* FID of the untranslated inputs vs the target test images",
            "identity_fid_a_to_b",
            "identity_fid_b_to_a",
            "fid",
        ),
        (
            "*reference, perfect translator:* FID of as many real target training images vs the target test images",
            "real_fid_a_to_b",
            "real_fid_b_to_a",
            "fid",
        ),
        (
            "*reference, identity translator:* inputs judged the target domain (its cycle PSNR: 100 dB)",
            "identity_target_share_a_to_b",
            "identity_target_share_b_to_a",
            "pct",
        ),
        (
            "*reference, a cycle that kept nothing:* PSNR to another test image, dB",
            "unrelated_psnr_a",
            "unrelated_psnr_b",
            "db",
        ),
        (
            "*reference, classifier ceiling:* inputs judged their own domain",
            "classifier_accuracy_a",
            "classifier_accuracy_b",
            "pct",
        ),
    ]
    head = f"| test images | {domain_a} → {domain_b} | {domain_b} → {domain_a} |"
    lines = ([f"### {model}", ""] if model else []) + [head, "|---|---:|---:|"]
    for label, key_a, key_b, kind in rows:
        if key_a in result or key_b in result:
            lines.append(f"| {label} | {cell(key_a, kind)} | {cell(key_b, kind)} |")
    if result.get("protocol"):
        lines += ["", f"Protocol: {result['protocol']}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def _dataset_name(test_a: Path) -> str:
    """``.../face2anime/testA`` -> ``face2anime``: names the test set in reports and the card's model-index."""
    return dataset_name(test_a.resolve()).replace(" ", "_") or "test"


def load_test_images(folder: str | Path, size: int | None = None) -> torch.Tensor:
    """A test folder as uint8 (N, 3, H, W): at the images' own size when all share one square size and
    ``size`` is None (no resampling), else centre square + Lanczos to ``size`` (:func:`load_square_images`).

    Example:
        >>> load_test_images("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
    """
    from training.data import load_image_sources, load_square_images

    if size is None:
        images = load_image_sources(str(folder))
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) == 1 and images[0].shape[1] == images[0].shape[2]:
            return torch.stack(images)
        raise ValueError(
            f"The images in {folder} differ in size or are not square ({len(shapes)} shapes, e.g. "
            f"{min(shapes)[1:]}); pass --size to centre-crop and resize them all."
        )
    return load_square_images(str(folder), size)


def _load_translators(location: str, device: str):
    """The CycleGANPipeline at ``location`` (float32, on ``device``), checked to be one."""
    from diffusers.utils import logging as diffusers_logging

    from gan_models.pipelines.translation import CycleGANPipeline

    index = Path(location) / "model_index.json"
    if index.is_file():
        class_name = json.loads(index.read_text()).get("_class_name")
        if class_name != "CycleGANPipeline":
            raise ValueError(f"{location} holds a {class_name}, not a CycleGANPipeline; pass a translation model.")
    diffusers_logging.disable_progress_bar()  # "Loading pipeline components": noise in a report
    pipe = CycleGANPipeline.from_pretrained(location, dtype=torch.float32).to(device)
    pipe.set_progress_bar_config(disable=True)
    for module in (pipe.a_to_b, pipe.b_to_a):
        if module is not None:
            module.eval()
    return pipe


def _parser() -> argparse.ArgumentParser:
    """The command line's flags (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.translation",
        description="Cycle-consistency PSNR and target-domain share (independent classifier) of a CycleGAN model.",
    )
    parser.add_argument("--model", required=True, help="a bundled name (e.g. face2anime) or a saved folder")
    parser.add_argument("--train-a", type=Path, default=DEFAULT_DATA / "trainA", help="domain A training images")
    parser.add_argument("--train-b", type=Path, default=DEFAULT_DATA / "trainB", help="domain B training images")
    parser.add_argument("--test-a", type=Path, default=DEFAULT_DATA / "testA", help="domain A test images")
    parser.add_argument("--test-b", type=Path, default=DEFAULT_DATA / "testB", help="domain B test images")
    parser.add_argument(
        "--size", type=int, help="centre-crop and resize test images to this (default: their own size, unchanged)"
    )
    parser.add_argument("--grid", action="store_true", help="write test inputs and outputs both ways as samples.png")
    parser.add_argument("--card", action="store_true", help="write the scores into the model folder's card")
    parser.add_argument("--json", type=Path, help="write all numbers and the protocol to this JSON file")
    parser.add_argument("--classifier-dir", type=Path, default=DEFAULT_CACHE_DIR, help="domain classifier cache")
    parser.add_argument("--retrain-classifier", action="store_true", help="train the classifier even if cached")
    parser.add_argument("--batch-size", type=int, default=32, help="images per generator call (default 32)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="generator device")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    # 1. check the arguments before any slow work
    if args.batch_size < 1:
        parser.error(f"--batch-size must be positive, got {args.batch_size}.")
    if args.size is not None and args.size < 16:
        parser.error(f"--size must be at least 16, got {args.size}.")
    for flag in ("train_a", "train_b", "test_a", "test_b"):
        folder = getattr(args, flag)
        if not folder.is_dir():
            parser.error(f"--{flag.replace('_', '-')} {str(folder)!r} is not a folder of images.")
    try:
        location, folder = evaluated_model_folder(args.model, card=args.card, grid=args.grid)
    except ValueError as error:
        parser.error(str(error))

    # 2. the model, the test images at their own size, the classifier (cached, or trained on train only)
    try:
        pipe = _load_translators(location, args.device)
        test_a = load_test_images(args.test_a, args.size)
        test_b = load_test_images(args.test_b, args.size)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    cfg = ClassifierConfig()
    classifier, classifier_info = load_or_train_classifier(
        args.train_a,
        args.train_b,
        args.test_a,
        args.test_b,
        config=cfg,
        cache_dir=args.classifier_dir,
        retrain=args.retrain_classifier,
        log=lambda line: print(line, file=sys.stderr),
    )

    # 3. the numbers
    result: dict[str, Any] = translation_metrics(
        pipe,
        test_a,
        test_b,
        classifier,
        batch_size=args.batch_size,
        classifier_size=cfg.image_size,
        feature_extractor=make_feature_extractor("random"),
        train_a=load_test_images(args.train_a, args.size)[: len(test_a)],
        train_b=load_test_images(args.train_b, args.size)[: len(test_b)],
    )
    result.update(
        model=args.model,
        domain_a=pipe.domain_a,
        domain_b=pipe.domain_b,
        size=list(test_a.shape[-2:]),
        test_a=str(args.test_a),
        test_b=str(args.test_b),
        classifier={k: classifier_info[k] for k in ("config", "train", "test", "cache") if k in classifier_info},
        protocol=_protocol(args, test_a, test_b, classifier_info),
    )
    print(format_report(result, model=args.model, domain_a=pipe.domain_a, domain_b=pipe.domain_b), end="\n\n")

    # 4. grid, card, json
    if args.grid:
        grid = translation_grid(pipe.a_to_b, pipe.b_to_a, test_a, test_b, GRID_COUNT)
        rows = ", ".join(
            ([f"{pipe.domain_a}", f"{pipe.domain_a} -> {pipe.domain_b}"] if pipe.a_to_b is not None else [])
            + ([f"{pipe.domain_b}", f"{pipe.domain_b} -> {pipe.domain_a}"] if pipe.b_to_a is not None else [])
        )
        save_sample_grid(grid, folder, rows=rows)
    if args.card:
        _write_card(args, folder, result)
    if args.json:
        write_json(args.json, result)
    return 0


def _protocol(args: argparse.Namespace, test_a: torch.Tensor, test_b: torch.Tensor, info: dict) -> str:
    h, w = test_a.shape[-2:]
    size = f"resized to {args.size} px (centre square, Lanczos)" if args.size else f"at their own size, {w}x{h}"
    cfg, train, test = info["config"], info["train"], info["test"]
    dataset = _dataset_name(args.test_a)
    return (
        f"The {len(test_a)} + {len(test_b)} test images of {dataset} ({display_path(args.test_a)}, {display_path(args.test_b)}), "
        f"{size}, through both generators in batches (fp32, whole images, no tiling), every translation rounded "
        "to 8 bits. Cycle-consistency PSNR: A -> B -> A against A (and B -> A -> B against B), RGB, peak 255, "
        "no border crop, mean over images. Target-domain share: an independent CNN classifier (4 stride-2 conv "
        f"blocks, width {cfg['width']}, {cfg['image_size']} px input, {cfg['epochs']} epochs, seed {cfg['seed']}, "
        "augmented with flips, shifts, colour jitter, blur, noise and JPEG) trained only on "
        f"{display_path(Path(train['data_a']))} ({train['num_a']}) vs {display_path(Path(train['data_b']))} "
        f"({train['num_b']}), test accuracy {100 * test['accuracy_a']:.1f}% / {100 * test['accuracy_b']:.1f}%, "
        "judges each translation; share with P(target) >= 0.5. L1 change: mean |translation - input| on a 0-1 "
        "scale. FID / KID: the translations against the target side's test images, features of this project's "
        "seeded random conv net (`training.evaluation.fid`, offline; ranks models, not comparable with published "
        "Inception FIDs; KID subsets of 100). References: the identity translator; real target training images (as "
        "many as test images); a 'reconstruction' that is another test image of the same side."
    )


def _write_card(args: argparse.Namespace, folder: Path, result: dict) -> None:
    """Scores, protocol, reproduce line and (with --grid) the samples into the model card's Evaluation."""
    defaults = {"train_a": "trainA", "train_b": "trainB", "test_a": "testA", "test_b": "testB"}
    command = (
        f"python -m training.evaluate_translation --model {args.model}"
        + "".join(
            f" --{flag.replace('_', '-')} {display_path(getattr(args, flag))}"
            for flag, name in defaults.items()
            if getattr(args, flag).resolve() != (DEFAULT_DATA / name).resolve()
        )
        + (f" --size {args.size}" if args.size else "")
    )
    domain_a, domain_b = result["domain_a"], result["domain_b"]
    grid_md = (
        f"\n![samples](samples.png)\n\nRows: the first {GRID_COUNT} test images of {domain_a}, their translation to "
        f"{domain_b}, the first {GRID_COUNT} of {domain_b}, their translation to {domain_a}.\n"
        if args.grid
        else ""
    )
    licence = licence_note(*(getattr(args, flag) for flag in defaults))
    markdown = (
        format_report({k: v for k, v in result.items() if k != "protocol"}, domain_a=domain_a, domain_b=domain_b)
        + "\n\nRead the two numbers together: cycle PSNR alone rewards doing nothing (the identity scores 100 dB), "
        "the target-domain share alone rewards ignoring the input.\n\n"
        f"Protocol: {result['protocol']}\n\nReproduce: `{command}`\n{grid_md}{licence}"
    )
    dataset = _dataset_name(args.test_a)
    keys = ("cycle_psnr_aba", "cycle_psnr_bab", "target_share_a_to_b", "target_share_b_to_a")
    metrics = {f"{dataset} {key}": result[key] for key in keys if key in result}
    write_evaluation(folder, markdown, metrics)


if __name__ == "__main__":
    sys.exit(main())
