"""The generator's exponential moving average, the weights every recipe exports (BasicSR's ``params_ema``).

Its warm-up rule, :func:`ema_weight`, lives in ``gan_models.ema``: the GAN Lab's loop follows it too.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from gan_models.ema import ema_weight

__all__ = ["GeneratorEMA", "ema_weight"]


class GeneratorEMA(nn.Module):
    """Exponential moving average of a network's parameters and float buffers.

    The state dict is ``torch.optim.swa_utils.AveragedModel``'s (``module.*`` and ``n_averaged``),
    so checkpoints of either load into the other; unlike it, the update count lives on the host
    too, so an update never waits for the GPU (AveragedModel tests ``n_averaged == 0`` on the
    device at every step). The first update copies the model; integer buffers are copied always.

    Example:
        >>> ema = GeneratorEMA(nn.Linear(2, 2), decay=0.9)
        >>> ema.update(nn.Linear(2, 2)); ema.num_updates
        1
    """

    def __init__(self, model: nn.Module, decay: float):
        super().__init__()
        ema_weight(decay, 1)  # checks the range now, not at the first update
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))
        self.decay = decay
        self.num_updates = 0

    @staticmethod
    def _tensors(model: nn.Module) -> list[torch.Tensor]:
        return [t.detach() for t in (*model.parameters(), *model.buffers())]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        mine, theirs = self._tensors(self.module), self._tensors(model)
        floats = [(e, m) for e, m in zip(mine, theirs) if e.is_floating_point()]
        if self.num_updates == 0:
            torch._foreach_copy_(mine, theirs)
        elif floats:
            weight = ema_weight(self.decay, self.num_updates)
            torch._foreach_lerp_([e for e, _ in floats], [m for _, m in floats], weight)
            for e, m in zip(mine, theirs):
                if not e.is_floating_point():  # counters such as num_batches_tracked follow the model
                    e.copy_(m)
        self.num_updates += 1
        self.n_averaged.fill_(self.num_updates)  # a host number written to the device: no sync

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.num_updates = int(self.n_averaged)  # once, at resume
