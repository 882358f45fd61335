"""PSNR and SSIM on the Y channel, computed the way published super-resolution tables compute them.

The protocol is the MATLAB one (``rgb2ycbcr`` + ``ssim_index``) that BasicSR's ``calculate_psnr`` /
``calculate_ssim`` reproduce with ``test_y_channel=True``:

1. Start from 8-bit RGB. A single-channel (gray, mode ``L``) image is first replicated to RGB, as
   ``imread`` in MATLAB scripts and ``cv2.imread`` in BasicSR do, so its Y is ``16 + 219 * v / 255``
   and *not* the gray value itself. Caveat, measured on Set14 (whose ``bridge`` is gray): the
   older tables that papers still copy (bicubic x4 = 26.00 dB / 0.7027) used the gray values as Y
   directly; replication gives 26.09 / 0.7048 there, gray-as-Y gives 25.99 / 0.7029. Pass
   ``gray_as_y=True`` to reproduce those tables; the default follows BasicSR.
2. ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)`` with RGB in [0, 1]; Y stays a float in [16, 235]
   (MATLAB's ``rgb2ycbcr`` on ``double`` input does not round).
3. Crop ``border`` pixels (the scale factor, by convention) from every edge.
4. PSNR with peak 255. SSIM with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
   ``'valid'`` filtering (no padding), averaged over the map.

Two kinds of input are accepted by :func:`psnr_y` and :func:`ssim_y`:

* torch tensors in [0, 1] (float) or [0, 255] (uint8), shaped ``(C, H, W)`` or ``(B, C, H, W)``
  with C = 1 or 3, on any device. They return a tensor: a 0-d one for a single image, shape ``(B,)``
  for a batch. Float SR output is clamped and rounded to the 8-bit grid first (``quantize=True``)
  because the tables score saved 8-bit images; pass ``quantize=False`` to score raw values.
* numpy arrays (``(H, W)`` or ``(H, W, C)``, uint8) or PIL images, one image at a time. They return
  a Python float, computed in float64 on the CPU like the MATLAB reference.

Identical images give ``PSNR = inf`` (no cap) and ``SSIM = 1``.

Translation scores whole RGB images instead (no Y, no border): :func:`psnr_uint8`, per image, with
identical images capped at 100 dB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ImageLike = Union[torch.Tensor, np.ndarray, Image.Image]

# ITU-R BT.601 luma for studio-swing output, as in MATLAB's rgb2ycbcr (coefficients for RGB in [0, 1]).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0
_PEAK = 255.0
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1, _SSIM_K2 = 0.01, 0.03


def rgb_to_y(x: torch.Tensor, gray_as_y: bool = False) -> torch.Tensor:
    """Luma Y in [16, 235] (float, unrounded) of RGB or gray images in [0, 1].

    Args:
        x: ``(3, H, W)``, ``(1, H, W)``, ``(B, 3, H, W)`` or ``(B, 1, H, W)`` in [0, 1]. One channel
            means gray, which counts as R = G = B (BasicSR and MATLAB ``imread`` replicate gray).
        gray_as_y: take a gray image's values (times 255) as Y instead, as the older MATLAB
            scripts behind the classic Set14 numbers did. RGB input is unaffected.

    Returns:
        Y with the channel dimension kept: ``(1, H, W)`` or ``(B, 1, H, W)``, same dtype as ``x``.

    Example:
        >>> rgb_to_y(torch.ones(3, 2, 2)).flatten().tolist()
        [235.0, 235.0, 235.0, 235.0]
        >>> round(rgb_to_y(torch.full((1, 1, 1), 0.5)).item(), 3)  # gray: 16 + 219 * 0.5
        125.5
    """
    if x.ndim not in (3, 4):
        raise ValueError(f"rgb_to_y expects (C, H, W) or (B, C, H, W), got shape {tuple(x.shape)}.")
    channels = x.shape[-3]
    if channels == 1:
        return x * _PEAK if gray_as_y else x * sum(_Y_WEIGHTS) + _Y_OFFSET
    if channels != 3:
        raise ValueError(f"rgb_to_y expects 1 (gray) or 3 (RGB) channels, got {channels}; drop alpha before scoring.")
    weights = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x * weights).sum(dim=-3, keepdim=True) + _Y_OFFSET


def psnr_y(
    sr: ImageLike, hr: ImageLike, border: int = 0, quantize: bool = True, gray_as_y: bool = False
) -> torch.Tensor | float:
    """Peak signal-to-noise ratio (dB, peak 255) on the Y channel after cropping ``border`` pixels.

    Args:
        sr: restored image(s); a tensor (single or batch, see the module docstring), a uint8 numpy
            array or a PIL image.
        hr: ground truth, same kind and size as ``sr`` (gray vs RGB may differ: both become Y).
        border: pixels removed from each edge before scoring; the tables use the scale factor.
        quantize: round float tensors to the 8-bit grid first, as saving a PNG would.
        gray_as_y: see :func:`rgb_to_y`; only matters for single-channel images.

    Returns:
        A tensor for tensor input (0-d, or ``(B,)`` for a batch), a float otherwise. Identical
        images give ``inf``.

    Example:
        >>> hr = np.full((8, 8, 3), 100, dtype=np.uint8)
        >>> sr = hr.copy(); sr[..., :] = 110                    # Y differs by 219 / 255 * 10
        >>> round(psnr_y(sr, hr), 2)
        29.45
        >>> psnr_y(hr, hr)
        inf
    """
    sr_y, hr_y, unpack = _prepare_pair(sr, hr, border, quantize, gray_as_y, min_size=1)
    mse = (sr_y - hr_y).pow(2).mean(dim=(-3, -2, -1))
    # mse == 0 gives +inf through the division; that is the honest answer and is kept uncapped.
    psnr = 10.0 * torch.log10(_PEAK**2 / mse)
    return unpack(psnr)


def ssim_y(
    sr: ImageLike, hr: ImageLike, border: int = 0, quantize: bool = True, gray_as_y: bool = False
) -> torch.Tensor | float:
    """Structural similarity on the Y channel (MATLAB ``ssim_index`` / BasicSR ``calculate_ssim``).

    11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, dynamic range 255, ``'valid'``
    filtering (the map is 10 pixels smaller than the cropped image in each direction), mean of the map.

    Args:
        sr, hr, border, quantize, gray_as_y: as in :func:`psnr_y`. After the border crop each side must be at
            least 11 pixels.

    Returns:
        A tensor for tensor input (0-d, or ``(B,)`` for a batch), a float otherwise.

    Example:
        >>> img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> ssim_y(img, img)
        1.0
        >>> ssim_y(255 - img, img) < 0.1
        True
    """
    sr_y, hr_y, unpack = _prepare_pair(sr, hr, border, quantize, gray_as_y, min_size=_SSIM_WINDOW)
    window = _gaussian_window(sr_y.dtype, sr_y.device)
    c1 = (_SSIM_K1 * _PEAK) ** 2
    c2 = (_SSIM_K2 * _PEAK) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:  # 'valid' filtering: no padding, as filter2(..., 'valid')
        return F.conv2d(t, window)

    # local means, variances and covariance under the Gaussian window: (B, 1, H-10, W-10)
    mu_sr, mu_hr = blur(sr_y), blur(hr_y)
    var_sr = blur(sr_y * sr_y) - mu_sr.pow(2)
    var_hr = blur(hr_y * hr_y) - mu_hr.pow(2)
    cov = blur(sr_y * hr_y) - mu_sr * mu_hr
    ssim_map = ((2 * mu_sr * mu_hr + c1) * (2 * cov + c2)) / (
        (mu_sr.pow(2) + mu_hr.pow(2) + c1) * (var_sr + var_hr + c2)
    )
    ssim = ssim_map.mean(dim=(-3, -2, -1))
    return unpack(ssim)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The normalised 11x11 Gaussian (sigma 1.5) as a conv weight of shape (1, 1, 11, 11)."""
    coords = torch.arange(_SSIM_WINDOW, dtype=torch.float64) - (_SSIM_WINDOW - 1) / 2
    g = torch.exp(-(coords**2) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype=dtype, device=device).view(1, 1, _SSIM_WINDOW, _SSIM_WINDOW)


def _prepare_pair(
    sr: ImageLike, hr: ImageLike, border: int, quantize: bool, gray_as_y: bool, min_size: int
) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor | float]]:
    """Both images as cropped Y tensors (B, 1, H, W), and how to shape the (B,) scores for the caller:
    a float for numpy / PIL input, a 0-d tensor for one (C, H, W) tensor each, else the (B,) tensor."""
    sr_is_tensor, hr_is_tensor = isinstance(sr, torch.Tensor), isinstance(hr, torch.Tensor)
    if sr_is_tensor != hr_is_tensor:
        raise TypeError(
            "psnr_y/ssim_y need sr and hr of the same kind: both torch tensors, or both numpy arrays / "
            f"PIL images; got {type(sr).__name__} and {type(hr).__name__}."
        )
    if sr_is_tensor:
        sr_t, hr_t = _tensor_to_unit_float(sr, quantize), _tensor_to_unit_float(hr, quantize)
        unbatched = sr_t.ndim == 3 and hr_t.ndim == 3
        unpack = (lambda scores: scores[0]) if unbatched else (lambda scores: scores)
        if sr_t.ndim == 3:
            sr_t = sr_t.unsqueeze(0)
        if hr_t.ndim == 3:
            hr_t = hr_t.unsqueeze(0)
    else:
        # One image at a time, in float64 like the MATLAB reference; uint8 values are already on the grid.
        sr_t, hr_t = _image_to_tensor(sr).unsqueeze(0), _image_to_tensor(hr).unsqueeze(0)
        unpack = lambda scores: float(scores[0])
    if sr_t.shape[0] != hr_t.shape[0] or sr_t.shape[-2:] != hr_t.shape[-2:]:
        raise ValueError(
            f"sr and hr must have the same batch size and height/width, got {tuple(sr_t.shape)} and "
            f"{tuple(hr_t.shape)}; crop HR to a multiple of the scale and upscale LR by exactly that scale."
        )
    if isinstance(border, bool) or not isinstance(border, int) or border < 0:
        raise ValueError(f"border must be a non-negative int (the scale factor, usually), got {border!r}.")
    height, width = sr_t.shape[-2:]
    if min(height, width) - 2 * border < min_size:
        raise ValueError(
            f"Image of {height}x{width} is too small for border={border}: at least {min_size} pixel(s) "
            "per side must remain after cropping."
        )
    sr_y, hr_y = rgb_to_y(sr_t, gray_as_y), rgb_to_y(hr_t, gray_as_y)
    if border:
        sr_y = sr_y[..., border:-border, border:-border]
        hr_y = hr_y[..., border:-border, border:-border]
    return sr_y, hr_y, unpack


def _tensor_to_unit_float(x: torch.Tensor, quantize: bool) -> torch.Tensor:
    """A tensor image as float in [0, 1], at least float32 (bf16/fp16 are too coarse for SSIM sums)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(x.shape)}.")
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    if not x.is_floating_point():
        raise TypeError(f"Expected a float tensor in [0, 1] or a uint8 tensor, got dtype {x.dtype}.")
    x = x.detach()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if quantize:
        # What writing the SR output to an 8-bit PNG does: clip, then round to the nearest level.
        x = (x.clamp(0.0, 1.0) * 255.0).round() / 255.0
    return x


def _image_to_tensor(image: np.ndarray | Image.Image) -> torch.Tensor:
    """A uint8 numpy array or PIL image as a float64 (C, H, W) tensor in [0, 1], C = 1 or 3."""
    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB"):
            if "A" in image.getbands():
                raise ValueError(f"Cannot score an image with alpha (mode {image.mode}); convert it to RGB first.")
            image = image.convert("RGB")
        image = np.asarray(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"Expected a torch tensor, numpy array or PIL image, got {type(image).__name__}.")
    if image.dtype != np.uint8:
        raise TypeError(
            f"numpy images must be uint8 in [0, 255] (the tables score 8-bit files), got {image.dtype}; "
            "pass float data as a torch tensor in [0, 1] instead."
        )
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"numpy images must be (H, W), (H, W, 1) or (H, W, 3), got shape {image.shape}.")
    return torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).to(torch.float64) / 255.0


def psnr_uint8(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image RGB PSNR (dB, peak 255) of two uint8 batches; identical images give 100 dB.

    Example:
        >>> x = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
        >>> psnr_uint8(x, x).tolist()
        [100.0, 100.0]
    """
    if a.shape != b.shape:
        raise ValueError(f"psnr_uint8 needs two batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    mse = (a.float() - b.float()).square().flatten(1).mean(1)
    return torch.where(mse > 0, 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10)), torch.full_like(mse, 100.0))


__all__ = ["psnr_uint8", "psnr_y", "rgb_to_y", "ssim_y"]
