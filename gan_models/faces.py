"""Face family: a StyleGAN2 generator and its residual discriminator.

Parameter names and shapes follow rosinality's ``stylegan2-pytorch`` ``Generator`` and
``Discriminator`` (``style.1.weight``, ``conv1.conv.modulation.weight``, ``to_rgbs.0.bias``,
``noises.noise_0``, ...), so a public ``g_ema`` state dict loads into ``StyleGAN2Generator``
unchanged. The maths is StyleGAN2's (Karras et al. 2020): equalised learning rate, a mapping
network with a 100x smaller learning rate, modulated + demodulated convolutions, per-layer noise,
a learned 4x4 constant, skip ToRGB outputs summed across resolutions, and truncation around the
mean w. Everything runs in plain PyTorch (no custom CUDA ops), so CPU and GPU give the same faces.

Widths are ``min(channel_max, channel_base // resolution)``: rosinality's ``channel_multiplier=2``
is ``channel_base=32768, channel_max=512``; the small bundled model uses far fewer channels.

This file holds modules only: no training, no image I/O, no UI.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

# exported from gan_models too: saved pipeline folders name these classes
__all__ = ["StyleGAN2Discriminator", "StyleGAN2Generator"]

SQRT2 = math.sqrt(2.0)


def channel_widths(size: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """Feature maps per resolution, 4 .. ``size`` (rosinality: base 16384 * channel_multiplier)."""
    return {2**i: max(1, min(channel_max, channel_base // 2**i)) for i in range(2, int(math.log2(size)) + 1)}


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 8 or size & (size - 1):
        raise ValueError(f"size must be a power of two >= 8 (64, 128, 256, ...), got {size!r}.")
    return int(math.log2(size))


# ---------------------------------------------------------------------------- building blocks
def make_blur_kernel(taps: list[int]) -> torch.Tensor:
    """Separable FIR low-pass filter from 1-D taps, normalised to sum 1 ([1, 3, 3, 1] in StyleGAN2)."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(k, k) if k.ndim == 1 else k
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)):
    """Upsample by zero insertion, pad, filter with ``kernel`` (depthwise), then subsample."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).expand(c, 1, *kernel.shape)
    x = F.conv2d(x, weight, groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


class Blur(nn.Module):
    def __init__(self, taps: list[int], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        kernel = make_blur_kernel(taps)
        if upsample_factor > 1:  # zero insertion lowers the mean by factor**2: compensate
            kernel = kernel * upsample_factor**2
        self.register_buffer("kernel", kernel)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x upsampling with the FIR filter (used on the skip RGB path)."""

    def __init__(self, taps: list[int], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_blur_kernel(taps) * factor**2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weights stored N(0, 1/lr_mul), scaled at run time."""

    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation: str | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return F.leaky_relu(out + bias, 0.2) * SQRT2 if bias is not None else F.leaky_relu(out, 0.2) * SQRT2
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2), rescaled by sqrt(2) to keep the signal's variance."""

    def __init__(self, channel: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, *([1] * (x.ndim - 2))), 0.2) * SQRT2


class ModulatedConv2d(nn.Module):
    """StyleGAN2's convolution: scale input channels by the style, convolve, demodulate outputs.

    Written as "scale activations, shared-weight conv, scale outputs" (rosinality's ``fused=False``
    form): the same maths as per-sample grouped weights, and faster on CPUs and for big batches.
    """

    def __init__(
        self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False, blur_kernel=(1, 3, 3, 1)
    ):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.upsample, self.demodulate = upsample, demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(list(blur_kernel), pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        weight = self.scale * self.weight.squeeze(0)  # (out, in, k, k)
        style = self.modulation(style)  # (batch, in)
        x = x * style.reshape(batch, self.in_channel, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            out = self.blur(out)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # 1 / ||w * s|| per (sample, output channel): unit output variance for unit input
            dcoefs = ((weight.unsqueeze(0) * style.view(batch, 1, -1, 1, 1)).square().sum((2, 3, 4)) + 1e-8).rsqrt()
            out = out * dcoefs.view(batch, -1, 1, 1)
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channel, out_channel, kernel_size, style_dim, upsample=upsample, blur_kernel=blur_kernel
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(list(blur_kernel))
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        return out + self.upsample(skip) if skip is not None else out


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


# ---------------------------------------------------------------------------- generator
def stack_styles(
    w: torch.Tensor, num_latents: int, mix_w: torch.Tensor | None = None, mix_layer: int | None = None
) -> torch.Tensor:
    """One w per layer, (batch, num_latents, style_dim): ``w`` everywhere, or ``mix_w`` from ``mix_layer`` on.

    Style mixing (StyleGAN's regulariser and its coarse/fine demo) is this cut; ``mix_layer=None``
    cuts in the middle.
    """
    ws = w.unsqueeze(1).repeat(1, num_latents, 1)
    if mix_w is not None:
        ws[:, num_latents // 2 if mix_layer is None else mix_layer :] = mix_w.unsqueeze(1)
    return ws


class StyleGAN2Generator(ModelMixin, ConfigMixin):
    """z (or w) -> image in [-1, 1], shape (batch, 3, size, size).

    Two halves, as in the paper: ``map(z)`` (8-layer MLP to w) and ``synthesis(ws)`` (one w per
    layer, ``num_latents`` of them, which is what makes style mixing possible).

    Example:
        >>> G = StyleGAN2Generator(size=8, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> G(torch.randn(2, 16)).shape
        torch.Size([2, 3, 8, 8])
    """

    @register_to_config
    def __init__(
        self,
        size: int = 64,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_base: int = 32768,
        channel_max: int = 512,
        lr_mlp: float = 0.01,
        blur_kernel: tuple[int, ...] = (1, 3, 3, 1),
    ):
        super().__init__()
        log_size = _check_size(size)
        blur_kernel = tuple(blur_kernel)
        self.size, self.style_dim, self.log_size = size, style_dim, log_size
        self.style = nn.Sequential(
            PixelNorm(),
            *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu") for _ in range(n_mlp)],
        )
        self.channels = channel_widths(size, channel_base, channel_max)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)
        self.num_layers = (log_size - 2) * 2 + 1
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()  # fixed noise maps: the "const" noise mode, saved with the weights
        for layer in range(self.num_layers):
            res = 2 ** ((layer + 5) // 2)
            self.noises.register_buffer(f"noise_{layer}", torch.randn(1, 1, res, res))
        in_channel = self.channels[4]
        for i in range(3, log_size + 1):
            out_channel = self.channels[2**i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim, blur_kernel=blur_kernel))
            in_channel = out_channel
        self.num_latents = log_size * 2 - 2  # one w per modulated conv / ToRGB pair

    # -- mapping
    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z (batch, style_dim) -> w (batch, style_dim)."""
        if z.ndim != 2 or z.shape[1] != self.style_dim:
            raise ValueError(f"z must have shape (batch, {self.style_dim}), got {tuple(z.shape)}.")
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, num_samples: int = 4096, seed: int = 0) -> torch.Tensor:
        """The mean w over ``num_samples`` z from a fixed seed: the centre truncation pulls towards."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(num_samples, self.style_dim, generator=gen).to(self.device, self.dtype)
        return self.style(z).mean(0, keepdim=True)

    @staticmethod
    def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
        """w_avg + psi * (w - w_avg): psi=1 leaves w alone, psi=0 gives the mean face."""
        return w_avg + psi * (w - w_avg) if psi != 1 else w

    # -- synthesis
    def synthesis(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
        noise: list[torch.Tensor] | None = None,
    ):
        """ws (batch, num_latents, style_dim) -> image (batch, 3, size, size) in about [-1, 1].

        noise_mode: "const" (the stored maps: deterministic, for inference), "random" (fresh noise,
        for training; from ``generator`` if given) or "none". ``noise`` (one map per layer, shaped
        like ``noises.noise_<i>`` with batch 1 or ``batch``) overrides ``noise_mode``: the pipeline
        draws it per seed, so a face's noise does not depend on the batch it was generated in.
        """
        if ws.ndim == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_latents, -1)
        if ws.shape[1] != self.num_latents:
            raise ValueError(f"ws must hold {self.num_latents} latents per sample, got {ws.shape[1]}.")
        if noise is not None:
            if len(noise) != self.num_layers:
                raise ValueError(f"noise must hold {self.num_layers} maps (one per layer), got {len(noise)}.")
            noises = [n.to(ws.device, ws.dtype) for n in noise]
        else:
            noises = self._noises(ws.shape[0], noise_mode, generator, ws)
        out = self.input(ws.shape[0])
        out = self.conv1(out, ws[:, 0], noises[0])
        skip = self.to_rgb1(out, ws[:, 1])
        i = 1
        for up_conv, conv, to_rgb in zip(self.convs[::2], self.convs[1::2], self.to_rgbs):
            out = up_conv(out, ws[:, i], noises[i])
            out = conv(out, ws[:, i + 1], noises[i + 1])
            skip = to_rgb(out, ws[:, i + 2], skip)
            i += 2
        return skip

    def _noises(self, batch, mode, generator, like):
        stored = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if mode == "const":
            return [n.to(like.dtype) for n in stored]
        if mode == "none":
            return [torch.zeros_like(n, dtype=like.dtype) for n in stored]
        if mode == "random":
            if generator is None:
                return [torch.randn(batch, 1, *n.shape[2:], device=like.device, dtype=like.dtype) for n in stored]
            return [
                torch.randn(batch, 1, *n.shape[2:], generator=generator).to(like.device, like.dtype) for n in stored
            ]
        raise ValueError(f"noise_mode must be 'const', 'random' or 'none', got {mode!r}.")

    def forward(
        self,
        z: torch.Tensor,
        truncation: float = 1.0,
        w_avg: torch.Tensor | None = None,
        mix_z: torch.Tensor | None = None,
        mix_layer: int | None = None,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """z -> image. With ``mix_z``, layers from ``mix_layer`` on take their w from ``mix_z``."""
        if truncation != 1 and w_avg is None:
            w_avg = self.mean_latent()
        w = self.truncate(self.map(z), w_avg, truncation)
        mix_w = None if mix_z is None else self.truncate(self.map(mix_z), w_avg, truncation)
        return self.synthesis(stack_styles(w, self.num_latents, mix_w, mix_layer), noise_mode, generator)


# ---------------------------------------------------------------------------- discriminator
class ConvLayer(nn.Sequential):
    """[blur ->] equalised conv [-> bias + lrelu]; downsampling blurs first, then strides 2."""

    def __init__(
        self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=(1, 3, 3, 1), bias=True, activate=True
    ):
        layers = []
        if downsample:
            factor = 2
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            layers.append(Blur(list(blur_kernel), pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, stride, padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel, out_channel, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(
            in_channel, out_channel, 1, downsample=True, activate=False, bias=False, blur_kernel=blur_kernel
        )

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


class StyleGAN2Discriminator(ModelMixin, ConfigMixin):
    """Residual discriminator with a minibatch-stddev feature: image -> one real/fake logit.

    Example:
        >>> D = StyleGAN2Discriminator(size=8, channel_base=128, channel_max=16)
        >>> D(torch.randn(4, 3, 8, 8)).shape
        torch.Size([4, 1])
    """

    @register_to_config
    def __init__(
        self,
        size: int = 64,
        channel_base: int = 32768,
        channel_max: int = 512,
        blur_kernel=(1, 3, 3, 1),
        stddev_group: int = 4,
    ):
        super().__init__()
        log_size = _check_size(size)
        channels = channel_widths(size, channel_base, channel_max)
        convs: list[nn.Module] = [ConvLayer(3, channels[size], 1)]
        in_channel = channels[size]
        for i in range(log_size, 2, -1):
            convs.append(ResBlock(in_channel, channels[2 ** (i - 1)], tuple(blur_kernel)))
            in_channel = channels[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = stddev_group, 1
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 4 * 4, channels[4], activation="fused_lrelu"),
            EqualLinear(channels[4], 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_linear[1](self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (batch, channels[4]) that the real/fake logit is a linear read-out of.

        A conditional discriminator projects its condition onto these (Miyato & Koyama 2018).
        """
        out = self.convs(x)
        # minibatch standard deviation: lets D see a batch's lack of variety (fights mode collapse)
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        while batch % group:
            group -= 1
        std = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        std = std.repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, std], 1))
        return self.final_linear[0](out.view(batch, -1))
