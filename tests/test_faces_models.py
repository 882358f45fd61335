"""StyleGAN2 networks: rosinality's parameter layout written out by hand, and the maths checked."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_models import StyleGAN2Discriminator, StyleGAN2Generator
from gan_models.faces import ModulatedConv2d, channel_widths

# --- rosinality/stylegan2-pytorch layouts, written out by hand ------------------------------------
# Generator(size=64, style_dim=512, n_mlp=8, channel_multiplier=2): every width is 512 (64 px is
# 256 * 2). The order is torch's state_dict order (a module's own tensors, then its children).


def _styled_conv(name: str, cin: int, cout: int, upsample: bool) -> list[tuple[str, list[int]]]:
    rows = [(f"{name}.conv.weight", [1, cout, cin, 3, 3])]
    if upsample:
        rows.append((f"{name}.conv.blur.kernel", [4, 4]))
    return rows + [
        (f"{name}.conv.modulation.weight", [cin, 512]),
        (f"{name}.conv.modulation.bias", [cin]),
        (f"{name}.noise.weight", [1]),
        (f"{name}.activate.bias", [cout]),
    ]


ROSINALITY_G64_512_8_CM2: list[tuple[str, list[int]]] = [
    *[row for i in range(1, 9) for row in ((f"style.{i}.weight", [512, 512]), (f"style.{i}.bias", [512]))],
    ("input.input", [1, 512, 4, 4]),
    ("conv1.conv.weight", [1, 512, 512, 3, 3]),
    ("conv1.conv.modulation.weight", [512, 512]),
    ("conv1.conv.modulation.bias", [512]),
    ("conv1.noise.weight", [1]),
    ("conv1.activate.bias", [512]),
    ("to_rgb1.bias", [1, 3, 1, 1]),
    ("to_rgb1.conv.weight", [1, 3, 512, 1, 1]),
    ("to_rgb1.conv.modulation.weight", [512, 512]),
    ("to_rgb1.conv.modulation.bias", [512]),
    *_styled_conv("convs.0", 512, 512, upsample=True),  # 8 px
    *_styled_conv("convs.1", 512, 512, upsample=False),
    *_styled_conv("convs.2", 512, 512, upsample=True),  # 16 px
    *_styled_conv("convs.3", 512, 512, upsample=False),
    *_styled_conv("convs.4", 512, 512, upsample=True),  # 32 px
    *_styled_conv("convs.5", 512, 512, upsample=False),
    *_styled_conv("convs.6", 512, 512, upsample=True),  # 64 px
    *_styled_conv("convs.7", 512, 512, upsample=False),
    *[
        row
        for i in range(4)
        for row in (
            (f"to_rgbs.{i}.bias", [1, 3, 1, 1]),
            (f"to_rgbs.{i}.upsample.kernel", [4, 4]),
            (f"to_rgbs.{i}.conv.weight", [1, 3, 512, 1, 1]),
            (f"to_rgbs.{i}.conv.modulation.weight", [512, 512]),
            (f"to_rgbs.{i}.conv.modulation.bias", [512]),
        )
    ],
    ("noises.noise_0", [1, 1, 4, 4]),
    ("noises.noise_1", [1, 1, 8, 8]),
    ("noises.noise_2", [1, 1, 8, 8]),
    ("noises.noise_3", [1, 1, 16, 16]),
    ("noises.noise_4", [1, 1, 16, 16]),
    ("noises.noise_5", [1, 1, 32, 32]),
    ("noises.noise_6", [1, 1, 32, 32]),
    ("noises.noise_7", [1, 1, 64, 64]),
    ("noises.noise_8", [1, 1, 64, 64]),
]

# Discriminator(size=32, channel_multiplier=2): 1x1 FromRGB, three ResBlocks (32 -> 4 px), minibatch
# stddev (+1 channel), final 3x3 conv, two linear layers.
ROSINALITY_D32_CM2: list[tuple[str, list[int]]] = [
    ("convs.0.0.weight", [512, 3, 1, 1]),
    ("convs.0.1.bias", [512]),
    *[
        row
        for i in (1, 2, 3)
        for row in (
            (f"convs.{i}.conv1.0.weight", [512, 512, 3, 3]),
            (f"convs.{i}.conv1.1.bias", [512]),
            (f"convs.{i}.conv2.0.kernel", [4, 4]),
            (f"convs.{i}.conv2.1.weight", [512, 512, 3, 3]),
            (f"convs.{i}.conv2.2.bias", [512]),
            (f"convs.{i}.skip.0.kernel", [4, 4]),
            (f"convs.{i}.skip.1.weight", [512, 512, 1, 1]),
        )
    ],
    ("final_conv.0.weight", [512, 513, 3, 3]),
    ("final_conv.1.bias", [512]),
    ("final_linear.0.weight", [512, 512 * 4 * 4]),
    ("final_linear.0.bias", [512]),
    ("final_linear.1.weight", [1, 512]),
    ("final_linear.1.bias", [1]),
]


def _rows(module: torch.nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


def test_generator_matches_rosinality_layout():
    assert len(ROSINALITY_G64_512_8_CM2) == 99
    with torch.device("meta"):  # full size, no memory, no init cost
        G = StyleGAN2Generator(size=64, style_dim=512, n_mlp=8, channel_base=16384 * 2, channel_max=512)
    assert _rows(G) == ROSINALITY_G64_512_8_CM2
    assert (G.num_latents, G.num_layers) == (10, 9)


def test_discriminator_matches_rosinality_layout():
    with torch.device("meta"):
        D = StyleGAN2Discriminator(size=32, channel_base=16384 * 2, channel_max=512)
    assert _rows(D) == ROSINALITY_D32_CM2


@pytest.mark.parametrize("multiplier", [1, 2])
def test_channel_widths_match_rosinality_table(multiplier):
    m = multiplier
    rosinality = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * m, 128: 128 * m, 256: 64 * m, 512: 32 * m, 1024: 16 * m}
    assert channel_widths(1024, 16384 * m, 512) == rosinality


# --- the maths -----------------------------------------------------------------------------------


def _tiny_g(seed: int = 0, size: int = 16) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    G = StyleGAN2Generator(size=size, style_dim=16, n_mlp=2, channel_base=128, channel_max=16).eval()
    with torch.no_grad():  # non-zero noise strengths and biases, so every path is exercised
        for name, p in G.named_parameters():
            if name.endswith(("noise.weight", "activate.bias", "to_rgb1.bias")) or ".bias" in name:
                p.normal_(0, 0.1)
    return G


def _fused_modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """rosinality's default ``fused=True`` path: per-sample weights, grouped convolution."""
    batch, cin, h, w = x.shape
    k = conv.kernel_size
    s = conv.modulation(style).view(batch, 1, cin, 1, 1)
    weight = conv.scale * conv.weight * s  # (batch, out, in, k, k)
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, conv.out_channel, 1, 1, 1)
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(batch * cin, conv.out_channel, k, k)
        out = F.conv_transpose2d(x.view(1, batch * cin, h, w), weight, padding=0, stride=2, groups=batch)
        return conv.blur(out.view(batch, conv.out_channel, *out.shape[2:]))
    weight = weight.view(batch * conv.out_channel, cin, k, k)
    out = F.conv2d(x.view(1, batch * cin, h, w), weight, padding=conv.padding, groups=batch)
    return out.view(batch, conv.out_channel, h, w)


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("demodulate", [False, True])
def test_modulated_conv_equals_the_fused_grouped_form(upsample, demodulate):
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, style_dim=8, demodulate=demodulate, upsample=upsample)
    x, style = torch.randn(3, 6, 5, 5), torch.randn(3, 8)
    with torch.no_grad():
        out = conv(x, style)
        torch.testing.assert_close(out, _fused_modulated_conv(conv, x, style), atol=1e-5, rtol=1e-4)
    assert out.shape == (3, 5, 10, 10) if upsample else (3, 5, 5, 5)


def test_demodulation_gives_unit_variance_outputs():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 32, 3, style_dim=16)
    with torch.no_grad():
        out = conv(torch.randn(8, 64, 16, 16), torch.randn(8, 16))
    assert 0.8 < out[:, :, 1:-1, 1:-1].std().item() < 1.2  # borders see zero padding


def test_upsampling_keeps_a_constant_image_constant():
    """The FIR filters are normalised: a flat image stays flat (away from the borders) when upsampled."""
    G = _tiny_g()
    up = G.to_rgbs[0].upsample
    out = up(torch.full((1, 3, 6, 6), 0.5))
    assert out.shape == (1, 3, 12, 12)
    torch.testing.assert_close(out[:, :, 2:-2, 2:-2], torch.full((1, 3, 8, 8), 0.5))


def test_generator_shapes_and_halves():
    G = _tiny_g()
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img = G(z)
        w = G.map(z)
        again = G.synthesis(w.unsqueeze(1).repeat(1, G.num_latents, 1))
    assert img.shape == (3, 3, 16, 16) and torch.isfinite(img).all()
    assert w.shape == (3, 16) and G.num_latents == 6
    torch.testing.assert_close(img, again)
    with pytest.raises(ValueError, match="z must have shape"):
        G.map(torch.randn(2, 5))
    with pytest.raises(ValueError, match="latents per sample"):
        G.synthesis(torch.randn(2, 3, 16))
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Generator(size=48)


def test_truncation_and_mean_latent():
    G = _tiny_g()
    w_avg = G.mean_latent(256, seed=0)
    torch.testing.assert_close(w_avg, G.mean_latent(256, seed=0))
    z = torch.randn(4, 16)
    with torch.no_grad():
        mean_faces = G(z, truncation=0.0, w_avg=w_avg)
        w = G.map(z)
    torch.testing.assert_close(mean_faces, mean_faces[:1].expand_as(mean_faces))
    assert StyleGAN2Generator.truncate(w, w_avg, 1.0) is w
    torch.testing.assert_close(StyleGAN2Generator.truncate(w, w_avg, 0.5), (w + w_avg) / 2)


def test_noise_modes_and_explicit_noise():
    G = _tiny_g()
    ws = G.map(torch.randn(2, 16)).detach()
    with torch.no_grad():
        const = G.synthesis(ws, noise_mode="const")
        none = G.synthesis(ws, noise_mode="none")
        g1 = G.synthesis(ws, noise_mode="random", generator=torch.Generator().manual_seed(1))
        g1_again = G.synthesis(ws, noise_mode="random", generator=torch.Generator().manual_seed(1))
        stored = [getattr(G.noises, f"noise_{i}") for i in range(G.num_layers)]
        explicit = G.synthesis(ws, noise_mode="none", noise=stored)  # noise= wins over noise_mode
    torch.testing.assert_close(const, explicit)
    torch.testing.assert_close(g1, g1_again)
    assert not torch.allclose(const, none) and not torch.allclose(const, g1)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fresh")
    with pytest.raises(ValueError, match="one per layer"):
        G.synthesis(ws, noise=stored[:2])


def test_style_mixing_in_forward_changes_only_late_layers():
    G = _tiny_g()
    z, z2 = torch.randn(1, 16), torch.randn(1, 16)
    with torch.no_grad():
        same = G(z, mix_z=z, mix_layer=2)
        plain = G(z)
        mixed = G(z, mix_z=z2, mix_layer=2)
    torch.testing.assert_close(same, plain)
    assert not torch.allclose(mixed, plain)


def test_discriminator_any_batch_size():
    torch.manual_seed(0)
    D = StyleGAN2Discriminator(size=16, channel_base=128, channel_max=16)
    for batch in (1, 3, 4, 6):  # 3 and 6 are not multiples of the stddev group of 4
        out = D(torch.randn(batch, 3, 16, 16))
        assert out.shape == (batch, 1) and torch.isfinite(out).all()


def test_discriminator_gradients_reach_every_parameter():
    torch.manual_seed(0)
    D = StyleGAN2Discriminator(size=8, channel_base=64, channel_max=8)
    D(torch.randn(4, 3, 8, 8)).sum().backward()
    assert all(p.grad is not None and math.isfinite(p.grad.abs().sum().item()) for p in D.parameters())
