"""CycleGANPipeline: any size back at its own size, modes, working scale, upscaler, save/load (fp16), checks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

from gan_models import (
    CycleGANPipeline,
    CycleGANPipelineOutput,
    GanModelsError,
    ImageTooLargeError,
    InferenceOutOfMemoryError,
    InvalidImageError,
    ResnetGenerator,
    SuperResolutionPipeline,
)
from gan_models.cards import write_model_card
from gan_models.pipelines.translation import MIN_WORK_SIDE
from tests.conftest import pixels

TRAIN_SIZE = 32


def _generators(seed: int = 0, **kw) -> tuple[ResnetGenerator, ResnetGenerator]:
    torch.manual_seed(seed)
    return ResnetGenerator(ngf=4, n_blocks=1, **kw), ResnetGenerator(ngf=4, n_blocks=1, **kw)


def _make(seed: int = 0, one_way: bool = False) -> CycleGANPipeline:
    a_to_b, b_to_a = _generators(seed)
    pipe = CycleGANPipeline(a_to_b, None if one_way else b_to_a, "photo", "painting", train_size=TRAIN_SIZE)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _input(size=(37, 25), seed=0, mode="RGB") -> Image.Image:
    """Smooth colours plus noise: something for the tiny nets to change."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / 5.0), np.cos(yy / 7.0), np.sin((xx + yy) / 9.0)], -1) * 100 + 128
    arr = (base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    if mode == "RGBA":
        img.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
    elif mode != "RGB":
        img = img.convert(mode)
    return img


def _direct(generator: ResnetGenerator, img: Image.Image) -> np.ndarray:
    """The generator applied by hand (uint8 RGB in, uint8 out), for sizes that need no padding."""
    x = torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = generator.float()(x * 2 - 1).add(1).div(2)
    return y[0].clamp(0, 1).mul(255).round().permute(1, 2, 0).numpy().astype(np.int16)


@pytest.fixture(scope="module")
def pipe() -> CycleGANPipeline:
    return _make()


# --- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [(37, 251), (251, 37), (1, 1), (3, 2), (1, 40), (15, 15), (16, 16), (33, 7), (32, 32), (64, 20)]
)
@pytest.mark.parametrize("resolution", ["native", "input"])
def test_any_size_comes_back_at_its_own_size(pipe, size, resolution):
    out = pipe(_input(size), resolution=resolution).images[0]
    assert out.size == size and out.mode == "RGB"


def test_the_network_runs_unpadded_when_the_size_allows(pipe):
    """36x20 is a multiple of 4 and above MIN_WORK_SIDE, under train_size: exactly the generator's output."""
    img = _input((36, 20))
    assert np.array_equal(pixels(pipe(img).images[0]), _direct(pipe.a_to_b, img))
    assert np.array_equal(pixels(pipe(img, "BtoA").images[0]), _direct(pipe.b_to_a, img))
    assert not np.array_equal(_direct(pipe.a_to_b, img), _direct(pipe.b_to_a, img))


def test_padding_is_reflection_and_cropped_off(pipe):
    img = _input((37, 25))
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    padded = F.pad(x, (0, 3, 0, 3), mode="reflect")  # 37x25 -> 40x28
    with torch.no_grad():
        y = pipe.a_to_b(padded * 2 - 1).add(1).div(2)[:, :, :25, :37]
    expected = y[0].clamp(0, 1).mul(255).round().permute(1, 2, 0).numpy().astype(np.int16)
    assert np.array_equal(pixels(pipe(img, resolution="input").images[0]), expected)


def test_tiny_images_are_padded_up_to_min_work_side(pipe):
    # a 1x1 image cannot go through two stride-2 convs and a residual block's reflection pad as it is
    assert MIN_WORK_SIDE >= 8
    out = pipe(Image.new("RGB", (1, 1), (200, 30, 60))).images[0]
    assert out.size == (1, 1)
    # a flat 1x1 input becomes a flat MIN_WORK_SIDE square: the same pixel as translating that square
    square = pipe(Image.new("RGB", (MIN_WORK_SIDE, MIN_WORK_SIDE), (200, 30, 60))).images[0]
    assert out.getpixel((0, 0)) == square.getpixel((0, 0))


# --- modes ---------------------------------------------------------------------------------------


def test_alpha_is_kept_exactly_and_colour_comes_back(pipe):
    rgba = _input((21, 13), mode="RGBA")
    out = pipe(rgba).images[0]
    assert out.mode == "RGBA" and out.size == rgba.size
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(rgba.getchannel("A")))
    assert np.array_equal(pixels(out.convert("RGB")), pixels(pipe(rgba.convert("RGB")).images[0]))


@pytest.mark.parametrize(("mode", "expected"), [("L", "RGB"), ("LA", "RGBA"), ("P", "RGB"), ("CMYK", "RGB")])
def test_other_modes(pipe, mode, expected):
    img = _input((19, 17), mode=mode if mode != "LA" else "RGBA")
    if mode == "LA":
        img = img.convert("LA")
    out = pipe(img).images[0]
    # gray inputs come back in colour: the target domain may have colour (a gray photo -> a painting)
    assert out.mode == expected and out.size == (19, 17)
    if mode == "LA":
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(img.getchannel("A")))


def test_one_channel_models_take_and_give_gray():
    torch.manual_seed(0)
    G = ResnetGenerator(in_channels=1, out_channels=1, ngf=4, n_blocks=1)
    pipe = CycleGANPipeline(G, None, train_size=TRAIN_SIZE)
    pipe.set_progress_bar_config(disable=True)
    assert pipe(_input((20, 20))).images[0].mode == "L"
    assert pipe(_input((20, 20), mode="RGBA")).images[0].mode == "LA"


# --- working scale -------------------------------------------------------------------------------


def test_large_images_are_translated_at_the_training_scale(pipe):
    img = _input((200, 90))
    out = pipe(img).images[0]
    assert out.size == (200, 90)
    assert out.info["resolution"] == "native (71x32)"  # shorter side at train_size, aspect kept
    # exactly: shrink with Lanczos, translate, Lanczos back
    small = pipe(img.resize((71, 32), Image.Resampling.LANCZOS)).images[0]
    assert np.array_equal(pixels(out), pixels(small.resize((200, 90), Image.Resampling.LANCZOS)))
    full = pipe(img, resolution="input").images[0]
    assert full.size == (200, 90) and full.info["resolution"] == "input"
    assert not np.array_equal(pixels(full), pixels(out))


def test_small_images_are_never_enlarged(pipe):
    img = _input((30, 20))
    native, full = pipe(img).images[0], pipe(img, resolution="input").images[0]
    assert np.array_equal(pixels(native), pixels(full)) and native.info["resolution"] == "native"


def test_work_pixel_cap(pipe):
    img = _input((120, 100))
    with pytest.raises(ImageTooLargeError, match="resolution='native'") as err:
        pipe(img, resolution="input", max_work_pixels=5000)
    assert (err.value.width, err.value.height, err.value.max_pixels) == (120, 100, 5000)
    assert pipe(img, max_work_pixels=5000).images[0].size == (120, 100)  # 38x32 at the native scale
    with pytest.raises(ImageTooLargeError, match="long and thin"):  # a panorama is big even when shrunk
        pipe(_input((2000, 40)), max_work_pixels=5000)
    with pytest.raises(ImageTooLargeError):  # the input cap, before decoding
        pipe(_input((120, 100)), max_pixels=1000)


def test_upscaler_brings_shrunk_results_back(pipe, tiny_model):
    sr = SuperResolutionPipeline.from_pretrained(tiny_model)  # conftest: a toy x4 SRVGGNetCompact
    sr.set_progress_bar_config(disable=True)
    img = _input((150, 70))
    out = pipe(img, upscaler=sr).images[0]
    plain = pipe(img).images[0]
    assert out.size == plain.size == (150, 70)
    assert not np.array_equal(pixels(out), pixels(plain))
    assert out.info["upscaler"] == Path(tiny_model).name and "upscaler" not in plain.info
    # exactly: translate at 69x32, x4 with the SR pipeline (276x128), Lanczos to the input size
    small = pipe(img.resize((69, 32), Image.Resampling.LANCZOS)).images[0]
    expected = sr(small).images[0].resize((150, 70), Image.Resampling.LANCZOS)
    assert np.array_equal(pixels(out), pixels(expected))
    # nothing shrunk: nothing to upscale
    small_img = _input((30, 20))
    assert np.array_equal(pixels(pipe(small_img, upscaler=sr).images[0]), pixels(pipe(small_img).images[0]))
    with pytest.raises(GanModelsError, match="resolution='native'"):
        pipe(img, resolution="input", upscaler=sr)
    with pytest.raises(GanModelsError, match="SuperResolutionPipeline"):
        pipe(img, upscaler=pipe)


# --- inputs and outputs --------------------------------------------------------------------------


def test_list_input_matches_single_calls_and_accepts_every_source(pipe, tmp_path):
    a, b = _input(seed=1), _input((20, 18), seed=2)
    path = tmp_path / "b.png"
    b.save(path)
    data = path.read_bytes()
    out = pipe([a, str(path), path, data, io.BytesIO(data), np.asarray(b)])
    assert isinstance(out, CycleGANPipelineOutput) and len(out.images) == 6
    assert [im.size for im in out.images] == [(37, 25)] + [(20, 18)] * 5
    assert np.array_equal(pixels(out.images[0]), pixels(pipe(a).images[0]))
    for im in out.images[2:]:
        assert np.array_equal(pixels(im), pixels(out.images[1]))


def test_deterministic(pipe):
    img = _input((50, 41))
    assert np.array_equal(pixels(pipe(img).images[0]), pixels(pipe(img).images[0]))
    assert np.array_equal(pixels(pipe(img).images[0]), pixels(_make()(img).images[0]))  # same seed, same weights


def test_output_types_and_tuple_return(pipe):
    (images,) = pipe(_input(), output_type="np", return_dict=False)
    assert images[0].shape == (25, 37, 3) and images[0].dtype == np.float32 and images[0].max() <= 1
    t = pipe(_input(mode="RGBA"), output_type="pt").images[0]
    assert t.shape == (4, 25, 37)


def test_outputs_are_labelled(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "my-cyclegan")
    loaded = CycleGANPipeline.from_pretrained(tmp_path / "my-cyclegan")
    loaded.set_progress_bar_config(disable=True)
    info = loaded(_input(), direction="BtoA").images[0].info
    assert info["ai_generated"] == "true" and info["DigitalSourceType"] == "trainedAlgorithmicMedia"
    assert info["model"] == "my-cyclegan"  # the folder name, never the full local path
    assert info["direction"] == "BtoA" and info["translation"] == "painting -> photo"


# --- save / load ---------------------------------------------------------------------------------


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == "CycleGANPipeline"
    assert index["a_to_b"] == index["b_to_a"] == ["gan_models.translation", "ResnetGenerator"]
    assert (index["domain_a"], index["domain_b"], index["train_size"]) == ("photo", "painting", TRAIN_SIZE)
    assert (tmp_path / "b_to_a" / "diffusion_pytorch_model.safetensors").is_file()

    loaded = CycleGANPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert (loaded.domain_a, loaded.domain_b, loaded.train_size) == ("photo", "painting", TRAIN_SIZE)
    assert loaded.directions == ("AtoB", "BtoA") and loaded.domains("BtoA") == ("painting", "photo")
    for img in (_input(), _input((90, 70), mode="RGBA")):
        for direction in ("AtoB", "BtoA"):
            assert np.array_equal(pixels(pipe(img, direction).images[0]), pixels(loaded(img, direction).images[0]))


def test_fp16_on_disk_close_after_reload(tmp_path):
    pipe = _make()
    img = _input((40, 36))
    reference = {d: pixels(pipe(img, d).images[0]) for d in ("AtoB", "BtoA")}
    pipe.a_to_b.half()
    pipe.b_to_a.half()
    pipe.save_pretrained(tmp_path)
    for sub in ("a_to_b", "b_to_a"):
        tensors = load_file(tmp_path / sub / "diffusion_pytorch_model.safetensors")
        assert {t.dtype for t in tensors.values()} == {torch.float16}
    for kwargs in ({}, {"dtype": torch.float32}, {"dtype": torch.float16}):
        loaded = CycleGANPipeline.from_pretrained(tmp_path, **kwargs)
        loaded.set_progress_bar_config(disable=True)
        for direction, ref in reference.items():
            # only the fp16 rounding of the weights differs (the CPU computes in float32 either way)
            assert np.abs(pixels(loaded(img, direction).images[0]) - ref).max() <= 3


def test_half_pipeline_on_cpu_computes_in_fp32():
    pipe = _make()
    img = _input()
    reference = pixels(pipe(img).images[0])
    pipe.a_to_b.half()  # .half(): no diffusers dtype warning
    out = pixels(pipe(img).images[0])
    assert pipe.a_to_b.dtype == torch.float16  # the user's module is left as it was
    assert np.abs(out - reference).max() <= 3
    # the float32 copy follows weight changes (the last conv: instance norm would undo a bias earlier)
    with torch.no_grad():
        pipe.a_to_b.model[-2].bias.add_(0.5)
    assert not np.array_equal(pixels(pipe(img).images[0]), out)


def test_fixture_model_loads(translation_model_dir):
    loaded = CycleGANPipeline.from_pretrained(translation_model_dir)
    loaded.set_progress_bar_config(disable=True)
    assert (loaded.domain_a, loaded.domain_b, loaded.train_size) == ("real face", "anime face", 32)
    assert loaded.directions == ("AtoB", "BtoA")
    assert loaded(_input((70, 50)), "BtoA").images[0].size == (70, 50)


def test_single_direction_pipeline(tmp_path):
    pipe = _make(one_way=True)
    assert pipe.directions == ("AtoB",)
    pipe.save_pretrained(tmp_path)
    assert not (tmp_path / "b_to_a").exists()
    assert json.loads((tmp_path / "model_index.json").read_text())["b_to_a"] == [None, None]
    loaded = CycleGANPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.b_to_a is None and loaded.directions == ("AtoB",)
    img = _input()
    assert np.array_equal(pixels(loaded(img).images[0]), pixels(pipe(img).images[0]))
    with pytest.raises(GanModelsError, match=r"no BtoA generator \(painting -> photo\).*'AtoB' only"):
        loaded(img, direction="BtoA")
    # the other way round: only B -> A
    b_only = CycleGANPipeline(None, _generators()[1], train_size=TRAIN_SIZE)
    assert b_only.directions == ("BtoA",)
    with pytest.raises(GanModelsError, match="'BtoA' only"):
        b_only(img)


def test_push_to_hub_uploads_the_saved_pipeline(pipe, monkeypatch):
    """diffusers' push_to_hub, network faked: what would be uploaded loads back as the same pipeline."""
    from diffusers.utils import hub_utils
    from huggingface_hub import ModelCard

    class Repo:
        repo_id = "me/tiny-cyclegan"

    uploaded = {}

    def fake_upload(self, folder, repo_id, **kw):
        uploaded["files"] = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
        uploaded["pipe"] = CycleGANPipeline.from_pretrained(folder)
        return "commit-info"

    monkeypatch.setattr(hub_utils, "create_repo", lambda repo_id, **kw: Repo())
    monkeypatch.setattr(hub_utils, "load_or_create_model_card", lambda *a, **kw: ModelCard("---\n---\n"))
    monkeypatch.setattr(CycleGANPipeline, "_upload_folder", fake_upload)
    assert pipe.push_to_hub("me/tiny-cyclegan") == "commit-info"
    assert "model_index.json" in uploaded["files"]
    assert {"a_to_b/diffusion_pytorch_model.safetensors", "b_to_a/diffusion_pytorch_model.safetensors"} <= set(
        uploaded["files"]
    )
    assert not any(f.endswith((".bin", ".pt", ".pth")) for f in uploaded["files"])
    assert uploaded["pipe"].domain_b == "painting"


def test_model_card_family(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    text = write_model_card(
        tmp_path, title="t", datasets=[], license="mit", metrics={}, protocol="-", training="-"
    ).read_text()
    assert "pipeline_tag: image-to-image" in text and "- cyclegan" in text and "- unpaired-image-to-image" in text
    assert 'direction="AtoB"' in text and "CycleGANPipeline.from_pretrained" in text
    assert "super-resolution" not in text


# --- checks at the door --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"direction": "AtoC"}, GanModelsError, r"direction must be one of \('AtoB', 'BtoA'\)"),
        ({"direction": "A->B"}, GanModelsError, "AtoB"),
        ({"direction": None}, GanModelsError, "direction"),
        ({"resolution": "full"}, GanModelsError, r"resolution must be one of \('native', 'input'\)"),
        ({"output_type": "latent"}, GanModelsError, "output_type"),
        ({"max_work_pixels": 0}, GanModelsError, "max_work_pixels"),
        ({"max_work_pixels": True}, GanModelsError, "max_work_pixels"),
    ],
)
def test_bad_arguments(pipe, kwargs, error, match):
    with pytest.raises(error, match=match):
        pipe(_input(), **kwargs)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (b"not an image at all", "not a readable image"),
        (b"", "empty"),
        ("/no/such/file.png", "No image file"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "must be"),
        (12, "Cannot read"),
    ],
)
def test_bad_images(pipe, image, match):
    with pytest.raises(InvalidImageError, match=match):
        pipe(image)


def test_truncated_png_and_empty_list(pipe):
    buf = io.BytesIO()
    _input((64, 64)).save(buf, "PNG")
    with pytest.raises(InvalidImageError):
        pipe(buf.getvalue()[:200])
    with pytest.raises(GanModelsError, match="empty list"):
        pipe([])


def test_all_images_checked_before_any_work(pipe, monkeypatch):
    calls = []
    monkeypatch.setattr(CycleGANPipeline, "_translate", lambda self, *a: calls.append(a))
    with pytest.raises(InvalidImageError):
        pipe([_input(), b"corrupt"])
    with pytest.raises(ImageTooLargeError):
        pipe([_input(), _input((300, 300))], resolution="input", max_work_pixels=10_000)
    assert calls == []


def test_out_of_memory_is_typed(monkeypatch):
    pipe = _make()

    def oom(x):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.a_to_b, "forward", oom)
    with pytest.raises(InferenceOutOfMemoryError, match="resolution='native'") as err:
        pipe(_input())
    assert isinstance(err.value, RuntimeError)  # what torch raises, for callers catching that
    assert pipe(_input(), direction="BtoA").images[0].size == (37, 25)  # the other generator still works


def test_constructor_checks():
    a, b = _generators()
    with pytest.raises(GanModelsError, match="at least one generator"):
        CycleGANPipeline(None, None)
    with pytest.raises(TypeError, match="ResnetGenerator"):
        CycleGANPipeline(torch.nn.Conv2d(3, 3, 1), b)
    with pytest.raises(GanModelsError, match="train_size"):
        CycleGANPipeline(a, b, train_size=4)
    with pytest.raises(GanModelsError, match="train_size"):
        CycleGANPipeline(a, b, train_size=256.0)
    with pytest.raises(GanModelsError, match="domain_b"):
        CycleGANPipeline(a, b, domain_b="  ")
    with pytest.raises(GanModelsError, match="1 or 3 channels"):
        CycleGANPipeline(ResnetGenerator(in_channels=4, ngf=4, n_blocks=0), None)
