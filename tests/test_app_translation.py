"""The hub's translation tab through its public API (``/translate``), as a gradio_client user sees it.

One hub server for the module (conftest's ``hub_url``), asked through the ``model`` input to use
tiny CycleGAN folders (conftest's ``translation_model_dir``: both directions, "real face" <->
"anime face", trained size 32 px; and a one-direction model made here): the bundled
``checkpoints/face2anime`` may not exist yet, and a real model would be slow on a CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from gan_models.hub import CHECKPOINTS_DIR, bundled_models
from tests.conftest import UNREADABLE_UPLOADS, build_space_without_loading


@pytest.fixture(scope="module")
def one_way_model(tmp_path_factory) -> str:
    """A CycleGANPipeline with only the B -> A generator (like junyanz's single-style releases)."""
    from gan_models import CycleGANPipeline, ResnetGenerator

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("one-way-translation")
    CycleGANPipeline(None, ResnetGenerator(ngf=4, n_blocks=1), "photo", "Monet", train_size=32).save_pretrained(folder)
    return str(folder)


@pytest.fixture
def face_png(tmp_path) -> Path:
    """An odd-sized picture (not a multiple of 4): the pipeline pads and crops back."""
    path = tmp_path / "face.png"
    Image.radial_gradient("L").resize((30, 26)).convert("RGB").save(path)
    return path


def translate(client: Client, path, direction, model, *sharpen):
    image = handle_file(str(path)) if path is not None else None
    return client.predict(image, direction, model, *sharpen, api_name="/translate")


def test_translate_endpoint_is_named_in_the_hub(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = [p["parameter_name"] for p in endpoints["/translate"]["parameters"]]
    assert params == ["image", "direction", "model", "sharpen"]
    assert {"/upscale", "/generate_faces"} <= set(endpoints)  # the other families are untouched


def test_standalone_space_builds_without_loading_a_model(monkeypatch):
    ui, public = build_space_without_loading("translate", monkeypatch)
    assert public == ["translate"]  # the direction refresh and the examples stay private
    assert Path(ui.EXAMPLES_DIR, "generated_face_seed101.png").is_file()


def test_space_builds_with_no_bundled_translation_model(monkeypatch):
    from app import load_family_ui

    ui = load_family_ui("translate")
    monkeypatch.setattr(ui, "BUNDLED_MODELS", [])
    demo = ui.build()
    model_box = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "translate-model")
    assert model_box.value is None or model_box.value == ""
    assert "No bundled model yet" in model_box.info


def test_only_cyclegan_folders_count_as_bundled(tmp_path):
    from app import load_family_ui

    ui = load_family_ui("translate")
    assert ui.bundled_translation_models(tmp_path / "missing") == []
    for name, cls in [("sr", "SuperResolutionPipeline"), ("f2a", "CycleGANPipeline"), ("faces", "FaceGANPipeline")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model_index.json").write_text(json.dumps({"_class_name": cls}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model_index.json").write_text("{not json")
    assert ui.bundled_translation_models(tmp_path) == ["f2a"]
    expected = [n for n in bundled_models() if "CycleGAN" in (CHECKPOINTS_DIR / n / "model_index.json").read_text()]
    assert ui.BUNDLED_MODELS == expected  # e.g. ["face2anime"] once it is trained, [] before


def test_direction_labels_come_from_the_model(translation_model_dir, one_way_model, tiny_model, monkeypatch):
    from app import load_family_ui

    ui = load_family_ui("translate")
    hub = {"someone/one-way": Path(one_way_model) / "model_index.json"}  # a Hub repo, faked at the download

    def fake_download(repo_id, filename):
        if repo_id not in hub:
            raise OSError(f"{repo_id} is not reachable")
        return str(hub[repo_id])

    monkeypatch.setattr(ui, "hf_hub_download", fake_download)
    both = ui._update_directions(translation_model_dir, "BtoA")
    assert both.choices == [("real face → anime face", "AtoB"), ("anime face → real face", "BtoA")]
    assert both.value == "BtoA"  # kept: the model has it
    one = ui._update_directions(one_way_model, "AtoB")
    assert one.choices == [("Monet → photo", "BtoA")] and one.value == "BtoA"
    assert ui._update_directions("someone/one-way", None).choices == [("Monet → photo", "BtoA")]
    for unreadable in ("someone/offline", "no such model", tiny_model):  # generic labels, the translate call explains
        assert ui._update_directions(unreadable, "BtoA").choices == [("A → B", "AtoB"), ("B → A", "BtoA")]


@pytest.mark.parametrize(
    "direction, translation", [("AtoB", "real face -> anime face"), ("BtoA", "anime face -> real face")]
)
def test_translate_keeps_the_size_and_labels_the_png(client, face_png, translation_model_dir, direction, translation):
    (before, after), png, status = translate(client, face_png, direction, translation_model_dir)

    assert Image.open(before).size == Image.open(after).size == (30, 26)
    with Image.open(png) as download:
        assert download.format == "PNG" and download.size == (30, 26) and download.mode == "RGB"
        assert download.text["ai_generated"] == "true"
        assert download.text["DigitalSourceType"] == "trainedAlgorithmicMedia"
        assert download.text["model"] == Path(translation_model_dir).name  # the folder name, never the full path
        assert download.text["direction"] == direction and download.text["translation"] == translation
    assert Path(png).name == f"face_{direction}.png"
    assert Image.open(after).text.get("ai_generated") == "true"  # the slider's PNG is labelled too
    arrow = translation.replace("->", "→")
    assert status == f"{arrow}, 30×26, model {Path(translation_model_dir).name}."


def test_both_directions_differ_and_each_is_deterministic(client, face_png, translation_model_dir):
    results = {}
    for direction in ("AtoB", "BtoA", "AtoB"):
        (_, after), _, _ = translate(client, face_png, direction, translation_model_dir)
        results.setdefault(direction, []).append(Image.open(after).tobytes())
    assert results["AtoB"][0] == results["AtoB"][1]
    assert results["AtoB"][0] != results["BtoA"][0]


def test_direction_is_case_insensitive_and_optional(client, face_png, translation_model_dir, one_way_model):
    _, png, _ = translate(client, face_png, "btoa", translation_model_dir)
    assert Image.open(png).text["direction"] == "BtoA"
    _, png, status = translate(client, face_png, None, one_way_model)  # empty: the model's only direction
    assert Image.open(png).text["direction"] == "BtoA" and status.startswith("Monet → photo")


def test_large_input_is_translated_at_the_trained_scale(client, tmp_path, translation_model_dir):
    big = tmp_path / "big.png"
    Image.radial_gradient("L").resize((100, 80)).convert("RGB").save(big)
    (before, after), png, status = translate(client, big, "AtoB", translation_model_dir)
    assert Image.open(before).size == Image.open(after).size == Image.open(png).size == (100, 80)
    assert "translated at 40x32 and resized back" in status  # shorter side at the trained 32 px
    assert Image.open(png).text["resolution"] == "native (40x32)"


@pytest.mark.skipif("superres-x4-gan" not in bundled_models(), reason="the bundled SR model is not installed")
def test_sharpen_brings_large_results_back_with_super_resolution(client, tmp_path, face_png, translation_model_dir):
    big = tmp_path / "big.png"
    Image.radial_gradient("L").resize((100, 80)).convert("RGB").save(big)
    (_, after), png, status = translate(client, big, "AtoB", translation_model_dir, True)
    assert Image.open(after).size == (100, 80)
    assert Image.open(png).text["upscaler"] == "superres-x4-gan"
    assert "resized back with superres-x4-gan" in status
    _, _, status = translate(client, face_png, "AtoB", translation_model_dir, True)
    assert "nothing to sharpen" in status  # 30x26 is under the trained size: translated as it is


def test_transparency_is_kept(client, tmp_path, translation_model_dir):
    path = tmp_path / "sticker.png"
    rgba = Image.new("RGBA", (20, 20), (200, 100, 50, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 10, 20))
    rgba.save(path)
    (_, after), png, _ = translate(client, path, "AtoB", translation_model_dir)
    assert Image.open(png).mode == "RGBA" == Image.open(after).mode
    assert Image.open(png).getpixel((2, 2))[3] == 0 and Image.open(png).getpixel((15, 2))[3] == 255


# --------------------------------------------------------------------------------------------
# bad requests: a gr.Error that says what to do, never a traceback
# --------------------------------------------------------------------------------------------


def test_missing_image_is_a_clear_error(client, translation_model_dir):
    with pytest.raises(AppError, match="Upload an image first"):
        translate(client, None, "AtoB", translation_model_dir)


@UNREADABLE_UPLOADS
def test_unreadable_upload_is_a_clear_error(client, tmp_path, translation_model_dir, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(AppError) as err:
        translate(client, bad, "AtoB", translation_model_dir)
    assert f"'bad.png' {message}" in str(err.value)
    assert "Upload a PNG, JPEG" in str(err.value)  # and says what to do


def test_oversized_image_is_a_clear_error(client, face_png, translation_model_dir, monkeypatch):
    monkeypatch.setenv("GAN_HUB_MAX_PIXELS", "100")  # read per request, so the running server sees it
    with pytest.raises(AppError, match=r"30x26 = 780 pixels, over the limit of 100 pixels"):
        translate(client, face_png, "AtoB", translation_model_dir)


def test_direction_the_model_lacks_is_a_clear_error(client, face_png, one_way_model):
    name = Path(one_way_model).name
    with pytest.raises(AppError, match=rf"The model {name} translates only Monet → photo \(BtoA\); it has no AtoB"):
        translate(client, face_png, "AtoB", one_way_model)


def test_unknown_direction_is_a_clear_error(client, face_png, translation_model_dir):
    with pytest.raises(AppError, match=r"direction must be AtoB \(real face → anime face\) or BtoA .*got 'sideways'"):
        translate(client, face_png, "sideways", translation_model_dir)


def test_unknown_model_is_a_clear_error(client, face_png):
    with pytest.raises(AppError, match=r"Unknown model 'no-such-model'.*Bundled models"):
        translate(client, face_png, "AtoB", "no-such-model")


def test_model_of_another_family_is_a_clear_error(client, face_png, tiny_model):
    with pytest.raises(AppError, match=r"does not hold a CycleGANPipeline.*Pick a model of this family"):
        translate(client, face_png, "AtoB", tiny_model)


def test_bad_sharpen_flag_is_a_clear_error(client, face_png, translation_model_dir):
    with pytest.raises(AppError, match=r"sharpen must be true or false, got 'very'"):
        translate(client, face_png, "AtoB", translation_model_dir, "very")


def test_empty_model_uses_the_default(client, face_png):
    # no model: the bundled face2anime, which is a clear error while it is not trained yet
    try:
        (_, after), _, _ = translate(client, face_png, "AtoB", "")
    except AppError as err:
        assert "face2anime" in str(err)
    else:
        assert Image.open(after).size == (30, 26)


def test_sharpen_without_the_sr_model_warns_and_resizes_plainly(tmp_path, translation_model_dir, monkeypatch):
    from app import load_family_ui

    ui = load_family_ui("translate")  # in-process: gr.Warning outside a request is a UserWarning
    monkeypatch.setattr(ui, "SHARPEN_MODEL", "no-such-sr-model")
    big = tmp_path / "big.png"
    Image.new("RGB", (100, 80), (10, 200, 30)).save(big)
    with pytest.warns(UserWarning, match="no-such-sr-model, which is not installed: resized plainly"):
        (_, after), png, status = ui.translate(str(big), "AtoB", translation_model_dir, True)
    assert after.size == (100, 80) and "upscaler" not in Image.open(png).text
    assert status.endswith(
        "⚠️ Sharpening needs the super-resolution model no-such-sr-model, which is not installed: resized plainly."
    )
