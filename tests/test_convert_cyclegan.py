"""Foreign CycleGAN generators (junyanz/pytorch-CycleGAN-and-pix2pix): every wrapper, both CLI forms, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import CheckpointFormatError, CycleGANPipeline, PatchDiscriminator, ResnetGenerator
from gan_models.convert import main as convert_main
from gan_models.converters import convert_cyclegan_state_dict, load_foreign_cyclegan


def _generator(seed: int = 0, ngf: int = 4, n_blocks: int = 2) -> ResnetGenerator:
    torch.manual_seed(seed)
    return ResnetGenerator(ngf=ngf, n_blocks=n_blocks).eval()


def _junyanz_state_dict(G: ResnetGenerator, old_pytorch: bool = True, data_parallel: bool = False) -> dict:
    """What junyanz's save_networks writes; with PyTorch 0.3, InstanceNorm running statistics too.

    (junyanz's __patch_instance_norm_state_dict deletes exactly these on load.)
    """
    sd = dict(G.state_dict())
    if old_pytorch:
        ngf, n_blocks = G.config.ngf, G.config.n_blocks
        norms = {2: ngf, 5: 2 * ngf, 8: 4 * ngf, 11 + n_blocks: 2 * ngf, 14 + n_blocks: ngf}
        norms |= {f"{i}.conv_block.{c}": 4 * ngf for i in range(10, 10 + n_blocks) for c in (2, 6)}
        for index, channels in norms.items():
            sd[f"model.{index}.running_mean"] = torch.zeros(channels)
            sd[f"model.{index}.running_var"] = torch.ones(channels)
            sd[f"model.{index}.num_batches_tracked"] = torch.tensor(0)
    if data_parallel:
        sd = {f"module.{k}": v for k, v in sd.items()}
    return sd


def _image(size=(37, 29), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _translate_by_hand(G: ResnetGenerator, img: Image.Image) -> np.ndarray:
    """The original generator on a size that needs no padding, quantised like the pipeline."""
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = G.float()(x * 2 - 1).add(1).div(2)
    return y[0].clamp(0, 1).mul(255).round().permute(1, 2, 0).numpy().astype(np.int16)


# --- what is accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["plain", "old_pytorch", "data_parallel", "state_dict_wrapper", "safetensors"])
def test_junyanz_files_load_exactly(tmp_path, style):
    G = _generator()
    if style == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / "G_A.safetensors"
        save_file(G.state_dict(), str(path))
    else:
        payload = {
            "plain": _junyanz_state_dict(G, old_pytorch=False),
            "old_pytorch": _junyanz_state_dict(G),
            "data_parallel": _junyanz_state_dict(G, data_parallel=True),
            "state_dict_wrapper": {"state_dict": _junyanz_state_dict(G), "epoch": 200},
        }[style]
        path = tmp_path / "latest_net_G_A.pth"
        torch.save(payload, path)
    loaded = load_foreign_cyclegan(path)
    assert loaded.dtype == torch.float32 and not loaded.training
    assert {k: v for k, v in loaded.config.items() if not k.startswith("_")} == {
        "in_channels": 3,
        "out_channels": 3,
        "ngf": 4,
        "n_blocks": 2,
    }
    for key, value in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.parametrize(("ngf", "n_blocks", "in_ch", "out_ch"), [(64, 9, 3, 3), (64, 6, 3, 3), (32, 0, 1, 3)])
def test_hyperparameters_detected_at_full_size(ngf, n_blocks, in_ch, out_ch):
    with torch.device("meta"):  # shapes only
        G = ResnetGenerator(in_channels=in_ch, out_channels=out_ch, ngf=ngf, n_blocks=n_blocks)
    config, sd = convert_cyclegan_state_dict(_junyanz_state_dict(G))
    assert config == {"in_channels": in_ch, "out_channels": out_ch, "ngf": ngf, "n_blocks": n_blocks}
    assert set(sd) == set(G.state_dict())  # the running statistics are gone


def test_cli_both_directions(tmp_path, capsys):
    G_A, G_B = _generator(1), _generator(2)
    torch.save(_junyanz_state_dict(G_A), tmp_path / "latest_net_G_A.pth")
    torch.save(_junyanz_state_dict(G_B, data_parallel=True), tmp_path / "latest_net_G_B.pth")
    out = tmp_path / "horse2zebra"
    argv = ["cyclegan", str(tmp_path / "latest_net_G_A.pth"), str(tmp_path / "latest_net_G_B.pth"), str(out)]
    argv += ["--domain-a", "horse", "--domain-b", "zebra", "--train-size", "128"]
    assert convert_main(argv) == 0
    assert "wrote" in capsys.readouterr().out

    pipe = CycleGANPipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    assert (pipe.domain_a, pipe.domain_b, pipe.train_size, pipe.directions) == ("horse", "zebra", 128, ("AtoB", "BtoA"))
    img = _image((36, 28))  # a multiple of 4 under train_size: the generators see it untouched
    assert np.array_equal(np.asarray(pipe(img, "AtoB").images[0], dtype=np.int16), _translate_by_hand(G_A, img))
    assert np.array_equal(np.asarray(pipe(img, "BtoA").images[0], dtype=np.int16), _translate_by_hand(G_B, img))

    # the card: the translation family's tag, snippet and both files' provenance
    readme = (out / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in readme and "- cyclegan" in readme and "- converted" in readme
    assert "CycleGANPipeline.from_pretrained" in readme and "super-resolution" not in readme
    assert "latest_net_G_A.pth" in readme and "latest_net_G_B.pth" in readme and readme.count("sha256") >= 2
    assert "horse <-> zebra" in readme
    assert not list(out.rglob("*.pth")) and not list(out.rglob("*.bin"))


def test_cli_one_direction_fp16(tmp_path):
    G = _generator(3)
    src = tmp_path / "latest_net_G.pth"  # junyanz's single-generator releases (style_monet, ...)
    torch.save(_junyanz_state_dict(G), src)
    out = tmp_path / "style-monet"
    assert convert_main(["cyclegan", str(src), str(out), "--domain-a", "photo", "--domain-b", "Monet", "--fp16"]) == 0

    index = json.loads((out / "model_index.json").read_text())
    assert index["b_to_a"] == [None, None] and not (out / "b_to_a").exists()
    tensors = load_file(out / "a_to_b" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}

    pipe = CycleGANPipeline.from_pretrained(out, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.directions == ("AtoB",) and pipe.train_size == 256
    img = _image((40, 32))
    diff = np.abs(np.asarray(pipe(img).images[0], dtype=np.int16) - _translate_by_hand(G, img))
    assert diff.max() <= 3  # fp16 weights: close, not equal
    assert "photo -> Monet" in (out / "README.md").read_text()


# --- what is refused --------------------------------------------------------------------------------


def _mangled(how: str) -> dict[str, torch.Tensor]:
    G = _generator()
    sd = _junyanz_state_dict(G)
    if how == "unet":  # junyanz UnetGenerator: nested UnetSkipConnectionBlocks
        sd = {"model.model.0.weight": torch.zeros(4, 3, 4, 4), "model.model.1.model.2.weight": torch.zeros(8, 4, 4, 4)}
    elif how == "discriminator":
        sd = PatchDiscriminator(ndf=4).state_dict()
    elif how == "pixel_discriminator":
        sd = {"net.0.weight": torch.zeros(4, 3, 1, 1), "net.2.weight": torch.zeros(8, 4, 1, 1)}
    elif how == "batch_norm":
        sd["model.2.weight"], sd["model.2.bias"] = torch.ones(4), torch.zeros(4)
    elif how == "dropout":  # --use_dropout: conv_block 0 pad, 1 conv, 2 norm, 3 relu, 4 dropout, 5 pad, 6 conv
        for i in (10, 11):
            sd[f"model.{i}.conv_block.6.weight"] = sd.pop(f"model.{i}.conv_block.5.weight")
            sd[f"model.{i}.conv_block.6.bias"] = sd.pop(f"model.{i}.conv_block.5.bias")
    elif how == "wrong_shape":
        sd["model.11.conv_block.5.weight"] = torch.zeros(16, 16, 1, 1)
    elif how == "missing_key":
        del sd["model.15.bias"]  # the second ConvTranspose (n_blocks=2)
    elif how == "extra_key":
        sd["model.30.weight"] = torch.zeros(1)
    elif how == "block_gap":
        sd = {k.replace("model.11.", "model.12."): v for k, v in sd.items()}
    elif how == "not_cyclegan":
        sd = {"encoder.weight": torch.zeros(2, 2)}
    return sd


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("unet", "U-Net generator"),
        ("discriminator", "discriminator.*latest_net_G_A.pth"),
        ("pixel_discriminator", "discriminator"),
        ("batch_norm", "--norm batch"),
        ("dropout", "--use_dropout"),
        ("wrong_shape", r"wrong shape.*model\.11\.conv_block\.5\.weight"),
        ("missing_key", r"missing.*model\.15\.bias"),
        ("extra_key", r"unexpected.*model\.30\.weight"),
        ("block_gap", "model.10, model.11"),
        ("not_cyclegan", "Not a CycleGAN ResNet generator"),
    ],
)
def test_other_layouts_are_refused(tmp_path, how, match):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_mangled(how), path)
    with pytest.raises(CheckpointFormatError, match=match) as err:
        load_foreign_cyclegan(path)
    assert "resnet_9blocks" in str(err.value)  # says what is supported
    assert convert_main(["cyclegan", str(path), str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_bad_second_file_writes_nothing(tmp_path, capsys):
    good, bad = tmp_path / "G_A.pth", tmp_path / "G_B.pth"
    torch.save(_junyanz_state_dict(_generator()), good)
    torch.save(PatchDiscriminator(ndf=4).state_dict(), bad)
    assert convert_main(["cyclegan", str(good), str(bad), str(tmp_path / "out")]) == 2
    assert "discriminator" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickled_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({**_junyanz_state_dict(_generator()), "hook": _RunsCodeWhenUnpickled(str(marker))}, path)
    with pytest.raises(CheckpointFormatError, match="weights_only"):
        load_foreign_cyclegan(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["cyclegan", "only_one_path"], "2 or 3 paths"),
        (["cyclegan", "a.pth", "b.pth", "c.pth", "out"], "2 or 3 paths"),
        (["cyclegan", "missing.pth", "out"], "No checkpoint file"),
    ],
)
def test_cli_argument_errors(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    assert convert_main(argv) == 2
    assert match in capsys.readouterr().err


def test_cli_checks_names_and_train_size(tmp_path, capsys):
    src = tmp_path / "G.pth"
    torch.save(_generator().state_dict(), src)
    assert convert_main(["cyclegan", str(src), str(tmp_path / "out"), "--train-size", "4"]) == 2
    assert "train_size" in capsys.readouterr().err
    assert convert_main(["cyclegan", str(src), str(tmp_path / "out"), "--domain-a", " "]) == 2
    assert "domain_a" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
