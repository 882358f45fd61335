"""Tiled inference for image-to-image networks (super-resolution now, translation later).

Big images never go to the accelerator whole. Each tile is cut on the CPU together with an
``overlap`` margin of context, sent to the device, run, and only its centre (margin cut off) is
pasted into a CPU canvas. When the margin is at least the network's receptive-field radius the
seams are invisible and the result equals a single whole-image pass up to float rounding.

Memory: the canvas is ``uint8`` by default (each tile is clamped to [0, 1] and quantised as it is
pasted), a quarter of a float32 canvas: a 4096x4096 x4 upscale is 0.8 GB instead of 3.2 GB.
Pass ``canvas_dtype=torch.float32`` to keep raw, unclamped float outputs instead.

Failure handling:
* CUDA / MPS out-of-memory: free the cache and restart with half the tile size, down to
  ``min_tile_size``; then raise :class:`~gan_models.errors.InferenceOutOfMemoryError`.
* fp16 / bf16: a tile whose output has NaN or inf is recomputed in float32 (``fp32_fn``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .errors import InferenceOutOfMemoryError

__all__ = ["is_out_of_memory", "tiled_upscale"]

TileFn = Callable[[torch.Tensor], torch.Tensor]
ProgressFn = Callable[[int, int], None]

_HALF_DTYPES = (torch.float16, torch.bfloat16)


def is_out_of_memory(err: BaseException) -> bool:
    """True for torch's OOM error and for backends that raise a RuntimeError saying so.

    Example:
        >>> is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
        True
    """
    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _empty_cache(device: torch.device) -> None:
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def _round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad bottom/right so H and W are multiples (reflect like Real-ESRGAN; replicate if too small)."""
    pad_h = (-x.shape[-2]) % multiple
    pad_w = (-x.shape[-1]) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < x.shape[-2] and pad_w < x.shape[-1] else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def _check_args(image: torch.Tensor, scale: int, tile_size: int | None, tile_overlap: int) -> None:
    if image.dim() != 4:
        raise ValueError(f"image must be a (B, C, H, W) tensor, got shape {tuple(image.shape)}.")
    if image.device.type != "cpu":
        raise ValueError("image must be on the CPU; tiled_upscale moves one tile at a time to `device`.")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}.")
    if tile_overlap < 0:
        raise ValueError(f"tile_overlap must be >= 0, got {tile_overlap}.")
    if tile_size is not None and tile_size < 0:
        raise ValueError(f"tile_size must be >= 0 (0 or None = whole image), got {tile_size}.")


def tiled_upscale(
    fn: TileFn,
    image: torch.Tensor,
    scale: int,
    tile_size: int | None = 256,
    tile_overlap: int = 16,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    progress: ProgressFn | None = None,
    *,
    multiple: int = 1,
    min_tile_size: int = 32,
    fp32_fn: TileFn | None = None,
    canvas_dtype: torch.dtype = torch.uint8,
) -> torch.Tensor:
    """Run ``fn`` over ``image`` tile by tile and assemble the ``scale``-times larger result on CPU.

    Args:
        fn: the network call, ``(B, C, h, w)`` on ``device``/``dtype`` -> ``(B, C', h*scale, w*scale)``.
        image: ``(B, C, H, W)`` float tensor on the CPU, values in ``[0, 1]``.
        scale: integer output/input size ratio of ``fn``.
        tile_size: tile side in input pixels; ``0`` or ``None`` runs the whole image as one tile.
        tile_overlap: context margin (input pixels) around each tile, cut off after the network.
        device: where ``fn`` runs (default CPU). Only one tile at a time is moved there.
        dtype: input dtype for ``fn`` (default float32). With fp16/bf16, non-finite tiles are redone
            in float32 by ``fp32_fn`` (default: ``fn`` itself, fed a float32 tile).
        progress: called as ``progress(done, total)`` after each tile; ``total`` can grow once if an
            out-of-memory restart switches to smaller tiles.
        multiple: tiles (and their margins) are aligned to this many pixels and each tile is padded
            to it, for networks that pixel-unshuffle (RRDBNet x2 -> 2, x1 -> 4).
        min_tile_size: smallest tile tried after out-of-memory errors.
        fp32_fn: float32 version of ``fn`` for the half-precision fallback.
        canvas_dtype: ``torch.uint8`` (default, quantised, 4x less memory) or a float dtype (raw).

    Returns:
        ``(B, C', H*scale, W*scale)`` tensor on the CPU, of ``canvas_dtype``.

    Raises:
        InferenceOutOfMemoryError: still out of memory at ``min_tile_size``.

    Example:
        >>> up = lambda x: F.interpolate(x, scale_factor=2, mode="nearest")
        >>> out = tiled_upscale(up, torch.rand(1, 3, 37, 53), scale=2, tile_size=16, tile_overlap=4)
        >>> out.shape, out.dtype
        (torch.Size([1, 3, 74, 106]), torch.uint8)
    """
    # 0. check inputs at the door
    _check_args(image, scale, tile_size, tile_overlap)
    device = torch.device(device) if device is not None else torch.device("cpu")
    dtype = dtype or torch.float32
    height, width = image.shape[-2:]

    # 1. tile size: whole image, or the requested size; both aligned to `multiple`
    whole = _round_up(max(height, width), multiple)
    tile = whole if not tile_size else min(_round_up(int(tile_size), multiple), whole)
    overlap = _round_up(int(tile_overlap), multiple)
    min_tile = max(_round_up(min_tile_size, multiple), multiple)

    # 2. run; on OOM halve the tile and restart (outside the except block, so the failed
    #    attempt's tensors, referenced from the traceback, are freed before emptying the cache)
    while True:
        try:
            return _run_tiles(
                fn, image, int(scale), tile, overlap, device, dtype, progress, multiple, fp32_fn, canvas_dtype
            )
        except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
            if not is_out_of_memory(err):
                raise
        _empty_cache(device)
        if tile <= min_tile:
            raise InferenceOutOfMemoryError(
                f"Out of memory on {device} even with {tile}x{tile} tiles. Use a smaller image, run "
                "on the CPU, or free memory used by other processes."
            )
        tile = max(min_tile, _round_up(tile // 2, multiple))


def _run_tiles(
    fn: TileFn,
    image: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: ProgressFn | None,
    multiple: int,
    fp32_fn: TileFn | None,
    canvas_dtype: torch.dtype,
) -> torch.Tensor:
    batch, _, height, width = image.shape
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    canvas: torch.Tensor | None = None  # allocated once the first tile tells us C'

    for index in range(rows * cols):
        # 1. the tile [y0, y1) x [x0, x1) and its crop with context margin [cy0, cy1) x [cx0, cx1)
        y0, x0 = (index // cols) * tile, (index % cols) * tile
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        cy0, cx0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
        cy1, cx1 = min(y1 + overlap, height), min(x1 + overlap, width)

        # 2. cut on CPU, pad to the network's multiple, move only this crop to the device
        crop = _pad_to_multiple(image[:, :, cy0:cy1, cx0:cx1], multiple)
        out = _run_one(fn, crop, device, dtype, fp32_fn)
        if out.shape[-2:] != (crop.shape[-2] * scale, crop.shape[-1] * scale):
            raise ValueError(
                f"The network returned {tuple(out.shape[-2:])} for a {tuple(crop.shape[-2:])} tile; "
                f"expected exactly x{scale}. Check the `scale` passed to tiled_upscale."
            )

        # 3. cut the margin off the output: (B, C', crop_h*s, crop_w*s) -> (B, C', tile_h*s, tile_w*s)
        oy, ox = (y0 - cy0) * scale, (x0 - cx0) * scale
        out = out[:, :, oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale].to("cpu", torch.float32)

        # 4. paste into the CPU canvas (quantised to uint8 per tile unless a float canvas is asked)
        if canvas is None:
            canvas = torch.empty(batch, out.shape[1], height * scale, width * scale, dtype=canvas_dtype)
        if canvas_dtype == torch.uint8:
            out = out.clamp_(0.0, 1.0).mul_(255.0).round_()
        canvas[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = out.to(canvas_dtype)
        if progress is not None:
            progress(index + 1, rows * cols)

    assert canvas is not None  # at least one tile: H, W >= 1
    return canvas


def _run_one(
    fn: TileFn, crop: torch.Tensor, device: torch.device, dtype: torch.dtype, fp32_fn: TileFn | None
) -> torch.Tensor:
    out = fn(crop.to(device=device, dtype=dtype))
    # fp16 overflows (and bf16 rarely) give inf/NaN in a few tiles; redo just those in float32
    if dtype in _HALF_DTYPES and not torch.isfinite(out).all():
        out = (fp32_fn or fn)(crop.to(device=device, dtype=torch.float32))
    return out
