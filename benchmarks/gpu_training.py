"""The training half of ``bench_gpu.py``: the plain fp32 loop, FLOP counting and the project engine,
measured per family by :func:`train_family`.

Imported as ``benchmarks.gpu_training``: the script puts the repository root on ``sys.path`` first.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import math
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from benchmarks import common
from benchmarks.gpu_families import (
    PRESETS,
    TEXT_DIM,
    Family,
    report_error,
    restore_default_flags,
    write_text_states,
)


HUGE = 1_000_000_000  # checkpoint/validate interval that never comes during a run


def _free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------------
# (a) the plain fp32 loop
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


def plain_loop(recipe, data_recipe, config, device: torch.device, warmup: int, steps: int, workers: int) -> float:
    """Items/s of what a typical training script does: fp32, eager, CPU DataLoader, plain Adam, ``.item()`` each step.

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
    return steps * config.batch_size / seconds


# ------------------------------------------------------------------------------------------------
# FLOPs per step
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# (b) the engine
# ------------------------------------------------------------------------------------------------


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


class HostSyncCounter:
    """Host syncs of the engine's last log window, hooked onto where a log line starts and ends.

    A log line starts at ``_check_finite`` (so does each checkpoint) and ends once ``_read_logs`` has read
    the values back. From the read-back at ``sync_from`` to the one at ``total``, CUDA's sync debug mode
    turns every sync into a warning: those before the last check belong to the steps, the rest to the log
    line. Counted on CUDA only: the CPU has nothing to wait for.
    """

    def __init__(self, engine, window: int, windows: int):
        self.engine, self.window = engine, window
        self.total, self.sync_from = window * (windows + 2), window * (windows + 1)
        self.enabled = engine.accelerator.device.type == "cuda"
        self.records: list = []  # every warning of the run, set by whoever catches them
        self.marks: dict[str, int] = {}
        self._check, self._read = engine._check_finite, engine._read_logs
        engine._check_finite, engine._read_logs = self._checked, self._read_logs

    def _sync_records(self) -> list:
        return [w for w in self.records if "synchroniz" in str(w.message)]

    def _checked(self) -> None:
        if self.engine.step == self.total and "start" in self.marks and "steps_end" not in self.marks:
            self.marks["steps_end"] = len(self._sync_records())
        self._check()

    def _read_logs(self) -> dict:
        logs = self._read()
        if self.engine.step == self.sync_from and "start" not in self.marks:
            self._debug_mode("warn")
            self.marks["start"] = len(self._sync_records())
        elif self.engine.step == self.total and "steps_end" in self.marks and "log_end" not in self.marks:
            self.marks["log_end"] = len(self._sync_records())
            self._debug_mode(0)
        return logs

    def _debug_mode(self, mode: str | int) -> None:
        if self.enabled:
            torch.cuda.set_sync_debug_mode(mode)

    def stop(self) -> None:
        """Sync debug mode off, however the run ended."""
        self._debug_mode(0)

    def summary(self) -> dict:
        """Syncs per step, per log line and their five commonest sites; empty if the window never closed."""
        marks = self.marks
        if "log_end" not in marks:
            return {}
        in_window = self._sync_records()[marks["start"] : marks["steps_end"]]
        sites = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in in_window)
        return {
            "host_syncs_per_step": (marks["steps_end"] - marks["start"]) / self.window if self.enabled else None,
            "host_syncs_per_log_line": (marks["log_end"] - marks["steps_end"]) if self.enabled else None,
            "sync_sites": dict(sites.most_common(5)),
        }


def _train_recording_warnings(engine, syncs: HostSyncCounter, family_key: str) -> str | None:
    """``engine.train()`` with every warning recorded for ``syncs``. A failure before the last timed step
    raises; one after it (checkpoint, validation, export) comes back as its error line, the speed stands."""
    try:
        with warnings.catch_warnings(record=True) as caught, quiet_engine_bars():
            warnings.simplefilter("always")  # every sync, not the first per line
            syncs.records = caught
            try:
                engine.train()
            except Exception as err:
                if engine.step < syncs.total:  # the timed steps did not all run: a real failure
                    raise
                return report_error(f"{family_key}: the engine's end of run (checkpoint / validation / export)", err)
    finally:
        syncs.stop()
    return None


def _compiled_graphs() -> int:
    try:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
    except Exception:  # noqa: BLE001 - a private counter; only informative
        return 0


def engine_run(family: Family, overrides: list[str], window: int, windows: int, compile_mode: str = "none") -> dict:
    """The project trainer with the preset's switches: images/s from ``speed_history``, host syncs per step.

    Steps: one warm-up window, ``windows`` timed windows, one window under the sync debug mode (CUDA).
    """
    from training.config import load_config
    from training.engine import Engine

    config_cls, recipe_cls = family.classes()
    total = window * (windows + 2)
    reset_accelerate()
    config = load_config(
        config_cls,
        str(PRESETS / family.preset),
        [*overrides, f"--log_every={window}", f"--max_steps={total}", f"--compile={compile_mode}"],
    )
    engine = Engine(config, recipe_cls)
    syncs = HostSyncCounter(engine, window, windows)
    graphs_before = _compiled_graphs()
    started = time.perf_counter()
    end_error = _train_recording_warnings(engine, syncs, family.key)
    wall = time.perf_counter() - started
    history = engine.speed_history
    timed = [ips for step, ips in history if window < step <= syncs.sync_from]
    if not timed:
        raise RuntimeError(f"no timed log window in speed_history {history} (window {window}, total {total}).")
    items_per_s = len(timed) / sum(1 / ips for ips in timed)  # equal windows: total items / total time
    row = {
        "items_per_s": items_per_s,
        "windows": [round(ips, 2) for _, ips in history],
        "wall_s": wall,
        "mixed_precision": config.mixed_precision,
        "channels_last": config.channels_last,
        "fused_optimizer": config.fused_optimizer and engine.accelerator.device.type == "cuda",
        "compile": compile_mode,
    }
    if end_error:
        row["end_of_run_error"] = end_error
    if compile_mode != "none":  # first window minus what it would take at the steady speed
        first = history[0][1]
        row["compile_s"] = window * config.batch_size * (1 / first - 1 / items_per_s)
        row["compiled_graphs"] = _compiled_graphs() - graphs_before  # many = recompiles (guards on Python values)
    row.update(syncs.summary())
    return row


# ------------------------------------------------------------------------------------------------
# one family: (a), FLOPs, (b) and, with --compile, (b) compiled
# ------------------------------------------------------------------------------------------------


def _measure_plain(recipe_cls, config, args, device: torch.device) -> dict:
    """(a) and FLOPs, on a recipe of their own: a recipe moves its samplers to the first device it is asked for."""
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    recipe = recipe_cls(config)
    data_recipe = copy.deepcopy(recipe)  # batches on the CPU, also in forked workers
    row = {"params_G_M": sum(p.numel() for p in recipe.generator.parameters()) / 1e6}
    row["plain_items_per_s"] = plain_loop(recipe, data_recipe, config, device, args.window, args.steps, args.workers)
    t1 = time.perf_counter()
    row.update(count_flops(recipe, data_recipe, config, device))
    row["plain_wall_s"], row["flops_wall_s"] = t1 - t0, time.perf_counter() - t1
    return row


def _measure_compiled(family: Family, overrides: list[str], args, row: dict) -> dict:
    """(b) again with compile=generator; its failure is reported in the row, the rest of the row stands."""
    try:
        compiled = engine_run(family, overrides, args.window, args.windows, "generator")
    except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
        return {"compiled_error": report_error(f"{family.key} compile=generator", err)}
    return {
        "compiled_items_per_s": compiled["items_per_s"],
        "compile_s": compiled.get("compile_s"),
        "compiled_graphs": compiled.get("compiled_graphs"),
        "compiled_tflops": row["flops_per_step"] * compiled["items_per_s"] / row["batch"] / 1e12,
    }


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
    row.update(_measure_plain(recipe_cls, config, args, device))
    _free_memory(device)

    engine = engine_run(family, [*overrides, f"--output_dir={out}-engine"], args.window, args.windows)
    row["engine_items_per_s"] = engine.pop("items_per_s")
    row.update({f"engine_{k}": v for k, v in engine.items()})
    row["speedup"] = row["engine_items_per_s"] / row["plain_items_per_s"]
    steps_per_s = row["engine_items_per_s"] / row["batch"]
    row["engine_tflops"] = row["flops_per_step"] * steps_per_s / 1e12
    row["plain_tflops"] = row["flops_per_step"] * row["plain_items_per_s"] / row["batch"] / 1e12
    row["peak_share"] = row["engine_tflops"] / args.peak_tflops
    _free_memory(device)
    if args.compile:
        row.update(_measure_compiled(family, [*overrides, f"--output_dir={out}-compiled"], args, row))
        _free_memory(device)
    return row
