"""CycleGAN networks: junyanz's parameter layout (names and shapes, written out by hand), sizes, config."""

from __future__ import annotations

import pytest
import torch

from gan_models import PatchDiscriminator, ResnetGenerator
from gan_models.translation import SIZE_MULTIPLE

# --- junyanz/pytorch-CycleGAN-and-pix2pix layouts, written out by hand ------------------------------


def junyanz_resnet_9blocks() -> dict[str, list[int]]:
    """``define_G(3, 3, 64, "resnet_9blocks", norm="instance", use_dropout=False)``: every parameter.

    model.0 ReflectionPad(3), model.1 Conv 7x7 3->64, 2 IN, 3 ReLU; model.4 Conv 3x3/2 64->128,
    model.7 Conv 3x3/2 128->256; model.10 ... model.18 ResnetBlocks (conv_block: 0 pad, 1 conv,
    2 IN, 3 ReLU, 4 pad, 5 conv, 6 IN); model.19 ConvT 256->128, model.22 ConvT 128->64,
    model.25 ReflectionPad(3), model.26 Conv 7x7 64->3, model.27 Tanh. Instance norm has no
    parameters, so every conv has a bias (junyanz: ``use_bias = norm is InstanceNorm2d``).
    """
    return {
        "model.1.weight": [64, 3, 7, 7],
        "model.1.bias": [64],
        "model.4.weight": [128, 64, 3, 3],
        "model.4.bias": [128],
        "model.7.weight": [256, 128, 3, 3],
        "model.7.bias": [256],
        **{
            f"model.{i}.conv_block.{c}.{p}": [256, 256, 3, 3] if p == "weight" else [256]
            for i in range(10, 19)
            for c in (1, 5)
            for p in ("weight", "bias")
        },
        "model.19.weight": [256, 128, 3, 3],  # ConvTranspose2d weights are (in, out, k, k)
        "model.19.bias": [128],
        "model.22.weight": [128, 64, 3, 3],
        "model.22.bias": [64],
        "model.26.weight": [3, 64, 7, 7],
        "model.26.bias": [3],
    }


def junyanz_resnet(ngf: int, n_blocks: int, in_ch: int = 3, out_ch: int = 3) -> dict[str, list[int]]:
    """The same layout for any ngf / n_blocks (resnet_6blocks: n_blocks=6, so model.16 and model.19 are ConvT)."""
    d = 4 * ngf
    shapes = {
        "model.1.weight": [ngf, in_ch, 7, 7],
        "model.1.bias": [ngf],
        "model.4.weight": [2 * ngf, ngf, 3, 3],
        "model.4.bias": [2 * ngf],
        "model.7.weight": [d, 2 * ngf, 3, 3],
        "model.7.bias": [d],
    }
    for i in range(10, 10 + n_blocks):
        for c in (1, 5):
            shapes[f"model.{i}.conv_block.{c}.weight"] = [d, d, 3, 3]
            shapes[f"model.{i}.conv_block.{c}.bias"] = [d]
    up1, up2, last = 10 + n_blocks, 13 + n_blocks, 17 + n_blocks
    shapes |= {
        f"model.{up1}.weight": [d, 2 * ngf, 3, 3],
        f"model.{up1}.bias": [2 * ngf],
        f"model.{up2}.weight": [2 * ngf, ngf, 3, 3],
        f"model.{up2}.bias": [ngf],
        f"model.{last}.weight": [out_ch, ngf, 7, 7],
        f"model.{last}.bias": [out_ch],
    }
    return shapes


def junyanz_patchgan_70() -> dict[str, list[int]]:
    """``define_D(3, 64, "basic", norm="instance")``: NLayerDiscriminator, n_layers=3.

    model.0 Conv 4x4/2 3->64, 1 LReLU; model.2 Conv 64->128, 3 IN, 4 LReLU; model.5 128->256;
    model.8 256->512 (stride 1); model.11 Conv 512->1 (stride 1).
    """
    return {
        "model.0.weight": [64, 3, 4, 4],
        "model.0.bias": [64],
        "model.2.weight": [128, 64, 4, 4],
        "model.2.bias": [128],
        "model.5.weight": [256, 128, 4, 4],
        "model.5.bias": [256],
        "model.8.weight": [512, 256, 4, 4],
        "model.8.bias": [512],
        "model.11.weight": [1, 512, 4, 4],
        "model.11.bias": [1],
    }


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


# --- layouts ----------------------------------------------------------------------------------------


def test_resnet_9blocks_matches_junyanz_exactly():
    with torch.device("meta"):  # shapes only
        G = ResnetGenerator()
    assert _shapes(G) == junyanz_resnet_9blocks()
    assert list(G.state_dict()) == list(junyanz_resnet_9blocks())  # same order, as torch.save writes it
    assert junyanz_resnet(64, 9) == junyanz_resnet_9blocks()  # the general formula agrees with the written-out one


@pytest.mark.parametrize(("ngf", "n_blocks", "in_ch", "out_ch"), [(64, 6, 3, 3), (32, 9, 1, 3), (8, 0, 3, 1)])
def test_resnet_variants_match_junyanz(ngf, n_blocks, in_ch, out_ch):
    with torch.device("meta"):
        G = ResnetGenerator(in_channels=in_ch, out_channels=out_ch, ngf=ngf, n_blocks=n_blocks)
    assert _shapes(G) == junyanz_resnet(ngf, n_blocks, in_ch, out_ch)


def test_patchgan_matches_junyanz_exactly():
    with torch.device("meta"):
        D = PatchDiscriminator()
    assert _shapes(D) == junyanz_patchgan_70()


def test_no_buffers_so_nothing_but_weights_is_saved():
    # junyanz's instance norm keeps no running statistics; a bundled folder must not either
    assert not list(ResnetGenerator(ngf=4, n_blocks=1).buffers())
    assert not list(PatchDiscriminator(ndf=4).buffers())


# --- behaviour --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(8, 8), (8, 12), (36, 20), (64, 48)])
def test_generator_keeps_multiples_of_four(height, width):
    torch.manual_seed(0)
    G = ResnetGenerator(ngf=4, n_blocks=0).eval()
    out = G(torch.rand(2, 3, height, width) * 2 - 1)
    assert out.shape == (2, 3, height, width)
    assert out.abs().max() <= 1  # tanh


def test_four_pixels_is_too_small_which_is_why_the_pipeline_pads_to_min_work_side():
    # 4 px -> 1 px after two stride-2 convs: instance norm needs more than one pixel
    from gan_models.pipelines.translation import MIN_WORK_SIDE

    with pytest.raises(ValueError, match="more than 1 spatial element"):
        ResnetGenerator(ngf=4, n_blocks=0).eval()(torch.zeros(1, 3, 4, 4))
    assert MIN_WORK_SIDE >= 8


@pytest.mark.parametrize(("height", "width"), [(37, 251), (9, 10), (30, 30)])
def test_odd_sizes_are_why_the_pipeline_pads(height, width):
    """Sizes that are not multiples of SIZE_MULTIPLE come back a few pixels off; padded ones exactly."""
    G = ResnetGenerator(ngf=4, n_blocks=1).eval()
    out = G(torch.zeros(1, 3, height, width))
    assert out.shape[-2:] != (height, width)
    padded = [-(-s // SIZE_MULTIPLE) * SIZE_MULTIPLE for s in (height, width)]
    assert G(torch.zeros(1, 3, *padded)).shape[-2:] == tuple(padded)


def test_patchgan_receptive_field_is_70():
    """Each logit sees a 70x70 window: 1 + sum over convs of (kernel - 1) x (product of earlier strides).

    (Measured by poking pixels it would not show: instance norm's statistics span the whole image.)
    """
    D = PatchDiscriminator(ndf=4)
    field, jump = 1, 1
    for conv in (m for m in D.modules() if isinstance(m, torch.nn.Conv2d)):
        field += (conv.kernel_size[0] - 1) * jump
        jump *= conv.stride[0]
    assert field == 70
    assert D(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 6, 6)


def test_config_round_trip(tmp_path):
    G = ResnetGenerator(in_channels=1, out_channels=3, ngf=8, n_blocks=2)
    G.save_pretrained(tmp_path)
    loaded = ResnetGenerator.from_pretrained(tmp_path)
    public = lambda cfg: {k: v for k, v in cfg.items() if not k.startswith("_")}
    assert public(loaded.config) == {"in_channels": 1, "out_channels": 3, "ngf": 8, "n_blocks": 2}
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(G.eval()(x), loaded.eval()(x))


def test_negative_blocks_refused():
    with pytest.raises(ValueError, match="n_blocks"):
        ResnetGenerator(n_blocks=-1)
