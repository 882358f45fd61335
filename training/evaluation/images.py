"""uint8 image batches, the currency of every metric here: the check at each metric's door, and a
generator's output turned into one such batch (:func:`generated_uint8`)."""

from __future__ import annotations

from typing import Any

import torch


def check_uint8_images(images: object, name: str, min_count: int = 1) -> None:
    """Raise ValueError unless ``images`` is a uint8 tensor (N, 3, H, W) holding at least ``min_count`` images.

    Example:
        >>> check_uint8_images(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), "images", min_count=2)
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"{name} must be a uint8 tensor (N, 3, H, W) in [0, 255], got {describe(images)}; convert float images "
            "in [0, 1] with (x.clamp(0, 1) * 255).round().to(torch.uint8)."
        )
    if len(images) < min_count:
        raise ValueError(f"{name} needs at least {min_count} images, got {len(images)}.")


def describe(x: object) -> str:
    """A value in an error message: a tensor's dtype and shape, else its type name."""
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


def generated_uint8(out: Any, count: int) -> torch.Tensor:
    """A generator's output (tensor, list of tensors, or ``.images``) as uint8 (count, 3, H, W) on the CPU."""
    out = getattr(out, "images", out)
    if isinstance(out, (list, tuple)):
        if not out or not all(isinstance(t, torch.Tensor) for t in out):
            raise TypeError("The generator returned a list that is not of tensors; ask for output_type='pt'.")
        out = torch.stack(list(out))
    if not isinstance(out, torch.Tensor) or out.ndim != 4 or len(out) != count:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"The generator returned {shape}; expected {count} images as (N, 3, H, W).")
    out = out.detach().cpu()
    if out.dtype == torch.uint8:
        return out
    if not out.is_floating_point():
        raise TypeError(f"Generated images must be float in [0, 1] or uint8, got {out.dtype}.")
    # the PNG a user would save: clamp, then round to the 8-bit grid (as the pipeline's PIL output)
    return out.float().clamp(0, 1).mul(255).round().to(torch.uint8)
