"""Image-to-image translation (CycleGAN) speed on the CPU, printed as one markdown table.

For the ``--model`` (default: the bundled ``face2anime``), p50 and p90 wall-clock latency of one
whole pipeline call (decode checks, resize to the working scale, padding, the generator, resize
back, AI-generated labels; PIL in and out) in each direction, over ``--repeats`` timed runs after
``--warmup`` untimed ones, with ``torch.set_num_threads(--threads)``. One row per case:

* **64x64, native**: a face at the bundled model's training size: the generator at full size.
* **256x256, native**: what ``/translate`` does with a typical upload: shrunk to the training
  scale (shorter side ``train_size``), translated, Lanczos back to 256x256. The goal row.
* **256x256, input**: ``resolution="input"``: every pixel through the generator.
* **1024x768, native**: a photo-sized upload, translated at the training scale and resized back.
* **1024x768, native + SR**: the same, brought back with the ``--sharpen-model`` super-resolution
  pipeline (the Space's "sharpen" box) instead of Lanczos; only when that model is installed.

``--random-init`` times seeded, untrained generators of the bundled architecture instead of
loading a model (two ``ResnetGenerator(ngf=32, n_blocks=6)``, ``train_size=64``, as
``training/configs/face2anime.yaml``): speed does not depend on the weights, so it gives the
bundled model's timings before it is trained.

Example (seconds)::

    python benchmarks/bench_translation.py --random-init --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common
from gan_models import CycleGANPipeline, ResnetGenerator, SuperResolutionPipeline
from gan_models.hub import bundled_models, resolve_model

DEFAULT_MODEL = "face2anime"
DEFAULT_SHARPEN_MODEL = "superres-x4-gan"  # what the Space's "sharpen" box uses
# the bundled model's architecture (training/configs/face2anime.yaml), for --random-init
BUNDLED_ARCH = {"ngf": 32, "n_blocks": 6}
BUNDLED_PIPELINE = {"domain_a": "real face", "domain_b": "anime face", "train_size": 64}
GOAL_S = 0.5  # a 256x256 upload through /translate on 2 CPU cores
# (label, input width, input height, resolution, with the SR upscaler)
CASES = [
    ("64x64, native", 64, 64, "native", False),
    ("256x256, native", 256, 256, "native", False),
    ("256x256, input", 256, 256, "input", False),
    ("1024x768, native", 1024, 768, "native", False),
    ("1024x768, native + SR", 1024, 768, "native", True),
]
GOAL_CASE = "256x256, native"


def load(model: str, random_init: bool) -> tuple[CycleGANPipeline, str]:
    """The pipeline to time and its label in the table; fp32 on the CPU, as the Space serves it.

    Example:
        >>> pipe, label = load("unused", random_init=True)
        >>> pipe.directions, pipe.train_size, label
        (('AtoB', 'BtoA'), 64, 'random init (bundled size)')
    """

    def untrained() -> CycleGANPipeline:
        a_to_b, b_to_a = ResnetGenerator(**BUNDLED_ARCH).eval(), ResnetGenerator(**BUNDLED_ARCH).eval()
        return CycleGANPipeline(a_to_b, b_to_a, **BUNDLED_PIPELINE)

    return common.load_pipeline(CycleGANPipeline, model, random_init, untrained)


def load_upscaler(name: str) -> SuperResolutionPipeline | None:
    """The "sharpen" super-resolution pipeline, or None when ``name`` is "none" or not installed."""
    if name == "none" or (name == DEFAULT_SHARPEN_MODEL and name not in bundled_models()):
        return None
    pipe = SuperResolutionPipeline.from_pretrained(resolve_model(name), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def work_size(image: Image.Image, translated: Image.Image) -> str:
    """The size the generator saw, from the result's ``resolution`` label ("native (85x64)" when shrunk).

    Example:
        >>> pipe, _ = load("unused", random_init=True)
        >>> big = Image.new("RGB", (1024, 768))
        >>> work_size(big, pipe(big).images[0]), work_size(big, pipe(big, resolution="input").images[0])
        ('85x64', '1024x768')
    """
    shrunk = re.search(r"\((\d+x\d+)\)", translated.info.get("resolution", ""))
    return shrunk[1] if shrunk else "{}x{}".format(*image.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_model_arguments(parser, DEFAULT_MODEL, untrained="untrained generators")
    parser.add_argument(
        "--sharpen-model",
        default=DEFAULT_SHARPEN_MODEL,
        help="super-resolution model for the '+ SR' row, or 'none' (default %(default)s, skipped if not installed)",
    )
    common.add_timing_arguments(parser, repeats=10)
    args = parser.parse_args(argv)
    common.require_at_least_one(parser, args, "repeats", "threads")
    if args.warmup < 0:
        parser.error("--warmup must not be negative.")
    torch.set_num_threads(args.threads)

    try:
        (pipe, label), load_s = common.timed(lambda: load(args.model, args.random_init))
        upscaler = load_upscaler(args.sharpen_model)
    except ValueError as err:  # an unknown name or a folder that is not a saved pipeline
        parser.error(f"{err} Before the checkpoint is trained, pass --random-init to time generators of its size.")

    rows = []
    for case, width, height, resolution, with_sr in CASES:
        if with_sr and upscaler is None:
            continue
        image = common.noise_image(width, height)
        row = {"case": case}
        for direction in pipe.directions:

            def run(direction=direction, image=image, resolution=resolution, with_sr=with_sr, row=row) -> None:
                out = pipe(image, direction=direction, resolution=resolution, upscaler=upscaler if with_sr else None)
                assert out.images[0].size == image.size  # the pipeline's promise: the input's exact size
                row["work"] = work_size(image, out.images[0])

            p50, p90 = common.latency(run, args.warmup, args.repeats)
            row[f"{direction}_p50_ms"], row[f"{direction}_p90_ms"] = 1000 * p50, 1000 * p90
        rows.append(row)

    params = sum(p.numel() for g in (pipe.a_to_b, pipe.b_to_a) if g is not None for p in g.parameters()) / 1e6
    print(_header(args, label, params, pipe, load_s, upscaler))
    print(_table(rows))
    goal = next((row for row in rows if row["case"] == GOAL_CASE), None)
    if goal is not None and pipe.train_size == 64:
        worst = max(goal.get(f"{d}_p50_ms", 0.0) for d in pipe.directions) / 1000
        print(common.goal_line("a 256x256 image", worst, GOAL_S, args.threads, measure="p50, each direction"))
    return 0


def _header(
    args: argparse.Namespace,
    label: str,
    params: float,
    pipe: CycleGANPipeline,
    load_s: float,
    upscaler: SuperResolutionPipeline | None,
) -> str:
    sr = args.sharpen_model if upscaler is not None else "none"
    return (
        f"{common.machine(args.threads)}, CPU fp32; "
        f"model {label} ({params:.2f} M parameters, both generators; train_size {pipe.train_size}; "
        f"load {load_s:.2f} s); SR: {sr}; {args.warmup} warm-up + {args.repeats} timed runs\n"
    )


def _table(rows: list[dict]) -> str:
    columns = [
        ("input, resolution", "case", "{}"),
        ("generator sees", "work", "{}"),
        ("AtoB p50 (ms)", "AtoB_p50_ms", "{:.0f}"),
        ("AtoB p90 (ms)", "AtoB_p90_ms", "{:.0f}"),
        ("BtoA p50 (ms)", "BtoA_p50_ms", "{:.0f}"),
        ("BtoA p90 (ms)", "BtoA_p90_ms", "{:.0f}"),
    ]
    return common.markdown_table(columns, rows)


if __name__ == "__main__":
    sys.exit(main())
