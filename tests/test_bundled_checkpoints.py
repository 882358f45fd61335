"""The bundled defaults: Hub-repo layout, fp16 safetensors, a card with metrics, and they run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import SuperResolutionPipeline
from gan_models.hub import CHECKPOINTS_DIR, bundled_models

BUNDLED = ["superres-x4-gan", "superres-x4-psnr"]


def assert_small_fp16_safetensors_only(folder, count: int) -> list:
    """``count`` fp16 safetensors files under ``folder``, each under 15 MB, and no pickle-format file."""
    weights = sorted(folder.rglob("*.safetensors"))
    assert len(weights) == count
    for file in weights:
        assert file.stat().st_size < 15 * 2**20
        assert all(t.dtype == torch.float16 for t in load_file(str(file)).values())
    assert not [p for p in folder.rglob("*") if p.suffix in {".bin", ".pkl", ".pt", ".pth"}]
    return weights


def assert_card_mentions(folder, *needed: str) -> None:
    card = (folder / "README.md").read_text()
    for word in needed:
        assert word in card, word


def test_both_superres_defaults_are_bundled():
    assert set(BUNDLED) <= set(bundled_models())


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint_is_small_fp16_with_a_card(name):
    folder = CHECKPOINTS_DIR / name
    assert_small_fp16_safetensors_only(folder, count=1)
    assert_card_mentions(folder, "license:", "T91", "## Evaluation", "Set5", "Set14", "samples.png", "Reproduce")
    assert (folder / "samples.png").is_file()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_upscales_exactly_x4_deterministically(name):
    pipe = SuperResolutionPipeline.from_pretrained(str(CHECKPOINTS_DIR / name), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = Image.radial_gradient("L").resize((23, 17)).convert("RGB")
    first, second = pipe(image).images[0], pipe(image).images[0]
    assert first.size == (92, 68) and first.tobytes() == second.tobytes()


def test_bundled_face_generator_is_small_fp16_with_a_card():
    folder = CHECKPOINTS_DIR / "faces-celeba64"
    assert "faces-celeba64" in bundled_models()
    assert_small_fp16_safetensors_only(folder, count=1)
    assert_card_mentions(
        folder, "license: other", "CelebA", "non-commercial", "## Evaluation", "fid", "samples.png", "Budget"
    )
    with Image.open(folder / "samples.png") as grid:
        assert grid.size == (8 * 64, 8 * 64)


def test_bundled_face_generator_is_deterministic_per_seed():
    from gan_models import FaceGANPipeline

    pipe = FaceGANPipeline.from_pretrained(str(CHECKPOINTS_DIR / "faces-celeba64"), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    first = pipe(num_images=2, seed=7, truncation=0.7).images
    again = pipe(num_images=1, seed=8, truncation=0.7).images[0]
    assert [im.size for im in first] == [(64, 64), (64, 64)]
    assert first[0].tobytes() == pipe(num_images=1, seed=7, truncation=0.7).images[0].tobytes()
    assert first[0].tobytes() != first[1].tobytes()
    # image i comes from seed + i, whatever the count (equal up to batch-size rounding)
    diff = np.abs(np.asarray(first[1], dtype=int) - np.asarray(again, dtype=int)).max()
    assert diff <= 2


def test_bundled_translator_is_small_fp16_with_a_card_and_both_directions():
    folder = CHECKPOINTS_DIR / "face2anime"
    assert "face2anime" in bundled_models()
    weights = assert_small_fp16_safetensors_only(folder, count=2)
    assert [w.parent.name for w in weights] == ["a_to_b", "b_to_a"]
    assert_card_mentions(
        folder, "license: other", "CelebA", "non-commercial", "## Evaluation", "cycle-consistency PSNR",
        "judged the target domain", "samples.png", "Budget",
    )  # fmt: skip
    with Image.open(folder / "samples.png") as grid:
        assert grid.size == (8 * 64, 4 * 64)  # rows: A, A -> B, B, B -> A


def test_bundled_translator_runs_both_ways_at_any_size():
    from gan_models import CycleGANPipeline

    pipe = CycleGANPipeline.from_pretrained(str(CHECKPOINTS_DIR / "face2anime"), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    assert (pipe.domain_a, pipe.domain_b, pipe.train_size) == ("real face", "anime face", 64)
    face = Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 251, 3), dtype=np.uint8))
    for direction in ("AtoB", "BtoA"):
        out = pipe(image=face, direction=direction).images[0]
        assert out.size == face.size
        # the same call again: equal up to one 8-bit level (CPU conv kernels may round a float
        # differently depending on buffer alignment, as the faces test allows for batch sizes)
        again = pipe(image=face, direction=direction).images[0]
        assert np.abs(np.asarray(out, dtype=int) - np.asarray(again, dtype=int)).max() <= 1


def test_bundled_text2image_is_small_fp16_references_its_encoder_and_has_a_card():
    import json

    folder = CHECKPOINTS_DIR / "anime-text2image"
    assert "anime-text2image" in bundled_models()
    assert_small_fp16_safetensors_only(folder, count=1)  # the generator only: the encoder is not copied
    index = json.loads((folder / "model_index.json").read_text())
    assert index["text_encoder_name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert_card_mentions(
        folder, "license: other", "anime_faces_tagged", "pipeline_tag: text-to-image", "## Evaluation",
        "free-form", "ceiling", "samples.png", "Budget", "all-MiniLM-L6-v2",
    )  # fmt: skip
    with Image.open(folder / "samples.png") as grid:
        assert grid.size == (8 * 64, 8 * 64)  # 8 prompts x 8 seeds


def test_bundled_text2image_is_deterministic_and_follows_the_prompt():
    from gan_models import TextToImageGANPipeline

    pipe = TextToImageGANPipeline.from_pretrained(str(CHECKPOINTS_DIR / "anime-text2image"))
    pipe.set_progress_bar_config(disable=True)
    first = pipe(prompt="a girl with silver hair and red eyes", num_images=2, seed=3).images
    assert [im.size for im in first] == [(64, 64), (64, 64)]
    assert first[0].tobytes() == pipe(prompt="a girl with silver hair and red eyes", seed=3).images[0].tobytes()
    other = pipe(prompt="blonde hair, blue eyes", seed=3).images[0]
    assert other.tobytes() != first[0].tobytes()
    assert first[0].info["prompt"] == "a girl with silver hair and red eyes" and first[0].info["seed"] == "3"
