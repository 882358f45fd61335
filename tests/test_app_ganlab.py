"""The hub's GAN Lab tab through its public API, as a gradio_client user sees it.

One hub server for the module (conftest's ``hub_url``); the runs are a few hundred steps of the
default networks, so each takes a second or two on a CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

import importlib.util
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio_client")
import numpy as np
from gradio_client.exceptions import AppError

from tests.conftest import ROOT

PARAMETERS = [
    "dataset",
    "recipe",
    "steps",
    "seed",
    "loss",
    "pack",
    "spectral_norm",
    "r1_gamma",
    "unrolled_steps",
    "lr",
    "beta1",
    "beta2",
    "batch_size",
    "compare",
    "points",
]


def test_ganlab_endpoint_is_named_in_the_hub(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/train_toy_gan"]["parameters"]] == PARAMETERS
    # the recipe settings start empty (None: "the preset's value"); leaving them out works, see below
    defaults = {p["parameter_name"]: p["parameter_has_default"] for p in endpoints["/train_toy_gan"]["parameters"]}
    assert defaults["dataset"] and defaults["recipe"] and defaults["seed"] and defaults["compare"]
    assert "/upscale" in endpoints  # the other families' endpoints are untouched


def test_standalone_space_builds_with_one_public_endpoint():
    from app import load_family_ui

    demo = load_family_ui("ganlab").build()
    assert [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"] == ["train_toy_gan"]


def test_training_streams_pictures_and_ends_with_the_numbers(client):
    job = client.submit("ring8", "vanilla", 500, 0, batch_size=64, api_name="/train_toy_gan")
    picture, status = job.result(timeout=600)  # a hang guard only: a busy machine must not trip it
    updates = job.outputs()
    assert len(updates) >= 2  # step 0, then every 250 steps: at least one streamed update before the end
    assert "step 0/500" in updates[0][1] and "step 500/500" in status
    assert status.startswith("Done") and "modes" in status and "/8" in status and "KL" in status
    with Image.open(picture) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 300


def test_compare_draws_two_runs_side_by_side(client):
    picture, status = client.predict("grid25", "vanilla", 250, 1, compare="pacgan4", api_name="/train_toy_gan")
    # arguments left out are the presets' own values, not another preset's (the UI's fields start empty)
    assert "**vanilla**" in status and "**pacgan4**" in status
    with Image.open(picture) as image:
        assert image.width > 2 * image.height * 0.7  # two panels next to each other


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset": "swiss-roll"}, "dataset must be one of grid25, ring8"),
        ({"recipe": "magic"}, "recipe must be one of vanilla"),
        ({"steps": 10**6}, "steps must be from 1 to 20000"),
        ({"pack": 2.5}, "pack must be a whole number"),
        ({"lr": "fast"}, "learning rate must be a number"),
        ({"spectral_norm": "maybe"}, "spectral_norm must be recipe, on or off"),
    ],
)
def test_bad_inputs_are_clear_errors(client, kwargs, message):
    args = {"dataset": "ring8", "recipe": "vanilla", "steps": 10, "seed": 0, **kwargs}
    with pytest.raises(AppError, match=message):
        client.predict(**args, api_name="/train_toy_gan")


def test_a_drawn_target_trains_from_its_points(client):
    heart = "\n".join(
        f"{16 * np.sin(t) ** 3:.3f}, {13 * np.cos(t) - 5 * np.cos(2 * t):.3f}" for t in np.linspace(0, 6.2, 60)
    )
    picture, status = client.predict("drawn", "best", 250, 0, points=heart, api_name="/train_toy_gan")
    assert status.startswith("Done") and "no modes to count" in status
    with Image.open(picture) as image:
        assert image.format == "PNG"


@pytest.mark.parametrize(
    "points, message",
    [
        ("", "has no points: draw on the pad"),
        ("1, 2\n3, x", "found 'x'"),
        ("1, 2, 3", "odd count"),
        ("1, 1\n1, 1", "same place"),
    ],
)
def test_a_drawn_target_without_usable_points_is_a_clear_error(client, points, message):
    with pytest.raises(AppError, match=message):
        client.predict("drawn", "best", 10, 0, points=points, api_name="/train_toy_gan")


def test_a_drawing_becomes_points_on_either_background():
    from spaces.ganlab.ui import drawing_to_points, parse_points

    transparent = np.zeros((40, 60, 4), np.uint8)  # the pad's own layer: strokes are the only visible pixels
    transparent[10, 5:55] = (0, 0, 0, 255)
    white = np.full((40, 60, 4), 255, np.uint8)  # a composite on an opaque white canvas
    white[5:35, 30] = (0, 0, 0, 255)
    horizontal = parse_points(drawing_to_points({"composite": transparent}))
    vertical = parse_points(drawing_to_points({"composite": white}))
    assert horizontal.shape == (50, 2) and set(horizontal[:, 1]) == {-10}  # y up: row 10 -> y = -10
    assert vertical.shape == (30, 2) and set(vertical[:, 0]) == {30}
    assert drawing_to_points({"composite": np.zeros((8, 8, 4), np.uint8)}) == ""
    assert drawing_to_points(None) == ""
    many = np.zeros((200, 200, 4), np.uint8)
    many[..., 3] = 255  # a black, opaque square: more stroke pixels than a target needs
    assert len(drawing_to_points({"composite": many}).splitlines()) == 1500


def test_deploy_ships_the_lab_without_checkpoints_or_training():
    spec = importlib.util.spec_from_file_location("gan_hub_deploy", ROOT / "spaces" / "deploy.py")
    deploy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(deploy)
    assert deploy.bundled_checkpoints("ganlab") == ()
    paths = {dest for dest, _ in deploy.space_files("ganlab", with_checkpoints=True)}
    assert {"app.py", "ui.py", "README.md", "requirements.txt", "gan_models/toy2d.py"} <= paths
    # the loop, recipes, metrics and shared losses are the library's: the Space deploys without training/
    lab = {"gan_models/lab/loop.py", "gan_models/lab/recipes.py", "gan_models/lab/mode_metrics.py"}
    assert lab | {"gan_models/losses.py", "gan_models/ema.py"} <= paths
    assert not [p for p in paths if p.startswith("training/")]
    assert not any(p.startswith("checkpoints/") for p in paths)
    readme = (Path(ROOT) / "spaces" / "ganlab" / "README.md").read_text()
    assert 'sdk_version: "6.31.0"' in readme and "app_file: app.py" in readme
