"""What every converter needs: read a weights file without running code, compare shapes to a model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import CheckpointFormatError

__all__ = ["checkpoint_file", "read_state_dict", "shape_mismatches"]


def checkpoint_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path to an existing file, else a ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No checkpoint file at {str(path)!r}.")
    return path


def shape_mismatches(cls: type[torch.nn.Module], config: Mapping, sd: Mapping[str, torch.Tensor]) -> str:
    """What keeps ``sd`` from loading into ``cls(**config)``: "missing: [...]; wrong shape: [...]", or "".

    The model is built on the meta device: shapes only, no memory, no initialisation.
    """
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in cls(**config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in sd.items()}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    wrong = [f"{k}: {got[k]} (expected {expected[k]})" for k in expected if k in got and got[k] != expected[k]]
    return "; ".join(
        f"{what}: {items[:5]}{' ...' if len(items) > 5 else ''}"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if items
    )


def read_state_dict(
    path: Path,
    wrappers: tuple[str, ...] = ("params_ema", "params", "state_dict"),
    allowed_globals: tuple[type, ...] = (),
) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` / ``.pt`` / ``.pth`` file, from the first ``wrappers`` key present.

    ``allowed_globals``: the few plain classes, besides tensors and containers, that the family's
    files are known to hold (rosinality's ``args``: ``argparse.Namespace``); nothing else unpickles.
    """
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        # weights_only: the unpickler accepts tensors and plain containers only, so a malicious or
        # module-pickling file is refused instead of executing code
        with torch.serialization.safe_globals(list(allowed_globals)):
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (not a zip/pickle), EOFError ...
        raise CheckpointFormatError(
            f"Cannot read {path.name!r} as plain weights ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Only tensor state dicts load here (torch.load weights_only=True); pickled modules or code "
            "are refused. Re-save with torch.save(model.state_dict(), ...) from trusted code."
        ) from err
    if isinstance(obj, dict):
        for wrapper in wrappers:
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]  # the first wrapper wins: BasicSR's EMA weights, rosinality's g_ema
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        what = type(obj).__name__ if not isinstance(obj, dict) else f"dict with keys {list(obj)[:6]}"
        raise CheckpointFormatError(f"{path.name!r} holds a {what}, not a state dict of tensors.")
    return obj
