"""Degradations that turn high-resolution patches into low-resolution training inputs.

Both run on whole batches on the training device; randomness comes from an explicit
``torch.Generator`` so a resumed run degrades the same patches the same way.

- ``bicubic``: antialiased bicubic downscaling. ``F.interpolate(..., antialias=True)`` matches
  MATLAB's ``imresize`` (how the Set5/Set14 LR files were made) to 55-61 dB, so a model trained on
  it is evaluated on the distribution it learned.
- ``realistic``: Real-ESRGAN's second-order model: (blur -> resize -> noise -> JPEG) twice, then a
  final resize to the LR size, for real-world photos.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

DEGRADATIONS = ("bicubic", "realistic")


def bicubic_downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> (B, C, H/scale, W/scale), MATLAB-like antialiased bicubic."""
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {(h, w)} must be divisible by the scale {scale}.")
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return lr.clamp(0, 1)


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=gen).item()


def _gaussian_kernels(batch: int, gen: torch.Generator, sigma_range: tuple[float, float], size: int) -> torch.Tensor:
    """Random anisotropic Gaussian kernels, (B, size, size), each summing to 1."""
    sig_x = torch.empty(batch).uniform_(*sigma_range, generator=gen)
    sig_y = torch.empty(batch).uniform_(*sigma_range, generator=gen)
    theta = torch.empty(batch).uniform_(-math.pi, math.pi, generator=gen)
    ax = torch.arange(size, dtype=torch.float32) - size // 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    cos, sin = theta.cos()[:, None, None], theta.sin()[:, None, None]
    xr = cos * xx + sin * yy
    yr = -sin * xx + cos * yy
    k = torch.exp(-0.5 * ((xr / sig_x[:, None, None]) ** 2 + (yr / sig_y[:, None, None]) ** 2))
    return k / k.sum(dim=(-2, -1), keepdim=True)


def blur(x: torch.Tensor, gen: torch.Generator, sigma_range: tuple[float, float]) -> torch.Tensor:
    """Each image of a batch (B, C, H, W) blurred by its own random anisotropic Gaussian (sigmas drawn from
    ``sigma_range`` px, a 7..21-tap kernel, reflect padding), as Real-ESRGAN."""
    b, c, _, _ = x.shape
    size = 2 * int(torch.randint(3, 11, (), generator=gen)) + 1  # 7..21, as Real-ESRGAN
    kernels = _gaussian_kernels(b, gen, sigma_range, size).to(x)
    # one kernel per image: fold the batch into channels and use a grouped conv
    weight = kernels[:, None].repeat_interleave(c, dim=0)  # (B*C, 1, k, k)
    padded = F.pad(x.reshape(1, b * c, *x.shape[-2:]), [size // 2] * 4, mode="reflect")
    return F.conv2d(padded, weight, groups=b * c).reshape_as(x)


def _random_resize(x: torch.Tensor, gen: torch.Generator, scale_range: tuple[float, float]) -> torch.Tensor:
    factor = _uniform(gen, *scale_range)
    mode = ["area", "bilinear", "bicubic"][int(torch.randint(3, (), generator=gen))]
    size = (max(4, round(x.shape[-2] * factor)), max(4, round(x.shape[-1] * factor)))
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=mode, **kwargs)


def add_noise(
    x: torch.Tensor, gen: torch.Generator, sigma_range: tuple[float, float], poisson_range: tuple[float, float]
) -> torch.Tensor:
    """Gaussian noise (sigma from ``sigma_range``, in 8-bit levels) or, half of the time, shot noise (scale from
    ``poisson_range``) on a batch in [0, 1]; 40% of the images get luminance-only noise. Clamped to [0, 1]."""
    b = x.shape[0]
    gray = (torch.rand(b, 1, 1, 1, generator=gen) < 0.4).to(x)  # 40% luminance-only noise
    if torch.rand((), generator=gen) < 0.5:  # Gaussian noise, sigma in 8-bit levels
        sigma = torch.empty(b, 1, 1, 1).uniform_(*sigma_range, generator=gen).to(x) / 255
        color = torch.randn(x.shape, generator=gen).to(x)
        mono = torch.randn((b, 1, *x.shape[-2:]), generator=gen).to(x)
        noise = (gray * mono + (1 - gray) * color) * sigma
    else:  # Poisson (shot) noise, approximated by signal-dependent Gaussian noise
        scale = torch.empty(b, 1, 1, 1).uniform_(*poisson_range, generator=gen).to(x)
        noise = torch.randn(x.shape, generator=gen).to(x) * x.clamp(0, 1).mul(255).sqrt().div(255) * scale
    return (x + noise).clamp(0, 1)


def jpeg_round_trip(x: torch.Tensor, gen: torch.Generator, quality_range: tuple[int, int]) -> torch.Tensor:
    """Each image of a batch in [0, 1] saved as a JPEG of a random quality in ``quality_range`` and read back."""
    # JPEG round trip per image through Pillow on the CPU; no GPU JPEG encoder without torchvision
    out = []
    for img in x.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy():
        quality = int(torch.randint(quality_range[0], quality_range[1] + 1, (), generator=gen))
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(x).div(255)


def realistic_degrade(hr: torch.Tensor, scale: int, gen: torch.Generator) -> torch.Tensor:
    """Real-ESRGAN-style second-order degradation of a batch in [0, 1] to (H/scale, W/scale)."""
    h, w = hr.shape[-2:]
    x = hr
    # 1. first order: strong blur, resize, noise, JPEG
    x = blur(x, gen, (0.2, 3.0))
    x = _random_resize(x, gen, (0.15, 1.5))
    x = add_noise(x, gen, (1, 30), (0.05, 3))
    x = jpeg_round_trip(x, gen, (30, 95))
    # 2. second order: milder, sometimes skipped blur
    if torch.rand((), generator=gen) < 0.8:
        x = blur(x, gen, (0.2, 1.5))
    x = _random_resize(x, gen, (0.3, 1.2))
    x = add_noise(x, gen, (1, 25), (0.05, 2.5))
    # 3. to the LR size, then the final JPEG (the last thing most photos went through)
    mode = ["area", "bilinear", "bicubic"][int(torch.randint(3, (), generator=gen))]
    kwargs = {} if mode == "area" else {"align_corners": False}
    x = F.interpolate(x, size=(h // scale, w // scale), mode=mode, **kwargs)
    x = jpeg_round_trip(x, gen, (30, 95))
    return x.clamp(0, 1)


def degrade(hr: torch.Tensor, scale: int, kind: str, gen: torch.Generator) -> torch.Tensor:
    """Dispatch on the degradation name; LR values are rounded to 8-bit levels like real files.

    Example:
        >>> degrade(torch.rand(2, 3, 16, 16), 4, "bicubic", torch.Generator().manual_seed(0)).shape
        torch.Size([2, 3, 4, 4])
    """
    if kind == "bicubic":
        lr = bicubic_downsample(hr, scale)
    elif kind == "realistic":
        lr = realistic_degrade(hr, scale, gen)
    else:
        raise ValueError(f"Unknown degradation {kind!r}; choose one of {DEGRADATIONS}.")
    return lr.mul(255).round().div(255)


class AdaptiveAugment(torch.nn.Module):
    """Differentiable augmentations applied to everything D sees, each with probability ``p``.

    The ops are DiffAugment's (Zhao et al. 2020: colour, translation, cutout), applied per sample
    with probability ``p`` as in ADA (Karras et al. 2020), and ``p`` adapts: every ``interval``
    steps the overfitting heuristic r_t = E[sign(D(real))] is compared with ``target`` and ``p``
    moves by ``batch * interval / (speed_kimg * 1000)``, so it can go 0 -> 1 in ``speed_kimg``
    thousand images. Because both reals and fakes are augmented and every op is differentiable,
    G never learns to produce augmented images (the augmentations do not "leak").

    ``p`` lives in a buffer so it can be checkpointed, and it is only ever read on the device: the
    heuristic's statistics, the adjustment and the per-sample draws never wait for the GPU (an
    adaptive ``p`` of 0 therefore still runs the ops, as identities). ``adaptive=False`` keeps it fixed
    (``p=1`` is plain DiffAugment). ``policy`` picks the ops (DiffAugment's own comma list): a
    colour-conditioned family leaves out "color", since brightness and saturation jitter would
    teach D that blonde and orange hair are the same thing.

    Example:
        >>> aug = AdaptiveAugment(p=1.0, adaptive=False)
        >>> aug(torch.zeros(2, 3, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        p: float = 0.0,
        adaptive: bool = True,
        target: float = 0.6,
        interval: int = 4,
        speed_kimg: float = 100,
        policy: str = "color,translation,cutout",
    ):
        super().__init__()
        self.ops = {op.strip() for op in policy.split(",") if op.strip()}
        unknown = self.ops - {"color", "translation", "cutout"}
        if unknown:
            raise ValueError(f"Unknown augmentation ops {sorted(unknown)}; policy takes color, translation, cutout.")
        self.register_buffer("p", torch.tensor(float(p)))
        self.adaptive, self.target, self.interval, self.speed_kimg = adaptive, target, interval, speed_kimg
        self._fixed_off = not adaptive and p <= 0  # known on the host: a fixed p of 0 skips everything
        self._sign_sum: torch.Tensor | float = 0.0
        self._count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._fixed_off:
            return x
        p = self.p  # a device tensor; the per-sample draws compare against it there
        batch, device = x.shape[0], x.device

        def chosen() -> torch.Tensor:  # which samples get this op, (B, 1, 1, 1) bool
            return torch.rand(batch, 1, 1, 1, device=device) < p

        # each op is computed for the whole batch and kept where chosen (torch.where): the samples
        # left alone stay bit-identical, and no decision is read back to the host
        if "color" in self.ops:
            x = self._colour(x, chosen)
        if "translation" in self.ops:
            x = self._translate(x, chosen)
        if "cutout" in self.ops:
            x = self._cutout(x, chosen)
        return x

    @staticmethod
    def _colour(x: torch.Tensor, chosen) -> torch.Tensor:
        """Brightness, saturation, contrast (images in [-1, 1])."""
        batch, device = x.shape[0], x.device

        def factor() -> torch.Tensor:
            return torch.rand(batch, 1, 1, 1, device=device, dtype=x.dtype)

        x = torch.where(chosen(), x + (factor() - 0.5), x)
        mean = x.mean(dim=1, keepdim=True)
        x = torch.where(chosen(), (x - mean) * (factor() * 2) + mean, x)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return torch.where(chosen(), (x - mean) * (factor() + 0.5) + mean, x)

    @staticmethod
    def _translate(x: torch.Tensor, chosen) -> torch.Tensor:
        """Shift by up to 1/8 of the side, whole pixels, reflected borders."""
        batch, device = x.shape[0], x.device
        h, w = x.shape[-2:]
        shift = torch.randint(-(h // 8), h // 8 + 1, (batch, 2), device=device)
        theta = torch.zeros(batch, 2, 3, device=device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, 0, 2] = -shift[:, 1].to(x.dtype) * 2 / w
        theta[:, 1, 2] = -shift[:, 0].to(x.dtype) * 2 / h
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        shifted = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return torch.where(chosen(), shifted, x)

    @staticmethod
    def _cutout(x: torch.Tensor, chosen) -> torch.Tensor:
        """A (side/2)^2 square set to zero."""
        batch, device = x.shape[0], x.device
        h, w = x.shape[-2:]
        ch, cw = h // 2, w // 2
        cy = torch.randint(0, h - ch + 1, (batch, 1, 1), device=device)
        cx = torch.randint(0, w - cw + 1, (batch, 1, 1), device=device)
        ys = torch.arange(h, device=device).view(1, h, 1)
        xs = torch.arange(w, device=device).view(1, 1, w)
        hole = ((ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)).unsqueeze(1)
        return torch.where(hole & chosen(), torch.zeros((), dtype=x.dtype, device=device), x)

    @torch.no_grad()
    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Collect sign(D(real)) for the next adjustment (a device tensor: no read-back)."""
        self._sign_sum = self._sign_sum + torch.sign(real_logits.detach().float()).sum()
        self._count += real_logits.numel()

    @torch.no_grad()
    def adjust(self, images_since_last: int) -> torch.Tensor | None:
        """Move ``p`` towards r_t = target; returns r_t as a 0-d tensor (None if nothing was collected).

        Under ``torch.distributed`` the statistics are summed over processes first, so every
        process takes the same step and ``p`` stays identical everywhere.
        """
        if not self.adaptive or self._count == 0:
            self._sign_sum, self._count = 0.0, 0
            return None
        sign_sum = torch.as_tensor(self._sign_sum, dtype=torch.float32, device=self.p.device)
        stats = torch.stack([sign_sum, torch.tensor(float(self._count), device=self.p.device)])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)
            images_since_last *= torch.distributed.get_world_size()
        r_t = stats[0] / stats[1]
        step = images_since_last / (self.speed_kimg * 1000)
        self.p.copy_((self.p + torch.where(r_t > self.target, step, -step)).clamp(0, 1))
        self._sign_sum, self._count = 0.0, 0
        return r_t
