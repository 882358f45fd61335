"""Foreign checkpoints (ESRGAN family, rosinality StyleGAN2): the public layouts, every wrapper, refusals."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import (
    CheckpointFormatError,
    FaceGANPipeline,
    RRDBNet,
    SRVGGNetCompact,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    SuperResolutionPipeline,
)
from gan_models.convert import main as convert_main
from gan_models.converters import convert_stylegan2_state_dict, load_foreign_stylegan2, load_foreign_superres

# --- the public layouts, written out by hand ---------------------------------------------------


def expected_rrdbnet_x4plus(num_feat=64, num_block=23, grow=32, in_ch=3, out_ch=3) -> dict[str, list[int]]:
    """RealESRGAN_x4plus / ESRGAN (BasicSR names): every parameter and its shape."""
    shapes = {"conv_first.weight": [num_feat, in_ch, 3, 3], "conv_first.bias": [num_feat]}
    for i in range(num_block):
        for j in (1, 2, 3):
            for k in (1, 2, 3, 4, 5):
                out = grow if k < 5 else num_feat
                shapes[f"body.{i}.rdb{j}.conv{k}.weight"] = [out, num_feat + (k - 1) * grow, 3, 3]
                shapes[f"body.{i}.rdb{j}.conv{k}.bias"] = [out]
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        shapes[f"{name}.weight"] = [num_feat, num_feat, 3, 3]
        shapes[f"{name}.bias"] = [num_feat]
    shapes["conv_last.weight"] = [out_ch, num_feat, 3, 3]
    shapes["conv_last.bias"] = [out_ch]
    return shapes


def expected_general_x4v3(num_feat=64, num_conv=32, upscale=4, ch=3) -> dict[str, list[int]]:
    """realesr-general-x4v3: body.0 conv, body.1 PReLU, ..., body.66 conv to 3 * 4 * 4 channels."""
    shapes = {"body.0.weight": [num_feat, ch, 3, 3], "body.0.bias": [num_feat], "body.1.weight": [num_feat]}
    for n in range(num_conv):
        shapes[f"body.{2 * n + 2}.weight"] = [num_feat, num_feat, 3, 3]
        shapes[f"body.{2 * n + 2}.bias"] = [num_feat]
        shapes[f"body.{2 * n + 3}.weight"] = [num_feat]
    last = 2 * num_conv + 2
    shapes[f"body.{last}.weight"] = [ch * upscale * upscale, num_feat, 3, 3]
    shapes[f"body.{last}.bias"] = [ch * upscale * upscale]
    return shapes


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def test_rrdbnet_default_matches_the_public_x4plus_layout():
    with torch.device("meta"):  # full size, no memory, no init cost
        net = RRDBNet()
    assert _shapes(net) == expected_rrdbnet_x4plus()


def test_compact_default_matches_general_x4v3_layout():
    with torch.device("meta"):
        net = SRVGGNetCompact()
    shapes = _shapes(net)
    assert shapes == expected_general_x4v3()
    assert "body.66.weight" in shapes and shapes["body.66.weight"] == [48, 64, 3, 3]
    assert len(net.body) + 1 == 68  # 67 body entries (body.0 ... body.66) + the pixel shuffle


# --- fake foreign files ------------------------------------------------------------------------


def _tiny_rrdb(scale=4, seed=0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=scale).eval()


def _tiny_compact(upscale=4, act_type="prelu", seed=0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=8, num_conv=3, upscale=upscale, act_type=act_type).eval()


def _old_esrgan_keys(sd: dict[str, torch.Tensor], num_block: int) -> dict[str, torch.Tensor]:
    """Our names -> the 2018 ESRGAN `model.N` layout (the inverse of the converter's mapping)."""
    top = {"conv_first": "model.0", "conv_up1": "model.3", "conv_up2": "model.6", "conv_hr": "model.8"}
    top["conv_last"] = "model.10"
    out = {}
    for key, value in sd.items():
        if m := re.match(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
        elif key.startswith("conv_body."):
            out[f"model.1.sub.{num_block}.{key.split('.')[1]}"] = value
        else:
            module, param = key.split(".")
            out[f"{top[module]}.{param}"] = value
    return out


def _esrgan_2019_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    rename = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    out = {}
    for key, value in sd.items():
        if m := re.match(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key):
            out[f"RRDB_trunk.{m[1]}.RDB{m[2]}.conv{m[3]}.{m[4]}"] = value
        else:
            module, param = key.split(".")
            out[f"{rename.get(module, module)}.{param}"] = value
    return out


def _payload(net: torch.nn.Module, style: str):
    sd = net.state_dict()
    if style == "params_ema":  # BasicSR: EMA preferred; `params` here is deliberately different
        return {"params_ema": sd, "params": {k: torch.zeros_like(v) for k, v in sd.items()}}
    if style == "params":
        return {"params": sd}
    if style == "bare":
        return sd
    if style == "old_esrgan":
        return _old_esrgan_keys(sd, net.config.num_block)
    if style == "esrgan_2019":
        return _esrgan_2019_keys(sd)
    raise AssertionError(style)


def _convert(tmp_path: Path, payload, *extra: str) -> tuple[int, Path]:
    src, out = tmp_path / "foreign.pth", tmp_path / "converted"
    torch.save(payload, src)
    return convert_main(["superres", str(src), str(out), *extra]), out


def _outputs_equal(source: torch.nn.Module, folder: Path) -> None:
    """The converted pipeline's module and __call__ give exactly what the source module gives."""
    x = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(0))  # even: x2 unshuffles
    loaded = SuperResolutionPipeline.from_pretrained(folder)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded.upscaler) is type(source)
    with torch.no_grad():
        torch.testing.assert_close(loaded.upscaler(x), source(x), atol=0, rtol=0)
    src_pipe = SuperResolutionPipeline(source)
    src_pipe.set_progress_bar_config(disable=True)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8))
    assert np.array_equal(np.asarray(loaded(img).images[0]), np.asarray(src_pipe(img).images[0]))


@pytest.mark.parametrize("style", ["params_ema", "params", "bare", "old_esrgan", "esrgan_2019"])
@pytest.mark.parametrize("scale", [4, 2])
def test_rrdb_checkpoints_convert_exactly(tmp_path, style, scale):
    net = _tiny_rrdb(scale)
    rc, out = _convert(tmp_path, _payload(net, style))
    assert rc == 0
    _outputs_equal(net, out)
    readme = (out / "README.md").read_text()
    assert "foreign.pth" in readme and "sha256" in readme and "image-to-image" in readme


def test_rrdb_x1_detected_from_48_input_channels(tmp_path):
    net = _tiny_rrdb(scale=1)
    assert net.conv_first.weight.shape[1] == 48
    p = tmp_path / "x1.pth"
    torch.save(net.state_dict(), p)
    assert load_foreign_superres(p).config.scale == 1


@pytest.mark.parametrize("style", ["params_ema", "params", "bare"])
@pytest.mark.parametrize("upscale", [4, 2])
def test_compact_checkpoints_convert_exactly(tmp_path, style, upscale):
    net = _tiny_compact(upscale)
    rc, out = _convert(tmp_path, _payload(net, style))
    assert rc == 0
    _outputs_equal(net, out)
    cfg = SuperResolutionPipeline.from_pretrained(out).upscaler.config
    assert (cfg.num_feat, cfg.num_conv, cfg.upscale, cfg.act_type) == (8, 3, upscale, "prelu")


def test_compact_without_prelu_needs_act_type(tmp_path):
    net = _tiny_compact(2, act_type="leakyrelu")
    p = tmp_path / "lrelu.pth"
    torch.save(net.state_dict(), p)
    with pytest.raises(CheckpointFormatError, match="act_type"):
        load_foreign_superres(p)
    loaded = load_foreign_superres(p, act_type="leakyrelu")
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=0, rtol=0)


def test_fp16_flag_writes_fp16_safetensors(tmp_path):
    rc, out = _convert(tmp_path, _tiny_compact(2).state_dict(), "--fp16")
    assert rc == 0
    tensors = load_file(out / "upscaler" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert not list(out.rglob("*.bin"))


def test_unknown_layout_is_refused_with_keys(tmp_path, capsys):
    p = tmp_path / "weird.pth"
    torch.save({"encoder.weight": torch.zeros(2, 2), "decoder.bias": torch.zeros(2)}, p)
    with pytest.raises(CheckpointFormatError, match="encoder.weight"):
        load_foreign_superres(p)
    assert convert_main(["superres", str(p), str(tmp_path / "out")]) == 2
    assert "encoder.weight" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_wrong_shapes_are_refused(tmp_path):
    sd = _tiny_rrdb().state_dict()
    sd["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    p = tmp_path / "bad.pth"
    torch.save(sd, p)
    with pytest.raises(CheckpointFormatError, match="do not fit"):
        load_foreign_superres(p)


def _touch(path: str) -> None:
    Path(path).write_text("code ran")


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (self.marker,))


def test_pickled_objects_are_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pth"
    torch.save({"params": _tiny_compact(2).state_dict(), "hook": _RunsCodeWhenUnpickled(str(marker))}, p)
    with pytest.raises(CheckpointFormatError, match="weights_only"):
        load_foreign_superres(p)
    assert not marker.exists()


def test_not_a_checkpoint_file(tmp_path):
    p = tmp_path / "junk.pth"
    p.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointFormatError):
        load_foreign_superres(p)
    with pytest.raises(ValueError, match="No checkpoint"):
        load_foreign_superres(tmp_path / "missing.pth")


# --- rosinality/stylegan2-pytorch generators ----------------------------------------------------


def _tiny_stylegan(seed=0, size=16) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    G = StyleGAN2Generator(size=size, style_dim=16, n_mlp=2, channel_base=128, channel_max=16).eval()
    with torch.no_grad():  # non-zero noise strengths: the converted noise maps must matter too
        for conv in [G.conv1, *G.convs]:
            conv.noise.weight.fill_(0.2)
    return G


def _rosinality_checkpoint(g_ema: StyleGAN2Generator) -> dict:
    """What rosinality's train.py saves: g, d, g_ema, both optimisers and the argparse args."""
    g = _tiny_stylegan(seed=1)  # deliberately different: the converter must take g_ema
    d = StyleGAN2Discriminator(size=16, channel_base=128, channel_max=16)
    g_optim = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    g(torch.randn(2, 16)).mean().backward()
    g_optim.step()
    args = argparse.Namespace(size=16, latent=16, n_mlp=2, channel_multiplier=2, ckpt=None, wandb=False, lr=0.002)
    return {
        "g": g.state_dict(),
        "d": d.state_dict(),
        "g_ema": g_ema.state_dict(),
        "g_optim": g_optim.state_dict(),
        "d_optim": torch.optim.Adam(d.parameters()).state_dict(),
        "args": args,
    }


def _faces_equal(source: StyleGAN2Generator, folder: Path, exact: bool) -> None:
    loaded = FaceGANPipeline.from_pretrained(folder, dtype=torch.float32)
    loaded.set_progress_bar_config(disable=True)
    reference = FaceGANPipeline(source)
    reference.set_progress_bar_config(disable=True)
    a = reference(num_images=3, seed=11, truncation=0.7, output_type="np").images
    b = loaded(num_images=3, seed=11, truncation=0.7, output_type="np").images
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=0 if exact else 0.03)


@pytest.mark.parametrize("style", ["rosinality", "g_only", "bare", "data_parallel"])
def test_stylegan2_checkpoints_convert(tmp_path, style):
    G = _tiny_stylegan()
    payload = {
        "rosinality": _rosinality_checkpoint(G),
        "g_only": {"g": G.state_dict()},
        "bare": G.state_dict(),
        "data_parallel": {f"module.{k}": v for k, v in G.state_dict().items()},
    }[style]
    src, out = tmp_path / "550000.pt", tmp_path / "converted"
    torch.save(payload, src)
    assert convert_main(["faces", str(src), str(out), "--fp32"]) == 0
    _faces_equal(G, out, exact=True)


def test_stylegan2_default_is_fp16_with_a_card(tmp_path, capsys):
    G = _tiny_stylegan()
    src, out = tmp_path / "ffhq.pt", tmp_path / "stylegan2-tiny"
    torch.save(_rosinality_checkpoint(G), src)
    assert convert_main(["faces", str(src), str(out), "--source-url", "https://example.org/ffhq.pt"]) == 0
    assert "wrote" in capsys.readouterr().out
    tensors = load_file(out / "stylegan" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert not list(out.rglob("*.bin"))
    _faces_equal(G, out, exact=False)  # fp16 weights: close, not equal
    readme = (out / "README.md").read_text()
    assert "ffhq.pt" in readme and "sha256" in readme and "unconditional-image-generation" in readme
    assert "FaceGANPipeline" in readme and "super-resolution" not in readme


@pytest.mark.parametrize(("size", "multiplier"), [(64, 2), (256, 1), (1024, 2), (128, 4)])
def test_stylegan2_hyperparameters_detected_at_full_size(size, multiplier):
    with torch.device("meta"):  # shapes only: no memory
        G = StyleGAN2Generator(size=size, style_dim=512, n_mlp=8, channel_base=16384 * multiplier, channel_max=512)
    config, _ = convert_stylegan2_state_dict(G.state_dict())
    assert config == {
        "size": size,
        "style_dim": 512,
        "n_mlp": 8,
        "channel_base": 16384 * multiplier,
        "channel_max": 512,
        "lr_mlp": 0.01,
    }


def _mangled(how: str) -> dict[str, torch.Tensor]:
    sd = _tiny_stylegan().state_dict()
    if how == "missing_key":
        del sd["convs.1.conv.modulation.weight"]
    elif how == "wrong_shape":
        sd["convs.1.conv.weight"] = torch.zeros(1, 16, 16, 1, 1)
    elif how == "odd_widths":  # 8 px ToRGB reads 5 channels: no channel_base gives that
        sd["to_rgbs.0.conv.weight"] = torch.zeros(1, 3, 5, 1, 1)
    elif how == "extra_key":
        sd["convs.9.conv.weight"] = torch.zeros(1)
    elif how == "not_stylegan":
        sd = {"encoder.weight": torch.zeros(2, 2)}
    elif how == "mlp_gap":
        sd["style.4.weight"] = sd["style.2.weight"]
    return sd


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("missing_key", "missing.*convs.1.conv.modulation.weight"),
        ("wrong_shape", "wrong shape.*convs.1.conv.weight"),
        ("odd_widths", "widths"),
        ("extra_key", "unexpected.*convs.9"),
        ("not_stylegan", "Not a StyleGAN2 generator"),
        ("mlp_gap", "numbered"),
    ],
)
def test_mangled_stylegan2_is_refused(tmp_path, how, match):
    p = tmp_path / "bad.pt"
    torch.save({"g_ema": _mangled(how)}, p)
    with pytest.raises(CheckpointFormatError, match=match):
        load_foreign_stylegan2(p)
    assert convert_main(["faces", str(p), str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_stylegan2_only_namespace_is_allowed(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    payload = _rosinality_checkpoint(_tiny_stylegan())
    payload["hook"] = _RunsCodeWhenUnpickled(str(marker))
    torch.save(payload, p)
    with pytest.raises(CheckpointFormatError, match="weights_only"):
        load_foreign_stylegan2(p)
    assert not marker.exists()
    with pytest.raises(ValueError, match="No checkpoint"):
        load_foreign_stylegan2(tmp_path / "missing.pt")
