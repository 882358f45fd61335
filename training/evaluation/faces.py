"""Score a face GAN: FID / KID against held-out faces, a memorisation check, a sample grid, the model card.

Three numbers answer three questions:

* **FID / KID** (lower is better): do the generated faces have the statistics of real ones? ``N``
  generated faces (seeds ``0 .. N-1``) against the real faces of the test split, through a feature
  network from :func:`training.evaluation.fid.make_feature_extractor`. ``--feature random`` (the default)
  needs nothing downloaded but is comparable only with other runs scored the same way;
  ``--feature inception --inception-weights PATH`` gives the standard FID.
* **Memorisation** (ratio near or above 1 is good): is each generated face farther from its nearest
  training image than real unseen faces are? See :class:`training.evaluation.memorisation.MemorisationCheck`.
* **Samples**: an 8x8 grid of seeds 0..63 (``--grid``), saved as ``samples.png`` in the model folder.

Real faces are prepared exactly as for training (:func:`training.data.load_square_images`: the
crop box, then a Lanczos resize to the generator's resolution).

Command line (the old form ``python -m training.evaluate_faces`` works too)::

    python -m training.evaluation.faces --model faces-celeba64 --train ../shared/data/celeba_10k/train \\
        --test ../shared/data/celeba_10k/test --num-samples 1000 --truncation 1.0 --feature random \\
        --grid --card --json scores.json

From training, build a :class:`~training.evaluation.fid.FIDEvaluator` (and a
:class:`~training.evaluation.memorisation.MemorisationCheck`) once and call :func:`face_metrics` with the EMA
generator at each validation.

CelebA is for non-commercial research use only; so are models trained on it and their scores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from training.card import evaluated_model_folder, licence_note, save_sample_grid, write_evaluation, write_json
from training.data import CELEBA_FACE_BOX, load_square_images, parse_crop_box
from training.evaluation.fid import FEATURE_KINDS, FIDEvaluator, make_feature_extractor
from training.evaluation.images import generated_uint8
from training.evaluation.memorisation import MemorisationCheck

_GENERATE_BATCH = 64  # FaceGANPipeline.MAX_IMAGES: the most one pipeline call may ask for

GeneratorLike = Any  # a FaceGANPipeline, a StyleGAN2Generator, or fn(num_images=, seed=, truncation=) -> images


def sample_images(
    generator: GeneratorLike, num_images: int, seed: int = 0, truncation: float = 1.0, batch_size: int = 64
) -> torch.Tensor:
    """``num_images`` faces from seeds ``seed, seed + 1, ...`` as one uint8 tensor (N, 3, H, W) on the CPU.

    Args:
        generator: a ``FaceGANPipeline``; a ``StyleGAN2Generator`` (e.g. the EMA generator during
            training; run through a ``FaceGANPipeline`` wrapper, so seed ``s`` gives the same face as
            the saved pipeline will, on the module's own device, in eval mode under ``no_grad``); or any
            callable ``fn(num_images=, seed=, truncation=)`` returning a float [0, 1] or uint8 tensor
            (N, 3, H, W), a list of (3, H, W) tensors, or an object with ``.images`` holding either.
        num_images: how many faces.
        seed: the first seed.
        truncation: psi; 1 = the full distribution (what FID should measure).
        batch_size: images per generator call (at most 64 for a pipeline).

    Example:
        >>> fn = lambda num_images, seed, truncation: torch.full((num_images, 3, 4, 4), seed / 100)
        >>> sample_images(fn, 3, seed=50)[:, 0, 0, 0].tolist()
        [128, 128, 128]
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}.")
    make = _as_sampler(generator)
    batch_size = max(1, min(batch_size, _GENERATE_BATCH))
    chunks = []
    for start in range(0, num_images, batch_size):
        count = min(batch_size, num_images - start)
        chunks.append(generated_uint8(make(num_images=count, seed=seed + start, truncation=truncation), count))
    images = torch.cat(chunks)
    if images.shape[1] != 3:
        raise ValueError(f"The generator made images of shape {tuple(images.shape[1:])}; expected (3, H, W).")
    return images


def face_metrics(
    generator_fn: GeneratorLike,
    evaluator: FIDEvaluator,
    *,
    num_samples: int = 1000,
    seed: int = 0,
    truncation: float = 1.0,
    memorisation: MemorisationCheck | None = None,
    memorisation_samples: int | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """FID / KID (and, with ``memorisation``, the nearest-training-image check) of a face generator.

    The reusable core of the CLI and of training validation: build ``evaluator`` (and ``memorisation``)
    once, then call this at every validation; only the fakes are generated and scored each time.

    Args:
        generator_fn: what :func:`sample_images` accepts (pipeline, ``StyleGAN2Generator``, callable).
        evaluator: a :class:`~training.evaluation.fid.FIDEvaluator` on the real reference faces (test split).
        num_samples: generated faces, seeds ``seed .. seed + num_samples - 1``.
        seed: first seed; keep it fixed so validations differ only by the model.
        truncation: psi of the generated faces (1.0 for FID: truncation trades variety for quality).
        memorisation: a :class:`~training.evaluation.memorisation.MemorisationCheck` (train vs test split), if wanted.
        memorisation_samples: how many of the generated faces the memorisation check uses (all by default).
        batch_size: faces per generator call.

    Returns:
        A flat dict of numbers (ready for a logger): ``fid``, ``kid``, ``kid_std``, ``num_samples``,
        ``seconds_generate``, ``seconds_score``, and with ``memorisation`` the ``nn_*`` entries of
        :meth:`MemorisationCheck.score` plus ``seconds_memorisation``.

    Example:
        >>> from training.evaluation.fid import make_feature_extractor
        >>> reals = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8)
        >>> evaluator = FIDEvaluator(reals, make_feature_extractor("random"), kid_subset_size=20)
        >>> noise = lambda num_images, seed, truncation: torch.rand(num_images, 3, 16, 16)
        >>> result = face_metrics(noise, evaluator, num_samples=40)
        >>> result["fid"] > 0, result["num_samples"]
        (True, 40)
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2 (FID needs a covariance), got {num_samples!r}.")
    # 1. generate the fakes once; every metric reads the same images
    start = time.perf_counter()
    fakes = sample_images(generator_fn, num_samples, seed=seed, truncation=truncation, batch_size=batch_size)
    result: dict[str, float] = {"num_samples": num_samples, "seconds_generate": time.perf_counter() - start}
    # 2. FID / KID against the cached reference features
    start = time.perf_counter()
    result.update(evaluator.score(fakes))
    result["seconds_score"] = time.perf_counter() - start
    # 3. nearest training image vs real test faces
    if memorisation is not None:
        if fakes.shape[-2:] != memorisation.train_images.shape[-2:]:
            raise ValueError(
                f"Generated faces are {fakes.shape[-1]} px but the training images are "
                f"{memorisation.train_images.shape[-1]} px; load them at the generator's resolution."
            )
        start = time.perf_counter()
        result.update(memorisation.score(fakes[:memorisation_samples]))
        result["seconds_memorisation"] = time.perf_counter() - start
    return result


def sample_grid(generator: GeneratorLike, rows: int = 8, cols: int = 8, seed: int = 0, truncation: float = 1.0):
    """A ``rows x cols`` grid of faces, seeds ``seed ..`` row by row, as an RGB PIL image.

    Example:
        >>> fn = lambda num_images, seed, truncation: torch.zeros(num_images, 3, 4, 4)
        >>> sample_grid(fn, rows=2, cols=3).size
        (12, 8)
    """
    images = sample_images(generator, rows * cols, seed=seed, truncation=truncation)  # (rows*cols, 3, H, W)
    _, _, h, w = images.shape
    grid = images.reshape(rows, cols, 3, h, w).permute(0, 3, 1, 4, 2).reshape(rows * h, cols * w, 3)
    return Image.fromarray(grid.numpy(), "RGB")


def format_report(result: dict, model: str = "") -> str:
    """The CLI's markdown summary of a :func:`face_metrics` result (plus ``protocol`` if present).

    Example:
        >>> print(format_report({"fid": 1.5, "kid": 0.001, "kid_std": 0.0002, "feature": "random"}))
        | metric | value |
        |---|---:|
        | FID (random features) | 1.5 |
        | KID x 1000 (random features) | 1 ± 0.2 |
    """
    kind = result.get("feature", "")
    suffix = f" ({kind} features)" if kind else ""
    lines = ([f"### {model}", ""] if model else []) + ["| metric | value |", "|---|---:|"]
    lines.append(f"| FID{suffix} | {result['fid']:.4g} |")
    lines.append(f"| KID x 1000{suffix} | {1000 * result['kid']:.3g} ± {1000 * result['kid_std']:.2g} |")
    if "nn_fake_median" in result:
        fake = f"{result['nn_fake_median']:.4f} / {result['nn_fake_p05']:.4f}"
        real = f"{result['nn_real_median']:.4f} / {result['nn_real_p05']:.4f}"
        ratio = f"{result['nn_ratio_median']:.3f} / {result['nn_ratio_p05']:.3f}"
        lines += [
            f"| nearest train image, generated: median / 5th pct | {fake} |",
            f"| nearest train image, real test faces: median / 5th pct | {real} |",
            f"| ratio generated / real: median / 5th pct (>= ~1: no copying) | {ratio} |",
        ]
    if result.get("protocol"):
        lines += ["", f"Protocol: {result['protocol']}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def _parse_crop_box(text: str) -> tuple[int, int, int, int] | None:
    try:
        return parse_crop_box(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--crop-box: {err}") from None


def _format_crop_box(box: tuple[int, int, int, int] | None) -> str:
    return ",".join(map(str, box)) if box else "center"


def _dataset_label(path: Path) -> str:
    """``../shared/data/celeba_10k/test`` -> ``celeba_10k/test``: names the reference set in reports."""
    path = path.resolve()
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _load_real(folder: Path, size: int, crop_box, what: str) -> torch.Tensor:
    if not folder.is_dir():
        raise FileNotFoundError(f"--{what} {str(folder)!r} is not a folder of face images.")
    return load_square_images(str(folder), size, crop_box)


def _parser() -> argparse.ArgumentParser:
    """The command line's flags (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.faces",
        description="FID/KID, a memorisation check and a sample grid for a face GAN (FaceGANPipeline).",
    )
    parser.add_argument("--model", required=True, help="a bundled name (e.g. faces-celeba64) or a saved folder")
    parser.add_argument("--test", type=Path, required=True, help="real held-out faces: the FID/KID reference set")
    parser.add_argument("--train", type=Path, help="the training faces: enables the memorisation check")
    parser.add_argument("--num-samples", type=int, default=1000, help="generated faces for FID/KID (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="first seed of the generated faces (default 0)")
    parser.add_argument("--truncation", type=float, default=1.0, help="psi for the scored faces and the grid")
    parser.add_argument("--feature", choices=FEATURE_KINDS, default="random", help="FID/KID feature network")
    parser.add_argument("--inception-weights", type=Path, help="local pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument(
        "--crop-box",
        type=_parse_crop_box,
        default=CELEBA_FACE_BOX,
        help="face square in the real images, LEFT,TOP,RIGHT,BOTTOM, or 'center' (default: CelebA's 0,10,89,99)",
    )
    parser.add_argument("--kid-subset-size", type=int, default=500, help="images per KID subset (default 500)")
    parser.add_argument("--grid", action="store_true", help="write an 8x8 grid of seeds 0..63 as samples.png")
    parser.add_argument("--card", action="store_true", help="write the scores into the model folder's card")
    parser.add_argument("--json", type=Path, help="write all numbers and the protocol to this JSON file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="generator device")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    # 1. check the arguments before any slow work
    if args.num_samples < 2:
        parser.error(f"--num-samples must be at least 2 (FID needs a covariance), got {args.num_samples}.")
    if args.kid_subset_size < 1:
        parser.error(f"--kid-subset-size must be positive, got {args.kid_subset_size}.")
    if not math.isfinite(args.truncation):
        parser.error(f"--truncation must be a finite number, got {args.truncation}.")
    for flag, folder in (("--test", args.test), ("--train", args.train)):
        if folder is not None and not folder.is_dir():
            parser.error(f"{flag} {str(folder)!r} is not a folder of face images.")
    try:
        extractor = make_feature_extractor(args.feature, args.inception_weights)
    except (ValueError, ImportError) as error:  # no weights / no torch-fidelity: say what to do
        parser.error(str(error))
    from gan_models.pipelines.faces import FaceGANPipeline

    try:
        location, folder = evaluated_model_folder(args.model, card=args.card, grid=args.grid)
    except ValueError as error:
        parser.error(str(error))

    # 2. the model and the real faces at its resolution
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # "Loading pipeline components": noise in a report
    pipe = FaceGANPipeline.from_pretrained(location, dtype=torch.float32).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.resolution
    test = _load_real(args.test, size, args.crop_box, "test")
    train = _load_real(args.train, size, args.crop_box, "train") if args.train else None
    evaluator = FIDEvaluator(test, extractor, kid_subset_size=args.kid_subset_size)
    memorisation = MemorisationCheck(train, test) if train is not None else None

    # 3. the numbers
    result = face_metrics(
        pipe,
        evaluator,
        num_samples=args.num_samples,
        seed=args.seed,
        truncation=args.truncation,
        memorisation=memorisation,
    )
    result.update(
        model=args.model,
        feature=args.feature,
        resolution=size,
        truncation=args.truncation,
        seed=args.seed,
        test=str(args.test),
        train=str(args.train) if args.train else None,
        num_test=len(test),
        num_train=len(train) if train is not None else None,
        protocol=_protocol(args, extractor, evaluator, size, len(test), train),
    )
    print(format_report(result, model=args.model), end="\n\n")

    # 4. grid, card, json
    if args.grid:
        grid = sample_grid(pipe, 8, 8, seed=0, truncation=args.truncation)
        save_sample_grid(grid, folder, seeds="0-63", truncation=args.truncation)
    if args.card:
        _write_card(args, folder, result)
    if args.json:
        write_json(args.json, result)
    return 0


def _protocol(args, extractor, evaluator: FIDEvaluator, size: int, num_test: int, train) -> str:
    crop = f"crop box {_format_crop_box(args.crop_box)}" if args.crop_box else "centred square crop"
    subset = min(evaluator.kid_subset_size, num_test, args.num_samples)
    text = (
        f"FID / KID of {args.num_samples} generated faces (seeds {args.seed}-{args.seed + args.num_samples - 1}, "
        f"truncation psi = {args.truncation:g}, const noise) against the {num_test} real faces of "
        f"{_dataset_label(args.test)} ({crop}, Lanczos to {size} px, as in training); features: "
        f"{extractor.description}; KID: unbiased MMD, cubic polynomial kernel, {evaluator.kid_subsets} subsets "
        f"of {subset}."
    )
    if train is not None:
        text += (
            f" Memorisation: RMS pixel distance ([0, 1] scale) from each generated face to its nearest of the "
            f"{len(train)} training faces ({_dataset_label(args.train)}), against the same for the {num_test} "
            "test faces; ratio = generated / real, near or above 1 = no sign of copying."
        )
    return text


def _write_card(args: argparse.Namespace, folder: Path, result: dict) -> None:
    """Scores, protocol, reproduce line and (with --grid) the samples into the model card's Evaluation."""
    command = (
        f"python -m training.evaluate_faces --model {args.model} --test {args.test}"
        + (f" --train {args.train}" if args.train else "")
        + f" --num-samples {args.num_samples} --truncation {args.truncation:g} --feature {args.feature}"
        + (" --inception-weights pt_inception-2015-12-05-6726825d.pth" if args.feature == "inception" else "")
        + ("" if args.crop_box == CELEBA_FACE_BOX else f" --crop-box {_format_crop_box(args.crop_box)}")
    )
    grid_md = f"\n![samples](samples.png)\n\nSeeds 0-63, truncation psi = {args.truncation:g}.\n" if args.grid else ""
    comparable = (
        "Comparable with published FIDs only at the same resolution, sample count and reference set."
        if args.feature == "inception"
        else "Random-network features: compare only with models scored by this same command, never with "
        "published (Inception) FIDs."
    )
    licence = licence_note(args.test, args.train)
    markdown = (
        format_report({k: v for k, v in result.items() if k != "protocol"})
        + f"\n\nProtocol: {result['protocol']} {comparable}\n\nReproduce: `{command}`\n{grid_md}{licence}"
    )
    # model-index names: a random-network FID must never be read as the standard one
    tag = "" if args.feature == "inception" else "-random-net"
    dataset = _dataset_label(args.test).replace(" ", "_")
    metrics = {f"{dataset} fid{tag}": result["fid"], f"{dataset} kid{tag}": result["kid"]}
    write_evaluation(folder, markdown, metrics)


# ------------------------------------------------------------------------------------------------
# generators of every kind -> one sampler
# ------------------------------------------------------------------------------------------------


def _as_sampler(generator: GeneratorLike) -> Callable[..., Any]:
    """Wrap a pipeline, a StyleGAN2Generator or a callable into ``fn(num_images=, seed=, truncation=)``."""
    if isinstance(generator, nn.Module):
        return _module_sampler(generator)
    if not callable(generator):
        raise TypeError(
            "face_metrics / sample_images need a FaceGANPipeline, a StyleGAN2Generator or a callable "
            f"fn(num_images=, seed=, truncation=) -> images, got {type(generator).__name__}."
        )
    if hasattr(generator, "from_pretrained"):  # a diffusers-style pipeline: ask for tensors, not PIL
        return lambda num_images, seed, truncation: (
            generator(num_images=num_images, seed=seed, truncation=truncation, output_type="pt").images
        )
    return generator


def _module_sampler(module: nn.Module) -> Callable[..., Any]:
    """A bare generator through a FaceGANPipeline wrapper: the same seed -> z -> face path as the saved
    pipeline (z drawn on the CPU, mean-w truncation, const noise), so validation scores what ships."""
    from gan_models.faces import StyleGAN2Generator
    from gan_models.pipelines.faces import FaceGANPipeline

    if not isinstance(module, StyleGAN2Generator):
        raise TypeError(f"An nn.Module generator must be a StyleGAN2Generator, got {type(module).__name__}.")
    pipe = FaceGANPipeline(stylegan=module)
    pipe.set_progress_bar_config(disable=True)

    def sample(num_images: int, seed: int, truncation: float) -> torch.Tensor:
        was_training = module.training
        module.eval()
        try:
            return pipe(num_images=num_images, seed=seed, truncation=truncation, output_type="pt").images
        finally:
            module.train(was_training)

    return sample


if __name__ == "__main__":
    sys.exit(main())
