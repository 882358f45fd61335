"""The CycleGAN recipe on the shared engine: a few steps on tiny folders, then an exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_RUN, make_images
from training.engine import RECIPE_STATE, Engine, list_checkpoints
from training.train_cyclegan import ImagePool
from training.train_cyclegan import main as train_cyclegan


def tiny_args(data: Path, out: Path, **extra) -> list[str]:
    args = {
        "data_a": str(data / "trainA"),
        "data_b": str(data / "trainB"),
        "val_a": str(data / "testA"),
        "val_b": str(data / "testB"),
        "domain_a": "reds",
        "domain_b": "blues",
        "output_dir": str(out),
        "size": 32,
        "ngf": 4,
        "n_blocks": 1,
        "ndf": 4,
        "batch_size": 2,
        **TINY_RUN,
        "max_steps": 6,
        "lr_decay_start": 2,  # the linear decay runs inside the tested steps
        "pool_size": 3,  # full after two steps: both the fill and the swap branch run
        "checkpoint_every": 3,
    }
    args.update(extra)
    return [f"--{k}={v}" for k, v in args.items()]


@pytest.fixture
def cycle_folders(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for split, count in (("trainA", 5), ("trainB", 4), ("testA", 2), ("testB", 2)):
        make_images(root / split, count=count, size=(20, 18))
    return root


def test_resume_restores_pools_optimisers_and_schedule(cycle_folders: Path, tmp_path: Path, monkeypatch):
    straight = tmp_path / "straight"
    folder = train_cyclegan(tiny_args(cycle_folders, straight))
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "CycleGANPipeline"
    assert (index["domain_a"], index["train_size"]) == ("reds", 32)
    assert (folder / "samples.png").exists() and (folder / "README.md").exists()

    # a run killed right after its step-3 checkpoint (the schedule depends on max_steps, so the
    # interrupted run must be the same 6-step run, not a shorter one)
    resumed = tmp_path / "resumed"
    save = Engine.save_checkpoint

    def save_then_crash(engine: Engine) -> Path:
        folder = save(engine)
        if engine.step == 3:
            raise KeyboardInterrupt
        return folder

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "save_checkpoint", save_then_crash)
        with pytest.raises(KeyboardInterrupt):
            train_cyclegan(tiny_args(cycle_folders, resumed))
    assert [p.name for p in list_checkpoints(resumed)] == ["step-00000003"]
    train_cyclegan(tiny_args(cycle_folders, resumed, resume="latest"))

    a, b = list_checkpoints(straight)[-1], list_checkpoints(resumed)[-1]
    assert json.loads((b / "trainer_state.json").read_text())["step"] == 6
    state_a, state_b = load_file(str(a / RECIPE_STATE)), load_file(str(b / RECIPE_STATE))
    assert set(state_a) == {"pool_a", "pool_b", "pending_fake_a", "pending_fake_b"}
    assert state_a["pool_a"].shape == (3, 3, 32, 32)
    for key in state_a:
        torch.testing.assert_close(state_a[key], state_b[key], rtol=0, atol=1e-6, msg=key)
    # networks: model = both generators, model_1 = both discriminators
    for name in ("model.safetensors", "model_1.safetensors", "ema.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=1e-6, msg=f"{name}:{key}")
    for name in ("optimizer.bin", "optimizer_1.bin", "scheduler.bin", "scheduler_1.bin"):
        x = torch.load(a / name, weights_only=True)
        y = torch.load(b / name, weights_only=True)
        if name.startswith("scheduler"):
            assert x["last_epoch"] == y["last_epoch"] == 6
            assert x["_last_lr"] == pytest.approx(y["_last_lr"]) and x["_last_lr"][0] < 2e-4  # decaying
        else:
            for slot, values in x["state"].items():
                for k, v in values.items():
                    torch.testing.assert_close(v, y["state"][slot][k], rtol=0, atol=1e-6, msg=f"{name}:{slot}:{k}")


def test_generator_keys_are_junyanz_layout_inside_the_pair(cycle_folders: Path, tmp_path: Path):
    # no test split (as in a GPU campaign): the card's grid shows training images instead
    folder = train_cyclegan(
        tiny_args(
            cycle_folders, tmp_path / "run", max_steps=1, checkpoint_every=1, lambda_identity=0, val_a="", val_b=""
        )
    )
    assert (folder / "samples.png").is_file()
    keys = load_file(str(list_checkpoints(tmp_path / "run")[-1] / "model.safetensors")).keys()
    assert {"a_to_b.model.1.weight", "b_to_a.model.10.conv_block.5.bias", "a_to_b.model.18.weight"} <= set(keys)


def test_image_pool_fills_then_swaps_deterministically():
    gen = torch.Generator().manual_seed(0)
    pool = ImagePool(2)
    first = torch.arange(2.0).view(2, 1, 1, 1)
    assert torch.equal(pool.query(first, gen), first) and len(pool) == 2  # filling: pass-through
    new = torch.full((16, 1, 1, 1), 9.0)
    out = pool.query(new, torch.Generator().manual_seed(1))
    assert len(pool) == 2 and (out != 9).any() and (out == 9).any()  # some swapped for old fakes
    again = ImagePool(2)
    again.load(first.clone())
    assert torch.equal(again.query(new, torch.Generator().manual_seed(1)), out)
    assert torch.equal(ImagePool(0).query(new, gen), new)


def test_bad_settings_are_rejected(cycle_folders: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="pool_size"):
        train_cyclegan(tiny_args(cycle_folders, tmp_path / "bad", pool_size=-1))
    with pytest.raises(ValueError, match="at least 32"):
        train_cyclegan(tiny_args(cycle_folders, tmp_path / "bad1", size=16))
    with pytest.raises(FileNotFoundError):
        train_cyclegan(tiny_args(cycle_folders, tmp_path / "bad2", data_b=str(tmp_path / "nowhere")))
