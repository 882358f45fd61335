"""Data packs (training/packs.py), their loaders and the pack_data CLI: tiny data made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import make_images
from training.captions import EYE_COLOURS, HAIR_COLOURS, caption_phrasings, load_tagged_faces, read_captions
from training.data import load_image_sources
from training.packs import (
    DEFAULT_SUFFIXES,
    Pack,
    PackChecksumError,
    PackError,
    pack_folder,
    parse_pack_spec,
    write_pack,
)
from training.text_states import load_text_states, save_text_states


def _same_images(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Nested folders whose Path order differs from string order ("a/..." before "a-c.png")."""
    root = tmp_path / "tree"
    make_images(root / "a", count=2, seed=1)
    make_images(root / "a" / "deep", count=1, seed=2)
    make_images(root, count=1, seed=3)
    Image.new("RGB", (9, 7), (10, 20, 30)).save(root / "a-c.png")
    Image.new("RGB", (5, 6), (40, 50, 60)).save(root / "b.jpg", quality=90)
    (root / "labels.csv").write_text("file,label\nimg0.png,1\n")
    (root / "notes.txt").write_text("not packed")
    return root


def test_pack_round_trips_bytes_in_folder_order(tree, tmp_path):
    summary = pack_folder(tree, tmp_path / "tree.pack", info={"family": "test"})
    pack = Pack.open(tmp_path / "tree.pack")
    files = sorted(p for p in tree.rglob("*") if p.suffix.lower() in DEFAULT_SUFFIXES)
    assert pack.names == [p.relative_to(tree).as_posix() for p in files]
    assert pack.names != sorted(pack.names), "the test needs names whose Path order differs from string order"
    assert all(pack.read(name) == (tree / name).read_bytes() for name in pack.names)
    assert "notes.txt" not in pack and pack.info["family"] == "test"
    assert (summary.count, summary.sha256) == (len(files), pack.sha256)
    assert summary.raw_bytes == sum(p.stat().st_size for p in files)
    assert _same_images(load_image_sources(f"pack:{tmp_path / 'tree.pack'}"), load_image_sources(str(tree)))


def test_subfolder_spec_and_several_folders(tree, tmp_path):
    pack_folder(tree, tmp_path / "tree.pack")
    spec = f"pack:{tmp_path / 'tree.pack'}#a/"
    assert parse_pack_spec(spec).subfolder == "a"
    assert _same_images(load_image_sources(spec), load_image_sources(str(tree / "a")))
    with pytest.raises(FileNotFoundError, match="No images under 'zzz'"):
        load_image_sources(f"pack:{tmp_path / 'tree.pack'}#zzz")
    # {prefix: folder}: folders in the given order, like a comma-separated folder spec
    second = make_images(tmp_path / "second", count=2, seed=4)
    pack_folder({"Y": tree / "a", "X": second}, tmp_path / "two.pack")
    assert Pack.open(tmp_path / "two.pack").names[0].startswith("Y/")
    expected = load_image_sources(f"{tree / 'a'},{second}")
    assert _same_images(load_image_sources(f"pack:{tmp_path / 'two.pack'}"), expected)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _layout(path: Path) -> tuple[int, dict]:
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    return 8 + size, json.loads(data[8 : 8 + size])


@pytest.mark.parametrize("where", ["payload", "offsets", "metadata", "header"])
def test_corruption_is_caught(tree, tmp_path, where):
    good = tmp_path / "good.pack"
    pack_folder(tree, good)
    data = good.read_bytes()
    start, header = _layout(good)
    if where in ("payload", "offsets"):
        first, last = header[where]["data_offsets"]
        at = start + (first + last) // 2 + 1  # inside a middle offset (or the compressed stream)
    elif where == "metadata":
        at = data.index(b"img0.png", 8, start)  # a member name inside the pack JSON
    else:
        at = data.index(b'"dtype"', 8, start)  # the safetensors structure itself
    bad = tmp_path / f"bad-{where}.pack"  # a new name: Pack.open caches by (path, mtime, size)
    bad.write_bytes(_flip(data, at))
    with pytest.raises(PackChecksumError, match="python -m training.pack_data"):
        Pack.open(bad)


def test_truncated_and_missing_packs(tree, tmp_path):
    good = tmp_path / "good.pack"
    pack_folder(tree, good)
    for cut in (5, 100, good.stat().st_size - 3):
        short = tmp_path / f"short-{cut}.pack"
        short.write_bytes(good.read_bytes()[:cut])
        with pytest.raises(PackError, match="truncated"):
            Pack.open(short)
    with pytest.raises(FileNotFoundError, match="training.pack_data"):
        load_image_sources(f"pack:{tmp_path / 'nope.pack'}")


def test_write_pack_checks_names(tmp_path):
    for bad in ("../x", "/abs", "a//b", "a\\b", ""):
        with pytest.raises(PackError):
            write_pack(tmp_path / "x.pack", {bad: b"1"})
    with pytest.raises(PackError, match="Duplicate"):
        write_pack(tmp_path / "x.pack", [("a", b"1"), ("a", b"2")])
    with pytest.raises(PackError, match="no members"):
        write_pack(tmp_path / "x.pack", {})


def _gradient(mode: str, size=(40, 32)) -> Image.Image:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgba = np.stack([xx * 6, yy * 7, (xx + yy) * 3, 255 - yy * 8], -1).clip(0, 255).astype(np.uint8)
    rgba[:4, :4, 3] = 0  # fully transparent pixels whose colour must survive too
    img = Image.fromarray(rgba, "RGBA")
    return img.convert("RGB").convert(mode) if mode == "P" else img.convert(mode)


def test_png_to_lossless_webp_keeps_pixels_and_mode(tmp_path):
    folder = tmp_path / "png"
    folder.mkdir()
    modes = ("RGB", "L", "RGBA", "LA", "P")
    for mode in modes:
        _gradient(mode).save(folder / f"{mode}.png")
    summary = pack_folder(folder, tmp_path / "png.pack", transcode_png_to_webp=True)
    assert summary.raw_bytes == sum(p.stat().st_size for p in folder.iterdir())  # the PNGs' size, not the WebPs'
    pack = Pack.open(tmp_path / "png.pack")
    assert {"RGB.png", "L.png", "RGBA.png", "LA.png"} <= set(pack.transcoded), pack.transcoded
    assert "P.png" not in pack.transcoded  # a palette cannot be restored exactly: kept as PNG
    for mode in modes:
        name = f"{mode}.png"
        with Image.open(folder / name) as original:
            restored = pack.open_image(name)
            assert restored.mode == original.mode == mode
            assert np.array_equal(np.asarray(restored), np.asarray(original)), mode
        if name in pack.transcoded:
            assert pack.read(name)[:4] == b"RIFF" and pack.transcoded[name]["mode"] == mode
    assert _same_images(load_image_sources(f"pack:{tmp_path / 'png.pack'}"), load_image_sources(str(folder)))


def _captions_split(folder: Path, count: int = 6) -> Path:
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["file,hair,eyes,text"]
    for i in range(count):
        hair, eye = HAIR_COLOURS[i % len(HAIR_COLOURS)], EYE_COLOURS[(3 * i) % len(EYE_COLOURS)]
        name = f"{i:05d}.png" if i % 2 else f"{i:05d}.jpg"
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / "images" / name)
        lines.append(f"{name},{hair} hair,{eye} eyes,{hair} hair {eye} eyes")
    # rows out of file order: images must follow the csv, not the pack
    (folder / "captions.csv").write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    return folder


def test_tagged_faces_from_a_pack_equal_the_folder(tmp_path):
    split = _captions_split(tmp_path / "data" / "train")
    pack_folder(split, tmp_path / "train.pack")
    from_folder, from_pack = load_tagged_faces(split), load_tagged_faces(f"pack:{tmp_path / 'train.pack'}")
    assert torch.equal(from_folder.images, from_pack.images)
    assert (from_folder.hair, from_folder.eye) == (from_pack.hair, from_pack.eye)
    names, _, _ = read_captions(f"pack:{tmp_path / 'train.pack'}")
    assert names[0] == "images/00005.png"
    # a pack of the parent folder, read through #train
    pack_folder(tmp_path / "data", tmp_path / "data.pack")
    assert torch.equal(load_tagged_faces(f"pack:{tmp_path / 'data.pack'}#train").images, from_folder.images)


def test_tagged_faces_pack_errors(tmp_path):
    split = _captions_split(tmp_path / "train", count=2)
    pack_folder(split / "images", tmp_path / "no-csv.pack")
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        load_tagged_faces(f"pack:{tmp_path / 'no-csv.pack'}")
    (split / "images" / "00001.png").unlink()
    pack_folder(split, tmp_path / "missing.pack")
    with pytest.raises(FileNotFoundError, match="images/00001.png"):
        read_captions(f"pack:{tmp_path / 'missing.pack'}")


def _token_states(lengths: list[int], length: int = 7, dim: int = 5, mask_dtype=torch.long):
    torch.manual_seed(0)
    mask = (torch.arange(length) < torch.tensor(lengths)[:, None]).to(mask_dtype)
    states = torch.randn(len(lengths), length, dim).half() * mask[..., None].half()
    return states, mask


@pytest.mark.parametrize("mask_dtype", [torch.long, torch.bool])
def test_text_states_round_trip(tmp_path, mask_dtype):
    states, mask = _token_states([3, 7, 1, 3], mask_dtype=mask_dtype)
    states[3] = states[0]  # the same prompt twice: stored once
    prompts = ["a b", "c d e f g", "h", "a b"]
    summary = save_text_states(tmp_path / "s.safetensors", prompts, states, mask, "enc", info={"seed": 3})
    back = load_text_states(tmp_path / "s.safetensors")
    assert back.prompts == prompts and back.encoder_name == "enc" and summary.count == 4
    assert back.states.dtype == torch.float16 and back.mask.dtype == mask_dtype
    assert torch.equal(back.states, states) and torch.equal(back.mask, mask)


def test_text_states_refuse_bad_masks_and_corruption(tmp_path):
    states, mask = _token_states([2, 3])
    with pytest.raises(PackError, match="1..1 0..0"):
        save_text_states(tmp_path / "s.safetensors", ["a", "b"], states, torch.tensor([[1, 0, 1] + [0] * 4] * 2), "e")
    with pytest.raises(PackError, match="N=3"):
        save_text_states(tmp_path / "s.safetensors", ["a", "b", "c"], states, mask, "e")
    save_text_states(tmp_path / "s.safetensors", ["a", "b"], states, mask, "e")
    data = (tmp_path / "s.safetensors").read_bytes()
    (tmp_path / "bad.safetensors").write_bytes(_flip(data, len(data) - 20))
    with pytest.raises(PackChecksumError):
        load_text_states(tmp_path / "bad.safetensors")


def test_caption_phrasings_match_the_recipe(tmp_path):
    from training.train_text2image import Text2ImageConfig, Text2ImageRecipe

    split = _captions_split(tmp_path / "train")
    cfg = Text2ImageConfig(data=str(split), phrasings_per_caption=3, seed=5)
    _, prompts, _ = Text2ImageRecipe._load(cfg)
    _, hair, eye = read_captions(split)
    assert caption_phrasings(hair, eye, 3, seed=5)[1] == prompts


def test_families_pack_the_recipes_default_data():
    from training.pack_data import FAMILIES
    from training.train_cyclegan import CycleGANConfig
    from training.train_faces import FacesConfig
    from training.train_superres import SuperResConfig
    from training.train_text2image import Text2ImageConfig

    defaults = {
        "faces": [FacesConfig.data],
        "translation": [CycleGANConfig.data_a, CycleGANConfig.data_b],
        "text2image": [Text2ImageConfig.data],
        "superres": [SuperResConfig.data],
    }
    for family, specs in defaults.items():
        if any(spec.startswith("pack:") for spec in specs):
            continue  # the recipe already reads packs by default
        packed = [",".join(f"../shared/data/{rel}" for rel in t.sources.values()) for t in FAMILIES[family]]
        assert packed == specs, family


def _fake_data_root(root: Path) -> Path:
    make_images(root / "celeba_10k" / "train", count=3, size=(20, 16))
    make_images(root / "face2anime" / "trainA", count=2, size=(16, 16), seed=1)
    make_images(root / "face2anime" / "trainB", count=2, size=(16, 16), seed=2)
    _captions_split(root / "anime_faces_tagged" / "train", count=4)
    make_images(root / "T91", count=2, size=(24, 20), seed=3)
    make_images(root / "BSD200", count=3, size=(20, 24), seed=4)
    return root


def test_pack_data_cli(tmp_path, monkeypatch, capsys):
    import training.pack_data as pack_data
    from training.train_text2image import GRID_PROMPTS

    def fake_encode(prompts, grid_count, text_encoder=""):  # no real encoder in tests
        states, mask = _token_states([1 + len(p) % 6 for p in prompts], length=7, dim=4)
        return states, mask, "fake-encoder"

    monkeypatch.setattr(pack_data, "encode_prompts", fake_encode)
    root, out = _fake_data_root(tmp_path / "data"), tmp_path / "packs"
    argv = ["all", "--out", str(out), "--data-root", str(root), "--phrasings", "2", "--seed", "1", "--time-decode"]
    assert pack_data.main(argv) == 0
    printed = capsys.readouterr().out
    from training.campaign import FAMILIES, GPU_COMMANDS

    for families in GPU_COMMANDS.values():
        for file in (name for family in families for stage in FAMILIES[family] for name in stage.packs()):
            assert (out / file).is_file() and file in printed
    assert "at most 64 MiB" in printed and "| faces+translation |" in printed
    sr = load_image_sources(f"pack:{out / 'sr-train.pack'}")
    assert _same_images(sr, load_image_sources(f"{root / 'T91'},{root / 'BSD200'}"))
    prompts, states, mask, name = load_text_states(out / pack_data.TEXT_STATES_FILE)
    _, hair, eye = read_captions(root / "anime_faces_tagged" / "train")
    expected = [p for group in caption_phrasings(hair, eye, 2, seed=1)[1] for p in group] + list(GRID_PROMPTS)
    assert prompts == expected and name == "fake-encoder" and len(states) == len(expected)


def test_pack_data_cli_missing_data(tmp_path, capsys):
    from training.pack_data import main

    (tmp_path / "data" / "T91").mkdir(parents=True)
    assert main(["superres", "--out", str(tmp_path / "packs"), "--data-root", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "BSD200" in err and "--data-root" in err
    assert not (tmp_path / "packs").exists()
