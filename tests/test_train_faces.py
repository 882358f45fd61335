"""The faces recipe on the shared engine: a few steps on tiny images, then an exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_RUN, make_images
from training.augment import AdaptiveAugment
from training.data import ImageBatchSampler, load_square_images
from training.engine import RECIPE_STATE, list_checkpoints
from training.train_faces import main as train_faces


def tiny_args(data: Path, out: Path, **extra) -> list[str]:
    args = {
        "data": str(data),
        "crop_box": "",
        "val_data": "",
        "output_dir": str(out),
        "size": 16,
        "style_dim": 16,
        "n_mlp": 2,
        "channel_base": 128,
        "channel_max": 16,
        "batch_size": 4,
        **TINY_RUN,
        "r1_every": 2,  # R1 runs inside the tested steps
        "augment": "ada",
        "ada_interval": 1,
        "ada_kimg": 0.01,  # p moves visibly within a few steps
        "fid_num_samples": 0,
    }
    args.update(extra)
    return [f"--{k}={v}" for k, v in args.items()]


@pytest.fixture
def face_folder(tmp_path: Path) -> Path:
    return make_images(tmp_path / "faces", count=6, size=(20, 24))


def test_resume_restores_step_ema_and_augment_probability(face_folder: Path, tmp_path: Path):
    straight = tmp_path / "straight"
    folder = train_faces(tiny_args(face_folder, straight))
    assert (folder / "model_index.json").exists() and (folder / "samples.png").exists()
    resumed = tmp_path / "resumed"
    train_faces(tiny_args(face_folder, resumed, max_steps=2))
    train_faces(tiny_args(face_folder, resumed, resume="latest"))

    a, b = list_checkpoints(straight)[-1], list_checkpoints(resumed)[-1]
    assert json.loads((b / "trainer_state.json").read_text())["step"] == 4
    p_a, p_b = load_file(str(a / RECIPE_STATE))["augment_p"], load_file(str(b / RECIPE_STATE))["augment_p"]
    assert float(p_a) > 0  # it adapted, so restoring it is actually tested
    torch.testing.assert_close(p_a, p_b, rtol=0, atol=0)
    for name in ("ema.safetensors", "model.safetensors", "model_1.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=1e-6, msg=f"{name}:{key}")


def test_fixed_diffaugment_and_bad_augment_name(face_folder: Path, tmp_path: Path):
    train_faces(tiny_args(face_folder, tmp_path / "da", augment="diffaugment", max_steps=1, checkpoint_every=1))
    state = load_file(str(list_checkpoints(tmp_path / "da")[-1] / RECIPE_STATE))
    assert float(state["augment_p"]) == 1.0  # DiffAugment: always on, never adapted
    with pytest.raises(SystemExit, match="'augment' must be one of 'ada', 'diffaugment', 'none'"):
        train_faces(tiny_args(face_folder, tmp_path / "bad", augment="sometimes"))


def test_square_images_crop_and_sampler_determinism(tmp_path: Path):
    folder = make_images(tmp_path / "img", count=3, size=(30, 20))
    images = load_square_images(str(folder), 8)
    assert images.shape == (3, 3, 8, 8) and images.dtype == torch.uint8
    assert load_square_images(str(folder), 8, (0, 5, 20, 25)).shape == (3, 3, 8, 8)
    with pytest.raises(ValueError, match="crop_box"):
        load_square_images(str(folder), 8, (0, 0, 40, 40))
    sampler = ImageBatchSampler(images, seed=3)
    (x1, i1), (x2, i2) = sampler.sample(5, 4, rank=1), sampler.sample(5, 4, rank=1)
    assert torch.equal(x1, x2) and torch.equal(i1, i2)


def test_adaptive_augment_moves_towards_target_and_keeps_gradients():
    aug = AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1)
    aug.accumulate(torch.ones(8))  # D is sure every real is real: overfitting -> more augmentation
    aug.adjust(images_since_last=100)
    assert float(aug.p) == pytest.approx(0.6)
    aug.accumulate(-torch.ones(8))
    aug.adjust(images_since_last=1000)
    assert float(aug.p) == 0.0  # clamped
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    AdaptiveAugment(p=1.0, adaptive=False)(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.equal(AdaptiveAugment(p=0.0)(x), x)
