"""Super-resolution networks: RRDBNet, SRVGGNetCompact and the U-Net discriminator.

Parameter names and shapes follow the public ESRGAN / Real-ESRGAN checkpoints (BasicSR layout),
so their ``params`` / ``params_ema`` state dicts load into these modules unchanged.
This file holds modules only: no training, no image I/O, no UI.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn.utils import spectral_norm

# exported from gan_models too: saved pipeline folders name these classes
__all__ = ["RRDBNet", "SRVGGNetCompact", "UNetDiscriminatorSN", "upscale_factor"]


def _scale_residual_init(module: nn.Module, scale: float) -> None:
    """Kaiming-normal init scaled down, so deep residual stacks start close to identity (ESRGAN)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight)
            layer.weight.data.mul_(scale)
            if layer.bias is not None:
                layer.bias.data.zero_()


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the output is scaled by 0.2 and added to the input."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        _scale_residual_init(self, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks inside one scaled residual."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(ModelMixin, ConfigMixin):
    """ESRGAN / Real-ESRGAN x4plus generator.

    For scale 2 and 1 the input is pixel-unshuffled first (4x or 16x the channels), as Real-ESRGAN
    does, so the body always runs at 1/4 of the output resolution.

    Example:
        >>> net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
        >>> net(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 32, 32])
    """

    @register_to_config
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ):
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet supports scale 1, 2 or 4, got {scale}.")
        unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.conv_first = nn.Conv2d(num_in_ch * unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 1. fold space into channels for scale < 4: (B, C, H, W) -> (B, C*r*r, H/r, W/r)
        if self.config.scale < 4:
            x = F.pixel_unshuffle(x, 4 // self.config.scale)
        # 2. shallow features, then the residual-in-residual trunk
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        # 3. two nearest-neighbour x2 upsamplings, each refined by a conv
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        # 4. back to image space
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class SRVGGNetCompact(ModelMixin, ConfigMixin):
    """Real-ESRGAN's compact VGG-style generator (realesr-general-x4v3, realesr-animevideov3).

    All convs run at input resolution; one pixel shuffle at the end. The network predicts a
    residual over the nearest-neighbour upsampled input.

    Example:
        >>> net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
        >>> net(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 16, 16])
    """

    @register_to_config
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 32,
        upscale: int = 4,
        act_type: str = "prelu",
    ):
        super().__init__()
        if act_type not in ("prelu", "relu", "leakyrelu"):
            raise ValueError(f"act_type must be 'prelu', 'relu' or 'leakyrelu', got {act_type!r}.")
        # `body` is one flat ModuleList (conv, act, conv, act, ..., conv) so that the indices match
        # the public checkpoints: body.0 first conv, body.1 its PReLU, ..., body.{2*num_conv+2} last.
        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), self._activation(act_type, num_feat)])
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(self._activation(act_type, num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    @staticmethod
    def _activation(act_type: str, num_feat: int) -> nn.Module:
        if act_type == "prelu":
            return nn.PReLU(num_parameters=num_feat)
        if act_type == "relu":
            return nn.ReLU(inplace=True)
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        # (B, C*r*r, H, W) -> (B, C, H*r, W*r), plus the cheap nearest-neighbour base
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.config.upscale, mode="nearest")


class UNetDiscriminatorSN(ModelMixin, ConfigMixin):
    """Real-ESRGAN's U-Net discriminator with spectral norm: a real/fake logit per pixel.

    Example:
        >>> d = UNetDiscriminatorSN(num_feat=8)
        >>> d(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 1, 32, 32])
    """

    @register_to_config
    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True):
        super().__init__()
        nf = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1)
        # downsample x3
        self.conv1 = spectral_norm(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        # upsample x3
        self.conv4 = spectral_norm(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        # extra convs at full resolution
        self.conv7 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"UNetDiscriminatorSN needs height and width divisible by 8, got {tuple(x.shape[-2:])}.")
        skip = self.config.skip_connection
        lrelu = lambda t: F.leaky_relu(t, negative_slope=0.2)
        # 1. encoder: full -> 1/8 resolution
        x0 = lrelu(self.conv0(x))
        x1 = lrelu(self.conv1(x0))
        x2 = lrelu(self.conv2(x1))
        x3 = lrelu(self.conv3(x2))
        # 2. decoder with skips back to full resolution
        x4 = lrelu(self.conv4(F.interpolate(x3, scale_factor=2, mode="bilinear", align_corners=False)))
        x4 = x4 + x2 if skip else x4
        x5 = lrelu(self.conv5(F.interpolate(x4, scale_factor=2, mode="bilinear", align_corners=False)))
        x5 = x5 + x1 if skip else x5
        x6 = lrelu(self.conv6(F.interpolate(x5, scale_factor=2, mode="bilinear", align_corners=False)))
        x6 = x6 + x0 if skip else x6
        # 3. per-pixel logits
        out = lrelu(self.conv7(x6))
        out = lrelu(self.conv8(out))
        return self.conv9(out)


def upscale_factor(model: nn.Module) -> int:
    """The integer scale of any super-resolution generator in this file."""
    config = model.config
    return int(config.scale if "scale" in config else config.upscale)
