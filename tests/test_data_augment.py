"""Training data sources and degradations: shapes, determinism, sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.augment import bicubic_downsample, degrade
from training.data import RandomPatchSampler, load_image_sources


def test_patches_are_a_pure_function_of_step_and_rank(image_folder: Path):
    sampler = RandomPatchSampler(load_image_sources(str(image_folder)), patch_size=16, seed=3)
    a, b = sampler.sample(step=5, batch_size=4), sampler.sample(step=5, batch_size=4)
    assert a.shape == (4, 3, 16, 16) and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, sampler.sample(step=6, batch_size=4))
    assert not torch.equal(a, sampler.sample(step=5, batch_size=4, rank=1))


def test_one_gather_cuts_the_same_patches_as_crop_flip_rotate():
    """The sampler's gather (one indexing op on the training device) against plain slicing, for all
    eight flip/rotation combinations, on images of different sizes."""
    images = [torch.randint(0, 256, (3, 20 + i, 30 - 2 * i), dtype=torch.uint8) for i in range(5)]
    sampler, p, batch = RandomPatchSampler(images, patch_size=8, seed=1), 8, 6
    seen = set()
    for step in range(40):
        gen = sampler.generator(step)  # the sampler's own draws, in its order
        index = torch.randint(len(images), (batch,), generator=gen)
        h, w = sampler.heights[index], sampler.widths[index]
        top = (torch.rand(batch, generator=gen) * (h - p + 1)).long()
        left = (torch.rand(batch, generator=gen) * (w - p + 1)).long()
        flip, rot = torch.randint(2, (batch,), generator=gen), torch.randint(4, (batch,), generator=gen)
        expected = []
        for b in range(batch):
            patch = images[index[b]][:, top[b] : top[b] + p, left[b] : left[b] + p]
            patch = patch.flip(-1) if flip[b] else patch
            expected.append(torch.rot90(patch, int(rot[b]), dims=(-2, -1)))
            seen.add((int(flip[b]), int(rot[b])))
        assert torch.equal(sampler.sample(step, batch), torch.stack(expected).float() / 255), step
    assert len(seen) == 8


def test_image_batches_are_gathered_on_the_device_the_images_live_on():
    from training.data import ImageBatchSampler

    images = torch.randint(0, 256, (7, 3, 6, 6), dtype=torch.uint8)
    sampler = ImageBatchSampler(images, seed=2)
    batch, indices = sampler.sample(step=3, batch_size=5)
    gen = sampler.generator(3)
    assert torch.equal(indices, torch.randint(7, (5,), generator=gen))
    flip = torch.rand(5, generator=gen) < 0.5
    expected = images[indices].float() / 255
    expected[flip] = expected[flip].flip(-1)
    assert torch.equal(batch, expected)
    moved = ImageBatchSampler(images.clone(), seed=2).to("meta")  # held elsewhere: gathered there
    assert moved.sample(step=3, batch_size=5)[0].device.type == "meta"


def test_sources_explain_missing_and_too_small_data(tmp_path: Path, image_folder: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_sources(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No images"):
        load_image_sources(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="at least 4096px"):
        load_image_sources(str(image_folder), min_size=4096)


def test_hugging_face_dataset_source(monkeypatch, tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    images = [Image.new("RGB", (20, 24), (i * 40, 0, 0)) for i in range(3)]
    local = datasets.Dataset.from_dict({"image": images, "label": [0, 1, 2]}).cast_column("image", datasets.Image())
    calls = []

    def fake_load_dataset(name, split):  # the Hub boundary; everything after it is real
        calls.append((name, split))
        return local

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    loaded = load_image_sources("hf:someorg/photos:validation")
    assert calls == [("someorg/photos", "validation")]
    assert [tuple(t.shape) for t in loaded] == [(3, 24, 20)] * 3


def test_bicubic_matches_antialiased_resize_and_checks_divisibility():
    hr = torch.rand(2, 3, 32, 24)
    lr = bicubic_downsample(hr, 4)
    assert lr.shape == (2, 3, 8, 6)
    with pytest.raises(ValueError, match="divisible"):
        bicubic_downsample(torch.rand(1, 3, 30, 24), 4)
    # 8-bit levels, like the LR files the model will see
    q = degrade(hr, 4, "bicubic", torch.Generator().manual_seed(0))
    assert torch.allclose(q * 255, (q * 255).round(), atol=1e-4)


def test_realistic_degradation_is_seeded_and_sized():
    hr = torch.rand(3, 3, 64, 64)
    a = degrade(hr, 4, "realistic", torch.Generator().manual_seed(1))
    b = degrade(hr, 4, "realistic", torch.Generator().manual_seed(1))
    c = degrade(hr, 4, "realistic", torch.Generator().manual_seed(2))
    assert a.shape == (3, 3, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
    assert np.isfinite(a.numpy()).all() and a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="Unknown degradation"):
        degrade(hr, 4, "jpeg-only", torch.Generator())
