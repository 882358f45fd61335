"""gan_models.hub (names), .cards (model cards), .upload (network faked at HfApi), offline repo-id loading."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from PIL import Image

from gan_models import SRVGGNetCompact, SuperResolutionPipeline
from gan_models.cards import write_model_card
from gan_models.hub import resolve_model
from gan_models.upload import UPLOAD_ALLOW_PATTERNS, UPLOAD_IGNORE_PATTERNS, push_pipeline_to_hub

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def saved(tmp_path) -> Path:
    torch.manual_seed(0)
    folder = tmp_path / "tiny-sr"
    SuperResolutionPipeline(SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2)).save_pretrained(folder)
    return folder


def test_resolve_model(tmp_path, saved):
    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(saved, checkpoints / "superres-x2-tiny")
    assert resolve_model("superres-x2-tiny", checkpoints_dir=checkpoints) == str(checkpoints / "superres-x2-tiny")
    assert resolve_model(str(saved), checkpoints_dir=checkpoints) == str(saved)
    assert resolve_model("someorg/tiny-sr", checkpoints_dir=checkpoints) == "someorg/tiny-sr"
    for bad in ("no-such-model", "a/b/c", "", "../x"):
        with pytest.raises(ValueError, match="Bundled models: superres-x2-tiny"):
            resolve_model(bad, checkpoints_dir=checkpoints)


def test_model_card(saved, tmp_path):
    sample = tmp_path / "sample.png"
    Image.new("RGB", (4, 4)).save(sample)
    path = write_model_card(
        saved,
        title="Tiny SR x2",
        base_model="someorg/base-sr",
        datasets=["eugenesiow/Div2k"],
        license="apache-2.0",
        metrics={"psnr": 27.5, "lpips": 0.21},
        protocol="Set14, Y channel, 4-pixel border crop",
        training="200k steps, batch 16, 1x A100",
        sample_image=sample,
        tags=["esrgan"],
        eval_dataset="Set14",
    )
    card = ModelCard.load(path)
    data = card.data.to_dict()
    assert data["pipeline_tag"] == "image-to-image" and data["license"] == "apache-2.0"
    assert {"gan-demo-hub", "super-resolution", "esrgan"} <= set(data["tags"])
    assert data["base_model"] == "someorg/base-sr" and data["datasets"] == ["eugenesiow/Div2k"]
    assert "library_name" not in data  # DiffusionPipeline.from_pretrained cannot load it alone
    assert data["model-index"][0]["results"][0]["metrics"][0]["value"] == 27.5
    assert "| psnr | 27.5 |" in card.text and "Set14, Y channel" in card.text and "200k steps" in card.text
    assert (saved / "sample.png").is_file() and "![sample](sample.png)" in card.text


CARD_ARGS = dict(title="t", datasets=[], license="mit", metrics={}, protocol="-", training="-")


def test_card_for_an_unknown_or_missing_pipeline_is_an_error_not_a_fallback(saved, tmp_path):
    index = json.loads((saved / "model_index.json").read_text())
    (saved / "model_index.json").write_text(json.dumps({**index, "_class_name": "NewFamilyPipeline"}))
    with pytest.raises(ValueError, match=r"'NewFamilyPipeline'.*CycleGANPipeline, FaceGANPipeline"):
        write_model_card(saved, **CARD_ARGS)
    assert not (saved / "README.md").exists()
    with pytest.raises(ValueError, match="save the pipeline first"):
        write_model_card(tmp_path / "empty", **CARD_ARGS)
    with pytest.raises(ValueError, match="No model card facts"):
        write_model_card(saved, pipeline_class=dict, **CARD_ARGS)


def test_card_facts_come_from_the_pipeline_class(saved, tmp_path):
    from gan_models import FaceGANPipeline
    from gan_models.cards import card_facts

    assert card_facts(saved) is SuperResolutionPipeline.card_facts
    # an explicit class (or its name) wins over the folder's, e.g. before save_pretrained
    text = write_model_card(tmp_path / "faces", pipeline_class="FaceGANPipeline", **CARD_ARGS).read_text()
    assert "pipeline_tag: unconditional-image-generation" in text and "save_animation" in text
    assert FaceGANPipeline.card_facts.limitations in text and "super-resolution" not in text


def test_push_uploads_only_safe_files(saved, monkeypatch):
    calls = {}
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.setdefault("create", (repo_id, kw)))

    def fake_upload(self, **kw):
        calls["upload"] = kw
        return "commit-info"

    monkeypatch.setattr(HfApi, "upload_folder", fake_upload)
    # junk a careless user might leave in the folder
    for name in ("optimizer.pt", "model.bin", "state.pkl", "upscaler/extra.pth", ".secret.json"):
        (saved / name).write_bytes(b"x")
    write_model_card(saved, title="t", datasets=[], license="mit", metrics={}, protocol="-", training="-")
    Image.new("RGB", (2, 2)).save(saved / "sample.png")

    assert push_pipeline_to_hub(saved, "someorg/tiny-sr", token="hf_fake", private=True) == "commit-info"
    repo_id, kw = calls["create"]
    assert repo_id == "someorg/tiny-sr" and kw["exist_ok"] is True and kw["private"] is True
    up = calls["upload"]
    assert up["repo_id"] == "someorg/tiny-sr" and Path(up["folder_path"]) == saved
    assert not any(p.endswith((".bin", ".pkl", ".pt", ".pth")) for p in up["allow_patterns"])
    # apply the patterns the way huggingface_hub does
    files = [p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()]
    kept = set(filter_repo_objects(files, allow_patterns=up["allow_patterns"], ignore_patterns=up["ignore_patterns"]))
    assert kept == {
        "model_index.json",
        "README.md",
        "sample.png",
        "upscaler/config.json",
        "upscaler/diffusion_pytorch_model.safetensors",
    }
    assert up["allow_patterns"] == UPLOAD_ALLOW_PATTERNS and up["ignore_patterns"] == UPLOAD_IGNORE_PATTERNS


def test_push_refuses_unsaved_folders(tmp_path):
    with pytest.raises(ValueError, match="save_pretrained"):
        push_pipeline_to_hub(tmp_path, "someorg/x")


def test_from_pretrained_repo_id_offline_from_cache(saved, tmp_path):
    """The real repo-id path of from_pretrained, served from a hand-built Hub cache, in a fresh process
    of a library user: no gradio or accelerate installed, and no card, upload or converter code loaded."""
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--someorg--tiny-sr"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(saved, repo / "snapshots" / commit)

    script = (
        "import sys; sys.modules['gradio'] = sys.modules['accelerate'] = None  # as if not installed\n"
        "import json, torch; from PIL import Image; from gan_models import SuperResolutionPipeline\n"
        "from gan_models.text_encoding import check_prompt, default_text_encoder_path\n"
        "check_prompt('red hair'); default_text_encoder_path()\n"
        "pipe = SuperResolutionPipeline.from_pretrained('someorg/tiny-sr')\n"
        "pipe.set_progress_bar_config(disable=True)\n"
        "out = pipe(Image.new('RGB', (5, 3))).images[0]\n"
        "rooms = ('gan_models.cards', 'gan_models.upload', 'gan_models.converters', 'training')\n"
        "loaded = [m for m in rooms if m in sys.modules]\n"
        "print(json.dumps([out.size, out.info['model'], pipe.upscaler.config.num_feat, loaded]))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_ENDPOINT": "http://127.0.0.1:9",  # any attempted request would fail at once
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("HF_TOKEN", None)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    size, model, num_feat, loaded = json.loads(res.stdout.strip().splitlines()[-1])
    assert size == [10, 6] and model == "someorg/tiny-sr" and num_feat == 4
    assert loaded == []  # the pipelines never pull in card, Hub-upload or converter code
