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

The second half of the file scores unconditional generators: FID / KID through torchmetrics with a
pluggable feature network (:func:`make_feature_extractor`, :class:`FIDEvaluator`) and the
nearest-training-image distances of the memorisation check (:func:`nearest_neighbour_distances`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

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


__all__ = ["psnr_y", "rgb_to_y", "ssim_y"]


# ============================================================================================
# Unconditional generation: FID / KID with a pluggable feature network, and a memorisation check
# ============================================================================================
#
# FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) compare the feature statistics of generated
# and real images; the maths is torchmetrics' (`FrechetInceptionDistance`, `KernelInceptionDistance`).
# Only the feature network is ours to choose:
#
# * "inception": the standard FID Inception-v3 (torch-fidelity's port of the 2015 TF graph, 2048-d
#   pool features, images resized to 299 px inside the network). Numbers are comparable with published
#   FIDs *at the same resolution, sample count and reference set*. It needs `pip install torch-fidelity`
#   and the weights file `pt_inception-2015-12-05-6726825d.pth`, passed as a local path.
# * "random": a fixed, seeded, randomly initialised conv net (no download, fast on a CPU). Naeem et al.
#   2020 ("Reliable Fidelity and Diversity Metrics for Generative Models") show that random-network
#   embeddings rank generators sensibly; the values only compare runs scored with the same network
#   (same seed, same architecture) and are NOT comparable with any published FID.
#
# Every feature network takes uint8 images (N, 3, H, W) in [0, 255] of any size, the torchmetrics
# convention for custom `feature=` modules (they receive the images untouched; `normalize` is ignored
# for custom modules), and has a `num_features` attribute so torchmetrics need not probe it with a
# dummy 299x299 image.

#: torch-fidelity's file name for the FID Inception weights (its release v0.2.0 asset).
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_WEIGHTS_FILE}"
FEATURE_KINDS = ("random", "inception")


class RandomFeatureExtractor(torch.nn.Module):
    """Random-network features: a seeded, never-trained conv net, uint8 (N, 3, H, W) -> (N, 512).

    A small VGG-like stack, as the random VGG16 of Naeem et al. 2020: images are resized to
    ``input_size`` (bilinear, antialiased; a no-op for 64-px faces) and mapped to [-1, 1], then pass
    five 3x3 conv + ReLU stages (widths 32, 64, 128, 256, 512) with 2x max pooling between them
    (64 -> 4 px), and a global average pool. Weights are He-normal, drawn from a CPU ``torch.Generator``
    seeded with ``seed``, so every machine builds the same network; biases are zero.

    Max pooling (not average) is deliberate: measured on CelebA 64 px (1,000 train vs 900 test faces),
    it makes FID rise about 20x for a 3x3 box blur and 9x for noise of sigma 15 grey levels, where
    average pooling gave 2.2x and 1.3x: GAN artefacts are mostly such texture errors. Mode collapse
    (50 distinct faces) still gives 8x, a colour cast 3x.

    The values only compare runs scored with the same network (seed, architecture, resolution):
    they are not Inception features, and the FID is not comparable with published ones.

    Example:
        >>> net = RandomFeatureExtractor()
        >>> net(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape
        torch.Size([2, 512])
    """

    kind = "random"

    def __init__(self, seed: int = 0, input_size: int = 64, widths: tuple[int, ...] = (32, 64, 128, 256, 512)):
        super().__init__()
        if input_size < 2 ** (len(widths) - 1):
            raise ValueError(f"input_size {input_size} is too small for {len(widths)} stages of 2x pooling.")
        self.seed, self.input_size, self.num_features = seed, input_size, widths[-1]
        gen = torch.Generator().manual_seed(seed)
        convs, in_ch = [], 3
        for out_ch in widths:
            conv = torch.nn.Conv2d(in_ch, out_ch, 3, padding=1)
            # He-normal from our own generator: torch's default init draws from the global RNG, which
            # would make the "fixed" network depend on whatever ran before.
            std = math.sqrt(2.0 / (in_ch * 9))
            conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * std
            conv.bias.data.zero_()
            convs.append(conv)
            in_ch = out_ch
        self.convs = torch.nn.ModuleList(convs)
        self.requires_grad_(False)
        self.eval()
        self.description = (
            f"random-network features (seeded random conv net, seed {seed}, {self.num_features}-d, "
            f"input resized to {input_size} px; Naeem et al. 2020), not comparable with published Inception FID"
        )

    def train(self, mode: bool = True) -> RandomFeatureExtractor:
        return super().train(False)  # no batch norm or dropout, but keep the contract: never trains

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_uint8_images(images, "images")
        # 1. uint8 -> [-1, 1] at the network's input size
        x = images.to(self.convs[0].weight.dtype).div(127.5).sub(1.0)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True)
        # 2. conv stages, 2x max pooling between them: (N, 32, 64, 64) ... (N, 512, 4, 4)
        for i, conv in enumerate(self.convs):
            if i:
                x = F.max_pool2d(x, 2)
            x = F.relu(conv(x))
        # 3. global average pool: (N, 512)
        return x.mean(dim=(-2, -1))


class InceptionFeatureExtractor(torch.nn.Module):
    """The standard FID Inception-v3 (2048-d pool3 features) through torchmetrics / torch-fidelity.

    Takes uint8 (N, 3, H, W) of any size; the network resizes to 299 px itself (bilinear, antialiased,
    torchmetrics' default). Build it with :func:`make_feature_extractor`.
    """

    kind = "inception"
    num_features = 2048

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(
            name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(weights_path)
        )
        self.requires_grad_(False)
        self.description = "Inception-v3 pool3 features (torch-fidelity's FID network, images resized to 299 px)"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_uint8_images(images, "images")
        return self.net(images)


def make_feature_extractor(kind: str = "random", weights_path: str | Path | None = None, seed: int = 0):
    """The feature network for FID / KID: ``"random"`` (default, offline) or ``"inception"``.

    Args:
        kind: ``"random"`` for :class:`RandomFeatureExtractor` (seeded, no download, not comparable with
            published FIDs) or ``"inception"`` for the standard FID Inception-v3.
        weights_path: for ``"inception"``, a local copy of ``pt_inception-2015-12-05-6726825d.pth``
            (nothing is downloaded). Ignored for ``"random"``.
        seed: for ``"random"``, which random network; keep it fixed to compare runs.

    Returns:
        An ``nn.Module`` in eval mode mapping uint8 (N, 3, H, W) to (N, num_features), with
        ``num_features``, ``kind`` and ``description`` attributes.

    Raises:
        ValueError: unknown kind, or ``"inception"`` without a readable weights file.
        ModuleNotFoundError: ``"inception"`` without torch-fidelity installed.

    Example:
        >>> make_feature_extractor("random").num_features
        512
    """
    if kind == "random":
        return RandomFeatureExtractor(seed=seed)
    if kind != "inception":
        raise ValueError(f"Unknown feature extractor {kind!r}; choose one of {FEATURE_KINDS}.")
    if weights_path is None:
        raise ValueError(
            f"The FID Inception network needs its weights file {INCEPTION_WEIGHTS_FILE}, and nothing is "
            f"downloaded here. Fetch it on a machine with internet ({INCEPTION_WEIGHTS_URL}) and pass its "
            "path (CLI: --inception-weights PATH; Python: weights_path=...), or use --feature random."
        )
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise ValueError(f"--inception-weights {str(weights_path)!r} is not a file; expected {INCEPTION_WEIGHTS_FILE}.")
    _torchmetrics_fid_kid()  # fails early, with advice, if torch-fidelity / torchvision are broken
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise ModuleNotFoundError(
            "--feature inception needs torch-fidelity (the FID Inception port torchmetrics uses): "
            f"`pip install torch-fidelity`. {_TORCHVISION_ADVICE} Or use --feature random."
        )
    # torch-fidelity reads the file with torch.load(weights_only=False), which would run any code
    # pickled into it; refuse anything but a plain state dict of tensors first.
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path.name!r} is not a plain tensor state dict ({type(err).__name__}); expected torch-fidelity's "
            f"{INCEPTION_WEIGHTS_FILE}."
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path.name!r} does not hold a state dict of tensors; expected {INCEPTION_WEIGHTS_FILE}.")
    return InceptionFeatureExtractor(path)


_TORCHVISION_ADVICE = (
    "torch-fidelity imports torchvision, which must be the build matching your torch: with a CPU-only torch, "
    "install torchvision from the same PyTorch index as torch (PyPI's Linux torchvision is a CUDA build and "
    "fails with 'operator torchvision::nms does not exist')."
)


def _torchmetrics_fid_kid():
    """torchmetrics' FID and KID classes, imported on first use (the SR metrics above do not need them).

    torchmetrics imports torch-fidelity, and through it torchvision, whenever they are installed, so a
    torchvision that does not match torch breaks even the random-feature path: say so, and how to fix it.
    """
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ModuleNotFoundError as err:
        if err.name == "torchmetrics":
            raise ModuleNotFoundError("FID / KID need torchmetrics: `pip install torchmetrics`.") from err
        raise ImportError(f"torchmetrics could not import {err.name!r}. {_TORCHVISION_ADVICE}") from err
    except (ImportError, RuntimeError) as err:
        raise ImportError(
            f"torchmetrics failed to import ({type(err).__name__}: {err}). {_TORCHVISION_ADVICE} "
            "Fix torchvision, or `pip uninstall torch-fidelity` to use --feature random only."
        ) from err
    return FrechetInceptionDistance, KernelInceptionDistance


class _Precomputed(torch.nn.Module):
    """Identity "feature network": lets :class:`FIDEvaluator` hand torchmetrics features it already has."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FIDEvaluator:
    """FID and KID of generated images against a fixed reference set whose features are computed once.

    The reference images go through ``extractor`` at construction; each :meth:`score` runs only the
    fakes through it (once, shared by FID and KID) and lets torchmetrics do the statistics: FID from
    float64 means and covariances, KID as the unbiased polynomial-kernel MMD (degree 3) averaged over
    ``kid_subsets`` random subsets of ``min(kid_subset_size, n_real, n_fake)`` images each, drawn from a
    fixed seed so the same fakes always give the same KID.

    Args:
        reference_images: uint8 (N, 3, H, W) real images, N >= 2 (e.g. the test split).
        extractor: a feature network from :func:`make_feature_extractor` (or any module mapping uint8
            images to (N, d) with a ``num_features`` attribute).
        kid_subset_size: images per KID subset (clipped to the smaller set).
        kid_subsets: number of KID subsets.
        batch_size: images per forward pass of the feature network (bounds memory).
        seed: the seed of the KID subset draws.

    Example:
        >>> reals = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
        >>> evaluator = FIDEvaluator(reals, make_feature_extractor("random"), kid_subset_size=32)
        >>> scores = evaluator.score(reals)
        >>> abs(scores["fid"]) < 1e-3, sorted(scores)
        (True, ['fid', 'kid', 'kid_std'])
    """

    def __init__(
        self,
        reference_images: torch.Tensor,
        extractor: torch.nn.Module,
        kid_subset_size: int = 500,
        kid_subsets: int = 100,
        batch_size: int = 250,
        seed: int = 0,
    ):
        import warnings

        FrechetInceptionDistance, KernelInceptionDistance = _torchmetrics_fid_kid()

        _check_uint8_images(reference_images, "reference_images", min_count=2)
        for name, value in (
            ("kid_subset_size", kid_subset_size),
            ("kid_subsets", kid_subsets),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        self.extractor = extractor.eval()
        self.kid_subset_size, self.kid_subsets = kid_subset_size, kid_subsets
        self.batch_size, self.seed = batch_size, seed
        self.reference_features = self.features(reference_images)  # (N, d), cached for every score()
        num_features = self.reference_features.shape[1]
        # torchmetrics gets the features, not the images (the identity module): the network then runs
        # once per image for both metrics, and the reference side never runs again.
        self._fid = FrechetInceptionDistance(feature=_Precomputed(num_features), reset_real_features=False)
        with warnings.catch_warnings():  # "KID keeps all features in memory": a few MB here, by design
            warnings.simplefilter("ignore", UserWarning)
            self._kid = KernelInceptionDistance(
                feature=_Precomputed(num_features), subsets=kid_subsets, subset_size=kid_subset_size,
                reset_real_features=False,
            )  # fmt: skip
        self._fid.update(self.reference_features, real=True)
        self._kid.update(self.reference_features, real=True)

    @property
    def num_reference(self) -> int:
        return self.reference_features.shape[0]

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``extractor`` features of uint8 images, batch by batch, as float64 on the CPU: (N, d)."""
        _check_uint8_images(images, "images")
        param = next(self.extractor.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        chunks = [
            self.extractor(images[i : i + self.batch_size].to(device)).double().cpu()
            for i in range(0, len(images), self.batch_size)
        ]
        features = torch.cat(chunks)
        if features.ndim != 2 or features.shape[0] != len(images):
            raise ValueError(f"The feature extractor returned shape {tuple(features.shape)}; expected (N, d).")
        return features

    def score(self, fake_images: torch.Tensor) -> dict[str, float]:
        """FID, KID (mean over subsets) and KID's standard deviation of ``fake_images`` vs the references.

        Args:
            fake_images: uint8 (M, 3, H, W), M >= 2, at the references' resolution (the feature network
                resizes, but comparing different resolutions measures the resize, not the model).

        Returns:
            ``{"fid": float, "kid": float, "kid_std": float}``; lower is better, 0 for identical sets.
        """
        _check_uint8_images(fake_images, "fake_images", min_count=2)
        return self.score_features(self.features(fake_images))

    def score_features(self, fake_features: torch.Tensor) -> dict[str, float]:
        """:meth:`score` from features already computed with :meth:`features`."""
        self._fid.reset()  # drops the fake statistics; the reference ones stay (reset_real_features=False)
        self._kid.reset()
        self._fid.update(fake_features, real=False)
        self._kid.update(fake_features, real=False)
        fid = float(self._fid.compute())
        self._kid.subset_size = min(self.kid_subset_size, self.num_reference, len(fake_features))
        # KID draws its subsets with torch.randperm on the global RNG: fork it so the score is repeatable
        # and the caller's random stream (e.g. training) is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            kid, kid_std = self._kid.compute()
        return {"fid": fid, "kid": float(kid), "kid_std": float(kid_std)}


def nearest_neighbour_distances(queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query image, the pixel distance to its nearest reference image (the memorisation check).

    The distance is the RMS difference per pixel value on the [0, 1] scale, ``||q - r||_2 / sqrt(3 H W)``,
    so it reads like an image difference (0 = identical, 1/255 ~ 0.004 = one grey level everywhere).
    Candidates are found with the ``|q|^2 + |r|^2 - 2 q.r`` expansion in float32, ``chunk`` queries by
    ``chunk`` references at a time (memory stays at a few ``chunk x 3HW`` float blocks, whatever the set
    sizes); the winner's distance is then recomputed exactly in float64.

    Args:
        queries: (M, 3, H, W) uint8, or float in [0, 1].
        references: (N, 3, H, W), same kind of values and the same H, W.
        chunk: images per block (bounds memory).

    Returns:
        float64 tensor (M,) of distances; use :func:`nearest_neighbour_indices` for the matches.

    Example:
        >>> refs = torch.zeros(3, 3, 4, 4, dtype=torch.uint8); refs[1] = 255
        >>> nearest_neighbour_distances(torch.full((1, 3, 4, 4), 204, dtype=torch.uint8), refs)
        tensor([0.2000], dtype=torch.float64)
    """
    return nearest_neighbour_indices(queries, references, chunk)[0]


@torch.no_grad()
def nearest_neighbour_indices(
    queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices): as :func:`nearest_neighbour_distances`, plus each query's nearest reference.

    Example:
        >>> refs = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2)])
        >>> nearest_neighbour_indices(torch.ones(1, 3, 2, 2), refs)[1]
        tensor([1])
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}.")
    for name, images in (("queries", queries), ("references", references)):
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
            raise ValueError(f"{name} must be a non-empty (N, C, H, W) tensor, got {_describe(images)}.")
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(
            f"queries {tuple(queries.shape[1:])} and references {tuple(references.shape[1:])} must have the same "
            "(C, H, W); load the references at the generator's resolution."
        )

    def flat(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # (n, C*H*W) in [0, 1]
        x = images.reshape(len(images), -1).to(dtype)
        return x / 255 if images.dtype == torch.uint8 else x

    best_d2 = torch.full((len(queries),), math.inf)
    best_idx = torch.zeros(len(queries), dtype=torch.long)
    for r0 in range(0, len(references), chunk):
        r = flat(references[r0 : r0 + chunk], torch.float32)  # (cr, D)
        r_sq = r.square().sum(1)
        for q0 in range(0, len(queries), chunk):
            q = flat(queries[q0 : q0 + chunk], torch.float32)  # (cq, D)
            d2 = q.square().sum(1, keepdim=True) + r_sq - 2 * q @ r.T  # (cq, cr) squared distances
            value, index = d2.min(dim=1)
            better = value < best_d2[q0 : q0 + chunk]
            best_d2[q0 : q0 + chunk] = torch.where(better, value, best_d2[q0 : q0 + chunk])
            best_idx[q0 : q0 + chunk] = torch.where(better, index + r0, best_idx[q0 : q0 + chunk])
    # exact distances to the winners: the float32 expansion loses precision exactly where it matters
    # (near-copies, where |q|^2 + |r|^2 and 2 q.r almost cancel)
    distances = torch.cat(
        [
            (flat(queries[i : i + chunk], torch.float64) - flat(references[best_idx[i : i + chunk]], torch.float64))
            .square()
            .mean(1)
            .sqrt()
            for i in range(0, len(queries), chunk)
        ]
    )
    return distances, best_idx


class MemorisationCheck:
    """Does a generator copy its training images? Nearest-training-image distances, fakes vs real test faces.

    For every generated image, the pixel distance to its nearest training image
    (:func:`nearest_neighbour_distances`), compared with the same distance for real faces that were
    *not* trained on (the test split): a model that reproduces training images has generated faces
    much closer to the training set than real unseen faces are. A ratio ``generated / real`` near or
    above 1 means no sign of copying; the 5th percentiles look at the closest cases, where copies show.
    The test-side distances are computed once, here.

    Args:
        train_images: (N, 3, H, W) uint8, the training set at the generator's resolution.
        test_images: (M, 3, H, W) uint8, real held-out images, same preprocessing.
        chunk: block size for :func:`nearest_neighbour_distances`.

    Example:
        >>> train = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8)
        >>> check = MemorisationCheck(train, torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8))
        >>> check.score(train[:5])["nn_ratio_median"]  # exact copies of training images
        0.0
    """

    def __init__(self, train_images: torch.Tensor, test_images: torch.Tensor, chunk: int = 1024):
        _check_uint8_images(train_images, "train_images")
        _check_uint8_images(test_images, "test_images")
        self.train_images, self.chunk = train_images, chunk
        self.real_distances = nearest_neighbour_distances(test_images, train_images, chunk)  # (M,)

    def score(self, fake_images: torch.Tensor) -> dict[str, float]:
        """Medians and 5th percentiles of the nearest-training-image distances, and their ratios.

        Returns:
            ``nn_fake_median``, ``nn_fake_p05`` (generated), ``nn_real_median``, ``nn_real_p05`` (test
            faces), ``nn_ratio_median``, ``nn_ratio_p05`` (generated / real), ``nn_num_fake``, ``nn_num_real``.
        """
        _check_uint8_images(fake_images, "fake_images")
        fake = nearest_neighbour_distances(fake_images, self.train_images, self.chunk)
        real = self.real_distances
        out = {
            "nn_fake_median": float(fake.median()),
            "nn_fake_p05": float(fake.quantile(0.05)),
            "nn_real_median": float(real.median()),
            "nn_real_p05": float(real.quantile(0.05)),
        }
        out["nn_ratio_median"] = out["nn_fake_median"] / out["nn_real_median"] if out["nn_real_median"] else math.inf
        out["nn_ratio_p05"] = out["nn_fake_p05"] / out["nn_real_p05"] if out["nn_real_p05"] else math.inf
        out.update(nn_num_fake=len(fake), nn_num_real=len(real))
        return out


def _check_uint8_images(images: object, name: str, min_count: int = 1) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"{name} must be a uint8 tensor (N, 3, H, W) in [0, 255], got {_describe(images)}; convert float images "
            "in [0, 1] with (x.clamp(0, 1) * 255).round().to(torch.uint8)."
        )
    if len(images) < min_count:
        raise ValueError(f"{name} needs at least {min_count} images, got {len(images)}.")


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


__all__ += [
    "FEATURE_KINDS",
    "INCEPTION_WEIGHTS_FILE",
    "FIDEvaluator",
    "InceptionFeatureExtractor",
    "MemorisationCheck",
    "RandomFeatureExtractor",
    "make_feature_extractor",
    "nearest_neighbour_distances",
    "nearest_neighbour_indices",
]


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
