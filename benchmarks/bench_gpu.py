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
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import dataclasses
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere, like the other benchmarks

from benchmarks import common

PRESETS = REPO_ROOT / "training" / "configs" / "gpu"
#: bf16 dense tensor-core peak of an H100/H200 SXM (datasheet, without sparsity), TFLOP/s
DATASHEET_PEAK_TFLOPS = 989.0
#: an 8192^3 bf16 matmul through PyTorch measured on this project's H200 machines, TFLOP/s
MEASURED_MATMUL_TFLOPS = 790.0
SPEEDUP_GOAL = 3.0  # engine vs plain loop, and our SR inference vs spandrel's
HUGE = 1_000_000_000  # checkpoint/validate interval that never comes during a run
TEXT_DIM = 384  # all-MiniLM-L6-v2's token states, what the text2image preset trains on
TEXT_TOKENS = 16
NO_CUDA = "bench_gpu needs a CUDA GPU; use --device cpu --smoke to rehearse."

# PyTorch's backend flags as a fresh process has them; the plain loop and inference run under these
# (the engine switches on TF32 and cuDNN autotuning globally when it starts on CUDA)
_DEFAULT_FLAGS = {
    "cudnn.benchmark": torch.backends.cudnn.benchmark,
    "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
    "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
}


def restore_default_flags() -> None:
    torch.backends.cudnn.benchmark = _DEFAULT_FLAGS["cudnn.benchmark"]
    torch.backends.cudnn.allow_tf32 = _DEFAULT_FLAGS["cudnn.allow_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = _DEFAULT_FLAGS["cuda.matmul.allow_tf32"]


# ------------------------------------------------------------------------------------------------
# the families and their synthetic data
# ------------------------------------------------------------------------------------------------


@dataclass
class Family:
    """One training row: a recipe, its GPU preset, and what one batch item is."""

    key: str
    preset: str
    unit: str
    overrides: Callable[[Path], list[str]]  # data root -> --key=value list
    smoke: list[str] = field(default_factory=list)  # toy sizes for --smoke

    def classes(self):
        """(config class, recipe class), imported late: only what a run needs."""
        if self.key.startswith("superres"):
            from training.train_superres import SuperResConfig, SuperResolutionRecipe

            return SuperResConfig, SuperResolutionRecipe
        if self.key == "faces":
            from training.train_faces import FacesConfig, FacesRecipe

            return FacesConfig, FacesRecipe
        if self.key == "translation":
            from training.train_cyclegan import CycleGANConfig, CycleGANRecipe

            return CycleGANConfig, CycleGANRecipe
        from training.train_text2image import Text2ImageConfig, Text2ImageRecipe

        return Text2ImageConfig, Text2ImageRecipe


SR_SMOKE = ["--num_feat=8", "--num_conv=2", "--patch_size=32", "--batch_size=2", "--d_num_feat=8"]
STYLE_SMOKE = ["--size=16", "--channel_base=128", "--channel_max=16", "--style_dim=16", "--n_mlp=2", "--batch_size=4"]

FAMILIES = [
    Family(
        "superres-psnr",
        "superres_psnr.yaml",
        "HR patches",
        lambda root: [f"--data={root / 'sr'}", "--val_data="],
        SR_SMOKE,
    ),
    Family(
        "superres-gan",
        "superres_gan.yaml",
        "HR patches",
        lambda root: [f"--data={root / 'sr'}", "--val_data=", "--pretrained="],
        SR_SMOKE,
    ),
    Family(
        "faces",
        "faces_celeba64.yaml",
        "images",
        lambda root: [f"--data={root / 'faces'}", "--crop_box=", "--val_data=", "--fid_num_samples=0"],
        STYLE_SMOKE,
    ),
    Family(
        "translation",
        "face2anime.yaml",
        "image pairs",
        lambda root: [f"--data_a={root / 'a'}", f"--data_b={root / 'b'}", "--val_a=", "--val_b="],
        ["--size=32", "--ngf=4", "--ndf=4", "--n_blocks=1", "--batch_size=2"],
    ),
    Family(
        "text2image",
        "anime_text2image.yaml",
        "images",
        lambda root: [f"--data={root / 'tagged'}", f"--text_states={root / 'text-states.safetensors'}"],
        [*STYLE_SMOKE, "--z_dim=16", "--captions_per_batch=2", "--phrasings_per_caption=2"],
    ),
]
FAMILY_KEYS = [f.key for f in FAMILIES]


def _noise_png(path: Path, side: int, rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), "RGB").save(path)


def make_data(root: Path, smoke: bool) -> None:
    """Random images for every family: throughput does not depend on what the pixels show."""
    rng = np.random.default_rng(0)
    count, sr_count = (8, 4) if smoke else (256, 32)
    sides = {
        "sr": 64 if smoke else 256,
        "faces": 16 if smoke else 64,
        "a": 32 if smoke else 64,
        "b": 32 if smoke else 64,
    }
    for name, side in sides.items():
        (root / name).mkdir(parents=True)
        for i in range(sr_count if name == "sr" else count):
            _noise_png(root / name / f"{i:05d}.png", side, rng)
    # text2image: images/ + captions.csv (file,hair,eyes,text) with 4 x 4 colour pairs
    from training.captions import EYE_COLOURS, HAIR_COLOURS, tag_prompt

    tagged = root / "tagged"
    (tagged / "images").mkdir(parents=True)
    with (tagged / "captions.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "hair", "eyes", "text"])
        for i in range(count):
            hair, eye = HAIR_COLOURS[i % 4], EYE_COLOURS[(i // 4) % 4]
            _noise_png(tagged / "images" / f"{i:05d}.png", 16 if smoke else 64, rng)
            writer.writerow([f"{i:05d}.png", f"{hair} hair", f"{eye} eyes", tag_prompt(hair, eye)])


def write_text_states(config, text_dim: int) -> int:
    """Random fp16 token states for exactly the prompts the text2image recipe will ask for; returns their count."""
    from training.captions import caption_phrasings, read_captions
    from training.text_states import save_text_states
    from training.train_text2image import GRID_PROMPTS

    _, hair, eye = read_captions(config.data)  # captions=tags: the recipe's own prompt list (see caption_phrasings)
    _, prompts = caption_phrasings(hair, eye, config.phrasings_per_caption, config.seed)
    flat = list(dict.fromkeys([p for variants in prompts for p in variants] + list(GRID_PROMPTS)))
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(4, TEXT_TOKENS + 1, (len(flat),), generator=gen)
    mask = (torch.arange(TEXT_TOKENS) < lengths[:, None]).long()  # 1..1 0..0, as the encoders pad
    states = (torch.randn(len(flat), TEXT_TOKENS, text_dim, generator=gen) * mask[..., None]).half()
    save_text_states(config.text_states, flat, states, mask, "random-states (bench_gpu)")
    return len(flat)


# ------------------------------------------------------------------------------------------------
# training: the plain loop, the engine, FLOPs
# ------------------------------------------------------------------------------------------------


def to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor of a batch (tensor, dict, list/tuple or dataclass) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(
            batch, **{f.name: to_device(getattr(batch, f.name), device) for f in dataclasses.fields(batch)}
        )
    return batch


class RecipeBatches(torch.utils.data.Dataset):
    """Item ``i`` is the recipe's batch of step ``i``, made on the CPU (in a DataLoader worker)."""

    def __init__(self, recipe, batch_size: int, length: int):
        self.recipe, self.batch_size, self.length = recipe, batch_size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        return self.recipe.sample_batch(i, self.batch_size, 0, torch.device("cpu"))


def _scalar(value) -> float:
    return value.item() if isinstance(value, torch.Tensor) else float(value)


def plain_loop(recipe, data_recipe, config, device: torch.device, warmup: int, steps: int, workers: int) -> dict:
    """What a typical training script does: fp32, eager, CPU DataLoader, plain Adam, ``.item()`` each step.

    ``recipe`` supplies the networks and the loss; ``data_recipe``, a copy that never leaves the CPU,
    the batches (in forked DataLoader workers, which must not touch CUDA).
    """
    restore_default_flags()
    G, D, loss = recipe.generator.to(device).train(), recipe.discriminator, recipe.loss
    if D is not None:
        D.to(device).train()
    if hasattr(recipe, "augment"):  # the loss applies it on the training device
        recipe.augment.to(device)
    betas = (config.adam_beta1, config.adam_beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=config.g_lr, betas=betas, foreach=None, fused=False)
    opt_D = (
        torch.optim.Adam(D.parameters(), lr=config.d_lr, betas=betas, foreach=None, fused=False)
        if D is not None
        else None
    )
    loader = torch.utils.data.DataLoader(
        RecipeBatches(data_recipe, config.batch_size, warmup + steps),
        batch_size=None,
        num_workers=workers,
        timeout=300 if workers else 0,  # a stuck worker raises instead of hanging the run
    )
    seen: list[float] = []
    start = None
    for step, batch in enumerate(loader):
        if step == warmup:
            common.synchronize(device.type)
            start = time.perf_counter()
        batch = to_device(batch, device)
        logs: dict = {}
        if D is not None:
            D.requires_grad_(True)
            out = loss.discriminator_step(G, D, batch, step)
            opt_D.zero_grad(set_to_none=True)
            out.loss.backward()
            opt_D.step()
            seen.append(out.loss.item())
            logs.update(out.logs)
            D.requires_grad_(False)
        out = loss.generator_step(G, D, batch, step)
        opt_G.zero_grad(set_to_none=True)
        out.loss.backward()
        opt_G.step()
        seen.append(out.loss.item())
        logs.update(out.logs)
        seen.extend(_scalar(v) for v in logs.values())
    common.synchronize(device.type)
    seconds = time.perf_counter() - start
    if not all(math.isfinite(v) for v in seen):
        print("  note: the plain loop saw a non-finite loss or log value (speed is still measured)")
    return {"items_per_s": steps * config.batch_size / seconds, "seconds": seconds, "steps": steps}


class _GlobalOnlyTracker:
    """Stands in for FlopCounterMode's module tracker, which fails on a module that returns its input leaf
    unchanged while it requires grad (the augmentation at p = 0 on R1's reals); totals do not need it."""

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def _step_flops(recipe, data_recipe, config, device: torch.device, step: int, per_module: bool) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    G, D, loss = recipe.generator, recipe.discriminator, recipe.loss
    batch = to_device(data_recipe.sample_batch(step, config.batch_size, 0, torch.device("cpu")), device)
    counter = FlopCounterMode(display=False)
    if not per_module:
        counter.mod_tracker = _GlobalOnlyTracker()
    try:
        with counter:
            if D is not None:
                D.requires_grad_(True)
                loss.discriminator_step(G, D, batch, step).loss.backward()
                D.requires_grad_(False)
            loss.generator_step(G, D, batch, step).loss.backward()
    finally:
        for net in (G, D):
            if net is not None:
                net.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def count_flops(recipe, data_recipe, config, device: torch.device) -> dict:
    """FLOPs of one D step + one G step, forward and backward, at the preset's batch (lazy R1 amortised).

    Step 0 carries R1 (and CycleGAN's first D step translates its own batch); step 1 is a plain step.
    """
    per_step, note = [], ""
    for step in (0, 1):
        try:
            per_step.append(_step_flops(recipe, data_recipe, config, device, step, per_module=False))
        except Exception as err:  # noqa: BLE001 - the stand-in tracker relies on FlopCounterMode's internals
            note = f"global-only counter failed ({type(err).__name__}); "
            try:
                per_step.append(_step_flops(recipe, data_recipe, config, device, step, per_module=True))
            except Exception as err2:
                if step == 0:  # an R1 step the counter cannot follow: count plain steps only
                    note += f"step 0 not counted ({type(err2).__name__}: {err2}); "
                    per_step.append(None)
                else:
                    raise
    r1_every = getattr(config, "r1_every", 0) if getattr(config, "r1_gamma", 0) > 0 else 0
    if per_step[0] is None:
        flops = per_step[1]
    elif r1_every > 1:
        flops = (per_step[0] + (r1_every - 1) * per_step[1]) / r1_every
    else:
        flops = per_step[1]
    out = {"flops_per_step": float(flops), "flops_step0": per_step[0], "flops_step1": per_step[1], "r1_every": r1_every}
    if note:
        out["flops_note"] = note.strip()
    return out


def reset_accelerate() -> None:
    """accelerate keeps process-wide singletons; every engine here starts from fresh ones."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


@contextlib.contextmanager
def quiet_engine_bars():
    """The engine's tqdm bar off for the benchmark (the tables are what the log is for); restored after."""
    import training.engine as engine_module

    original = engine_module.tqdm
    engine_module.tqdm = lambda *args, **kwargs: original(*args, **{**kwargs, "disable": True})
    try:
        yield
    finally:
        engine_module.tqdm = original


def engine_run(family: Family, overrides: list[str], window: int, windows: int, compile_mode: str = "none") -> dict:
    """The project trainer with the preset's switches: images/s from ``speed_history``, host syncs per step.

    Steps: one warm-up window, ``windows`` timed windows, one window under the sync debug mode (CUDA).
    """
    from training.config import load_config
    from training.engine import Engine

    config_cls, recipe_cls = family.classes()
    total = window * (windows + 2)
    sync_from = window * (windows + 1)  # the last window counts syncs
    reset_accelerate()
    config = load_config(
        config_cls,
        str(PRESETS / family.preset),
        [*overrides, f"--log_every={window}", f"--max_steps={total}", f"--compile={compile_mode}"],
    )
    engine = Engine(config, recipe_cls)
    cuda = engine.accelerator.device.type == "cuda"
    count_syncs = _can_count_syncs(engine)
    end_error = None
    records: list = []
    marks: dict[str, int] = {}

    def syncs() -> int:
        return sum(1 for w in records if "synchroniz" in str(w.message))

    check, read = engine._check_finite, engine._read_logs

    def checked() -> None:  # a log line starts here (and each checkpoint)
        if engine.step == total and "start" in marks and "steps_end" not in marks:
            marks["steps_end"] = syncs()
        check()

    def read_logs() -> dict:  # ... and its read-back ends here
        logs = read()
        if engine.step == sync_from and "start" not in marks:
            if count_syncs:
                torch.cuda.set_sync_debug_mode("warn")
            marks["start"] = syncs()
        elif engine.step == total and "steps_end" in marks and "log_end" not in marks:
            marks["log_end"] = syncs()
            if count_syncs:
                torch.cuda.set_sync_debug_mode(0)
        return logs

    engine._check_finite, engine._read_logs = checked, read_logs
    graphs_before = _compiled_graphs()
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught, quiet_engine_bars():
            warnings.simplefilter("always")  # every sync, not the first per line
            records = caught
            try:
                engine.train()
            except Exception as err:
                if engine.step < total:  # the timed steps did not all run: a real failure
                    raise
                end_error = _error(f"{family.key}: the engine's end of run (checkpoint / validation / export)", err)
    finally:
        if count_syncs:
            torch.cuda.set_sync_debug_mode(0)
    wall = time.perf_counter() - started
    history = engine.speed_history
    timed = [ips for step, ips in history if window < step <= sync_from]
    if not timed:
        raise RuntimeError(f"no timed log window in speed_history {history} (window {window}, total {total}).")
    items_per_s = len(timed) / sum(1 / ips for ips in timed)  # equal windows: total items / total time
    row = {
        "items_per_s": items_per_s,
        "windows": [round(ips, 2) for _, ips in history],
        "wall_s": wall,
        "mixed_precision": config.mixed_precision,
        "channels_last": config.channels_last,
        "fused_optimizer": config.fused_optimizer and cuda,
        "compile": compile_mode,
    }
    if end_error:
        row["end_of_run_error"] = end_error
    if compile_mode != "none":  # first window minus what it would take at the steady speed
        first = history[0][1]
        row["compile_s"] = window * config.batch_size * (1 / first - 1 / items_per_s)
        row["compiled_graphs"] = _compiled_graphs() - graphs_before  # many = recompiles (guards on Python values)
    if "log_end" in marks:
        sync_records = [w for w in records if "synchroniz" in str(w.message)]
        in_window = sync_records[marks["start"] : marks["steps_end"]]
        sites = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in in_window)
        row.update(
            {
                "host_syncs_per_step": (marks["steps_end"] - marks["start"]) / window if count_syncs else None,
                "host_syncs_per_log_line": (marks["log_end"] - marks["steps_end"]) if count_syncs else None,
                "sync_sites": dict(sites.most_common(5)),
            }
        )
    return row


def _can_count_syncs(engine) -> bool:
    """Host syncs are counted with CUDA's sync debug mode, so on CUDA only (the CPU has nothing to wait for)."""
    return engine.accelerator.device.type == "cuda"


def _compiled_graphs() -> int:
    try:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
    except Exception:  # noqa: BLE001 - a private counter; only informative
        return 0


def train_family(family: Family, root: Path, args, device: torch.device) -> dict:
    """Plain loop, FLOPs and engine (and the compiled engine with --compile) for one family."""
    from training.config import load_config

    config_cls, recipe_cls = family.classes()
    out = root / "runs" / family.key
    overrides = [
        *family.overrides(root),
        *(family.smoke if args.smoke else []),
        "--report_to=none",
        f"--checkpoint_every={HUGE}",
        f"--validate_every={HUGE}",
        "--max_minutes=0",
        "--resume=",
    ]
    row: dict = {"family": family.key, "unit": family.unit, "preset": f"training/configs/gpu/{family.preset}"}
    config = load_config(config_cls, str(PRESETS / family.preset), [*overrides, f"--output_dir={out}-plain"])
    row["batch"] = config.batch_size
    if family.key == "text2image" and not Path(config.text_states).exists():
        row["prompts"] = write_text_states(config, 32 if args.smoke else TEXT_DIM)

    # (a) the plain loop, on its own recipe (a recipe moves its samplers to the first device it is asked for)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    recipe = recipe_cls(config)
    data_recipe = copy.deepcopy(recipe)  # batches on the CPU, also in forked workers
    row["params_G_M"] = sum(p.numel() for p in recipe.generator.parameters()) / 1e6
    plain = plain_loop(recipe, data_recipe, config, device, args.window, args.steps, args.workers)
    row["plain_items_per_s"] = plain["items_per_s"]
    t1 = time.perf_counter()
    row.update(count_flops(recipe, data_recipe, config, device))
    row["plain_wall_s"], row["flops_wall_s"] = t1 - t0, time.perf_counter() - t1
    del recipe, data_recipe
    _free(device)

    # (b) the engine
    engine = engine_run(family, [*overrides, f"--output_dir={out}-engine"], args.window, args.windows)
    row["engine_items_per_s"] = engine.pop("items_per_s")
    row.update({f"engine_{k}": v for k, v in engine.items()})
    row["speedup"] = row["engine_items_per_s"] / row["plain_items_per_s"]
    steps_per_s = row["engine_items_per_s"] / row["batch"]
    row["engine_tflops"] = row["flops_per_step"] * steps_per_s / 1e12
    row["plain_tflops"] = row["flops_per_step"] * row["plain_items_per_s"] / row["batch"] / 1e12
    row["peak_share"] = row["engine_tflops"] / args.peak_tflops
    _free(device)
    if args.compile:
        try:
            compiled = engine_run(
                family, [*overrides, f"--output_dir={out}-compiled"], args.window, args.windows, "generator"
            )
            row["compiled_items_per_s"] = compiled["items_per_s"]
            row["compile_s"] = compiled.get("compile_s")
            row["compiled_graphs"] = compiled.get("compiled_graphs")
            row["compiled_tflops"] = row["flops_per_step"] * compiled["items_per_s"] / row["batch"] / 1e12
        except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
            row["compiled_error"] = _error(f"{family.key} compile=generator", err)
        _free(device)
    return row


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _error(what: str, err: BaseException) -> str:
    print(f"\n!! {what} failed: {type(err).__name__}: {err}\n{traceback.format_exc()}", flush=True)
    return f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------------------------------------
# inference
# ------------------------------------------------------------------------------------------------


def median_seconds(run: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall seconds of ``run()``, the device synchronised before and after each call."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        common.synchronize(device.type)
        start = time.perf_counter()
        run()
        common.synchronize(device.type)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cast(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` on ``device`` in ``dtype``, in eval mode (``.half()``-style casts: no diffusers dtype warning)."""
    module = module.to(device)
    return {torch.float16: module.half, torch.bfloat16: module.bfloat16}.get(dtype, module.float)().eval()


def _infer_row(what: str, size: str, dtype: torch.dtype | str, layout: str, seconds: float, out_pixels: int) -> dict:
    return {
        "what": what,
        "size": size,
        "dtype": str(dtype).removeprefix("torch."),
        "layout": layout,
        "ms": seconds * 1000,
        "mp_per_s": out_pixels / 1e6 / seconds,
    }


def _preset(name: str, cls, smoke_overrides: list[str], smoke: bool):
    from training.config import load_config

    return load_config(cls, str(PRESETS / name), smoke_overrides if smoke else [])


def bench_inference(args, device: torch.device, results: dict, save: Callable[[], None]) -> None:
    """Every inference row; each one guarded, the JSON rewritten after each group."""
    from gan_models import (
        CycleGANPipeline,
        FaceGANPipeline,
        ResnetGenerator,
        SRVGGNetCompact,
        StyleGAN2Generator,
        SuperResolutionPipeline,
        TextToImageGenerator,
        upscale_factor,
    )
    from training.train_cyclegan import CycleGANConfig
    from training.train_faces import FacesConfig
    from training.train_superres import SuperResConfig
    from training.train_text2image import Text2ImageConfig

    restore_default_flags()  # as a served pipeline runs: nobody sets cuDNN autotuning there
    rows = results["inference"]
    cuda = device.type == "cuda"
    half = torch.float16 if cuda else torch.float32  # what the pipelines compute in on each device
    warmup, repeats = args.warmup, args.repeats
    small, photo = (32, 80) if args.smoke else (512, 2000)
    tile = 32 if args.smoke else 256

    def guarded(what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
            rows.append({"what": what, "error": _error(what, err)})
        save()

    # -- super-resolution: the pipeline, the bare network, spandrel on the same weights
    sr_cfg = _preset("superres_psnr.yaml", SuperResConfig, ["--num_feat=8", "--num_conv=2"], args.smoke)
    if args.sr_model:
        net32 = SuperResolutionPipeline.from_pretrained(args.sr_model, dtype=torch.float32).upscaler
        sr_label = f"SR {Path(args.sr_model).name}"
    else:
        torch.manual_seed(0)
        net32 = SRVGGNetCompact(num_feat=sr_cfg.num_feat, num_conv=sr_cfg.num_conv, upscale=sr_cfg.scale)
        sr_label = f"SR compact-{sr_cfg.num_feat}-{sr_cfg.num_conv} (random)"
    net32 = net32.float().eval()
    scale = upscale_factor(net32)
    results["sr_model"] = sr_label

    def sr_pipeline() -> None:
        pipe = SuperResolutionPipeline(upscaler=cast(copy.deepcopy(net32), device, half))
        pipe.set_progress_bar_config(disable=True)
        photo_runs = (photo, tile, min(warmup, 1), max(1, repeats // 4))  # seconds each on a GPU: fewer
        for side, tile_size, warm, reps in ((small, 0, warmup, repeats), (small, tile, warmup, repeats), photo_runs):
            image = common.noise_image(side, side)
            seconds = median_seconds(lambda im=image, t=tile_size: pipe(im, tile_size=t), device, warm, reps)
            label = "whole image" if not tile_size else f"tiles {tile_size}"
            rows.append(
                _infer_row(
                    f"{sr_label}: pipeline, {label}",
                    f"{side}² → {side * scale}²",
                    half,
                    "PIL in/out",
                    seconds,
                    (side * scale) ** 2,
                )
            )

    def sr_network() -> None:
        x32 = torch.rand(1, 3, small, small, generator=torch.Generator().manual_seed(0))
        for dtype, layout in (
            (torch.float32, "contiguous"),
            (torch.float16, "channels_last"),
            (torch.bfloat16, "channels_last"),
        ):
            net = cast(copy.deepcopy(net32), device, dtype)
            x = x32.to(device, dtype)
            if layout == "channels_last":
                net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)

            def run(net=net, x=x):
                with torch.inference_mode():
                    return net(x)

            seconds = median_seconds(run, device, warmup, repeats)
            rows.append(
                _infer_row(
                    f"{sr_label}: network",
                    f"1×{small}² → {small * scale}²",
                    dtype,
                    layout,
                    seconds,
                    (small * scale) ** 2,
                )
            )

    def spandrel_rows() -> None:
        try:
            import spandrel
        except Exception as err:  # noqa: BLE001 - missing, or a dependency of it (torchvision, einops)
            print(f"spandrel not available ({type(err).__name__}: {err}); its rows are skipped.")
            results["spandrel"] = {"available": False, "error": f"{type(err).__name__}: {err}"}
            return
        state = {k: v.detach().cpu() for k, v in net32.state_dict().items()}
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
        info = {
            "available": True,
            "version": getattr(spandrel, "__version__", "?"),
            "architecture": descriptor.architecture.name,
            "scale": descriptor.scale,
        }
        results["spandrel"] = info
        descriptor.to(device).eval()
        x32 = torch.rand(1, 3, small, small, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():  # same weights, same numbers (spandrel clamps to [0, 1])
            ours = net32.to(device)(x32.to(device)).clamp(0, 1)
            info["max_abs_diff_vs_ours_fp32"] = float((descriptor(x32.to(device)) - ours).abs().max())
        net32.cpu()
        dtypes = [torch.float32] + ([torch.float16] if descriptor.supports_half else [])
        for dtype in dtypes:
            descriptor.to(dtype)
            x = x32.to(device, dtype)
            seconds = median_seconds(lambda x=x: descriptor(x), device, warmup, repeats)
            rows.append(
                _infer_row(
                    f"spandrel {info['version']} ({info['architecture']}), same weights",
                    f"1×{small}² → {small * scale}²",
                    dtype,
                    "contiguous",
                    seconds,
                    (small * scale) ** 2,
                )
            )

    guarded("SR pipeline", sr_pipeline)
    guarded("SR network", sr_network)
    guarded("spandrel", spandrel_rows)

    # -- faces: 64 through the pipeline and the generator in one pass
    faces_cfg = _preset("faces_celeba64.yaml", FacesConfig, STYLE_SMOKE, args.smoke)
    num = 64

    def faces() -> None:
        if args.faces_model:
            pipe = FaceGANPipeline.from_pretrained(args.faces_model, dtype=half).to(device)
            label = f"faces {Path(args.faces_model).name}"
        else:
            torch.manual_seed(0)
            G = StyleGAN2Generator(
                size=faces_cfg.size,
                style_dim=faces_cfg.style_dim,
                n_mlp=faces_cfg.n_mlp,
                channel_base=faces_cfg.channel_base,
                channel_max=faces_cfg.channel_max,
            )
            pipe = FaceGANPipeline(stylegan=cast(G, device, half))
            label = f"faces StyleGAN2 {faces_cfg.channel_base}/{faces_cfg.channel_max} (random)"
        pipe.set_progress_bar_config(disable=True)
        side = pipe.resolution
        for output_type in ("pt", "pil"):
            seconds = median_seconds(
                lambda o=output_type: pipe(num_images=num, seed=0, truncation=0.7, output_type=o),
                device,
                warmup,
                repeats,
            )
            rows.append(
                _infer_row(
                    f"{label}: pipeline, output {output_type}",
                    f"{num}×{side}²",
                    half,
                    "contiguous",
                    seconds,
                    num * side * side,
                )
            )
        G, z = pipe.stylegan, torch.randn(num, pipe.stylegan.style_dim, device=device, dtype=half)

        def direct():
            with torch.inference_mode():
                return G(z)

        seconds = median_seconds(direct, device, warmup, repeats)
        rows.append(
            _infer_row(
                f"{label}: generator, one pass", f"{num}×{side}²", half, "contiguous", seconds, num * side * side
            )
        )

    guarded("faces", faces)

    # -- translation: one 256x256 upload, every pixel through the generator
    tr_cfg = _preset("face2anime.yaml", CycleGANConfig, ["--ngf=4", "--n_blocks=1"], args.smoke)

    def translation() -> None:
        torch.manual_seed(0)
        G_ab, G_ba = (cast(ResnetGenerator(ngf=tr_cfg.ngf, n_blocks=tr_cfg.n_blocks), device, half) for _ in range(2))
        pipe = CycleGANPipeline(G_ab, G_ba, train_size=tr_cfg.size)
        pipe.set_progress_bar_config(disable=True)
        side = 32 if args.smoke else 256
        image = common.noise_image(side, side)
        for resolution in ("input", "native"):
            seconds = median_seconds(lambda r=resolution: pipe(image, resolution=r), device, warmup, repeats)
            work = side if resolution == "input" else min(side, tr_cfg.size)
            rows.append(
                _infer_row(
                    f"translation ngf {tr_cfg.ngf}, {tr_cfg.n_blocks} blocks (random): pipeline, {resolution} "
                    f"(G sees {work}²)",
                    f"{side}² → {side}²",
                    half,
                    "PIL in/out",
                    seconds,
                    side * side,
                )
            )

    guarded("translation", translation)

    # -- text2image: the generator on random token states (the pipeline would need the text encoder)
    t2i_cfg = _preset("anime_text2image.yaml", Text2ImageConfig, [*STYLE_SMOKE, "--z_dim=16"], args.smoke)

    def text2image() -> None:
        torch.manual_seed(0)
        text_dim = 32 if args.smoke else TEXT_DIM
        G = TextToImageGenerator(
            size=t2i_cfg.size,
            text_dim=text_dim,
            num_text_queries=t2i_cfg.num_text_queries,
            z_dim=t2i_cfg.z_dim,
            style_dim=t2i_cfg.style_dim,
            n_mlp=t2i_cfg.n_mlp,
            channel_base=t2i_cfg.channel_base,
            channel_max=t2i_cfg.channel_max,
        )
        G = cast(G, device, half)
        z = torch.randn(num, t2i_cfg.z_dim, device=device, dtype=half)
        tokens = torch.randn(num, TEXT_TOKENS, text_dim, device=device, dtype=half)
        mask = torch.ones(num, TEXT_TOKENS, dtype=torch.long, device=device)

        def run():
            with torch.inference_mode():
                return G(z, tokens, mask)

        seconds = median_seconds(run, device, warmup, repeats)
        rows.append(
            _infer_row(
                f"text2image {t2i_cfg.channel_base}/{t2i_cfg.channel_max} (random): generator",
                f"{num}×{t2i_cfg.size}²",
                half,
                "contiguous",
                seconds,
                num * t2i_cfg.size**2,
            )
        )

    guarded("text2image", text2image)


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
    lines = []
    train = [r for r in results["training"] if "speedup" in r]
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
    for r in results["training"]:
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
        "default_flags": _DEFAULT_FLAGS,
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

    with tempfile.TemporaryDirectory(prefix="bench_gpu-") as tmp:
        root = Path(tmp)
        # inference first: short and sure; the training runs (workers, compile) carry more risk
        if not args.skip_inference:
            t0 = time.perf_counter()
            try:
                bench_inference(args, device, results, save)
            except Exception as err:  # noqa: BLE001 - e.g. a --sr-model that does not load; training still runs
                results["inference"].append({"what": "inference set-up", "error": _error("inference set-up", err)})
            print(
                f"[{time.perf_counter() - started:5.1f} s] inference done in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        if not args.skip_training:
            make_data(root, args.smoke)
            for family in [f for f in FAMILIES if f.key in args.family_list]:
                t0 = time.perf_counter()
                try:
                    row = train_family(family, root, args, device)
                except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
                    row = {"family": family.key, "error": _error(f"training {family.key}", err)}
                row["section_s"] = time.perf_counter() - t0
                results["training"].append(row)
                print(
                    f"[{time.perf_counter() - started:5.1f} s] {family.key}: "
                    + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)),
                    flush=True,
                )
                save()
    save()

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
    return results


if __name__ == "__main__":
    main()
