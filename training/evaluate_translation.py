"""Evaluate an unpaired translator (CycleGAN) on a test split: cycle consistency, an independent judge, a grid.

The functions here are shared by the training recipe's validation and the command line, so the
numbers in a run's logs and on the model card are computed the same way. Two questions, two numbers:

* **Cycle-consistency PSNR** (higher = more of the input survives a round trip): each test image x
  (uint8) goes x -> G(x) -> F(G(x)) through the generators at their native size (the test images'
  own size: no resizing, no tiling), both translations rounded to uint8 as a user would see them;
  PSNR over RGB (peak 255, no border crop), averaged per image. Alone it rewards doing nothing: an
  identity translator scores a perfect 100 dB.
* **Target-domain share** (higher = the translation looks like the other domain): an independent
  CNN (:mod:`training.domain_classifier`, trained by us on the train split only, A = 0, B = 1) judges
  every translation; the share with P(target) >= 0.5. Alone it rewards ignoring the input: the
  classifier calls almost anything that is not a photograph "anime" (even an untrained generator's
  smudges), so A -> B is the lenient direction.

So the report sets both beside references: the identity translator (100 dB, and the share of the
untranslated inputs the classifier already calls the target domain), an unrelated reconstruction
(PSNR between a test image and another test image of the same side: a cycle that kept nothing), the
classifier's accuracy on the untranslated inputs (its ceiling), and the mean L1 change input ->
translation (0 for the identity).

Command line::

    python -m training.evaluate_translation --model face2anime --train-a ../shared/data/face2anime/trainA \\
        --train-b ../shared/data/face2anime/trainB --test-a ../shared/data/face2anime/testA \\
        --test-b ../shared/data/face2anime/testB --grid --card --json scores.json

(the data arguments default to exactly these folders). The classifier is trained on the first run
(about 75 s on one CPU thread) and cached in ``runs/domain_classifier/``.

From training, call :func:`cycle_metrics` (cheap) at each validation, or :func:`translation_metrics`
with a classifier from :func:`training.domain_classifier.load_or_train_classifier`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from training.card import (
    dataset_name,
    display_path,
    evaluated_model_folder,
    licence_note,
    save_sample_grid,
    write_evaluation,
    write_json,
)
from training.domain_classifier import (
    DEFAULT_CACHE_DIR,
    REPO_ROOT,
    ClassifierConfig,
    DomainClassifier,
    domain_probabilities,
    load_or_train_classifier,
)
from training.metrics import make_feature_extractor

Translator = Callable[[torch.Tensor], torch.Tensor]  # [-1, 1] (N, 3, H, W) -> same
TranslatorsLike = Any  # a CycleGANPipeline, a CycleGenerators module, or a pair (a_to_b, b_to_a); either may be None

#: The test data the command line reads by default (``../shared/data/face2anime`` beside the repo).
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "face2anime"
_SIZE_MULTIPLE = 4  # ResnetGenerator halves twice: inputs are reflect-padded to a multiple of this
_GRID_COUNT = 8


@torch.no_grad()
def translate_batches(translator: Translator, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> uint8 (N, 3, H, W) through ``translator``, in batches.

    An ``nn.Module`` runs on its own device and in its own dtype, except that a half-precision
    module on the CPU runs as a float32 copy (CPU half convolutions are slow or missing). Sizes
    that are not a multiple of 4 are reflect-padded at the bottom/right and cropped back.

    Example:
        >>> x = torch.randint(0, 256, (3, 3, 6, 5), dtype=torch.uint8)
        >>> torch.equal(translate_batches(lambda t: t, x), x)
        True
    """
    device, dtype = torch.device("cpu"), torch.float32
    if isinstance(translator, nn.Module):
        param = next(translator.parameters(), None)
        if param is not None:
            device, dtype = param.device, param.dtype
        if device.type == "cpu" and dtype in (torch.float16, torch.bfloat16):
            translator, dtype = copy.deepcopy(translator).float(), torch.float32
    h, w = images.shape[-2:]
    pad_h, pad_w = -h % _SIZE_MULTIPLE, -w % _SIZE_MULTIPLE
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device=device, dtype=dtype) / 127.5 - 1
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        y = translator(x).float().clamp(-1, 1)[..., :h, :w]
        out.append(((y + 1) * 127.5).round().to(torch.uint8).cpu())
    return torch.cat(out)


def psnr_uint8(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image RGB PSNR (dB, peak 255) of two uint8 batches; identical images give 100 dB.

    Example:
        >>> x = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
        >>> psnr_uint8(x, x).tolist()
        [100.0, 100.0]
    """
    if a.shape != b.shape:
        raise ValueError(f"psnr_uint8 needs two batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    mse = (a.float() - b.float()).square().flatten(1).mean(1)
    return torch.where(mse > 0, 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10)), torch.full_like(mse, 100.0))


def _check_images(images: object, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        shape = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(
            f"{name} must be uint8 RGB images (N, 3, H, W), got {shape}; load a folder with "
            "training.data.load_square_images."
        )
    if len(images) == 0:
        raise ValueError(f"{name} holds no images.")
    return images


def _translate_both_ways(
    a_to_b: Translator | None,
    b_to_a: Translator | None,
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    batch_size: int,
) -> dict[str, torch.Tensor]:
    """fake_b / fake_a for each existing direction, rec_a / rec_b when both exist (all uint8)."""
    out = {}
    if a_to_b is not None:
        out["fake_b"] = translate_batches(a_to_b, images_a, batch_size)
    if b_to_a is not None:
        out["fake_a"] = translate_batches(b_to_a, images_b, batch_size)
    if a_to_b is not None and b_to_a is not None:
        out["rec_a"] = translate_batches(b_to_a, out["fake_b"], batch_size)  # A -> B -> A
        out["rec_b"] = translate_batches(a_to_b, out["fake_a"], batch_size)  # B -> A -> B
    return out


@torch.no_grad()
def cycle_metrics(
    a_to_b: Translator, b_to_a: Translator, images_a: torch.Tensor, images_b: torch.Tensor, batch_size: int = 32
) -> dict[str, float]:
    """Cycle-consistency PSNR both ways (see the module docstring), in dB.

    Example:
        >>> x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
        >>> cycle_metrics(lambda t: t, lambda t: t, x, x)["cycle_psnr_aba"]
        100.0
    """
    if a_to_b is None or b_to_a is None:
        raise ValueError("cycle_metrics needs both translators (a_to_b and b_to_a).")
    made = _translate_both_ways(a_to_b, b_to_a, images_a, images_b, batch_size)
    return {
        "cycle_psnr_aba": float(psnr_uint8(made["rec_a"], images_a).mean()),
        "cycle_psnr_bab": float(psnr_uint8(made["rec_b"], images_b).mean()),
    }


def _translators(pipeline_or_generators: TranslatorsLike) -> tuple[Translator | None, Translator | None]:
    """(a_to_b, b_to_a) from a pipeline / CycleGenerators (attributes) or a pair."""
    if isinstance(pipeline_or_generators, (tuple, list)):
        if len(pipeline_or_generators) != 2:
            raise TypeError(f"Pass translators as a pair (a_to_b, b_to_a), got {len(pipeline_or_generators)} items.")
        pair = tuple(pipeline_or_generators)
    elif hasattr(pipeline_or_generators, "a_to_b") and hasattr(pipeline_or_generators, "b_to_a"):
        pair = (pipeline_or_generators.a_to_b, pipeline_or_generators.b_to_a)
    else:
        raise TypeError(
            "translation_metrics needs a CycleGANPipeline, a CycleGenerators module or a pair (a_to_b, b_to_a) "
            f"of modules / callables, got {type(pipeline_or_generators).__name__}."
        )
    for name, fn in zip(("a_to_b", "b_to_a"), pair):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be an nn.Module or a callable [-1, 1] -> [-1, 1], got {type(fn).__name__}.")
    if pair[0] is None and pair[1] is None:
        raise ValueError("Both translators are None: nothing to evaluate.")
    return pair  # type: ignore[return-value]


@torch.no_grad()
def translation_metrics(
    pipeline_or_generators: TranslatorsLike,
    test_a: torch.Tensor,
    test_b: torch.Tensor,
    classifier: DomainClassifier | None = None,
    batch_size: int = 32,
    classifier_size: int = 64,
    feature_extractor: torch.nn.Module | None = None,
    train_a: torch.Tensor | None = None,
    train_b: torch.Tensor | None = None,
) -> dict[str, float]:
    """All numbers of the report: cycle PSNR, target-domain share, L1 change, and their references.

    Args:
        pipeline_or_generators: a ``CycleGANPipeline`` (its ``a_to_b`` / ``b_to_a`` components are
            run on whole batches at the images' size, not through ``__call__``), a ``CycleGenerators``
            module, or a pair ``(a_to_b, b_to_a)`` of modules or callables on [-1, 1] tensors. Either
            direction may be ``None``; its numbers (and the cycle PSNRs) are then left out.
        test_a, test_b: uint8 (N, 3, H, W) test images of domain A and B.
        classifier: a :class:`~training.domain_classifier.DomainClassifier` (P(B) > 0.5 = B); without
            one, the share / probability / accuracy entries are left out.
        batch_size: images per translator call.
        classifier_size: the classifier's input size (its ``ClassifierConfig.image_size``).
        feature_extractor: a network from ``training.metrics.make_feature_extractor``; with one,
            ``fid_*`` / ``kid_*`` measure how far the translations' distribution is from the target
            test split, next to ``identity_fid_*`` (the untranslated inputs against it). A
            distribution-level check that a lenient classifier cannot give.
        train_a, train_b: uint8 training images of each side; with a feature extractor, as many of
            them as there are test images give ``real_fid_*``, real target images against the target
            test split: the floor a perfect translator would reach.

    Returns:
        A flat dict: ``cycle_psnr_aba`` / ``cycle_psnr_bab`` (dB), ``target_share_a_to_b`` (share of
        A -> B judged B) / ``target_share_b_to_a`` (B -> A judged A), ``target_prob_*`` (mean
        P(target)), ``l1_change_*`` (mean |translation - input|, 0-1 scale); references
        ``identity_cycle_psnr`` (100), ``identity_target_share_*`` (untranslated inputs judged the
        target domain), ``unrelated_psnr_a`` / ``_b`` (PSNR between test image i and i + 1 of the
        same side), ``classifier_accuracy_a`` / ``_b`` (untranslated inputs judged their own domain);
        ``num_test_a`` / ``_b`` and ``seconds_translate``.

    Example:
        >>> a = torch.zeros(4, 3, 16, 16, dtype=torch.uint8); b = torch.full_like(a, 200)
        >>> result = translation_metrics((lambda t: t, lambda t: t), a, b)
        >>> result["cycle_psnr_aba"], result["l1_change_a_to_b"]
        (100.0, 0.0)
    """
    a_to_b, b_to_a = _translators(pipeline_or_generators)
    test_a, test_b = _check_images(test_a, "test_a"), _check_images(test_b, "test_b")
    result: dict[str, float] = {"num_test_a": len(test_a), "num_test_b": len(test_b)}

    # 1. every translation once; the cycle reuses the first leg
    start = time.perf_counter()
    made = _translate_both_ways(a_to_b, b_to_a, test_a, test_b, batch_size)
    result["seconds_translate"] = time.perf_counter() - start

    # 2. cycle consistency, with its two references: identity (100 dB) and an unrelated image
    if "rec_a" in made:
        result["cycle_psnr_aba"] = float(psnr_uint8(made["rec_a"], test_a).mean())
        result["cycle_psnr_bab"] = float(psnr_uint8(made["rec_b"], test_b).mean())
    result["identity_cycle_psnr"] = 100.0
    for side, images in (("a", test_a), ("b", test_b)):
        if len(images) > 1:  # image i against image i + 1: a reconstruction that kept nothing of its input
            result[f"unrelated_psnr_{side}"] = float(psnr_uint8(images, images.roll(1, dims=0)).mean())

    # 3. how much each translation changed its input (0 for the identity)
    for key, fake, source in (("a_to_b", "fake_b", test_a), ("b_to_a", "fake_a", test_b)):
        if fake in made:
            result[f"l1_change_{key}"] = float((made[fake].float() - source.float()).abs().mean() / 255)

    # 4. the independent judge: P(B) for inputs and translations; B -> A counts as A when P(B) < 0.5
    if classifier is not None:
        p_a = domain_probabilities(classifier, test_a, classifier_size)
        p_b = domain_probabilities(classifier, test_b, classifier_size)
        result["classifier_accuracy_a"] = float((p_a < 0.5).float().mean())
        result["classifier_accuracy_b"] = float((p_b >= 0.5).float().mean())
        result["identity_target_share_a_to_b"] = float((p_a >= 0.5).float().mean())
        result["identity_target_share_b_to_a"] = float((p_b < 0.5).float().mean())
        if "fake_b" in made:
            p = domain_probabilities(classifier, made["fake_b"], classifier_size)
            result["target_share_a_to_b"] = float((p >= 0.5).float().mean())
            result["target_prob_a_to_b"] = float(p.mean())
        if "fake_a" in made:
            p = 1 - domain_probabilities(classifier, made["fake_a"], classifier_size)
            result["target_share_b_to_a"] = float((p > 0.5).float().mean())
            result["target_prob_b_to_a"] = float(p.mean())

    # 5. distribution distance of the translations to the target domain's test images
    if feature_extractor is not None:
        from training.metrics import FIDEvaluator

        for key, fake, source, target in (("a_to_b", "fake_b", test_a, test_b), ("b_to_a", "fake_a", test_b, test_a)):
            if fake not in made or len(target) < 2:
                continue
            evaluator = FIDEvaluator(target, feature_extractor, kid_subset_size=min(100, len(target)))
            scores, baseline = evaluator.score(made[fake]), evaluator.score(source)
            result[f"fid_{key}"], result[f"kid_{key}"] = scores["fid"], scores["kid"]
            result[f"identity_fid_{key}"], result[f"identity_kid_{key}"] = baseline["fid"], baseline["kid"]
            real_target = train_b if key == "a_to_b" else train_a
            if real_target is not None:
                result[f"real_fid_{key}"] = evaluator.score(real_target[: len(made[fake])])["fid"]
    return result


@torch.no_grad()
def translation_grid(
    a_to_b: Translator | None,
    b_to_a: Translator | None,
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    count: int = _GRID_COUNT,
) -> Image.Image:
    """Rows: A inputs, A->B, B inputs, B->A (the first ``count`` test images of each side).

    A missing direction (``None``) leaves its input and output rows out.

    Example:
        >>> x = torch.zeros(8, 3, 4, 4, dtype=torch.uint8)
        >>> translation_grid(lambda t: t, None, x, x).size
        (32, 8)
    """
    rows = []
    if a_to_b is not None:
        rows += [images_a[:count], translate_batches(a_to_b, images_a[:count])]
    if b_to_a is not None:
        rows += [images_b[:count], translate_batches(b_to_a, images_b[:count])]
    if not rows:
        raise ValueError("translation_grid needs at least one translator.")
    n = min(len(r) for r in rows)
    grid = torch.cat([torch.cat(list(r[:n]), dim=2) for r in rows], dim=1)  # (3, rows * H, n * W)
    return Image.fromarray(np.ascontiguousarray(grid.permute(1, 2, 0).numpy()))


def format_report(result: dict, model: str = "", domain_a: str = "A", domain_b: str = "B") -> str:
    """The CLI's markdown table of a :func:`translation_metrics` result (plus ``protocol`` if present).

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate_translation",
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
        grid = translation_grid(pipe.a_to_b, pipe.b_to_a, test_a, test_b, _GRID_COUNT)
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
        "seeded random conv net (`training.metrics`, offline; ranks models, not comparable with published Inception "
        "FIDs; KID subsets of 100). References: the identity translator; real target training images (as many as "
        "test images); a 'reconstruction' that is another test image of the same side."
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
        f"\n![samples](samples.png)\n\nRows: the first {_GRID_COUNT} test images of {domain_a}, their translation to "
        f"{domain_b}, the first {_GRID_COUNT} of {domain_b}, their translation to {domain_a}.\n"
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
