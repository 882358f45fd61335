"""The one training loop every GAN family runs on, built on accelerate.

The loop reads like the algorithm box:

    data -> networks -> optimisers -> EMA -> resume
    loop: batch -> D step -> G step -> EMA -> log -> validate/samples -> checkpoint
    end:  export the EMA generator as a pipeline folder (+ push to the Hub)

A family plugs in through a ``GANRecipe`` (networks, a batch source, a loss object, validation
and export); the engine never branches on the family, and the recipe never touches devices,
precision, processes or checkpoints.

Checkpoints are two plain kinds (as in diffusers' training examples and BasicSR's ``params_ema``):
- resumable state in ``<output_dir>/checkpoints/step-XXXXXXXX/``: accelerate's ``save_state``
  (models and scaler as safetensors; optimisers, schedulers, RNG through ``torch.save``, which
  accelerate reloads with ``weights_only=True``), plus ``ema.safetensors`` and
  ``trainer_state.json``. Nothing is ever loaded with a full unpickler.
- the EMA generator alone, exported by the recipe with ``save_pretrained`` into
  ``<output_dir>/pipeline/`` at the end.
"""

from __future__ import annotations

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
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from training.config import EngineConfig, save_config

CHECKPOINT_PREFIX = "step-"
RECIPE_STATE = "recipe_state.safetensors"  # tensors a recipe keeps besides its networks


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept untouched."""


@dataclass
class StepOutput:
    """What a loss method returns: the scalar to backpropagate and named scalars to log."""

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


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
    warmup, total, decay_start = config.lr_warmup_steps, max(1, config.max_steps), config.lr_decay_start

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "cosine":
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1 + math.cos(math.pi * progress))
        if config.lr_schedule == "linear":
            return 1.0 if step < decay_start else max(0.0, 1 - (step - decay_start) / max(1, total - decay_start))
        return 1.0

    if config.lr_schedule not in ("constant", "cosine", "linear"):
        raise ValueError(f"lr_schedule must be constant, cosine or linear, got {config.lr_schedule!r}.")
    return factor


def ema_with_warmup(decay: float):
    """EMA update for ``AveragedModel`` whose decay ramps up as min(decay, (1 + n) / (10 + n)).

    Without the ramp (diffusers' EMAModel has the same one) a 0.999 average still holds 37% of
    the random initial weights after 1,000 steps, and early validation measures mostly noise.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema_decay must be in [0, 1], got {decay}.")

    @torch.no_grad()
    def update(ema_params: list[torch.Tensor], model_params: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        n = int(num_averaged)
        weight = 1 - min(decay, (1 + n) / (10 + n))
        floats = [(e, m) for e, m in zip(ema_params, model_params) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [m for _, m in floats], weight)
        for e, m in zip(ema_params, model_params):
            if not e.is_floating_point():  # counters such as num_batches_tracked: follow the model
                e.copy_(m)

    return update


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders are ignored)."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and (p / "trainer_state.json").exists()
    )


class Engine:
    """Runs a ``GANRecipe`` under ``config``. See the module docstring for the loop.

    Example:
        >>> # engine = Engine(config, recipe); pipeline_folder = engine.train()
    """

    def __init__(self, config: EngineConfig, recipe_factory):
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
        set_seed(config.seed)  # same initial weights on every process; data differs by rank
        self.recipe: GANRecipe = recipe_factory(config)
        self.step = 0

    # ------------------------------------------------------------------ set-up
    def _build(self) -> None:
        cfg, acc, recipe = self.config, self.accelerator, self.recipe
        betas = (cfg.adam_beta1, cfg.adam_beta2)
        self.G = recipe.generator
        self.D = recipe.discriminator
        # EMA of the (unwrapped) generator, an ordinary module we can validate and export
        self.G_ema = AveragedModel(self.G, multi_avg_fn=ema_with_warmup(cfg.ema_decay), use_buffers=True)
        self.G_ema.requires_grad_(False)
        opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.g_lr, betas=betas)
        # accelerate steps a prepared scheduler once per process per optimiser step, so the
        # schedule is written in those units (as diffusers' training examples do)
        sched_G = torch.optim.lr_scheduler.LambdaLR(opt_G, self._per_process_lambda())
        if self.D is not None:
            opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr, betas=betas)
            sched_D = torch.optim.lr_scheduler.LambdaLR(opt_D, self._per_process_lambda())
            self.G, self.D, self.opt_G, self.opt_D, self.sched_G, self.sched_D = acc.prepare(
                self.G, self.D, opt_G, opt_D, sched_G, sched_D
            )
        else:
            self.G, self.opt_G, self.sched_G = acc.prepare(self.G, opt_G, sched_G)
            self.opt_D = self.sched_D = None
        self.G_ema.to(acc.device)

    def _per_process_lambda(self):
        factor = _lr_lambda(self.config)
        n = self.accelerator.num_processes
        return lambda s: factor(s // n)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Atomic: write into a temporary folder, then rename; prune beyond the total limit."""
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
            (tmp / "trainer_state.json").write_text(
                json.dumps({"step": self.step, "world_size": self.accelerator.num_processes, "time": time.time()})
            )
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
        self.step = json.loads((folder / "trainer_state.json").read_text())["step"]
        self.accelerator.print(f"Resumed from {folder} at step {self.step}.")

    # ------------------------------------------------------------------ the loop
    def _check_finite(self, name: str, loss: torch.Tensor) -> None:
        # every process must agree, or one would stop while the others wait in a collective
        bad = self.accelerator.reduce((~torch.isfinite(loss.detach())).float().reshape(1), reduction="sum")
        if bad.item() > 0:
            last = list_checkpoints(self.output_dir)
            where = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
            raise TrainingDivergedError(
                f"{name} loss is {loss.item()} at step {self.step}; stopping ({where}, untouched). "
                "Lower the learning rate, enable grad_clip, or train in bf16/fp32 instead of fp16."
            )

    def _optimise(self, model: nn.Module, optimizer, scheduler, out: StepOutput, name: str) -> None:
        self._check_finite(name, out.loss)
        self.accelerator.backward(out.loss)
        if self.config.grad_clip and self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(model.parameters(), self.config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    def _validate(self) -> dict[str, float]:
        metrics, images = self.recipe.validate(self.G_ema.module)
        samples = self.output_dir / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            img.save(samples / f"step-{self.step:08d}-{i}.png")
        self.accelerator.log({f"Metrics/{k}": v for k, v in metrics.items()}, step=self.step)
        return metrics

    def train(self) -> Path:
        """Run to ``max_steps`` (resuming if asked); returns the exported pipeline folder."""
        cfg, acc = self.config, self.accelerator
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
        tick = time.time()
        while self.step < cfg.max_steps:
            # 1. a batch that depends only on (step, micro-step, rank)
            batch = self.recipe.sample_batch(
                self.step * cfg.gradient_accumulation_steps + micro % cfg.gradient_accumulation_steps,
                cfg.batch_size,
                acc.process_index,
                acc.device,
            )
            micro += 1
            logs: dict[str, float] = {}
            models = [self.G] if self.D is None else [self.G, self.D]
            # one accumulate() per micro-step covering both networks (it counts micro-steps)
            with acc.accumulate(*models), acc.autocast():
                # 2. discriminator step (the loss detaches G's output)
                if self.D is not None:
                    self.D.requires_grad_(True)
                    out = self.recipe.loss.discriminator_step(self.G, self.D, batch, self.step)
                    self._optimise(self.D, self.opt_D, self.sched_D, out, "discriminator")
                    logs.update(out.logs)
                    # D is frozen, and called unwrapped, during the G step: no gradient reaches its
                    # weights and DDP does not wait for gradients that never come
                    self.D.requires_grad_(False)
                # 3. generator step
                D_plain = acc.unwrap_model(self.D) if self.D is not None else None
                out = self.recipe.loss.generator_step(self.G, D_plain, batch, self.step)
                self._optimise(self.G, self.opt_G, self.sched_G, out, "generator")
                logs.update(out.logs)
            if not acc.sync_gradients:
                continue
            # 4. one optimiser step done: EMA, logging, validation, checkpoint
            self.step += 1
            self.G_ema.update_parameters(acc.unwrap_model(self.G))
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                elapsed, tick = time.time() - tick, time.time()
                images_per_s = (
                    cfg.log_every
                    * cfg.batch_size
                    * cfg.gradient_accumulation_steps
                    * acc.num_processes
                    / max(elapsed, 1e-9)
                )
                logs.update({"Speed/images_per_s": images_per_s, "Progress/lr_G": self.sched_G.get_last_lr()[0]})
                acc.log(logs, step=self.step)
                bar.set_postfix({k.split("/")[-1]: f"{v:.4g}" for k, v in logs.items()})
            if acc.is_main_process and (self.step % cfg.validate_every == 0 or self.step == cfg.max_steps):
                metrics = self._validate()
                bar.write(f"step {self.step}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.max_steps:
                self.save_checkpoint()
        bar.close()
        return self.finish(metrics)

    def finish(self, metrics: dict[str, float]) -> Path:
        """Export the EMA generator; push it (and only it) from the main process if asked."""
        acc, cfg = self.accelerator, self.config
        folder = self.output_dir / "pipeline"
        if acc.is_main_process:
            if not metrics:
                metrics = self._validate()
            self.recipe.export(self.G_ema.module, folder, metrics)
            if cfg.push_to_hub:
                from gan_models.hub import push_pipeline_to_hub

                if not cfg.hub_model_id:
                    raise ValueError("push_to_hub needs hub_model_id=<user>/<name>.")
                push_pipeline_to_hub(folder, cfg.hub_model_id)
        acc.wait_for_everyone()
        acc.end_training()
        return folder
