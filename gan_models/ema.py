"""The EMA warm-up rule, once: the training engine's ``GeneratorEMA`` and the GAN Lab's loop both follow it."""

from __future__ import annotations

__all__ = ["ema_weight"]


def ema_weight(decay: float, num_averaged: int) -> float:
    """How far the EMA moves towards the model at its ``num_averaged``-th update.

    The decay ramps up as min(decay, (1 + n) / (10 + n)): without the ramp (diffusers' EMAModel
    has the same one) a 0.999 average still holds 37% of the random initial weights after 1,000
    steps, and early validation measures mostly noise.

    Example:
        >>> round(ema_weight(0.999, 1), 4), ema_weight(0.0, 5)
        (0.8182, 1.0)
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema_decay must be in [0, 1], got {decay}.")
    return 1 - min(decay, (1 + num_averaged) / (10 + num_averaged))
