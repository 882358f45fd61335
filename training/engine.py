"""The one training loop every GAN family runs on, built on accelerate.

The loop reads like the algorithm box:

    data -> networks -> optimisers -> EMA -> resume
    loop: batch -> D step -> G step -> EMA -> log -> validate/samples -> checkpoint
    end:  export the EMA generator as a pipeline folder (+ push to the Hub)

A family plugs in through a ``GANRecipe`` (networks, a batch source, a loss object, validation
and export); the engine never branches on the family, and the recipe never touches devices,
precision, processes or checkpoints.

Speed without changing the maths (each one a config switch, see ``EngineConfig``):
- no host synchronisation per step: losses and logs stay on the device and are read back, with
  the NaN/inf check, once every ``log_every`` steps and before every checkpoint, so the CPU queues
  work ahead of the GPU; the EMA keeps its update count on the host for the same reason;
- fused Adam on CUDA (``fused_optimizer``), TF32 and cuDNN autotuning on CUDA, optional
  ``channels_last`` and ``torch.compile`` of the generator (``compile``);
- a wall-clock budget (``max_minutes``): the run measures its own speed and shortens
  ``max_steps`` (and the schedule with it) so that it ends, exported, inside the budget.

Checkpoints are two plain kinds (as in diffusers' training examples and BasicSR's ``params_ema``):
- resumable state in ``<output_dir>/checkpoints/step-XXXXXXXX/``: accelerate's ``save_state``
  (models and scaler as safetensors; optimisers, schedulers, RNG through ``torch.save``, which
  accelerate reloads with ``weights_only=True``), plus ``ema.safetensors`` and
  ``trainer_state.json``. Nothing is ever loaded with a full unpickler.
- the EMA generator alone, exported by the recipe with ``save_pretrained`` into
  ``<output_dir>/pipeline/`` at the end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from training.config import EngineConfig, save_config
from training.ema import GeneratorEMA

CHECKPOINT_PREFIX = "step-"
RECIPE_STATE = "recipe_state.safetensors"  # tensors a recipe keeps besides its networks


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept untouched."""


@dataclass
class StepOutput:
    """What a loss method returns: the scalar to backpropagate and named scalars to log.

    Log values may be tensors: the engine reads them back only when it logs (``log_every``), so a
    loss method never has to call ``.item()`` (each call would stall the CPU until the GPU is done).
    """

    loss: torch.Tensor
    logs: dict[str, float | torch.Tensor] = field(default_factory=dict)


class GANLoss(Protocol):
    """A family's maths: one method per network, fixed signatures (stylegan2-ada's loss.py)."""

    def discriminator_step(self, G: nn.Module, D: nn.Module, batch: Any, step: int) -> StepOutput: ...

    def generator_step(self, G: nn.Module, D: nn.Module | None, batch: Any, step: int) -> StepOutput: ...


class GANRecipe(Protocol):
    """Everything family-specific the engine needs."""

    generator: nn.Module
    discriminator: nn.Module | None  # None = generator-only stage (e.g. PSNR pre-training)
    loss: GANLoss

    def sample_batch(self, step: int, batch_size: int, rank: int, device: torch.device) -> Any:
        """A training batch, deterministic in (step, rank), already on ``device``."""

    def validate(self, generator: nn.Module) -> tuple[dict[str, float], list]:
        """Metrics (name -> value) and sample images (PIL) for the EMA generator."""

    def export(self, generator: nn.Module, folder: Path, metrics: dict[str, float]) -> None:
        """Write the inference pipeline folder (weights, config, model card)."""

    # Optional: ``state_dict() -> dict[str, Tensor]`` and ``load_state_dict(state)`` for state that
    # is neither a network nor an optimiser (ADA's probability, CycleGAN's image pools); the engine
    # checkpoints it as safetensors beside the networks.


def _lr_lambda(config: EngineConfig):
    """The learning-rate factor of step ``s``; reads the config at call time, so a time budget that
    shortens ``max_steps`` (and ``lr_decay_start`` with it) reshapes the rest of the schedule.
    ``lr_schedule`` is a Literal, checked when the config is built."""

    def factor(step: int) -> float:
        warmup, total, decay_start = config.lr_warmup_steps, max(1, config.max_steps), config.lr_decay_start
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "cosine":
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1 + math.cos(math.pi * progress))
        if config.lr_schedule == "linear":
            return 1.0 if step < decay_start else max(0.0, 1 - (step - decay_start) / max(1, total - decay_start))
        return 1.0

    return factor


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders are ignored)."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and (p / "trainer_state.json").exists()
    )


def to_channels_last(batch: Any) -> Any:
    """4-D tensors of a batch (tensor, dict, list/tuple or dataclass) in channels_last layout."""
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=torch.channels_last) if batch.ndim == 4 else batch
    if isinstance(batch, dict):
        return {k: to_channels_last(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_channels_last(v) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(
            batch, **{f.name: to_channels_last(getattr(batch, f.name)) for f in dataclasses.fields(batch)}
        )
    return batch


class Engine:
    """Runs a ``GANRecipe`` under ``config``. See the module docstring for the loop.

    Example:
        >>> # engine = Engine(config, recipe_factory); pipeline_folder = engine.train()
    """

    def __init__(self, config: EngineConfig, recipe_factory):
        if config.max_minutes < 0:
            raise ValueError(f"max_minutes must be >= 0 (0 = no time budget), got {config.max_minutes}.")
        self.started = time.time()  # the time budget counts data loading and set-up too
        self.config = config
        self.output_dir = Path(config.output_dir)
        # The accelerator exists before the recipe so that the recipe can be built knowing the
        # process rank only through the engine (it never sees the accelerator itself).
        # accelerate only forms a multi-process CPU group (gloo) when told cpu=True; without it,
        # `torchrun` on a machine with no GPU silently runs N independent world-size-1 trainings
        multi_process_cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.accelerator = Accelerator(
            cpu=multi_process_cpu,
            mixed_precision=config.mixed_precision,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            log_with=None if config.report_to == "none" else config.report_to,
            project_config=ProjectConfiguration(
                project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "logs")
            ),
        )
        if self.accelerator.device.type == "cuda":
            # TF32 for the fp32 parts, and cuDNN picks the fastest kernels for the fixed shapes
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        set_seed(config.seed)  # same initial weights on every process; data differs by rank
        self.recipe: GANRecipe = recipe_factory(config)
        self.step = 0
        self.requested_max_steps = config.max_steps  # a time budget may shorten config.max_steps
        self.speed_history: list[tuple[int, float]] = []  # (step, images/s) at each log line
        self._unchecked: list[tuple[str, int, torch.Tensor]] = []  # losses not yet checked for NaN/inf
        self._pending_logs: dict[str, float | torch.Tensor] = {}

    # ------------------------------------------------------------------ set-up
    def _optimizer(self, module: nn.Module, lr: float) -> torch.optim.Optimizer:
        cfg = self.config
        # fused Adam: one kernel for all parameters instead of several per tensor (CUDA only here;
        # the CPU keeps the default so CPU runs stay as they were)
        fused = cfg.fused_optimizer and self.accelerator.device.type == "cuda"
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(cfg.adam_beta1, cfg.adam_beta2), fused=fused or None)

    def _build(self) -> None:
        cfg, acc, recipe = self.config, self.accelerator, self.recipe
        self.G = recipe.generator
        self.D = recipe.discriminator
        if cfg.channels_last:
            self.G.to(memory_format=torch.channels_last)
            if self.D is not None:
                self.D.to(memory_format=torch.channels_last)
        # EMA of the (unwrapped) generator, an ordinary module we can validate and export
        self.G_ema = GeneratorEMA(self.G, cfg.ema_decay)
        opt_G = self._optimizer(self.G, cfg.g_lr)
        # accelerate steps a prepared scheduler once per process per optimiser step, so the
        # schedule is written in those units (as diffusers' training examples do)
        sched_G = torch.optim.lr_scheduler.LambdaLR(opt_G, self._per_process_lambda())
        if self.D is not None:
            opt_D = self._optimizer(self.D, cfg.d_lr)
            sched_D = torch.optim.lr_scheduler.LambdaLR(opt_D, self._per_process_lambda())
            self.G, self.D, self.opt_G, self.opt_D, self.sched_G, self.sched_D = acc.prepare(
                self.G, self.D, opt_G, opt_D, sched_G, sched_D
            )
        else:
            self.G, self.opt_G, self.sched_G = acc.prepare(self.G, opt_G, sched_G)
            self.opt_D = self.sched_D = None
        self.G_ema.to(acc.device)
        # the steps may run compiled copies; checkpoints, EMA and export use the plain modules.
        # D is compiled only on request: compiled graphs cannot differentiate twice (R1 needs to)
        self.G_step = torch.compile(self.G) if cfg.compile in ("generator", "all") else self.G
        self.D_step = torch.compile(self.D) if cfg.compile == "all" and self.D is not None else self.D

    def _per_process_lambda(self):
        factor = _lr_lambda(self.config)
        n = self.accelerator.num_processes
        return lambda s: factor(s // n)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Atomic: write into a temporary folder, then rename; prune beyond the total limit.

        Refuses (``TrainingDivergedError``) to save weights that a NaN/inf loss has touched.
        """
        self._check_finite()
        acc = self.accelerator
        root = self.output_dir / "checkpoints"
        final = root / f"{CHECKPOINT_PREFIX}{self.step:08d}"
        tmp = root / f".tmp-{CHECKPOINT_PREFIX}{self.step:08d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp), safe_serialization=True)  # every process writes its RNG state
        acc.wait_for_everyone()  # all files are in tmp before it is renamed
        if acc.is_main_process:
            ema_state = {k: v.detach().contiguous().cpu() for k, v in self.G_ema.state_dict().items()}
            save_file(ema_state, str(tmp / "ema.safetensors"))
            if hasattr(self.recipe, "state_dict"):  # e.g. an adaptive augmentation probability
                save_file(self.recipe.state_dict(), str(tmp / RECIPE_STATE))
            state = {"step": self.step, "world_size": self.accelerator.num_processes, "time": time.time()}
            if self.config.max_steps != self.requested_max_steps:
                state["max_steps"] = self.config.max_steps  # as planned by the time budget
            (tmp / "trainer_state.json").write_text(json.dumps(state))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            for old in list_checkpoints(self.output_dir)[: -self.config.checkpoints_total_limit or None]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def load_checkpoint(self, where: str) -> None:
        if where == "latest":
            found = list_checkpoints(self.output_dir)
            if not found:
                self.accelerator.print(
                    f"--resume latest: no checkpoint in {self.output_dir}/checkpoints, starting fresh."
                )
                return
            folder = found[-1]
        else:
            folder = Path(where)
            if not (folder / "trainer_state.json").exists():
                raise FileNotFoundError(f"{folder} is not a complete checkpoint (no trainer_state.json).")
        self.accelerator.load_state(str(folder))
        self.G_ema.load_state_dict(load_file(str(folder / "ema.safetensors"), device=str(self.accelerator.device)))
        if (folder / RECIPE_STATE).exists() and hasattr(self.recipe, "load_state_dict"):
            self.recipe.load_state_dict(load_file(str(folder / RECIPE_STATE)))
        state = json.loads((folder / "trainer_state.json").read_text())
        self.step = state["step"]
        if self.config.max_minutes > 0 and "max_steps" in state:  # keep the budgeted plan's schedule
            self._plan(state["max_steps"])
        self.accelerator.print(f"Resumed from {folder} at step {self.step}.")

    # ------------------------------------------------------------------ the loop
    def _check_finite(self) -> None:
        """Read back every loss since the last check (one sync) and stop at the first NaN/inf."""
        if not self._unchecked:
            return
        losses = torch.stack([loss.float().reshape(()) for _, _, loss in self._unchecked])
        bad = ~torch.isfinite(losses)
        # every process must agree, or one would stop while the others wait in a collective
        if self.accelerator.reduce(bad.any().float().reshape(1), reduction="sum").item() == 0:
            self._unchecked.clear()
            return
        local = bad.nonzero().flatten().tolist()
        if local:
            name, step, loss = self._unchecked[local[0]]
            what = f"{name} loss is {loss.item()} at step {step}"
        else:
            what = f"a loss on another process is not finite by step {self.step}"
        last = list_checkpoints(self.output_dir)
        where = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
        raise TrainingDivergedError(
            f"{what}; stopping ({where}, untouched). "
            "Lower the learning rate, enable grad_clip, or train in bf16/fp32 instead of fp16."
        )

    def _optimise(self, model: nn.Module, optimizer, scheduler, out: StepOutput, name: str) -> None:
        self._unchecked.append((name, self.step, out.loss.detach()))
        self.accelerator.backward(out.loss)
        if self.config.grad_clip and self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(model.parameters(), self.config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    def _read_logs(self) -> dict[str, float]:
        """The latest value of every logged scalar, read back from the device in one go."""
        names = list(self._pending_logs)
        values = [self._pending_logs[n] for n in names]
        tensors = [i for i, v in enumerate(values) if isinstance(v, torch.Tensor)]
        if tensors:  # gathered on one device, read back in one go
            device = values[tensors[0]].device
            read = torch.stack([values[i].detach().float().reshape(()).to(device) for i in tensors]).tolist()
            for i, value in zip(tensors, read):
                values[i] = value
        return {n: float(v) for n, v in zip(names, values)}

    def _validate(self) -> dict[str, float]:
        metrics, images = self.recipe.validate(self.G_ema.module)
        samples = self.output_dir / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            img.save(samples / f"step-{self.step:08d}-{i}.png")
        self.accelerator.log({f"Metrics/{k}": v for k, v in metrics.items()}, step=self.step)
        return metrics

    # ------------------------------------------------------------------ the time budget
    def _plan(self, max_steps: int) -> None:
        """Shorten the run to ``max_steps`` (never lengthen it); the schedule's turning point follows."""
        cfg = self.config
        # at least one more step (the budget check stops a run that is out of time), never past the request
        max_steps = min(self.requested_max_steps, max(self.step + 1, int(max_steps)))
        if cfg.lr_decay_start and self.requested_max_steps:
            cfg.lr_decay_start = round(self._requested_decay_start * max_steps / self.requested_max_steps)
        cfg.max_steps = max_steps

    def _seconds_left(self) -> float:
        return self.config.max_minutes * 60 - (time.time() - self.started)

    def _replan_from_speed(self, since: tuple[int, float]) -> None:
        """At a log line: steps/s since ``since`` (step, time) -> the step count that fits the budget."""
        step0, t0 = since
        if self.step <= step0:
            return
        steps_per_s = (self.step - step0) / max(time.time() - t0, 1e-9)
        self._plan(self.step + int(steps_per_s * max(0.0, self._seconds_left())))

    def _log_line(self, bar: tqdm) -> dict[str, float]:
        """A log interval's one host sync: the NaN/inf check, the logs read back, the speed, and the time
        budget's re-plan from the speed since the first log line (which held warm-up and autotuning)."""
        cfg, acc = self.config, self.accelerator
        self._check_finite()
        logs = self._read_logs()
        (last_step, last_time), now = self._last_log, time.time()
        images = (self.step - last_step) * cfg.batch_size * cfg.gradient_accumulation_steps * acc.num_processes
        images_per_s = images / max(now - last_time, 1e-9)
        self._last_log = (self.step, now)
        self.speed_history.append((self.step, images_per_s))
        logs.update({"Speed/images_per_s": images_per_s, "Progress/lr_G": self.sched_G.get_last_lr()[0]})
        acc.log(logs, step=self.step)
        if cfg.max_minutes > 0:
            if self._speed_since is None:
                self._speed_since = (self.step, now)
            else:
                self._replan_from_speed(self._speed_since)
                bar.total = cfg.max_steps
        return logs

    def train(self) -> Path:
        """Run to ``max_steps`` (resuming if asked); returns the exported pipeline folder."""
        cfg, acc = self.config, self.accelerator
        self._requested_decay_start = cfg.lr_decay_start
        self._build()
        if cfg.resume:
            self.load_checkpoint(cfg.resume)
        if acc.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.output_dir / "config.yaml")
        if cfg.report_to != "none":
            acc.init_trackers(
                "train", config={k: v for k, v in vars(cfg).items() if isinstance(v, (int, float, str, bool))}
            )

        bar = tqdm(total=cfg.max_steps, initial=self.step, disable=not acc.is_local_main_process, desc="train")
        metrics: dict[str, float] = {}
        micro = 0
        self._last_log = (self.step, time.time())
        self._speed_since: tuple[int, float] | None = None  # the budget's speed: measured after the first log line
        while self.step < cfg.max_steps:
            # 1. a batch that depends only on (step, micro-step, rank)
            batch = self.recipe.sample_batch(
                self.step * cfg.gradient_accumulation_steps + micro % cfg.gradient_accumulation_steps,
                cfg.batch_size,
                acc.process_index,
                acc.device,
            )
            if cfg.channels_last:
                batch = to_channels_last(batch)
            micro += 1
            models = [self.G] if self.D is None else [self.G, self.D]
            # one accumulate() per micro-step covering both networks (it counts micro-steps)
            with acc.accumulate(*models), acc.autocast():
                # 2. discriminator step (the loss detaches G's output)
                if self.D is not None:
                    self.D.requires_grad_(True)
                    out = self.recipe.loss.discriminator_step(self.G_step, self.D_step, batch, self.step)
                    self._optimise(self.D, self.opt_D, self.sched_D, out, "discriminator")
                    self._pending_logs.update(out.logs)
                    # D is frozen, and called unwrapped, during the G step: no gradient reaches its
                    # weights and DDP does not wait for gradients that never come
                    self.D.requires_grad_(False)
                # 3. generator step
                D_plain = None
                if self.D is not None:
                    D_plain = self.D_step if self.D_step is not self.D else acc.unwrap_model(self.D)
                out = self.recipe.loss.generator_step(self.G_step, D_plain, batch, self.step)
                self._optimise(self.G, self.opt_G, self.sched_G, out, "generator")
                self._pending_logs.update(out.logs)
            if not acc.sync_gradients:
                continue
            # 4. one optimiser step done: EMA, logging, validation, checkpoint
            self.step += 1
            self.G_ema.update(acc.unwrap_model(self.G))
            bar.update(1)
            out_of_time = cfg.max_minutes > 0 and self._seconds_left() <= 0
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps or out_of_time:
                logs = self._log_line(bar)
                bar.set_postfix({k.split("/")[-1]: f"{v:.4g}" for k, v in logs.items()})
            if out_of_time:  # stop here: validate, checkpoint and export below
                cfg.max_steps = self.step
            if acc.is_main_process and (self.step % cfg.validate_every == 0 or self.step == cfg.max_steps):
                metrics = self._validate()
                bar.write(f"step {self.step}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.max_steps:
                self.save_checkpoint()
        bar.close()
        return self.finish(metrics)

    def _write_summary(self, metrics: dict[str, float]) -> None:
        """``train_summary.json``: what the run did, in numbers (steps, speed, time), for campaigns and cards."""
        cfg = self.config
        summary = {
            "steps": self.step,
            "max_steps": cfg.max_steps,
            "requested_max_steps": self.requested_max_steps,
            "max_minutes": cfg.max_minutes,
            "seconds": round(time.time() - self.started, 1),
            "images_per_step": cfg.batch_size * cfg.gradient_accumulation_steps * self.accelerator.num_processes,
            "images_per_s": [[step, round(speed, 2)] for step, speed in self.speed_history],
            "device": str(self.accelerator.device),
            "device_name": torch.cuda.get_device_name() if self.accelerator.device.type == "cuda" else "cpu",
            "mixed_precision": cfg.mixed_precision,
            "metrics": metrics,
        }
        (self.output_dir / "train_summary.json").write_text(json.dumps(summary, indent=1))

    def finish(self, metrics: dict[str, float]) -> Path:
        """Export the EMA generator; push it (and only it) from the main process if asked."""
        acc, cfg = self.accelerator, self.config
        self._check_finite()
        folder = self.output_dir / "pipeline"
        if acc.is_main_process:
            if not metrics:
                metrics = self._validate()
            self.recipe.export(self.G_ema.module, folder, metrics)
            self._write_summary(metrics)
            if cfg.push_to_hub:
                from gan_models.upload import push_pipeline_to_hub

                if not cfg.hub_model_id:
                    raise ValueError("push_to_hub needs hub_model_id=<user>/<name>.")
                push_pipeline_to_hub(folder, cfg.hub_model_id)
        acc.wait_for_everyone()
        acc.end_training()
        return folder
