"""Recipe configs: one dataclass per recipe, YAML presets, ``--key=value`` overrides.

A preset YAML file overrides only the fields it names; the command line overrides the file.
Unknown keys are rejected with the list of valid ones, so a typo never trains silently with a
default. The resolved config is written into the run folder (``config.yaml``) for provenance.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml


@dataclass
class EngineConfig:
    """Fields every recipe shares: what the engine reads, and the exported model card's name and notes."""

    output_dir: str = "runs/experiment"  # run folder: checkpoints/, samples/, logs/, pipeline/
    max_steps: int = 10_000  # optimiser steps (after gradient accumulation)
    batch_size: int = 16  # per process, per micro-step
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16" (accelerate autocast + scaler for fp16)
    seed: int = 0
    # optimisers: Adam for both networks; betas as in the recipe's paper
    g_lr: float = 2e-4
    d_lr: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    lr_schedule: str = "constant"  # "constant" | "cosine" | "linear" (decay to 0 after warm-up)
    lr_warmup_steps: int = 0
    lr_decay_start: int = 0  # "linear": constant until this step, then linear to 0 (CycleGAN)
    grad_clip: float = 0.0  # 0 = off; max global grad norm for G and D
    ema_decay: float = 0.999  # EMA of the generator weights; the EMA model is what gets exported
    checkpoint_every: int = 1000
    checkpoints_total_limit: int = 3  # older resumable checkpoints are deleted
    validate_every: int = 1000
    log_every: int = 50
    resume: str = ""  # "" = fresh run, "latest", or a checkpoint folder
    # speed (none of these changes the maths; see training/engine.py)
    max_minutes: float = 0.0  # wall-clock budget incl. set-up; > 0 shortens max_steps to fit (0 = none)
    fused_optimizer: bool = True  # fused Adam kernels on CUDA (ignored on the CPU)
    channels_last: bool = False  # NHWC layout for networks and image batches (tensor cores like it)
    compile: str = "none"  # "none" | "generator" | "all" (torch.compile; "all" cannot do R1's double backward)
    report_to: str = "tensorboard"  # any accelerate tracker name, or "none"
    push_to_hub: bool = False
    hub_model_id: str = ""  # "<user>/<name>"; pushed from the main process only, EMA G + config + card
    # the exported model card (each recipe sets its own default name and licence)
    model_name: str = "model"
    data_note: str = ""  # one line for the model card: what the data is and its licence
    hardware_note: str = ""  # one line for the model card: where and how long it trained
    license: str = "other"


ConfigT = TypeVar("ConfigT", bound=EngineConfig)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the field's declared type, or explain why not."""
    hint = annotation if not isinstance(annotation, str) else eval(annotation, vars(typing))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
    elif hint in (int, float, str):
        try:
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return hint(value) if value is not None else ""
        except (TypeError, ValueError):
            pass
    else:
        return value
    raise ValueError(f"Config key {key!r} expects {getattr(hint, '__name__', hint)}, got {value!r}.")


def load_config(cls: type[ConfigT], config_file: str | None = None, overrides: list[str] | None = None) -> ConfigT:
    """Build ``cls`` from defaults, then ``config_file`` (YAML), then ``--key=value`` overrides.

    Example:
        >>> cfg = load_config(EngineConfig, None, ["--max_steps=5", "--mixed_precision=bf16"])
        >>> cfg.max_steps, cfg.mixed_precision
        (5, 'bf16')
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}

    def set_value(key: str, raw: Any, origin: str) -> None:
        key = key.replace("-", "_")
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ValueError(f"Unknown config key {key!r} in {origin}. Valid keys: {valid}")
        values[key] = _coerce(raw, fields[key].type, key)

    if config_file:
        loaded = yaml.safe_load(Path(config_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_file} must hold a mapping of config keys to values.")
        for key, raw in loaded.items():
            set_value(key, raw, config_file)
    for item in overrides or []:
        if not item.startswith("--") or "=" not in item:
            raise ValueError(f"Overrides look like --key=value, got {item!r}.")
        key, raw = item[2:].split("=", 1)
        set_value(key, yaml.safe_load(raw) if raw else "", "the command line")
    return cls(**values)


def save_config(config: EngineConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))


def parse_cli(cls: type[ConfigT], argv: list[str] | None = None) -> ConfigT:
    """``--config FILE`` plus ``--key=value`` overrides, the interface of every train_*.py."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        lines = [f"  --{f.name}={f.default!r}" for f in dataclasses.fields(cls)]
        print("usage: --config FILE.yaml [--key=value ...]\nkeys and defaults:\n" + "\n".join(lines))
        raise SystemExit(0)
    config_file = None
    rest = []
    it = iter(argv)
    for item in it:
        if item == "--config":
            config_file = next(it, None)
        elif item.startswith("--config="):
            config_file = item.split("=", 1)[1]
        else:
            rest.append(item)
    try:
        return load_config(cls, config_file, rest)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
