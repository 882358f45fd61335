"""The hub's faces tab through its public API, as a gradio_client user sees it.

One hub server for the module (conftest's ``hub_url``), asked to use the tiny 16 px face model
(``faces_model_dir``) through each endpoint's ``model`` input: the bundled checkpoint may not
exist yet, and a real model would be slow on a CPU.
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

from tests.conftest import build_space_without_loading

SIZE = 16  # the tiny model's resolution


def generate(client: Client, seed, num_images, truncation, model):
    return client.predict(seed, num_images, truncation, model, api_name="/generate_faces")


def gallery_files(gallery) -> list[Path]:
    return [Path(item["image"]) for item in gallery]


def test_faces_endpoints_are_named_in_the_hub(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = {name: [p["parameter_name"] for p in endpoints[name]["parameters"]] for name in endpoints}
    assert params["/generate_faces"] == ["seed", "num_images", "truncation", "model"]
    assert params["/interpolate_faces"] == ["seed_a", "seed_b", "num_frames", "truncation", "model"]
    assert params["/style_mix_faces"] == ["row_seeds", "col_seeds", "level", "truncation", "model"]
    assert "/upscale" in endpoints  # the other family's endpoint is untouched
    # every input has a default, so the brief's three-argument call works too
    assert all(p["parameter_has_default"] for p in endpoints["/generate_faces"]["parameters"])


def test_standalone_space_builds_without_loading_a_model(monkeypatch):
    _, public = build_space_without_loading("faces", monkeypatch)
    assert public == ["generate_faces", "interpolate_faces", "style_mix_faces"]  # 🎲 and examples stay private


def test_generate_is_deterministic_and_labelled(client, faces_model_dir):
    first, status = generate(client, 7, 2, 0.7, faces_model_dir)
    second, _ = generate(client, 7, 2, 0.7, faces_model_dir)

    assert [item["caption"] for item in first] == ["seed 7", "seed 8"]
    assert status.startswith("2 faces from seeds 7 to 8, ψ = 0.7, model " + Path(faces_model_dir).name)
    files = gallery_files(first)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in gallery_files(second)]
    assert files[0].read_bytes() != files[1].read_bytes()  # two seeds, two faces
    with Image.open(files[0]) as face:
        assert face.format == "PNG" and face.size == (SIZE, SIZE) and face.mode == "RGB"
        assert face.text["ai_generated"] == "true"
        assert face.text["DigitalSourceType"] == "trainedAlgorithmicMedia"
        assert face.text["seed"] == "7"
        assert face.text["model"] == Path(faces_model_dir).name  # the folder name, never the full path


def test_the_three_argument_call_uses_the_default_model(client):
    # no model argument: the bundled default, which is a clear error while it is not trained yet
    try:
        gallery, _ = client.predict(3, 1, 0.7, api_name="/generate_faces")
    except AppError as err:
        assert "faces-celeba64" in str(err)
    else:
        assert len(gallery) == 1


@pytest.mark.parametrize(
    "num_images, made, note",
    [(1000, 16, "num_images 1000 is outside 1 to 16: used 16."), (0, 1, "num_images 0 is outside 1 to 16: used 1.")],
)
def test_absurd_counts_are_clamped_visibly(client, faces_model_dir, num_images, made, note):
    gallery, status = generate(client, 1, num_images, 0.7, faces_model_dir)
    assert len(gallery) == made
    assert note in status


@pytest.mark.parametrize(
    "seed, message",
    [
        (-1, r"seed must be a whole number from 0 to 4294967295, got -1"),
        (2**32, r"seed must be a whole number from 0 to 4294967295, got 4294967296"),
        (1.5, r"seed must be a whole number, got 1.5"),
        ("lots", r"seed must be a whole number, got 'lots'"),
        (2**32 - 1, r"use a seed up to 4294967294"),  # the second face would need seed 2**32
    ],
)
def test_bad_seed_is_a_clear_error(client, faces_model_dir, seed, message):
    with pytest.raises(AppError, match=message):
        generate(client, seed, 2, 0.7, faces_model_dir)


@pytest.mark.parametrize("truncation", [5, -3, "strong"])
def test_bad_truncation_is_a_clear_error(client, faces_model_dir, truncation):
    with pytest.raises(AppError, match=r"truncation must be a number from -1 to 2"):
        generate(client, 1, 1, truncation, faces_model_dir)


def test_unknown_model_is_a_clear_error(client):
    with pytest.raises(AppError, match=r"Unknown model 'no-such-model'.*Bundled models"):
        generate(client, 1, 1, 0.7, "no-such-model")


def test_interpolate_returns_a_looping_gif(client, faces_model_dir):
    gif, files, status = client.predict(1, 2, 6, 0.7, faces_model_dir, api_name="/interpolate_faces")
    assert Path(gif).suffix == ".gif"
    assert Path(files[0]["path"] if isinstance(files[0], dict) else files[0]).name == "faces_1_to_2.gif"
    with Image.open(gif) as animation:
        assert animation.n_frames == 6 and animation.size == (SIZE, SIZE)
        assert animation.info.get("loop") == 0
        assert b"AI-generated" in animation.info.get("comment", b"")
    assert status.startswith("6 frames from seed 1 to seed 2")


def test_interpolate_clamps_frames_and_refuses_bad_seeds(client, faces_model_dir):
    gif, _, status = client.predict(1, 2, 1, 0.7, faces_model_dir, api_name="/interpolate_faces")
    assert Image.open(gif).n_frames == 2
    assert "num_frames 1 is outside 2 to 96: used 2." in status
    with pytest.raises(AppError, match=r"seed_b must be a whole number from 0 to 4294967295"):
        client.predict(1, -5, 4, 0.7, faces_model_dir, api_name="/interpolate_faces")


def test_style_mix_returns_a_labelled_grid(client, faces_model_dir):
    grid, status = client.predict("1, 2", "3 4 5", "middle", 0.7, faces_model_dir, api_name="/style_mix_faces")
    with Image.open(grid) as image:
        assert image.format == "PNG"
        assert image.size == ((3 + 1) * SIZE, (2 + 1) * SIZE)  # a column and a row of source faces
        assert image.text["ai_generated"] == "true" and image.text["level"] == "middle"
    assert status.startswith("Rows [1, 2] take the middle styles of columns [3, 4, 5]")


def test_style_mix_drops_extra_seeds_visibly_and_refuses_bad_input(client, faces_model_dir):
    grid, status = client.predict("1,2,3,4,5,6,7,8", "9", "fine", 0.7, faces_model_dir, api_name="/style_mix_faces")
    assert Image.open(grid).size == (2 * SIZE, 7 * SIZE)
    assert "8 row seeds given: used the first 6." in status
    with pytest.raises(AppError, match=r"Enter at least one of the column seeds"):
        client.predict("1", " , ", "fine", 0.7, faces_model_dir, api_name="/style_mix_faces")
    with pytest.raises(AppError, match=r"each of the row seeds must be a whole number, got 'x'"):
        client.predict("1, x", "2", "fine", 0.7, faces_model_dir, api_name="/style_mix_faces")
    with pytest.raises(AppError, match=r"level must be one of coarse, middle, fine, got 'everything'"):
        client.predict("1", "2", "everything", 0.7, faces_model_dir, api_name="/style_mix_faces")
