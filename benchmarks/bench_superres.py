"""Super-resolution speed and memory, printed as one markdown table.

For each model (the bundled ``checkpoints/superres-x4-*`` present, plus every ``--model``):

* CPU latency, p50 and p90 over ``--repeats`` timed runs after ``--warmup`` untimed ones, of the
  whole pipeline call on a ``--size`` square RGB image (256 -> 1024 for x4), with
  ``torch.set_num_threads(--threads)`` (default: all cores).
* Peak memory of a 2000x2000 tiled upscale, measured honestly: a fresh Python subprocess does only
  "load the model, upscale one image" and reports its own RSS high-water mark
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), plus its RSS just before the upscale so the
  part caused by the upscale itself is visible.
* With CUDA: network throughput in output megapixels/s, fp32 vs bf16 weights; with ``--train``,
  generator L1 training steps (Adam, fp32 vs bf16 autocast) in images/s.

``--model`` takes a bundled name, a ``save_pretrained`` folder, a Hub repo id, or a freshly
initialised network for testing before checkpoints exist: ``random:compact-48-16``
(``SRVGGNetCompact(num_feat=48, num_conv=16)``) or ``random:rrdb-64-23`` (``RRDBNet(num_feat=64,
num_block=23)``).

Example (seconds on a laptop)::

    python benchmarks/bench_superres.py --model random:compact-16-4 --size 64 --memory-size 256 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common
from gan_models.hub import resolve_model
from gan_models.pipelines.superres import SuperResolutionPipeline
from gan_models.superres import RRDBNet, SRVGGNetCompact, upscale_factor

BUNDLED_MODELS = ("superres-x4-psnr", "superres-x4-gan")

Upscaler = Callable[[Image.Image], Image.Image]


def build_random_model(spec: str) -> nn.Module:
    """A seeded, untrained generator from ``random:compact-<feat>-<conv>`` or ``random:rrdb-<feat>-<block>``.

    Example:
        >>> type(build_random_model("random:compact-8-2")).__name__
        'SRVGGNetCompact'
    """
    kind, _, sizes = spec.removeprefix("random:").partition("-")
    try:
        width, depth = (int(v) for v in sizes.split("-"))
    except ValueError:
        raise ValueError(
            f"Bad model spec {spec!r}; use random:compact-<num_feat>-<num_conv> or random:rrdb-<num_feat>-<num_block>."
        ) from None
    torch.manual_seed(0)  # the memory subprocess rebuilds the same network
    if kind == "compact":
        return SRVGGNetCompact(num_feat=width, num_conv=depth).eval()
    if kind == "rrdb":
        return RRDBNet(num_feat=width, num_block=depth).eval()
    raise ValueError(f"Unknown random model kind {kind!r} in {spec!r}; valid kinds: compact, rrdb.")


def load(spec: str) -> SuperResolutionPipeline:
    """A pipeline for a bundled name, folder, Hub repo id or ``random:`` spec, progress bar off.

    Example:
        >>> load("random:compact-8-2").scale
        4
    """
    if spec.startswith("random:"):
        pipe = SuperResolutionPipeline(build_random_model(spec))
    else:
        pipe = SuperResolutionPipeline.from_pretrained(resolve_model(spec))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipeline_upscaler(pipe: SuperResolutionPipeline, tile_size: int, tile_overlap: int) -> Upscaler:
    """What a user's call costs: decode checks, tiling, network, PIL output (no file I/O)."""

    def upscale(image: Image.Image) -> Image.Image:
        return pipe(image=image, tile_size=tile_size, tile_overlap=tile_overlap).images[0]

    return upscale


def cpu_latency(upscale: Upscaler, size: int, warmup: int, repeats: int) -> tuple[float, float]:
    """p50 and p90 wall-clock seconds of ``upscale`` on a ``size`` x ``size`` RGB image.

    Example:
        >>> p50, p90 = cpu_latency(lambda im: im.resize((64, 64)), size=16, warmup=1, repeats=3)
        >>> 0 <= p50 <= p90
        True
    """
    image = common.noise_image(size, size)
    return common.latency(lambda: upscale(image), warmup, repeats)


def peak_rss_subprocess(spec: str, size: int, tile_size: int, tile_overlap: int, threads: int) -> dict:
    """Run one tiled ``size`` x ``size`` upscale in a fresh interpreter; its RSS figures in MiB.

    A fresh process is the honest measure: the parent's RSS already holds other models, warm-up
    buffers and allocator caches, and ``ru_maxrss`` never goes down.
    """
    command = [
        sys.executable, str(Path(__file__).resolve()), "--_memory-child", spec, "--memory-size", str(size),
        "--tile-size", str(tile_size), "--tile-overlap", str(tile_overlap), "--threads", str(threads),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"Memory subprocess for {spec!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory_child(spec: str, size: int, tile_size: int, tile_overlap: int) -> None:
    upscale = pipeline_upscaler(load(spec), tile_size, tile_overlap)
    image = common.noise_image(size, size)
    before = _current_rss_mib()
    upscale(image)
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    unit = 1 if platform.system() == "Darwin" else 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20
    print(json.dumps({"rss_before_upscale_mib": before, "peak_rss_mib": peak}))


def gpu_throughput(net: nn.Module, size: int, batch: int, dtype: torch.dtype, warmup: int, repeats: int) -> float:
    """Output megapixels per second of the bare network on CUDA, weights and input in ``dtype``."""
    model = copy.deepcopy(net).to("cuda", dtype).eval()
    x = torch.rand(batch, 3, size, size, device="cuda", dtype=dtype)
    out_pixels = batch * (size * upscale_factor(net)) ** 2
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        torch.cuda.synchronize()
    return out_pixels * repeats / (time.perf_counter() - start) / 1e6


def train_throughput(net: nn.Module, device: str, bf16: bool, batch: int, patch: int, warmup: int, steps: int) -> float:
    """Images per second of the generator L1 step (forward, L1 vs HR, backward, Adam) on ``device``.

    ``bf16`` runs the forward under ``torch.autocast`` with fp32 master weights, as
    ``accelerate --mixed_precision bf16`` does.

    Example:
        >>> train_throughput(SRVGGNetCompact(num_feat=4, num_conv=1), "cpu", False, 2, 8, 1, 2) > 0
        True
    """
    model = copy.deepcopy(net).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
    scale = upscale_factor(net)
    lr = torch.rand(batch, 3, patch, patch, device=device)
    hr = torch.rand(batch, 3, patch * scale, patch * scale, device=device)

    def step() -> None:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            sr = model(lr)
        loss = F.l1_loss(sr.float(), hr)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    common.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    common.synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", action="append", default=[], help="extra model: name, folder, repo id or random:compact-48-16"
    )
    parser.add_argument("--no-bundled", action="store_true", help="skip checkpoints/superres-x4-* even if present")
    parser.add_argument("--size", type=int, default=256, help="input side for CPU latency (default 256)")
    common.add_timing_arguments(parser, repeats=10)
    parser.add_argument("--memory-size", type=int, default=2000, help="input side for the peak-RSS run; 0 skips it")
    parser.add_argument("--tile-size", type=int, default=256, help="tile side passed to the pipeline (default 256)")
    parser.add_argument("--tile-overlap", type=int, default=16, help="tile overlap passed to the pipeline (default 16)")
    parser.add_argument("--gpu-batch", type=int, default=8, help="batch of --size inputs for GPU throughput")
    parser.add_argument("--tf32", action="store_true", help="let 'fp32' convs use TF32 on CUDA (off: true fp32)")
    parser.add_argument("--train", action="store_true", help="also measure generator L1 training images/s")
    parser.add_argument("--train-device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--train-batch", type=int, default=16, help="training batch (default 16)")
    parser.add_argument("--train-patch", type=int, default=64, help="LR patch side for training (default 64)")
    parser.add_argument("--train-steps", type=int, default=20, help="timed training steps (default 20)")
    parser.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.require_at_least_one(
        parser,
        args,
        "size",
        "repeats",
        "threads",
        "tile_size",
        "gpu_batch",
        "train_batch",
        "train_patch",
        "train_steps",
    )
    if args.warmup < 0 or args.memory_size < 0 or args.tile_overlap < 0:
        parser.error("--warmup, --memory-size and --tile-overlap must not be negative.")
    torch.set_num_threads(args.threads)

    if args.memory_child:
        _memory_child(args.memory_child, args.memory_size, args.tile_size, args.tile_overlap)
        return 0

    specs = [] if args.no_bundled else [n for n in BUNDLED_MODELS if (REPO_ROOT / "checkpoints" / n).is_dir()]
    specs += args.model
    if not specs:
        parser.error("No bundled checkpoints found and no --model given; try --model random:compact-48-16.")
    cuda = torch.cuda.is_available()
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32

    rows = []
    for spec in specs:
        pipe = load(spec)
        net, upscale = pipe.upscaler, pipeline_upscaler(pipe, args.tile_size, args.tile_overlap)
        scale = upscale_factor(net)
        row = {"model": spec, "params_m": sum(p.numel() for p in net.parameters()) / 1e6, "scale": scale}
        p50, p90 = cpu_latency(upscale, args.size, args.warmup, args.repeats)
        row["cpu_p50_ms"], row["cpu_p90_ms"] = 1000 * p50, 1000 * p90
        if args.memory_size:
            row.update(peak_rss_subprocess(spec, args.memory_size, args.tile_size, args.tile_overlap, args.threads))
        if cuda:
            for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                row[f"gpu_{label}_mps"] = gpu_throughput(
                    net, args.size, args.gpu_batch, dtype, args.warmup, args.repeats
                )
        if args.train:
            for label, bf16 in (("fp32", False), ("bf16", True)):
                row[f"train_{label}_ips"] = train_throughput(
                    net, args.train_device, bf16, args.train_batch, args.train_patch, args.warmup, args.train_steps
                )
        rows.append(row)
        del pipe, net, upscale

    print(_header(args, cuda))
    print(_table(rows, args))
    return 0


def _header(args: argparse.Namespace, cuda: bool) -> str:
    gpu = torch.cuda.get_device_name() if cuda else "none"
    return (
        f"{common.machine(args.threads)}, GPU: {gpu}; "
        f"latency on {args.size}x{args.size} ({args.warmup} warm-up + {args.repeats} timed); "
        f"memory on {args.memory_size}x{args.memory_size}, tiles {args.tile_size}/{args.tile_overlap}\n"
    )


def _table(rows: list[dict], args: argparse.Namespace) -> str:
    columns = [
        ("model", "model", "{}"),
        ("params (M)", "params_m", "{:.2f}"),
        ("scale", "scale", "x{}"),
        ("CPU p50 (ms)", "cpu_p50_ms", "{:.0f}"),
        ("CPU p90 (ms)", "cpu_p90_ms", "{:.0f}"),
        (f"peak RSS {args.memory_size}² (MiB)", "peak_rss_mib", "{:.0f}"),
        ("RSS before upscale (MiB)", "rss_before_upscale_mib", "{:.0f}"),
        ("GPU fp32 (MP/s)", "gpu_fp32_mps", "{:.1f}"),
        ("GPU bf16 (MP/s)", "gpu_bf16_mps", "{:.1f}"),
        (f"train fp32 (img/s, {args.train_device})", "train_fp32_ips", "{:.1f}"),
        (f"train bf16 (img/s, {args.train_device})", "train_bf16_ips", "{:.1f}"),
    ]
    return common.markdown_table(columns, rows)


def _current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: fall back to the high-water mark so far
        unit = 1 if platform.system() == "Darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


if __name__ == "__main__":
    sys.exit(main())
