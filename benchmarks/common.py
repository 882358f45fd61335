"""What every ``bench_*.py`` shares: its flags, loading, timing, seeded inputs, the header's machine line,
the table and the goal line.

The scripts put the repository root on ``sys.path`` before importing this, so it works however
they are started (``python benchmarks/bench_faces.py`` from anywhere).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

# (title, row key, format): one table column; a row without the key shows "—"
Column = tuple[str, str, str]
T = TypeVar("T")
RANDOM_INIT_LABEL = "random init (bundled size)"


def add_model_arguments(parser: argparse.ArgumentParser, default: str, untrained: str) -> None:
    """``--model`` and ``--random-init``, which times ``untrained`` networks of the bundled size instead.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_model_arguments(parser, "faces-celeba64", "an untrained generator")
        >>> parser.parse_args(["--random-init"]).model
        'faces-celeba64'
    """
    parser.add_argument("--model", default=default, help="bundled name, folder or Hub repo id (default %(default)s)")
    parser.add_argument(
        "--random-init", action="store_true", help=f"time {untrained} of the bundled size instead of --model"
    )


def add_timing_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """``--warmup``, ``--repeats`` and ``--threads``, the same flags in every benchmark.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_timing_arguments(parser, repeats=10)
        >>> parser.parse_args(["--threads", "2"]).repeats
        10
    """
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before timing (default 2)")
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed runs (default {repeats})")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all cores)")


def require_at_least_one(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Stop with a usage error naming the first of ``names`` (argparse dests) that is below 1.

    Example:
        >>> args = argparse.Namespace(repeats=3, threads=1)
        >>> require_at_least_one(argparse.ArgumentParser(), args, "repeats", "threads")
    """
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")


def load_pipeline(pipeline_class, model: str, random_init: bool, build_untrained: Callable[[], T]) -> tuple[T, str]:
    """The pipeline to time and its label in the table; fp32 on the CPU, as the Spaces serve it.

    ``--random-init`` times ``build_untrained()`` (seeded: speed does not depend on the weights), so
    a benchmark runs before its checkpoint is trained; otherwise ``model`` is a bundled name, a
    folder or a Hub repo id. An unknown name raises ``ValueError``.
    """
    if random_init:
        torch.manual_seed(0)
        pipe, label = build_untrained(), RANDOM_INIT_LABEL
    else:
        from gan_models.hub import resolve_model  # here: the benchmarks that load nothing need no gan_models

        pipe, label = pipeline_class.from_pretrained(resolve_model(model), dtype=torch.float32), model
    pipe.set_progress_bar_config(disable=True)
    return pipe, label


def goal_line(goal: str, seconds: float, limit_s: float, threads: int, measure: str = "p50") -> str:
    """The closing line of a benchmark with a latency goal: the goal, and whether this run met it.

    Example:
        >>> goal_line("4 faces at 64 px", 0.1, 0.25, threads=2)
        '\\nGoal: 4 faces at 64 px in <= 250 ms (p50) on 2 cores; with 2 thread(s) here it meets it.'
    """
    verdict = "meets" if seconds <= limit_s else "misses"
    return (
        f"\nGoal: {goal} in <= {limit_s * 1000:.0f} ms ({measure}) on 2 cores; "
        f"with {threads} thread(s) here it {verdict} it."
    )


def latency(run: Callable[[], object], warmup: int, repeats: int) -> tuple[float, float]:
    """p50 and p90 wall-clock seconds of ``run()``.

    Example:
        >>> p50, p90 = latency(lambda: sum(range(1000)), warmup=1, repeats=3)
        >>> 0 <= p50 <= p90
        True
    """
    for _ in range(warmup):  # first calls pay for allocator growth and kernel selection
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def timed(run: Callable[[], T]) -> tuple[T, float]:
    """``run()``'s result and its wall-clock seconds, for what is paid once (a load, a first call).

    Example:
        >>> result, seconds = timed(lambda: 6 * 7)
        >>> result, seconds >= 0
        (42, True)
    """
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def synchronize(device: str) -> None:
    """Wait for queued CUDA work, so a timer read afterwards covers it; nothing on the CPU."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def noise_image(width: int, height: int) -> Image.Image:
    """A seeded RGB noise image: convolution cost does not depend on content, and a fixed seed keeps runs comparable.

    Example:
        >>> noise_image(5, 3).size
        (5, 3)
    """
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def machine(threads: int) -> str:
    """The start of every header: what the numbers were measured with.

    Example:
        >>> machine(2).split(", ")[-1]
        '2 threads'
    """
    return f"torch {torch.__version__}, {os.cpu_count()} CPU cores, {threads} threads"


def markdown_table(columns: Sequence[Column], rows: Sequence[dict]) -> str:
    """One markdown table: a header from the column titles, then one line per row.

    Example:
        >>> print(markdown_table([("model", "model", "{}"), ("p50 (ms)", "p50", "{:.0f}")], [{"model": "m"}]))
        | model | p50 (ms) |
        |---|---|
        | m | — |
    """
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [fmt.format(row[key]) if key in row else "—" for _, key, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
