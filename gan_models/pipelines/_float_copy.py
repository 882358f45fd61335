"""One cached float32 copy of a half-precision module, shared by the pipelines.

CPU half convolutions are slow or missing, and a half model on a GPU may overflow; pipelines then
compute with a float32 copy. The copy is cached until the module, its device or dtype, or any of
its tensors change (their in-place version counters), so ``.to()``, ``.half()`` and
``load_state_dict`` all invalidate it.
"""

from __future__ import annotations

import copy

from torch import nn


def weights_key(module: nn.Module) -> tuple:
    """Changes whenever ``module`` is replaced, moved, cast or has a tensor updated in place."""
    first = next(module.parameters(), None)
    where = (first.device, first.dtype) if first is not None else (None, None)
    return (id(module), *where, tuple(t._version for t in (*module.parameters(), *module.buffers())))


def cached_float_copy(module: nn.Module, cache: dict, slot: str = "") -> nn.Module:
    """A float32 copy of ``module``, kept in ``cache[slot]`` until :func:`weights_key` changes.

    Example:
        >>> import torch
        >>> half, cache = nn.Linear(2, 2).half(), {}
        >>> a = cached_float_copy(half, cache); a is cached_float_copy(half, cache), a.weight.dtype
        (True, torch.float32)
    """
    key = weights_key(module)
    hit = cache.get(slot)
    if hit is None or hit[0] != key:
        hit = cache[slot] = (key, copy.deepcopy(module).float())  # .float(): no diffusers dtype warning
    return hit[1]
