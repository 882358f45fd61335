"""GPU speed of the project: training throughput per family and inference megapixels/s, as markdown tables.

Run once on a CUDA machine (about 90 s on an H200 with the defaults; ``--json`` also writes the numbers)::

    python benchmarks/bench_gpu.py --json $OUT/bench_gpu.json
    python benchmarks/bench_gpu.py --device cpu --smoke        # rehearsal: every path, toy sizes, CPU, < 1 min

1. Training, per family (superres psnr and gan stages, faces, translation, text2image), each built from
   its GPU preset ``training/configs/gpu/*.yaml`` on synthetic data made in a temporary folder (speed
   does not depend on pixel content):

   a. a plain fp32 eager loop over the recipe's own modules and loss object: batches from a CPU
      ``DataLoader`` then ``.to(device)``, ``torch.optim.Adam`` (not fused), contiguous layout,
      PyTorch's default backend flags, ``.item()`` on every loss and log each step;
   b. the project trainer, ``training.engine.Engine`` with the preset's switches (bf16, fused Adam,
      channels_last, data on the device); speed from ``Engine.speed_history`` (the first log window,
      warm-up and cuDNN autotuning, is skipped), then one more window under
      ``torch.cuda.set_sync_debug_mode("warn")`` to count host syncs per step.

   FLOPs per step come from ``torch.utils.flop_counter.FlopCounterMode`` over one D step and one G step
   (forward and backward) at the preset's batch; lazy R1 is amortised over its interval.
2. Inference, output megapixels/s: the super-resolution pipeline and its bare network (fp16/bf16,
   channels_last), the same weights through spandrel (a peer library, if importable), 64 faces,
   a 256x256 CycleGAN translation and 64 text-to-image samples.

Inference runs first (short and sure), then training. Every section is guarded: a failure is printed
with its traceback and recorded as ``error`` in its row, and the rest still runs; the JSON file is
rewritten after every section, so a run cut short still leaves the numbers it got.

This file is the command line and the tables; the measurements live beside it: ``gpu_families.py`` (the
families, their presets and synthetic data), ``gpu_training.py`` and ``gpu_inference.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common
from benchmarks.gpu_families import (
    DEFAULT_FLAGS,
    FAMILIES,
    FAMILY_KEYS,
    make_data,
    report_error,
    restore_default_flags,
)
from benchmarks.gpu_inference import bench_inference
from benchmarks.gpu_training import train_family

#: bf16 dense tensor-core peak of an H100/H200 SXM (datasheet, without sparsity), TFLOP/s
DATASHEET_PEAK_TFLOPS = 989.0
#: an 8192^3 bf16 matmul through PyTorch measured on this project's H200 machines, TFLOP/s
MEASURED_MATMUL_TFLOPS = 790.0
SPEEDUP_GOAL = 3.0  # engine vs plain loop, and our SR inference vs spandrel's
NO_CUDA = "bench_gpu needs a CUDA GPU; use --device cpu --smoke to rehearse."

# ------------------------------------------------------------------------------------------------
# tables and the command line
# ------------------------------------------------------------------------------------------------

TRAIN_COLUMNS = [
    ("family", "family", "{}"),
    ("batch", "batch", "{}"),
    ("unit", "unit", "{}"),
    ("(a) plain fp32 (/s)", "plain_items_per_s", "{:.1f}"),
    ("(b) engine (/s)", "engine_items_per_s", "{:.1f}"),
    ("speed-up", "speedup", "{:.2f}x"),
    ("GFLOP/step", "gflops", "{:.3g}"),
    ("(a) TFLOP/s", "plain_tflops", "{:.3g}"),
    ("(b) TFLOP/s", "engine_tflops", "{:.3g}"),
    ("(b) % of peak", "peak_percent", "{:.3g}%"),
    ("host syncs/step", "engine_host_syncs_per_step", "{:.2f}"),
    ("syncs/log line", "engine_host_syncs_per_log_line", "{}"),
]
INFER_COLUMNS = [
    ("what", "what", "{}"),
    ("size", "size", "{}"),
    ("dtype", "dtype", "{}"),
    ("layout", "layout", "{}"),
    ("median ms", "ms", "{:.2f}"),
    ("output MP/s", "mp_per_s", "{:.1f}"),
    ("÷ spandrel fp32", "vs_spandrel", "{:.2f}x"),
]


def training_table(rows: list[dict]) -> str:
    shown = []
    for row in rows:
        r = {k: v for k, v in row.items() if v is not None}
        if "flops_per_step" in r:
            r["gflops"] = r["flops_per_step"] / 1e9
        if "peak_share" in r:
            r["peak_percent"] = 100 * r["peak_share"]
        if "error" in r:
            r["unit"] = f"error: {r['error'][:80]}"
        shown.append(r)
        if "compiled_items_per_s" in r:
            shown.append(
                {
                    "family": f"{r['family']} + compile=generator (~{r.get('compile_s') or 0:.0f} s to compile, "
                    f"{r.get('compiled_graphs', '?')} graphs)",
                    "batch": r["batch"],
                    "unit": r["unit"],
                    "engine_items_per_s": r["compiled_items_per_s"],
                    "speedup": r["compiled_items_per_s"] / r["plain_items_per_s"],
                    "engine_tflops": r["compiled_tflops"],
                }
            )
    return common.markdown_table(TRAIN_COLUMNS, shown)


def inference_table(rows: list[dict]) -> str:
    spandrel_fp32 = next(
        (r["mp_per_s"] for r in rows if r.get("what", "").startswith("spandrel") and r.get("dtype") == "float32"), None
    )
    shown = []
    for row in rows:
        r = dict(row)
        if "error" in r:
            r["size"] = f"error: {r['error'][:80]}"
        elif spandrel_fp32 and r["what"].startswith(("SR", "spandrel")):
            r["vs_spandrel"] = r["mp_per_s"] / spandrel_fp32
        shown.append(r)
    return common.markdown_table(INFER_COLUMNS, shown)


def summary_lines(results: dict, peak: float) -> list[str]:
    return _training_summary(results["training"], peak) + _inference_summary(results)


def _training_summary(training: list[dict], peak: float) -> list[str]:
    """Each family against the speed-up goal, its failures, and the row nearest the bf16 peak."""
    lines = []
    train = [r for r in training if "speedup" in r]
    for r in train:
        verdict = "meets" if r["speedup"] >= SPEEDUP_GOAL else "misses"
        lines.append(
            f"- {r['family']}: engine {r['speedup']:.2f}x the plain loop ({verdict} the {SPEEDUP_GOAL:.0f}x goal)"
        )
        if r.get("engine_end_of_run_error"):
            lines.append(
                "  - its end of run (checkpoint/validation/export) failed after the timed steps: "
                + r["engine_end_of_run_error"]
            )
        if r.get("engine_sync_sites"):
            sites = ", ".join(f"{site} x{n}" for site, n in r["engine_sync_sites"].items())
            lines.append(f"  - host syncs in the sync-check window come from: {sites}")
    for r in training:
        if "error" in r:
            lines.append(f"- {r['family']}: FAILED: {r['error']}")
    if train:
        best = max(train, key=lambda r: r["peak_share"])
        lines.append(
            f"- largest share of the bf16 peak: **{best['family']}**, {best['engine_tflops']:.3g} TFLOP/s = "
            f"{100 * best['peak_share']:.3g}% of {peak:.0f} (datasheet; an 8192³ bf16 matmul measures "
            f"{MEASURED_MATMUL_TFLOPS:.0f} TFLOP/s on this machine kind, so "
            f"{100 * best['engine_tflops'] / MEASURED_MATMUL_TFLOPS:.3g}% of that)"
        )
    return lines


def _inference_summary(results: dict) -> list[str]:
    """Our SR network and pipeline against spandrel on the same weights, and the failed rows."""
    lines = []
    rows = results["inference"]
    spandrel = [r for r in rows if r.get("what", "").startswith("spandrel") and "mp_per_s" in r]
    ours = [
        r for r in rows if r.get("what", "").startswith("SR") and ": network" in r.get("what", "") and "mp_per_s" in r
    ]
    pipeline = [
        r for r in rows if r.get("what", "").startswith("SR") and "whole image" in r.get("what", "") and "mp_per_s" in r
    ]
    if spandrel and ours:
        best_ours, best_theirs = max(ours, key=lambda r: r["mp_per_s"]), max(spandrel, key=lambda r: r["mp_per_s"])
        fp32 = next((r for r in spandrel if r["dtype"] == "float32"), best_theirs)
        ratio = best_ours["mp_per_s"] / fp32["mp_per_s"]
        verdict = "meets" if ratio >= SPEEDUP_GOAL else "misses"
        lines.append(
            f"- SR network, ours ({best_ours['dtype']}, {best_ours['layout']}) vs spandrel fp32 on the same weights: "
            f"{ratio:.2f}x ({verdict} the {SPEEDUP_GOAL:.0f}x goal); vs spandrel's best ({best_theirs['dtype']}): "
            f"{best_ours['mp_per_s'] / best_theirs['mp_per_s']:.2f}x"
        )
        if pipeline:
            lines.append(
                "- SR pipeline (PIL in/out, whole image) vs spandrel fp32: "
                f"{pipeline[0]['mp_per_s'] / fp32['mp_per_s']:.2f}x"
            )
    elif not results.get("spandrel", {}).get("available", True):
        lines.append("- spandrel not available: no peer comparison")
    for r in rows:
        if "error" in r:
            lines.append(f"- inference {r['what']}: FAILED: {r['error']}")
    return lines


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda (default when present) or cpu"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="toy sizes and 2-step windows: rehearse every path (CPU, < 1 min)"
    )
    parser.add_argument(
        "--json", default="", help="also write the numbers to this file (rewritten after every section)"
    )
    parser.add_argument("--families", default=",".join(FAMILY_KEYS), help="comma list of training rows (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per path (default 32; smoke 2)")
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="engine log interval = warm-up and sync-check steps (default 16; smoke 2)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="DataLoader workers of the plain loop (default 4; smoke 1)"
    )
    parser.add_argument("--warmup", type=int, default=None, help="untimed inference calls (default 3; smoke 1)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed inference calls, median reported (default 8; smoke 2)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's own; 1 with --smoke on the CPU)"
    )
    parser.add_argument("--compile", action="store_true", help="also train with compile=generator (adds compile time)")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=DATASHEET_PEAK_TFLOPS,
        help="bf16 dense peak for the %% column (default %(default)s)",
    )
    parser.add_argument("--sr-model", default="", help="a SuperResolutionPipeline folder instead of random weights")
    parser.add_argument("--faces-model", default="", help="a FaceGANPipeline folder instead of random weights")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags, with the counts left unset filled in for a full or a smoke run, and checked."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    defaults = {"steps": (2, 32), "window": (2, 16), "workers": (1, 4), "warmup": (1, 3), "repeats": (2, 8)}
    for name, (smoke, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, smoke if args.smoke else full)
        if getattr(args, name) < (0 if name in ("workers", "warmup") else 1):
            parser.error(f"--{name} is too small: {getattr(args, name)}.")
    args.windows = math.ceil(args.steps / args.window)
    args.family_list = [k.strip() for k in args.families.split(",") if k.strip()]
    unknown = sorted(set(args.family_list) - set(FAMILY_KEYS))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(FAMILY_KEYS)}.")
    return args


def plan(args, device: torch.device) -> str:
    engine_steps = args.window * (args.windows + 2)
    inference = "SR pipeline + network + spandrel, faces, translation, text2image"
    training = (
        f"(a) plain fp32 loop: {args.window} warm-up + {args.steps} timed steps, {args.workers} DataLoader workers; "
        f"FLOPs of steps 0 and 1; (b) engine: {engine_steps} steps = {args.window} warm-up + "
        f"{args.windows}x{args.window} timed + {args.window} under the sync debug mode, then its end-of-run "
        "checkpoint and export" + ("; + the same with compile=generator" if args.compile else "")
    )
    lines = [
        f"Plan ({device.type}{', smoke sizes' if args.smoke else ''}):",
        (
            f"1. inference ({'skipped' if args.skip_inference else inference}): {args.warmup} warm-up + "
            f"{args.repeats} timed calls each (the 2000² photo: 1 + {max(1, args.repeats // 4)})"
        ),
        f"2. training ({', '.join(args.family_list) if not args.skip_training else 'skipped'}): per family, {training}",
    ]
    if not args.smoke:
        lines.append(
            "expected about 60-90 s on an H200 (a guess: this has not run on a GPU yet); --steps/--window scale it"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(NO_CUDA)
    if not args.device.startswith("cuda") and not args.smoke:
        raise SystemExit(NO_CUDA)
    device = torch.device(args.device)
    threads_before = torch.get_num_threads()
    if args.threads is None and args.smoke and device.type == "cpu":
        args.threads = 1  # tiny ops: one thread is many times faster than two fighting over a busy core
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, device)
    finally:
        torch.set_num_threads(threads_before)
        restore_default_flags()


def _run(args: argparse.Namespace, device: torch.device) -> dict:
    started = time.perf_counter()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    header = f"{common.machine(torch.get_num_threads())}, Python {platform.python_version()}, GPU: {gpu}"
    print(f"# bench_gpu\n\n{header}\n\n{plan(args, device)}\n", flush=True)
    results: dict = {
        "machine": header,
        "device": str(device),
        "gpu": gpu,
        "smoke": args.smoke,
        "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, list))},
        "default_flags": DEFAULT_FLAGS,
        "peak_tflops": args.peak_tflops,
        "measured_matmul_tflops": MEASURED_MATMUL_TFLOPS,
        "training": [],
        "inference": [],
    }

    def save() -> None:
        results["seconds"] = time.perf_counter() - started
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))

    # inference first: short and sure; the training runs (workers, compile) carry more risk
    if not args.skip_inference:
        _inference_section(args, device, results, save, started)
    if not args.skip_training:
        _training_section(args, device, results, save, started)
    save()
    _print_report(args, device, results)
    return results


def _inference_section(args, device: torch.device, results: dict, save: Callable[[], None], started: float) -> None:
    t0 = time.perf_counter()
    try:
        bench_inference(args, device, results, save)
    except Exception as err:  # noqa: BLE001 - e.g. a --sr-model that does not load; training still runs
        results["inference"].append({"what": "inference set-up", "error": report_error("inference set-up", err)})
    print(f"[{time.perf_counter() - started:5.1f} s] inference done in {time.perf_counter() - t0:.1f} s", flush=True)


def _training_section(args, device: torch.device, results: dict, save: Callable[[], None], started: float) -> None:
    """One row per chosen family, on synthetic data in a temporary folder; a family that fails leaves an error row."""
    with tempfile.TemporaryDirectory(prefix="bench_gpu-") as tmp:
        root = Path(tmp)
        make_data(root, args.smoke)
        for family in [f for f in FAMILIES if f.key in args.family_list]:
            t0 = time.perf_counter()
            try:
                row = train_family(family, root, args, device)
            except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
                row = {"family": family.key, "error": report_error(f"training {family.key}", err)}
            row["section_s"] = time.perf_counter() - t0
            results["training"].append(row)
            print(
                f"[{time.perf_counter() - started:5.1f} s] {family.key}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)),
                flush=True,
            )
            save()


def _print_report(args, device: torch.device, results: dict) -> None:
    print(f"\n## Training throughput ({device.type}; items/s = the unit per second)\n")
    print(training_table(results["training"]))
    print(
        "\n(a) fp32 eager, CPU DataLoader, plain Adam, .item() per step, PyTorch default flags; (b) training.engine "
        "with the preset's switches. FLOPs: one D + one G step, forward + backward (FlopCounterMode). "
        f"Peak: {args.peak_tflops:.0f} TFLOP/s bf16 dense (datasheet); {MEASURED_MATMUL_TFLOPS:.0f} measured for an "
        "8192³ bf16 matmul."
    )
    print(f"\n## Inference ({device.type}; output megapixels/s, median of {args.repeats})\n")
    print(inference_table(results["inference"]))
    print("\n## Summary\n")
    print("\n".join(summary_lines(results, args.peak_tflops)) or "- nothing measured")
    print(f"\nTotal {results['seconds']:.1f} s.")


if __name__ == "__main__":
    main()
