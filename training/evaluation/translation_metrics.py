"""The numbers of a translation report: cycle-consistency PSNR, the judge's target-domain share, L1 change,
FID / KID, their references, and the sample grid.

Shared by the CycleGAN recipe's validation (:func:`cycle_metrics`, :func:`translation_grid`) and the
command line of :mod:`training.evaluation.translation`, whose docstring says what each number means
and why each is set beside a reference; so the numbers in a run's logs and on the model card are
computed the same way.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from training.evaluation.domain_classifier import DomainClassifier, domain_probabilities
from training.evaluation.fid import FIDEvaluator
from training.evaluation.psnr_ssim import psnr_uint8

Translator = Callable[[torch.Tensor], torch.Tensor]  # [-1, 1] (N, 3, H, W) -> same
TranslatorsLike = Any  # a CycleGANPipeline, a CycleGenerators module, or a pair (a_to_b, b_to_a); either may be None

_SIZE_MULTIPLE = 4  # ResnetGenerator halves twice: inputs are reflect-padded to a multiple of this
#: Test images per row of :func:`translation_grid`.
GRID_COUNT = 8


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
        classifier: a :class:`~training.evaluation.domain_classifier.DomainClassifier` (P(B) > 0.5 = B); without
            one, the share / probability / accuracy entries are left out.
        batch_size: images per translator call.
        classifier_size: the classifier's input size (its ``ClassifierConfig.image_size``).
        feature_extractor: a network from :func:`training.evaluation.fid.make_feature_extractor`; with one,
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
        result.update(_judged_shares(classifier, made, test_a, test_b, classifier_size))

    # 5. distribution distance of the translations to the target domain's test images
    if feature_extractor is not None:
        result.update(_distribution_distances(feature_extractor, made, test_a, test_b, train_a, train_b))
    return result


def _judged_shares(
    classifier: DomainClassifier,
    made: dict[str, torch.Tensor],
    test_a: torch.Tensor,
    test_b: torch.Tensor,
    classifier_size: int,
) -> dict[str, float]:
    """The judge's numbers of :func:`translation_metrics`: its accuracy on the inputs (the ceiling), the
    inputs already judged the target domain (the identity's share), and each translation's share and mean
    P(target). B -> A counts as A when P(B) < 0.5."""
    p_a = domain_probabilities(classifier, test_a, classifier_size)
    p_b = domain_probabilities(classifier, test_b, classifier_size)
    result = {
        "classifier_accuracy_a": float((p_a < 0.5).float().mean()),
        "classifier_accuracy_b": float((p_b >= 0.5).float().mean()),
        "identity_target_share_a_to_b": float((p_a >= 0.5).float().mean()),
        "identity_target_share_b_to_a": float((p_b < 0.5).float().mean()),
    }
    if "fake_b" in made:
        p = domain_probabilities(classifier, made["fake_b"], classifier_size)
        result["target_share_a_to_b"] = float((p >= 0.5).float().mean())
        result["target_prob_a_to_b"] = float(p.mean())
    if "fake_a" in made:
        p = 1 - domain_probabilities(classifier, made["fake_a"], classifier_size)
        result["target_share_b_to_a"] = float((p > 0.5).float().mean())
        result["target_prob_b_to_a"] = float(p.mean())
    return result


def _distribution_distances(
    feature_extractor: torch.nn.Module,
    made: dict[str, torch.Tensor],
    test_a: torch.Tensor,
    test_b: torch.Tensor,
    train_a: torch.Tensor | None,
    train_b: torch.Tensor | None,
) -> dict[str, float]:
    """FID / KID of each translation against the target side's test images, beside the untranslated inputs
    (``identity_*``) and, given training images, as many real target images (``real_fid_*``)."""
    result = {}
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
    count: int = GRID_COUNT,
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
