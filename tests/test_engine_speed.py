"""The engine's speed switches keep the maths: EMA without host syncs, deferred NaN checks, time budget,
channels_last and torch.compile (CPU here; their speed is measured on a GPU by benchmarks/bench_gpu.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.optim.swa_utils import AveragedModel

from tests.conftest import make_images
from tests.test_training import tiny_args
from training.config import EngineConfig
from training.ema import GeneratorEMA
from training.engine import Engine, _lr_lambda, list_checkpoints
from training.train_superres import main as train_superres


def _previous_ema_rule(decay: float):
    """The multi_avg_fn the engine used with AveragedModel before GeneratorEMA (reads n on the host)."""

    @torch.no_grad()
    def update(ema_params, model_params, num_averaged):
        n = int(num_averaged)
        weight = 1 - min(decay, (1 + n) / (10 + n))
        for e, m in zip(ema_params, model_params):
            e.lerp_(m, weight) if e.is_floating_point() else e.copy_(m)

    return update


def test_generator_ema_equals_averaged_model_and_loads_its_checkpoints():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = GeneratorEMA(model, decay=0.9)
    reference = AveragedModel(model, multi_avg_fn=_previous_ema_rule(0.9), use_buffers=True)
    for _ in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(8, 3))  # moves the batch-norm statistics and counter
        ema.update(model)
        reference.update_parameters(model)
    mine, theirs = ema.state_dict(), reference.state_dict()
    assert mine.keys() == theirs.keys()
    for key in mine:
        torch.testing.assert_close(mine[key], theirs[key], rtol=0, atol=1e-6, msg=key)
    restored = GeneratorEMA(model, decay=0.9)
    restored.load_state_dict(theirs)
    assert restored.num_updates == 5  # read back once, at load
    with pytest.raises(ValueError, match="ema_decay"):
        GeneratorEMA(model, decay=1.5)


def test_time_budget_stops_exports_and_records_the_plan(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    # a budget shorter than the set-up: the run stops after its first step, exported and checkpointed
    folder = train_superres(tiny_args(image_folder, out, max_steps=1000, max_minutes=1e-5, checkpoint_every=500))
    assert (folder / "model_index.json").exists()
    state = json.loads((list_checkpoints(out)[-1] / "trainer_state.json").read_text())
    assert state["step"] == state["max_steps"] == 1


def test_a_shorter_plan_reshapes_the_schedule():
    config = EngineConfig(max_steps=100, lr_schedule="linear", lr_decay_start=50, report_to="none")
    engine = Engine(config, lambda cfg: None)
    engine._requested_decay_start = config.lr_decay_start
    factor = _lr_lambda(config)
    assert factor(60) == pytest.approx(0.8)
    engine._plan(40)  # the budget allows 40 steps: the decay now starts at 20 and ends at 40
    assert (config.max_steps, config.lr_decay_start) == (40, 20)
    assert factor(30) == pytest.approx(0.5)
    engine._plan(400)  # never longer than asked
    assert config.max_steps == 100
    engine.step = 100  # a re-plan at the last step does not add one
    engine._plan(101)
    assert config.max_steps == 100
    with pytest.raises(ValueError, match="max_minutes"):
        Engine(EngineConfig(max_minutes=-1, report_to="none"), lambda cfg: None)
    with pytest.raises(ValueError, match="compile"):
        Engine(EngineConfig(compile="everything", report_to="none"), lambda cfg: None)


@pytest.mark.parametrize("switches", [{"channels_last": True}, {"compile": "generator"}])
def test_channels_last_and_compile_train_like_the_plain_run(tmp_path: Path, switches: dict):
    data = make_images(tmp_path / "images")

    def final_weights(name: str, **extra) -> dict[str, torch.Tensor]:
        train_superres(tiny_args(data, tmp_path / name, max_steps=2, stage="gan", **extra))
        return load_file(str(list_checkpoints(tmp_path / name)[-1] / "model.safetensors"))

    plain, fast = final_weights("plain"), final_weights("fast", **switches)
    for key in plain:
        torch.testing.assert_close(fast[key], plain[key], rtol=1e-4, atol=1e-5, msg=key)
