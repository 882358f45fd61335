"""Text-to-image speed on the CPU, printed as one markdown table.

For the ``--model`` (default: the bundled ``anime-text2image``), p50 and p90 wall-clock latency over
``--repeats`` timed runs after ``--warmup`` untimed ones, with ``torch.set_num_threads(--threads)``:

* **fresh prompt**: one ``pipe(prompt, num_images=--num-images, seed, truncation=0.7)`` call with a
  prompt the text encoder has not seen (a number in it changes every call), so the time includes
  encoding the prompt (tokenise + MiniLM), pooling it, the prompt's truncation centre (512 mapped
  z's), synthesis and the PIL output with its AI-generated labels: what ``/text_to_image`` costs
  for a new prompt, less gradio's PNG encoding. The issue's goal is on this number.
* **cached prompt**: the same call with one repeated prompt, whose token states come from the
  encoder's cache: what a second click (another seed, more images) costs.
* **encode only**: ``pipe.encode_prompt`` of a fresh prompt (MiniLM + attention pooling), the
  share of the first number that is text encoding.
* **load** and **first call**: ``from_pretrained`` and the text encoder's load, timed once.

``--random-init`` times a seeded, untrained generator of the bundled size instead of loading one
(``TextToImageGenerator(size=64, z_dim=128, style_dim=256, n_mlp=4, channel_base=2048,
channel_max=128)``, as ``training/configs/anime_text2image.yaml``): speed does not depend on the weights.

Example (seconds)::

    python benchmarks/bench_text2image.py --model /path/to/pipeline --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common
from gan_models import TextToImageGANPipeline, TextToImageGenerator
from gan_models.pipelines.text2image import load_text_encoder

DEFAULT_MODEL = "anime-text2image"
# the bundled model's architecture (training/configs/anime_text2image.yaml), for --random-init
BUNDLED_SIZE = {"size": 64, "z_dim": 128, "style_dim": 256, "n_mlp": 4, "channel_base": 2048, "channel_max": 128}
TRUNCATION = 0.7  # the Space's default
PROMPT = "a girl with silver hair and red eyes"
GOAL_GENERATE_S = 0.25  # 4 images at 64 px on 2 CPU cores, prompt encoding included: feels instant in the Space


def load(model: str, random_init: bool) -> tuple[TextToImageGANPipeline, str]:
    """The pipeline to time and its label in the table; fp32 on the CPU, as the Space serves it.

    Example:
        >>> pipe, label = load("unused", random_init=True)
        >>> pipe.resolution, label
        (64, 'random init (bundled size)')
    """
    return common.load_pipeline(
        TextToImageGANPipeline,
        model,
        random_init,
        lambda: TextToImageGANPipeline(generator=TextToImageGenerator(**BUNDLED_SIZE).eval()),
    )


def fresh_prompts():
    """Prompts the encoder has never seen (its cache would hide the encoding): the number changes each time.

    Example:
        >>> prompts = fresh_prompts()
        >>> next(prompts) != next(prompts)
        True
    """
    for i in itertools.count():
        yield f"a girl with silver hair and red eyes, portrait number {i}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_model_arguments(parser, DEFAULT_MODEL, untrained="an untrained generator")
    parser.add_argument("--num-images", type=int, default=4, help="images per call (default 4)")
    common.add_timing_arguments(parser, repeats=20)
    args = parser.parse_args(argv)
    common.require_at_least_one(parser, args, "num_images", "repeats", "threads")
    if args.warmup < 0:
        parser.error("--warmup must not be negative.")
    torch.set_num_threads(args.threads)

    try:
        (pipe, label), load_s = common.timed(lambda: load(args.model, args.random_init))
    except ValueError as err:  # an unknown name or a folder that is not a saved pipeline
        parser.error(f"{err} Before the checkpoint is trained, pass --random-init to time a generator of its size.")
    # the text encoder is loaded on first use, once per process: timed apart from the model
    _, encoder_s = common.timed(lambda: pipe.text_encoder)
    prompts = fresh_prompts()

    # 1. the first call: the encoder's and the model's first forward passes
    _, first_s = common.timed(lambda: pipe(prompt=next(prompts), num_images=args.num_images, seed=0))

    # 2. steady state: a new prompt every call, then one repeated prompt, then encoding alone
    def fresh() -> None:
        pipe(prompt=next(prompts), num_images=args.num_images, seed=42, truncation=TRUNCATION)

    def cached() -> None:
        pipe(prompt=PROMPT, num_images=args.num_images, seed=42, truncation=TRUNCATION)

    def encode() -> None:
        with torch.no_grad():
            pipe.encode_prompt(next(prompts))

    hits = pipe.text_encoder.cache_info().hits
    gen = common.latency(fresh, args.warmup, args.repeats)
    if pipe.text_encoder.cache_info().hits != hits:
        raise RuntimeError(
            "a 'fresh' prompt came from the encoder's cache; the fresh-prompt timing would hide encoding"
        )
    hit = common.latency(cached, args.warmup, args.repeats)
    enc = common.latency(encode, args.warmup, args.repeats)

    row = {
        "model": label,
        "params_m": sum(p.numel() for p in pipe.generator.parameters()) / 1e6,
        "px": pipe.resolution,
        "load_s": load_s,
        "encoder_s": encoder_s,
        "first_ms": 1000 * first_s,
        "gen_p50_ms": 1000 * gen[0],
        "gen_p90_ms": 1000 * gen[1],
        "hit_p50_ms": 1000 * hit[0],
        "hit_p90_ms": 1000 * hit[1],
        "enc_p50_ms": 1000 * enc[0],
    }
    print(_header(args, pipe))
    print(_table(row, args))
    if args.num_images == 4 and pipe.resolution == 64:
        print(common.goal_line("4 images at 64 px from a new prompt", gen[0], GOAL_GENERATE_S, args.threads))
    return 0


def _header(args: argparse.Namespace, pipe: TextToImageGANPipeline) -> str:
    encoder = load_text_encoder(pipe.config.text_encoder_name).name
    return (
        f"{common.machine(args.threads)}, CPU fp32; text encoder {encoder}; "
        f"ψ = {TRUNCATION}; {args.warmup} warm-up + {args.repeats} timed runs\n"
    )


def _table(row: dict, args: argparse.Namespace) -> str:
    n = args.num_images
    columns = [
        ("model", "model", "{}"),
        ("params (M)", "params_m", "{:.2f}"),
        ("px", "px", "{}"),
        ("load (s)", "load_s", "{:.2f}"),
        ("encoder load (s)", "encoder_s", "{:.2f}"),
        (f"first call, {n} images (ms)", "first_ms", "{:.0f}"),
        (f"{n} images, new prompt p50 (ms)", "gen_p50_ms", "{:.0f}"),
        (f"{n} images, new prompt p90 (ms)", "gen_p90_ms", "{:.0f}"),
        (f"{n} images, cached prompt p50 (ms)", "hit_p50_ms", "{:.0f}"),
        (f"{n} images, cached prompt p90 (ms)", "hit_p90_ms", "{:.0f}"),
        ("encode prompt p50 (ms)", "enc_p50_ms", "{:.1f}"),
    ]
    return common.markdown_table(columns, [row])


if __name__ == "__main__":
    sys.exit(main())
