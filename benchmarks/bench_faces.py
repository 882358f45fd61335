"""Face generation speed on the CPU, printed as one markdown table.

For the ``--model`` (default: the bundled ``faces-celeba64``), p50 and p90 wall-clock latency over
``--repeats`` timed runs after ``--warmup`` untimed ones, with ``torch.set_num_threads(--threads)``:

* **generate**: one ``pipe(num_images=--num-images, seed, truncation=0.7)`` call, PIL output with
  the AI-generated labels included: what ``/generate_faces`` costs, less gradio's PNG encoding.
* **interpolate**: ``pipe.interpolate(seed_a, seed_b, num_frames=--frames)`` plus ``save_animation``
  to a GIF: what ``/interpolate_faces`` costs.
* **first call**: the first generate call after loading, timed once; it also computes the
  truncation centre (the mean of 4096 mapped z's), which later calls reuse.

``--train`` also measures training images/s of the real recipe step (``training/train_faces.py``:
D step with lazy R1 every 16 steps, G step with style mixing; Adam on both), fp32 and bf16 autocast
(as ``--mixed_precision=bf16``), on CUDA when present, else on the CPU; ``--train-size`` picks the
network (``bundled`` or ``config-f``: rosinality's channel_multiplier 2 at the same resolution).

``--random-init`` times a seeded, untrained generator of the bundled size instead of loading one
(``StyleGAN2Generator(size=64, style_dim=256, n_mlp=8, channel_base=2048, channel_max=128)``):
speed does not depend on the weights, so it gives the bundled model's timings before it is trained.

Example (seconds)::

    python benchmarks/bench_faces.py --random-init --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common
from gan_models import FaceGANPipeline, StyleGAN2Generator, save_animation

DEFAULT_MODEL = "faces-celeba64"
# the bundled model's architecture (training/configs/faces_celeba64.yaml), for --random-init
BUNDLED_SIZE = {"size": 64, "style_dim": 256, "n_mlp": 8, "channel_base": 2048, "channel_max": 128}
TRUNCATION = 0.7  # the Space's default
GOAL_GENERATE_S = 0.25  # 4 faces at 64 px on 2 CPU cores: feels instant in the Space


def load(model: str, random_init: bool) -> tuple[FaceGANPipeline, str]:
    """The pipeline to time and its label in the table; fp32 on the CPU, as the Space serves it.

    Example:
        >>> pipe, label = load("unused", random_init=True)
        >>> pipe.resolution, label
        (64, 'random init (bundled size)')
    """
    return common.load_pipeline(
        FaceGANPipeline, model, random_init, lambda: FaceGANPipeline(stylegan=StyleGAN2Generator(**BUNDLED_SIZE).eval())
    )


def train_throughput(device: str, bf16: bool, batch: int, steps: int, widths: dict) -> float:
    """Images/s of ``steps`` recipe steps (after 3 warm-up steps) on random "real" images."""
    from gan_models import StyleGAN2Discriminator
    from training.augment import AdaptiveAugment
    from training.train_faces import FacesConfig, StyleGAN2Loss

    cfg = FacesConfig(**widths)
    G = StyleGAN2Generator(**widths).to(device)
    D = StyleGAN2Discriminator(size=cfg.size, channel_base=cfg.channel_base, channel_max=cfg.channel_max).to(device)
    loss = StyleGAN2Loss(cfg, AdaptiveAugment(p=0.0).to(device))
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.adam_beta1, cfg.adam_beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(cfg.adam_beta1, cfg.adam_beta2))
    reals = torch.rand(batch, 3, cfg.size, cfg.size, device=device) * 2 - 1
    autocast = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)

    def step(i: int) -> None:
        for net, other, opt, run in ((D, G, opt_D, loss.discriminator_step), (G, D, opt_G, loss.generator_step)):
            net.requires_grad_(True)
            other.requires_grad_(False)
            with autocast:
                out = run(G, D, reals, i)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    for i in range(3):
        step(i + 1)  # warm-up steps avoid the R1 step (step % 16 == 0)
    common.synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    common.synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_model_arguments(parser, DEFAULT_MODEL, untrained="an untrained generator")
    parser.add_argument("--num-images", type=int, default=4, help="faces per generate call (default 4)")
    parser.add_argument("--frames", type=int, default=16, help="frames per interpolation (default 16)")
    common.add_timing_arguments(parser, repeats=20)
    parser.add_argument("--train", action="store_true", help="also measure training images/s, fp32 and bf16")
    parser.add_argument("--train-device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--train-batch", type=int, default=32, help="training batch (default 32)")
    parser.add_argument("--train-steps", type=int, default=16, help="timed steps, one R1 step among them (default 16)")
    parser.add_argument("--train-size", choices=("bundled", "config-f"), default="bundled")
    args = parser.parse_args(argv)
    common.require_at_least_one(parser, args, "num_images", "repeats", "threads")
    if args.frames < 2 or args.warmup < 0:
        parser.error("--frames must be at least 2 and --warmup must not be negative.")
    torch.set_num_threads(args.threads)

    try:
        (pipe, label), load_s = common.timed(lambda: load(args.model, args.random_init))
    except ValueError as err:  # an unknown name or a folder that is not a saved pipeline
        parser.error(f"{err} Before the checkpoint is trained, pass --random-init to time a generator of its size.")

    # 1. the first call: loads nothing more, but computes the truncation centre once
    _, first_s = common.timed(lambda: pipe(num_images=args.num_images, seed=0, truncation=TRUNCATION))

    # 2. steady state
    def generate() -> None:
        pipe(num_images=args.num_images, seed=42, truncation=TRUNCATION)

    with tempfile.TemporaryDirectory() as tmp:
        gif = Path(tmp) / "walk.gif"

        def interpolate() -> None:
            save_animation(pipe.interpolate(1, 2, num_frames=args.frames, truncation=TRUNCATION), gif, fps=8)

        gen = common.latency(generate, args.warmup, args.repeats)
        walk = common.latency(interpolate, args.warmup, args.repeats)
        gif_kib = gif.stat().st_size / 1024

    row = {
        "model": label,
        "params_m": sum(p.numel() for p in pipe.stylegan.parameters()) / 1e6,
        "px": pipe.resolution,
        "load_s": load_s,
        "first_ms": 1000 * first_s,
        "gen_p50_ms": 1000 * gen[0],
        "gen_p90_ms": 1000 * gen[1],
        "walk_p50_ms": 1000 * walk[0],
        "walk_p90_ms": 1000 * walk[1],
        "gif_kib": gif_kib,
    }
    print(_header(args))
    print(_table(row, args))
    if args.train:
        widths = dict(BUNDLED_SIZE)
        if args.train_size == "config-f":
            widths.update(style_dim=512, channel_base=32768, channel_max=512)
        print(f"\nTraining ({args.train_size} network, batch {args.train_batch}, {args.train_device}):\n")
        print("| precision | images/s |\n|---|---:|")
        for bf16 in (False, True):
            rate = train_throughput(args.train_device, bf16, args.train_batch, args.train_steps, widths)
            print(f"| {'bf16 autocast' if bf16 else 'fp32'} | {rate:.1f} |")
    if args.num_images == 4 and pipe.resolution == 64:
        print(common.goal_line("4 faces at 64 px", gen[0], GOAL_GENERATE_S, args.threads))
    return 0


def _header(args: argparse.Namespace) -> str:
    return (
        f"{common.machine(args.threads)}, CPU fp32; "
        f"ψ = {TRUNCATION}; {args.warmup} warm-up + {args.repeats} timed runs\n"
    )


def _table(row: dict, args: argparse.Namespace) -> str:
    columns = [
        ("model", "model", "{}"),
        ("params (M)", "params_m", "{:.2f}"),
        ("px", "px", "{}"),
        ("load (s)", "load_s", "{:.2f}"),
        (f"first call, {args.num_images} faces (ms)", "first_ms", "{:.0f}"),
        (f"{args.num_images} faces p50 (ms)", "gen_p50_ms", "{:.0f}"),
        (f"{args.num_images} faces p90 (ms)", "gen_p90_ms", "{:.0f}"),
        (f"{args.frames}-frame GIF p50 (ms)", "walk_p50_ms", "{:.0f}"),
        (f"{args.frames}-frame GIF p90 (ms)", "walk_p90_ms", "{:.0f}"),
        ("GIF (KiB)", "gif_kib", "{:.0f}"),
    ]
    return common.markdown_table(columns, [row])


if __name__ == "__main__":
    sys.exit(main())
