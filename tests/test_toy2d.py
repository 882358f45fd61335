"""The GAN Lab's library side (gan_models/toy2d.py, gan_models/lab/) and its benchmark CLI (training/toy_benchmark.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_models.lab.loop import ToyGANTrainer, train_side_by_side, train_toy, update_every
from gan_models.lab.mode_metrics import mean_and_standard_error, mode_coverage
from gan_models.lab.recipes import COLLAPSE_RECIPE, RECIPES, make_recipe
from gan_models.toy2d import ToyDiscriminator, ToyGenerator, distribution_from_points, make_distribution
from training.toy_benchmark import main, parse_seeds

GRID = make_distribution("grid25")


def tiny(name: str = "vanilla", **overrides):
    """A preset at test size: a few steps of small networks."""
    return make_recipe(name, **{"steps": 30, "batch_size": 32, "g_hidden": 16, "d_hidden": 16, **overrides})


# ------------------------------------------------------------------ distributions and networks


def test_distributions_have_the_papers_modes_and_are_seeded():
    ring = make_distribution("ring8")
    assert ring.std == 0.01 and torch.allclose(ring.means.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring.means[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # (cos, sin)(2π·2/8)
    assert GRID.std == 0.05 and GRID.means.shape == (25, 2)
    assert sorted(set(GRID.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    for name in ("grid25", "ring8", "moons", "spiral"):
        data = make_distribution(name)
        a = data.sample(100, torch.Generator().manual_seed(3))
        b = data.sample(100, torch.Generator().manual_seed(3))
        assert a.shape == (100, 2) and torch.equal(a, b) and a.abs().max() < data.extent
    with pytest.raises(ValueError, match="choose one of grid25, ring8"):
        make_distribution("swiss-roll")


def test_a_point_set_becomes_a_centred_scaled_target():
    data = distribution_from_points([[100, 50], [300, 50], [200, 250], [float("nan"), 1]])  # the NaN row is dropped
    assert data.points.shape == (3, 2) and data.means is None and data.name == "points"
    assert float(data.points.abs().max()) == pytest.approx(3.0) and data.extent == pytest.approx(4.0)
    torch.testing.assert_close(data.points.mean(0)[0], torch.tensor(0.0))  # centred on the bounding box
    first = data.sample(500, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(first, data.sample(500, torch.Generator().manual_seed(1)))
    nearest = torch.cdist(first, data.points).min(dim=1).values
    assert float(nearest.max()) < 6 * data.std  # every sample is one of the points plus noise
    for bad, message in [
        ([[1, 2]], "at least 2 points"),
        ([[1, 2], [1, 2]], "same place"),
        ([1, 2, 3], "N rows of"),
        (np.zeros((6000, 2)), "at most 5000"),
        ([["a", "b"], [1, 2]], "numbers"),
    ]:
        with pytest.raises(ValueError, match=message):
            distribution_from_points(bad)


def test_packed_discriminator_judges_packs():
    D = ToyDiscriminator(hidden=8, pack=4, spectral_norm=True)
    assert D(torch.zeros(12, 2)).shape == (3,)
    with pytest.raises(ValueError, match="multiple of pack=4"):
        D(torch.zeros(10, 2))
    assert ToyGenerator(z_dim=3, hidden=8)(torch.zeros(5, 3)).shape == (5, 2)


# ------------------------------------------------------------------ metrics on hand-made samples


def test_metrics_all_modes_evenly():
    samples = GRID.means.repeat(100, 1)  # 2,500 points, 100 exactly on each mode
    m = mode_coverage(samples, GRID.means, GRID.std)
    assert (m.modes, m.high_quality, m.reverse_kl) == (25, 1.0, 0.0)
    assert m.counts == [100] * 25


def test_metrics_one_mode_is_collapse():
    samples = GRID.means[7] + 0.01 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    m = mode_coverage(samples, GRID.means, GRID.std)
    assert m.modes == 1 and m.high_quality == 1.0
    assert m.reverse_kl == pytest.approx(math.log(25))  # a point mass against uniform over 25


def test_metrics_off_mode_points_are_low_quality_and_not_counted():
    on = GRID.means.repeat(2, 1)  # 50 high-quality points, 2 per mode
    off = torch.tensor([[1.0, 1.0]]).repeat(50, 1)  # halfway between modes: 0.71 / 0.05 = 14 std away
    edge = GRID.means[:1] + torch.tensor([[0.149, 0.0]])  # just inside 3 std (0.15)
    outside = GRID.means[:1] + torch.tensor([[0.151, 0.0]])  # just outside
    m = mode_coverage(torch.cat([on, off, edge, outside]), GRID.means, GRID.std)
    assert m.modes == 25 and m.high_quality == pytest.approx(51 / 102)
    assert m.counts[0] == 3 and sum(m.counts) == 51
    q = np.array(m.counts) / 51  # the KL is over the high-quality histogram only
    assert m.reverse_kl == pytest.approx(float(np.sum(q * np.log(q * 25))))


def test_metrics_with_no_high_quality_sample_and_bad_input():
    m = mode_coverage(np.full((10, 2), 1.0), GRID.means.numpy(), GRID.std)
    assert (m.modes, m.high_quality, m.reverse_kl) == (0, 0.0, math.inf)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mode_coverage(np.zeros((4, 3)), GRID.means, GRID.std)
    with pytest.raises(ValueError, match="NaN"):
        mode_coverage(np.full((4, 2), np.nan), GRID.means, GRID.std)
    assert mean_and_standard_error([2.0, 4.0]) == (3.0, 1.0)


# ------------------------------------------------------------------ recipes and the loop


def test_recipes_check_their_fields():
    assert make_recipe("pacgan4").pack == 4 and "best" in RECIPES and "vanilla" in RECIPES
    with pytest.raises(ValueError, match="Unknown recipe 'magic'; choose one of vanilla"):
        make_recipe("magic")
    with pytest.raises(ValueError, match="Unknown recipe field"):
        make_recipe("vanilla", packing=2)
    with pytest.raises(ValueError, match="multiple of pack"):
        make_recipe("pacgan4", batch_size=30)
    with pytest.raises(ValueError, match="loss must be one of"):
        make_recipe("vanilla", loss="wasserstein")
    with pytest.raises(ValueError, match="r1_every must be >= 1"):
        make_recipe("best", r1_every=0)
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(ValueError, match="Seeds look like"):
        parse_seeds("a-b")


def test_a_short_run_is_deterministic_for_a_seed():
    def run(seed: int) -> np.ndarray:
        trainer = ToyGANTrainer("grid25", tiny("best", steps=25, pack=2, r1_gamma=0.5), seed)
        trainer.train_steps(25)
        return trainer.samples()

    first, second, other = run(3), run(3), run(4)
    assert first.shape == (2500, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("wgan-gp", {"pack": 2}),
        ("hinge-sn", {}),
        ("lsgan", {"r1_gamma": 1.0}),
        ("unrolled5", {"unrolled_steps": 2}),
        ("best", {"pack": 2, "r1_every": 2}),  # lazy R1 on a packed D
    ],
)
def test_every_loss_and_option_trains(name, overrides):
    runs = list(train_toy("ring8", tiny(name, steps=6, **overrides), every=3, display=16))
    assert [s.step for _, s in runs] == [0, 3, 6]
    trainer, last = runs[-1]
    assert len(last.d_losses) == 6 and all(math.isfinite(v) for v in last.d_losses + last.g_losses)
    assert last.fake.shape == (16, 2) and last.arrows.shape == (16, 2) and last.metrics is not None
    surface = trainer.decision_surface(8)
    assert surface.shape == (8, 8) and 0 <= surface.min() <= surface.max() <= 1


def test_the_ema_follows_the_engines_warm_up_rule(monkeypatch):
    from gan_models.lab import loop

    calls = []
    rule = loop.ema_weight  # gan_models.ema's, the one the engine's GeneratorEMA follows
    monkeypatch.setattr(loop, "ema_weight", lambda decay, n: calls.append((decay, n)) or rule(decay, n))
    trainer = ToyGANTrainer("ring8", tiny("nsgan", ema_decay=0.9, steps=3), seed=0)
    trainer.train_steps(3)
    assert calls == [(0.9, 0), (0.9, 1), (0.9, 2)] and trainer.final_generator is trainer.G_ema


def test_runs_side_by_side_stream_in_turns_until_every_budget_ends():
    stream = train_side_by_side("grid25", [tiny(steps=5), tiny("best", steps=9)], seed=1, every=4)
    assert [[t.step for t in trainers] for trainers in stream] == [[0, 0], [4, 4], [5, 8], [5, 9]]
    assert update_every(2000) == 250 and update_every(16_000) == 300  # at most ~60 updates a run
    with pytest.raises(ValueError, match="at least one recipe"):
        next(train_side_by_side("grid25", []))
    # the collapse demo's preset lives with the other recipes
    assert COLLAPSE_RECIPE in RECIPES and make_recipe(COLLAPSE_RECIPE).d_hidden > make_recipe("best").d_hidden


def test_a_picture_per_update_side_by_side():
    from gan_models.lab.picture import PANEL, draw_runs, real_points

    trainers = next(train_side_by_side("grid25", [tiny(), tiny("pacgan4", batch_size=32)], seed=0))
    real = real_points(trainers[0].data, seed=0)
    picture, shots = draw_runs(list(zip(["vanilla", "pacgan4"], trainers)), real)
    assert picture.width > 2 * PANEL and [label for label, _, _ in shots] == ["vanilla", "pacgan4"]
    assert shots[0][2].step == 0 and shots[0][2].metrics is not None
    np.testing.assert_array_equal(real, real_points(trainers[0].data, seed=0))  # the same real points every update


# ------------------------------------------------------------------ the benchmark CLI


def test_cli_writes_the_samples_it_promises(tmp_path: Path, capsys):
    out = tmp_path / "run"
    code = main(["--dataset", "ring8", "--recipe", "vanilla", "--seed", "0", "--steps", "20", "--out", str(out)])
    assert code == 0
    samples = np.load(out / "samples.npy", allow_pickle=False)
    assert samples.shape == (2500, 2) and samples.dtype == np.float32

    def no_infinity(name):
        raise AssertionError(f"metrics.json holds {name}: not strict JSON")

    summary = json.loads((out / "metrics.json").read_text(), parse_constant=no_infinity)
    assert summary["dataset"] == "ring8" and set(summary["modes"]) == {"mean", "se"}
    # 20 steps put no sample within 3 std of a ring mode: no histogram, so KL is null, and counted apart
    assert summary["runs"][0]["high_quality"] == 0 and summary["runs"][0]["reverse_kl"] is None
    assert summary["reverse_kl"] == {"mean": None, "se": None, "seeds": 0}
    assert json.loads((out / "recipe.json").read_text())["name"] == "vanilla"
    printed = capsys.readouterr().out
    assert "modes" in printed and "high quality" in printed and "reverse KL" in printed


def test_cli_over_seeds_and_bad_input(tmp_path: Path, capsys):
    code = main(
        ["--dataset", "grid25", "--recipe", "pacgan4", "--seeds", "0-1", "--steps", "5", "--out", str(tmp_path)]
    )
    assert code == 0
    assert np.load(tmp_path / "seed-1" / "samples.npy", allow_pickle=False).shape == (2500, 2)
    assert "2 seed(s): modes" in capsys.readouterr().out
    assert main(["--recipe", "magic", "--steps", "5"]) == 2
    assert "Unknown recipe 'magic'" in capsys.readouterr().err
    assert main(["--recipe", "vanilla", "--set", "pack=x"]) == 2
