"""The shared engine through the super-resolution recipe: steps, exact resume, divergence, config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import ROOT, TINY_RUN, free_port, make_images, make_sr_benchmark
from training.config import EngineConfig, load_config
from training.engine import TrainingDivergedError, list_checkpoints
from training.train_superres import main as train_superres


def tiny_args(data: Path, out: Path, **extra) -> list[str]:
    args = {
        "data": str(data),
        "val_data": "",
        "output_dir": str(out),
        "arch": "compact",
        "num_feat": 8,
        "num_conv": 2,
        "scale": 4,
        "patch_size": 32,
        "batch_size": 2,
        **TINY_RUN,
        "lr_schedule": "constant",
        "ema_decay": 0.9,
        "d_num_feat": 8,
        "g_lr": 1e-3,
    }
    args.update(extra)
    return [f"--{k}={v}" for k, v in args.items()]


@pytest.mark.parametrize("stage", ["psnr", "gan"])
def test_resume_continues_exactly(image_folder: Path, tmp_path: Path, stage: str):
    # uninterrupted: 4 steps
    straight = tmp_path / "straight"
    folder = train_superres(tiny_args(image_folder, straight, stage=stage))
    assert (folder / "model_index.json").exists()
    # interrupted after 2 steps, resumed to 4
    resumed = tmp_path / "resumed"
    train_superres(tiny_args(image_folder, resumed, stage=stage, max_steps=2))
    train_superres(tiny_args(image_folder, resumed, stage=stage, resume="latest"))

    a, b = list_checkpoints(straight)[-1], list_checkpoints(resumed)[-1]
    assert json.loads((b / "trainer_state.json").read_text())["step"] == 4
    ema_a, ema_b = load_file(str(a / "ema.safetensors")), load_file(str(b / "ema.safetensors"))
    assert ema_a.keys() == ema_b.keys()
    for key in ema_a:
        torch.testing.assert_close(ema_a[key], ema_b[key], rtol=0, atol=1e-6, msg=key)
    # the same generator weights too, not only the EMA
    g_a, g_b = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    for key in g_a:
        torch.testing.assert_close(g_a[key], g_b[key], rtol=0, atol=1e-6, msg=key)


def test_checkpoint_limit_and_no_temporary_leftovers(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    train_superres(tiny_args(image_folder, out, max_steps=6, checkpoint_every=1, checkpoints_total_limit=2))
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["step-00000005", "step-00000006"]
    assert (out / "config.yaml").exists()


def test_exported_pipeline_is_fp16_ema_with_validated_card(image_folder: Path, tmp_path: Path):
    val = make_sr_benchmark(tmp_path / "val")
    folder = train_superres(tiny_args(image_folder, tmp_path / "run", max_steps=2, val_data=val))
    assert "psnr_y" in (folder / "README.md").read_text()
    assert len(list((tmp_path / "run" / "samples").glob("*.png"))) == 1
    weights = load_file(str(next((folder / "upscaler").glob("*.safetensors"))))
    assert all(t.dtype == torch.float16 for t in weights.values())
    assert (folder / "README.md").exists()
    ema = load_file(str(list_checkpoints(tmp_path / "run")[-1] / "ema.safetensors"))
    key = "body.0.weight"
    torch.testing.assert_close(weights[key].float(), ema[f"module.{key}"].half().float())


@pytest.mark.parametrize("log_every", [1, 5])
def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(
    image_folder: Path, tmp_path: Path, monkeypatch, log_every: int
):
    # log_every 5: losses are read back only every 5 steps, but the NaN of step 3 still surfaces before
    # the step-4 checkpoint would save weights it touched
    out = tmp_path / "run"
    train_superres(tiny_args(image_folder, out, max_steps=2))
    good = list_checkpoints(out)[-1]
    before = (good / "model.safetensors").read_bytes()

    from training.train_superres import SuperResolutionLoss

    real_step = SuperResolutionLoss.generator_step

    def diverging_step(self, G, D, batch, step):
        out = real_step(self, G, D, batch, step)
        return out if step < 3 else type(out)(out.loss * float("nan"), out.logs)

    monkeypatch.setattr(SuperResolutionLoss, "generator_step", diverging_step)
    with pytest.raises(TrainingDivergedError, match="generator loss is nan at step 3.*step-00000002"):
        train_superres(tiny_args(image_folder, out, max_steps=6, resume="latest", log_every=log_every))
    assert list_checkpoints(out)[-1] == good
    assert (good / "model.safetensors").read_bytes() == before


def test_config_rejects_unknown_keys_and_bad_types(tmp_path: Path):
    with pytest.raises(ValueError, match="Unknown config key 'max_stepz'.*max_steps"):
        load_config(EngineConfig, None, ["--max_stepz=3"])
    with pytest.raises(ValueError, match="expects int"):
        load_config(EngineConfig, None, ["--max_steps=abc"])
    preset = tmp_path / "p.yaml"
    preset.write_text("max_steps: 7\nmixed_precision: bf16\n")
    cfg = load_config(EngineConfig, str(preset), ["--max_steps=9"])
    assert (cfg.max_steps, cfg.mixed_precision) == (9, "bf16")


def test_two_process_training_really_runs_two_processes(tmp_path: Path):
    # torchrun over gloo starts two CPU processes; `accelerate launch --cpu --num_processes 2`
    # would silently run one, so the world size is read back from the checkpoint
    data = make_images(tmp_path / "images")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port()}",
        str(ROOT / "training" / "train_superres.py"),
        *tiny_args(data, out, max_steps=2, stage="gan"),
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)  # hang guard only
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((list_checkpoints(out)[-1] / "trainer_state.json").read_text())
    assert state == {**state, "step": 2, "world_size": 2}
    assert (out / "checkpoints" / "step-00000002" / "random_states_1.pkl").exists()


def test_evaluate_writes_scores_and_crop_grid_into_the_card(image_folder: Path, tmp_path: Path):
    from training.evaluation.superres import main as evaluate_main

    val = make_sr_benchmark(tmp_path / "Set5")
    folder = train_superres(tiny_args(image_folder, tmp_path / "run", max_steps=1))
    evaluate_main(["--model", str(folder), "--data", str(val), "--card", "--grid", "img0,img1", "--compare", "bicubic"])
    card = (folder / "README.md").read_text()
    assert "## Evaluation" in card and "| Set5 | 2 |" in card and "samples.png" in card
    assert "model-index" in card
    assert card.count("## Evaluation") == 1
    evaluate_main(["--model", str(folder), "--data", str(val), "--card"])  # again: replaced, not appended
    assert (folder / "README.md").read_text().count("## Evaluation") == 1


def test_gradient_accumulation_and_bf16_autocast(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    train_superres(
        tiny_args(image_folder, out, max_steps=2, gradient_accumulation_steps=2, mixed_precision="bf16", stage="gan")
    )
    state = json.loads((list_checkpoints(out)[-1] / "trainer_state.json").read_text())
    assert state["step"] == 2  # optimiser steps, not micro-steps


def test_push_to_hub_uploads_only_the_exported_ema_pipeline(image_folder: Path, tmp_path: Path, monkeypatch):
    from huggingface_hub import HfApi

    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id)))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw)))
    out = tmp_path / "run"
    train_superres(tiny_args(image_folder, out, max_steps=1, push_to_hub=True, hub_model_id="me/tiny-sr"))
    assert calls[0] == ("create", "me/tiny-sr")
    upload = calls[1][1]
    assert Path(upload["folder_path"]) == out / "pipeline" and upload["repo_id"] == "me/tiny-sr"
    assert "*.bin" in upload["ignore_patterns"] and "*.safetensors" in upload["allow_patterns"]
    assert len(calls) == 2
