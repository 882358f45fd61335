"""training.captions: colour tables, phrasings and the tagged-faces folder layout (made here)."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from PIL import Image

from training.captions import (
    EYE_COLOURS,
    EYE_SYNONYMS,
    HAIR_COLOURS,
    HAIR_SYNONYMS,
    HELD_OUT_TEMPLATES,
    TRAIN_TEMPLATES,
    free_form_prompts,
    load_tagged_faces,
    phrase,
    read_captions,
    tag_prompt,
)


def _mentions(text: str, words) -> bool:
    return any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text.lower()) for w in words)


def test_colour_tables_match_the_data():
    assert len(HAIR_COLOURS) == 12 and len(EYE_COLOURS) == 11
    assert set(HAIR_SYNONYMS) == set(HAIR_COLOURS) and set(EYE_SYNONYMS) == set(EYE_COLOURS)
    for table in (HAIR_SYNONYMS, EYE_SYNONYMS):
        for colour, words in table.items():
            assert words[0] == colour
            # no word of one colour names another colour of the same attribute (gray vs white hair)
            others = [w for c, ws in table.items() if c != colour for w in ws]
            assert not any(_mentions(w, others) for w in words), (colour, words)


def test_every_phrasing_names_both_colours():
    rng = random.Random(0)
    for hair in HAIR_COLOURS:
        for eye in EYE_COLOURS:
            for _ in range(20):
                text = phrase(hair, eye, rng)
                assert _mentions(text, HAIR_SYNONYMS[hair]) and _mentions(text, EYE_SYNONYMS[eye]), text
                assert "{" not in text


def test_phrasings_vary():
    texts = {phrase("gray", "red", seed) for seed in range(300)}
    assert len(texts) > 100
    assert any(t.startswith("a girl with") for t in texts) and any(t[0].isupper() for t in texts)
    assert any("silver" in t for t in texts) and any(t.endswith(".") for t in texts)


def test_deterministic_per_seed():
    assert [phrase("blonde", "blue", s) for s in range(50)] == [phrase("blonde", "blue", s) for s in range(50)]
    a, b = random.Random(7), random.Random(7)
    assert [phrase("aqua", "pink", a) for _ in range(20)] == [phrase("aqua", "pink", b) for _ in range(20)]


def test_train_and_held_out_templates_are_disjoint():
    assert not set(TRAIN_TEMPLATES) & set(HELD_OUT_TEMPLATES)
    seen = {phrase(h, e, s) for h in ("blonde", "gray") for e in ("red", "aqua") for s in range(200)}
    held = {
        p.lower().rstrip(".!") for h in ("blonde", "gray") for e in ("red", "aqua") for p in free_form_prompts(h, e)
    }
    assert not {t.lower().rstrip(".!") for t in seen} & held
    for template in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES:
        assert template.count("{hair}") == 1 and template.count("{eye}") == 1, template


def test_tag_and_free_form_prompts():
    assert tag_prompt("blonde", "pink") == "blonde hair pink eyes" == tag_prompt("blonde hair", "pink eyes")
    prompts = free_form_prompts("white", "yellow")
    assert len(prompts) == len(HELD_OUT_TEMPLATES)
    assert all("white" in p and "yellow" in p for p in prompts)


def test_unknown_colour_lists_the_choices():
    with pytest.raises(ValueError, match="blonde, brown"):
        phrase("silver", "red", 0)  # a synonym, not a data colour
    with pytest.raises(ValueError, match="eyes colour"):
        tag_prompt("red", "white")


def _make_split(folder, rows):
    (folder / "images").mkdir(parents=True)
    lines = ["file,hair,eyes,text"]
    for i, (hair, eye) in enumerate(rows):
        name = f"{i:05d}.jpg"
        Image.fromarray(np.full((64, 64, 3), i * 40, np.uint8)).save(folder / "images" / name)
        lines.append(f"{name},{hair} hair,{eye} eyes,{hair} hair {eye} eyes")
    (folder / "captions.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_load_tagged_faces(tmp_path):
    folder = _make_split(tmp_path / "train", [("blonde", "pink"), ("gray", "aqua"), ("white", "red")])
    images, hair, eye = load_tagged_faces(folder)
    assert images.shape == (3, 3, 64, 64) and images.dtype == torch.uint8
    assert hair == ["blonde", "gray", "white"] and eye == ["pink", "aqua", "red"]
    paths, _, _ = read_captions(folder)
    assert [p.name for p in paths] == ["00000.jpg", "00001.jpg", "00002.jpg"]


def test_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        load_tagged_faces(tmp_path)
    folder = _make_split(tmp_path / "bad", [("blonde", "pink")])
    (folder / "captions.csv").write_text("file,hair,eyes,text\n00000.jpg,silver hair,red eyes,x\n")
    with pytest.raises(ValueError, match="line 2"):
        read_captions(folder)
    (folder / "captions.csv").write_text("file,hair,eyes,text\nmissing.jpg,red hair,red eyes,x\n")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        read_captions(folder)
