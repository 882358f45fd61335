"""Recipe configs: one dataclass per recipe, YAML presets, ``--key=value`` overrides.

A preset YAML file overrides only the fields it names; the command line overrides the file.
Unknown keys are rejected with the list of valid ones, so a typo never trains silently with a
default. Fields that take one of a fixed set of values are ``Literal[...]``: a value outside the set is
refused at load (and on construction) with the valid values listed. The resolved config is written
into the run folder (``config.yaml``) for provenance; ``--dry-run`` prints it and stops.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

# the choice fields every recipe shares; a recipe that changes a default re-declares the field with these
MixedPrecision = Literal["no", "fp16", "bf16"]
LRSchedule = Literal["constant", "cosine", "linear"]
CompileMode = Literal["none", "generator", "all"]


@dataclass
class EngineConfig:
    """Fields every recipe shares: what the engine reads, and the exported model card's name and notes."""

    output_dir: str = "runs/experiment"  # run folder: checkpoints/, samples/, logs/, pipeline/
    max_steps: int = 10_000  # optimiser steps (after gradient accumulation)
    batch_size: int = 16  # per process, per micro-step
    gradient_accumulation_steps: int = 1
    mixed_precision: MixedPrecision = "no"  # accelerate autocast (+ grad scaler for fp16)
    seed: int = 0
    # optimisers: Adam for both networks; betas as in the recipe's paper
    g_lr: float = 2e-4
    d_lr: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    lr_schedule: LRSchedule = "constant"  # decay to 0 after warm-up
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
    compile: CompileMode = "none"  # torch.compile; "all" cannot do R1's double backward
    report_to: str = "tensorboard"  # any accelerate tracker name, or "none"
    push_to_hub: bool = False
    hub_model_id: str = ""  # "<user>/<name>"; pushed from the main process only, EMA G + config + card
    # the exported model card (each recipe sets its own default name and licence)
    model_name: str = "model"
    data_note: str = ""  # one line for the model card: what the data is and its licence
    hardware_note: str = ""  # one line for the model card: where and how long it trained
    license: str = "other"

    def __post_init__(self) -> None:
        # Literal fields are checked however the config is built (load_config, or directly in Python)
        for key, hint in _type_hints(type(self)).items():
            if typing.get_origin(hint) is Literal:
                _literal_choice(getattr(self, key), typing.get_args(hint), key)


ConfigT = TypeVar("ConfigT", bound=EngineConfig)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """Each field's annotation resolved in its defining module (aliases and imported Literals work)."""
    return typing.get_type_hints(cls)


def _literal_choice(value: Any, choices: tuple, key: str) -> Any:
    """The choice ``value`` names, or a ValueError listing the valid ones.

    YAML reads some spellings as other types (``no`` / ``off`` as False, ``1`` as 1): a value that is
    how YAML reads one of the choices counts as that choice, so ``--mixed_precision=no`` works.
    """
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return choice
    for choice in choices:
        if isinstance(choice, str) and not isinstance(value, str):
            parsed = yaml.safe_load(choice)
            if type(parsed) is type(value) and parsed == value:
                return choice
    valid = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"Config key {key!r} must be one of {valid}; got {value!r}.")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the field's declared type, or explain why not."""
    hint = annotation if not isinstance(annotation, str) else eval(annotation, {**vars(typing), **globals()})
    origin = typing.get_origin(hint)
    if origin is Literal:
        return _literal_choice(value, typing.get_args(hint), key)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                try:
                    return _coerce(value, arg, key)
                except ValueError:
                    pass
        names = " | ".join(getattr(arg, "__name__", repr(arg)) for arg in args)
        raise ValueError(f"Config key {key!r} expects {names}, got {value!r}.")
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
    hints = _type_hints(cls)
    values: dict[str, Any] = {}

    def set_value(key: str, raw: Any, origin: str) -> None:
        key = key.replace("-", "_")
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ValueError(f"Unknown config key {key!r} in {origin}. Valid keys: {valid}")
        values[key] = _coerce(raw, hints.get(key, fields[key].type), key)

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


def config_yaml(config: EngineConfig) -> str:
    """Every key of ``config`` (defaults included) as YAML that :func:`load_config` reads back."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)


def save_config(config: EngineConfig, path: Path) -> None:
    path.write_text(config_yaml(config))


def _help_line(field: dataclasses.Field, hint: Any) -> str:
    line = f"  --{field.name}={field.default!r}"
    if typing.get_origin(hint) is Literal:
        line += "  (one of " + ", ".join(repr(choice) for choice in typing.get_args(hint)) + ")"
    return line


def parse_cli(cls: type[ConfigT], argv: list[str] | None = None) -> ConfigT:
    """``--config FILE`` plus ``--key=value`` overrides, the interface of every train_*.py.

    ``--dry-run`` prints the resolved config as YAML (every key, as saved in the run folder) and
    exits 0 before any data or network is built.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        hints = _type_hints(cls)
        lines = [_help_line(f, hints.get(f.name)) for f in dataclasses.fields(cls)]
        print(
            "usage: --config FILE.yaml [--key=value ...] [--dry-run]\n"
            "  --dry-run: print the resolved config as YAML and exit\nkeys and defaults:\n" + "\n".join(lines)
        )
        raise SystemExit(0)
    dry_run = any(item in ("--dry-run", "--dry_run") for item in argv)
    argv = [item for item in argv if item not in ("--dry-run", "--dry_run")]
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
        config = load_config(cls, config_file, rest)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    if dry_run:
        if os.environ.get("RANK", "0") == "0":  # once under accelerate launch / torchrun
            print(config_yaml(config), end="")
        raise SystemExit(0)
    return config
