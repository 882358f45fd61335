"""The hub's super-resolution tab through its public API (``/upscale``), as a gradio_client user sees it.

One server for the module, serving a tiny random SR model saved in a tmp folder (the bundled
checkpoints may not exist yet, and a real model would be slow on a CPU).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import UNREADABLE_UPLOADS, build_space_without_loading


@pytest.fixture
def small_png(tmp_path) -> Path:
    path = tmp_path / "small.png"
    Image.radial_gradient("L").resize((12, 10)).convert("RGB").save(path)
    return path


def upscale(client: Client, path: Path, outscale: float, model: str):
    return client.predict(handle_file(str(path)), outscale, model, api_name="/upscale")


def test_upscale_endpoint_is_named_in_the_hub(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/upscale" in endpoints
    params = [p["parameter_name"] for p in endpoints["/upscale"]["parameters"]]
    assert params == ["image", "outscale", "model"]


def test_standalone_space_has_the_same_endpoint(monkeypatch):
    _, public = build_space_without_loading("superres", monkeypatch)
    assert public == ["upscale"]  # the examples' load_example event is undocumented


def test_upscale_returns_4x_image_and_labelled_png(client, small_png, tiny_model):
    (before, after), png = upscale(client, small_png, 4, tiny_model)

    assert Image.open(before).size == (12, 10)
    assert Image.open(after).size == (48, 40)
    with Image.open(png) as download:
        assert download.format == "PNG" and download.size == (48, 40)
        assert download.text["ai_generated"] == "true"
        assert download.text["DigitalSourceType"] == "trainedAlgorithmicMedia"
        assert download.text["model"] == Path(tiny_model).name  # the folder name, never the full path
        assert download.text["outscale"] == "4"
    # the slider's own PNG is labelled too (format="png" keeps PIL's text chunks)
    assert Image.open(after).text.get("ai_generated") == "true"


def test_outscale_sets_output_size(client, small_png, tiny_model):
    (_, after), png = upscale(client, small_png, 2.5, tiny_model)
    assert Image.open(after).size == (30, 25)
    assert Path(png).name == "small_x2.5.png"


def _palette_with_transparency() -> Image.Image:
    img = Image.new("P", (12, 10), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (0, 0, 6, 10))
    img.info["transparency"] = 0
    return img


@pytest.mark.parametrize(
    "make, fmt, mode",
    [
        (lambda: Image.new("CMYK", (12, 10), (0, 128, 255, 0)), "JPEG", "RGB"),
        (lambda: Image.linear_gradient("L").resize((12, 10)).convert("I;16"), "PNG", "L"),
        (_palette_with_transparency, "PNG", "RGBA"),
    ],
    ids=["cmyk-jpeg", "16-bit-gray-png", "palette-with-transparency"],
)
def test_unusual_modes_upscale(client, tmp_path, tiny_model, make, fmt, mode):
    path = tmp_path / f"input.{fmt.lower()}"
    make().save(path, fmt)
    (before, after), png = upscale(client, path, 4, tiny_model)
    assert Image.open(after).size == (48, 40)
    assert Image.open(png).mode == mode == Image.open(after).mode
    assert Image.open(before).size == (12, 10)


@pytest.mark.parametrize("outscale", [0.5, 8, "big"])
def test_outscale_out_of_range_is_a_clear_error(client, small_png, tiny_model, outscale):
    with pytest.raises(AppError, match=r"outscale must be a number from 1 to 4"):
        upscale(client, small_png, outscale, tiny_model)


@UNREADABLE_UPLOADS
def test_unreadable_upload_is_a_clear_error(client, tmp_path, tiny_model, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(AppError) as err:
        upscale(client, bad, 4, tiny_model)
    assert f"'bad.png' {message}" in str(err.value)
    assert "Upload a PNG, JPEG" in str(err.value)  # and says what to do


def test_oversized_image_is_a_clear_error(client, small_png, tiny_model, monkeypatch):
    monkeypatch.setenv("GAN_HUB_MAX_PIXELS", "100")  # read per request, so the running server sees it
    with pytest.raises(AppError, match=r"12x10 = 120 pixels, over the limit of 100 pixels"):
        upscale(client, small_png, 4, tiny_model)


def test_unknown_model_is_a_clear_error(client, small_png):
    with pytest.raises(AppError, match=r"Unknown model 'no-such-model'.*Bundled models"):
        upscale(client, small_png, 4, "no-such-model")


def test_missing_image_is_a_clear_error(client, tiny_model):
    with pytest.raises(AppError, match="Upload an image first"):
        client.predict(None, 4, tiny_model, api_name="/upscale")


# --------------------------------------------------------------------------------------------
# gan_models.serving: what the Space relies on
# --------------------------------------------------------------------------------------------


def test_gpu_is_spaces_gpu_only_when_the_real_package_is_there(monkeypatch):
    import types

    from gan_models import serving

    def double(x):
        return 2 * x

    # our repo's spaces/ folder imports as a namespace package without GPU: no decoration
    monkeypatch.setitem(sys.modules, "spaces", types.ModuleType("spaces"))
    assert serving.gpu(double) is double

    zero_gpu = types.ModuleType("spaces")
    zero_gpu.GPU = lambda fn: ("on-gpu", fn)
    monkeypatch.setitem(sys.modules, "spaces", zero_gpu)
    assert serving.gpu(double) == ("on-gpu", double)


def test_default_max_pixels_reads_the_environment(monkeypatch):
    from gan_models.serving import default_max_pixels

    monkeypatch.setenv("GAN_HUB_MAX_PIXELS", "1_000_000")
    assert default_max_pixels() == 1_000_000
    monkeypatch.setenv("GAN_HUB_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="GAN_HUB_MAX_PIXELS must be a positive integer"):
        default_max_pixels()
    monkeypatch.delenv("GAN_HUB_MAX_PIXELS")
    assert default_max_pixels() == (16_000_000 if torch.cuda.is_available() else 4_000_000)


def test_load_pipeline_is_cached_and_unknown_names_are_value_errors(tiny_model):
    from gan_models.serving import load_pipeline

    assert load_pipeline(tiny_model) is load_pipeline(tiny_model + "/")  # one copy per resolved folder
    with pytest.raises(ValueError, match="Unknown model"):
        load_pipeline("no-such-model")
