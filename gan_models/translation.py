"""Unpaired image-to-image translation (CycleGAN): the ResNet generator and the 70x70 PatchGAN.

Both networks keep the parameter names and shapes of junyanz/pytorch-CycleGAN-and-pix2pix
(``ResnetGenerator`` and ``NLayerDiscriminator`` with instance norm, no dropout), so a public
``latest_net_G.pth`` loads with ``load_state_dict`` after dropping the instance-norm running
statistics old PyTorch versions saved (``gan_models.converters.convert_cyclegan_state_dict``).

The layer indices in those names come from one ``nn.Sequential`` called ``model``; they are the
public checkpoint format, so the layers are built in exactly that order.

Example:
    >>> import torch
    >>> G = ResnetGenerator(ngf=8, n_blocks=2)
    >>> G(torch.zeros(1, 3, 36, 20)).shape
    torch.Size([1, 3, 36, 20])
    >>> PatchDiscriminator(ndf=8)(torch.zeros(1, 3, 64, 64)).shape  # one logit per 70x70 patch
    torch.Size([1, 1, 6, 6])
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

# exported from gan_models too: saved pipeline folders name these classes
__all__ = ["PatchDiscriminator", "ResnetGenerator"]

# the generator halves the resolution twice, so inputs are padded to a multiple of this
SIZE_MULTIPLE = 4


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    # junyanz's "instance" norm: no affine parameters, no running statistics
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm, added to the input (``conv_block.1/5``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(ModelMixin, ConfigMixin):
    """Johnson et al.'s ResNet translator as CycleGAN uses it: [-1, 1] RGB in, same size out.

    c7s1-ngf, d2ngf, d4ngf, ``n_blocks`` x R4ngf, u2ngf, ungf, c7s1-3, tanh. CycleGAN uses 9
    blocks at 256 px and 6 at 128 px and below. Height and width must be multiples of 4 (the
    pipeline pads); other sizes would come back a few pixels off.
    """

    @register_to_config
    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}.")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7),
            _instance_norm(ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):  # downsample twice
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                _instance_norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):  # upsample twice
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                _instance_norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(ModelMixin, ConfigMixin):
    """The 70x70 PatchGAN (junyanz ``NLayerDiscriminator``, n_layers=3): one real/fake logit per patch.

    C64 (no norm) - C128 - C256 - C512 (stride 1) - 1-channel conv, 4x4 kernels, LeakyReLU 0.2,
    instance norm; each output logit sees a 70x70 window of the input.
    """

    @register_to_config
    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                _instance_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class CycleGenerators(nn.Module):
    """Both translators as one module, the training engine's single "generator".

    One ``forward`` computes everything a CycleGAN generator step needs, so a DDP wrapper sees
    every parameter used in a single call.
    """

    def __init__(self, a_to_b: ResnetGenerator, b_to_a: ResnetGenerator):
        super().__init__()
        self.a_to_b = a_to_b
        self.b_to_a = b_to_a

    def forward(self, real_a: torch.Tensor, real_b: torch.Tensor, identity: bool = True) -> dict[str, torch.Tensor]:
        fake_b = self.a_to_b(real_a)
        fake_a = self.b_to_a(real_b)
        out = {"fake_b": fake_b, "fake_a": fake_a, "rec_a": self.b_to_a(fake_b), "rec_b": self.a_to_b(fake_a)}
        if identity:  # G_AB should leave an image already in B alone, and vice versa
            out["idt_b"] = self.a_to_b(real_b)
            out["idt_a"] = self.b_to_a(real_a)
        return out


class CycleDiscriminators(nn.Module):
    """``judge_a`` tells real A from translated-to-A; ``judge_b`` the same for B.

    (junyanz calls them ``netD_B`` and ``netD_A`` respectively: their D_A judges G_A's output, B.)
    """

    def __init__(self, judge_a: PatchDiscriminator, judge_b: PatchDiscriminator):
        super().__init__()
        self.judge_a = judge_a
        self.judge_b = judge_b

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.judge_a(images_a), self.judge_b(images_b)
