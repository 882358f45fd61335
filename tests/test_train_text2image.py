"""The text-to-image recipe on the shared engine: tiny captioned data, a few steps, an exact resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models.text2image import AttentionPooling, TextProjectionDiscriminator, TextToImageGenerator
from tests.conftest import TINY_RUN
from training.engine import list_checkpoints
from training.train_text2image import CaptionBank, read_text_captions
from training.train_text2image import main as train_text2image

PAIRS = [("blonde", "blue"), ("red", "green"), ("black", "purple")]


def make_captioned(folder: Path, tags: bool = True, count: int = 6) -> Path:
    """Tiny coloured squares with captions.csv (hair/eyes columns, or a free text column)."""
    (folder / "images").mkdir(parents=True)
    with (folder / "captions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "hair", "eyes", "text"] if tags else ["file", "text"])
        for i in range(count):
            hair, eye = PAIRS[i % len(PAIRS)]
            Image.new("RGB", (16, 16), (40 * i, 255 - 30 * i, 90)).save(folder / "images" / f"{i:05d}.png")
            text = f"{hair} hair {eye} eyes"
            writer.writerow([f"{i:05d}.png", f"{hair} hair", f"{eye} eyes", text] if tags else [f"{i:05d}.png", text])
    return folder


def tiny_args(data: Path, out: Path, **extra) -> list[str]:
    args = {
        "data": str(data),
        "output_dir": str(out),
        "phrasings_per_caption": 2,
        "size": 16,
        "z_dim": 8,
        "style_dim": 16,
        "n_mlp": 2,
        "num_text_queries": 2,
        "channel_base": 128,
        "channel_max": 16,
        "batch_size": 4,
        **TINY_RUN,
        "r1_every": 2,  # R1 runs inside the tested steps
        "style_mixing_prob": 1.0,
        "grid_seeds": 2,
        "captions_per_batch": 2,  # grouped batches and the mode-seeking term run in the tested steps
    }
    args.update(extra)
    return [f"--{k}={v}" for k, v in args.items()]


def test_resume_is_exact_and_export_loads(tmp_path: Path):
    data = make_captioned(tmp_path / "data")
    straight = tmp_path / "straight"
    folder = train_text2image(tiny_args(data, straight))
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "TextToImageGANPipeline"
    assert index["text_encoder_name"] == "sentence-transformers/all-MiniLM-L6-v2"  # referenced, not copied
    assert not any("text_encoder" in p.name for p in folder.iterdir() if p.is_dir())
    assert (folder / "samples.png").exists() and "text-to-image" in (folder / "README.md").read_text()
    resumed = tmp_path / "resumed"
    train_text2image(tiny_args(data, resumed, max_steps=2))
    train_text2image(tiny_args(data, resumed, resume="latest"))
    a, b = list_checkpoints(straight)[-1], list_checkpoints(resumed)[-1]
    assert json.loads((b / "trainer_state.json").read_text())["step"] == 4
    for name in ("ema.safetensors", "model.safetensors", "model_1.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=1e-6, msg=f"{name}:{key}")
    # the caption phrasings were encoded once, into the run's cache, and reused on resume
    assert len(list((resumed / "text_cache").glob("text_tokens_*.safetensors"))) == 1


def test_free_text_captions_train(tmp_path: Path):
    data = make_captioned(tmp_path / "data", tags=False)
    paths, texts = read_text_captions(data)
    assert len(paths) == 6 and texts[0] == "blonde hair blue eyes"
    folder = train_text2image(tiny_args(data, tmp_path / "run", captions="text", max_steps=1))
    assert (folder / "generator" / "config.json").exists()
    with pytest.raises(SystemExit, match="'captions' must be one of 'tags', 'text'"):
        train_text2image(tiny_args(data, tmp_path / "bad", captions="words"))


def test_caption_bank_mismatches_are_other_captions():
    prompts = [["a"], ["b"], ["c"]]
    bank = CaptionBank.__new__(CaptionBank)  # no encoder needed: fill the tensors by hand
    bank.num_captions, bank.num_variants, bank.prompts = 3, 1, prompts
    bank.states = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 4).half()
    bank.mask = torch.ones(3, 1, 2, dtype=torch.long)
    bank.caption_of = torch.tensor([0, 1, 2, 0])
    (right, _), (wrong, _) = bank.sample(torch.arange(4), torch.Generator().manual_seed(0))
    assert torch.equal(right[:, 0, 0], torch.tensor([0.0, 1.0, 2.0, 0.0]))
    assert (wrong[:, 0, 0] != right[:, 0, 0]).all()


def test_networks_check_text_shapes_and_padding_is_ignored():
    G = TextToImageGenerator(size=8, text_dim=6, z_dim=4, style_dim=16, n_mlp=2, channel_base=64, channel_max=16)
    D = TextProjectionDiscriminator(size=8, text_dim=6, channel_base=64, channel_max=16)
    tokens, mask = torch.randn(2, 3, 6), torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="token states"):
        G(torch.randn(2, 4), torch.randn(2, 6), mask)
    with pytest.raises(ValueError, match="one text per image"):
        D(torch.randn(3, 3, 8, 8), tokens, mask)
    logits, mismatched = D(torch.randn(2, 3, 8, 8), tokens, mask, mismatched=(tokens.flip(0), mask))
    assert logits.shape == mismatched.shape == (2, 1)
    # padding tokens (mask 0) change nothing, whatever they hold
    pool = AttentionPooling(6, num_queries=2)
    padded = torch.cat([tokens, torch.randn(2, 2, 6)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 2, dtype=torch.long)], dim=1)
    torch.testing.assert_close(pool(tokens, mask), pool(padded, padded_mask))


def test_grouped_batches_share_one_caption_per_stddev_group():
    from training.train_text2image import Text2ImageConfig, Text2ImageRecipe

    recipe = Text2ImageRecipe.__new__(Text2ImageRecipe)  # only what _indices reads
    recipe.config = Text2ImageConfig(captions_per_batch=4)
    caption_of = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3, 4, 5])
    recipe.sampler = type("S", (), {"images": torch.zeros(10, 3, 2, 2, dtype=torch.uint8)})()
    recipe.bank = type("B", (), {"caption_of": caption_of})()
    recipe.images_of_caption = [torch.nonzero(caption_of == c).flatten() for c in range(6)]
    indices = recipe._indices(16, torch.Generator().manual_seed(0))
    captions = caption_of[indices].view(4, 4)  # row k = slots 4k..4k+3; D's groups are the columns
    assert (captions == captions[0]).all()
    again = recipe._indices(16, torch.Generator().manual_seed(0))
    assert torch.equal(indices, again)  # deterministic in the generator
    recipe.config = Text2ImageConfig(captions_per_batch=0)
    assert len(recipe._indices(5, torch.Generator().manual_seed(0))) == 5  # independent draws
