"""FID / KID with pluggable features, the nearest-neighbour memorisation check, and the faces evaluate CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.conftest import make_images
from training.evaluation.faces import face_metrics, main, sample_images
from training.evaluation.fid import FIDEvaluator, RandomFeatureExtractor, make_feature_extractor
from training.evaluation.memorisation import MemorisationCheck, nearest_neighbour_distances, nearest_neighbour_indices


def _faces(count: int, seed: int, size: int = 16) -> torch.Tensor:
    """Smooth, face-free but image-like uint8 pictures: low-frequency colour fields, upsampled."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 4, 4, generator=gen)
    return (torch.nn.functional.interpolate(coarse, size=size, mode="bicubic").clamp(0, 1) * 255).round().byte()


@pytest.fixture(scope="module")
def extractor() -> RandomFeatureExtractor:
    # the default network's maths at a test's size (16-px images, 64 features): the FID and KID code is
    # the same, and the default network itself is checked below
    return RandomFeatureExtractor(seed=0, input_size=16, widths=(16, 32, 64))


@pytest.fixture(scope="module")
def reals() -> torch.Tensor:
    return _faces(96, seed=0)


# ------------------------------------------------------------------------------------- FID / KID
def test_fid_of_a_set_against_itself_is_zero(reals, extractor):
    scores = FIDEvaluator(reals, extractor, kid_subset_size=48).score(reals)
    assert set(scores) == {"fid", "kid", "kid_std"}
    assert abs(scores["fid"]) < 1e-5 * max(1.0, float(extractor(reals).var(0).sum()))
    assert math.isfinite(scores["kid"]) and abs(scores["kid"]) < 1e-3
    assert scores["kid_std"] >= 0


def test_fid_grows_with_the_difference(reals, extractor):
    evaluator = FIDEvaluator(reals, extractor, kid_subset_size=48)
    same_kind = evaluator.score(_faces(96, seed=1))  # another draw of the same distribution
    darker = evaluator.score((_faces(96, seed=1).float() * 0.6).byte())
    noise = evaluator.score(torch.randint(0, 256, (96, 3, 16, 16), dtype=torch.uint8))
    assert 0 < same_kind["fid"] < darker["fid"] < noise["fid"]
    for scores in (same_kind, darker, noise):
        assert all(math.isfinite(v) for v in scores.values())
    assert noise["kid"] > same_kind["kid"]


def test_score_is_repeatable_and_leaves_the_global_rng_alone(reals, extractor):
    evaluator = FIDEvaluator(reals, extractor, kid_subset_size=32, kid_subsets=10)
    fakes = _faces(50, seed=2)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = evaluator.score(fakes)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert evaluator.score(fakes) == first
    # more fakes than the KID subset size, and fewer: the subset size is clipped to the smaller set
    assert math.isfinite(evaluator.score(_faces(20, seed=3))["kid"])


def test_evaluator_matches_torchmetrics_fed_with_images(reals, extractor):
    """The cached-feature path gives torchmetrics' own FID with the extractor as ``feature=``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fakes = _faces(40, seed=4)
    direct = FrechetInceptionDistance(feature=extractor)
    direct.update(reals, real=True)
    direct.update(fakes, real=False)
    assert FIDEvaluator(reals, extractor, kid_subset_size=40).score(fakes)["fid"] == pytest.approx(
        float(direct.compute()), rel=1e-6, abs=1e-9
    )


def test_extractor_survives_the_torchmetrics_probe(extractor):
    """Without ``num_features`` torchmetrics probes a custom module with one uint8 299x299 image."""

    class NoAttribute(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = extractor

        def forward(self, x):
            return self.inner(x)

    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=NoAttribute())
    assert metric.real_features_sum.shape == (extractor.num_features,)


# ---------------------------------------------------------------------------- feature extractors
def test_random_extractor_is_deterministic(reals):
    torch.manual_seed(1)
    a = make_feature_extractor("random")
    torch.manual_seed(2)  # the global RNG must not matter
    b = make_feature_extractor("random")
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    few = reals[:8]
    assert torch.equal(a(few), b(few))
    assert not torch.equal(a(few), make_feature_extractor("random", seed=1)(few))
    # a fixed, known weight: the same network on every machine and torch version with the same CPU RNG
    first = a.convs[0].weight.flatten()[:3]
    assert torch.allclose(first, RandomFeatureExtractor(seed=0).convs[0].weight.flatten()[:3])


@pytest.mark.parametrize("size", [16, 64, 299])
def test_random_extractor_shapes_and_modes(size):
    default = make_feature_extractor("random")
    features = default(torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8))
    assert features.shape == (2, 512) and features.dtype == torch.float32
    default.train()
    assert not default.training  # nothing ever trains it


def test_extractor_rejects_float_images_with_a_hint(extractor):
    with pytest.raises(ValueError, match="uint8"):
        extractor(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="uint8"):
        FIDEvaluator(torch.rand(4, 3, 16, 16), extractor)


def test_make_feature_extractor_errors(tmp_path):
    with pytest.raises(ValueError, match="random"):
        make_feature_extractor("vgg")
    with pytest.raises(ValueError, match="--inception-weights"):
        make_feature_extractor("inception")
    with pytest.raises(ValueError, match="not a file"):
        make_feature_extractor("inception", weights_path=tmp_path / "missing.pth")


# ------------------------------------------------------------------------------ nearest neighbours
def test_nearest_neighbour_distances_on_hand_made_images():
    references = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    references[1] = 255
    references[2, :, :2] = 255  # top half white: RMS distance 0.5 ** 0.5 to black and to white
    queries = torch.stack(
        [
            torch.full((3, 4, 4), 51, dtype=torch.uint8),  # 0.2 everywhere -> black, 0.2
            references[2],  # an exact copy -> 0
            torch.full((3, 4, 4), 255, dtype=torch.uint8),  # white -> 0
        ]
    )
    queries[2, 0, 0, 0] = 0  # one of 48 values off by 1.0 -> sqrt(1 / 48)
    for chunk in (1, 2, 1024):
        distances, indices = nearest_neighbour_indices(queries, references, chunk=chunk)
        assert distances.dtype == torch.float64
        assert torch.allclose(distances, torch.tensor([0.2, 0.0, (1 / 48) ** 0.5], dtype=torch.float64), atol=1e-12)
        assert indices.tolist() == [0, 2, 1]
    # float images in [0, 1] give the same answer
    assert torch.allclose(nearest_neighbour_distances(queries / 255, references / 255), distances)


def test_nearest_neighbour_distances_match_brute_force():
    gen = torch.Generator().manual_seed(0)
    queries = torch.randint(0, 256, (13, 3, 5, 5), generator=gen, dtype=torch.uint8)
    references = torch.randint(0, 256, (29, 3, 5, 5), generator=gen, dtype=torch.uint8)
    full = torch.cdist(queries.flatten(1).double() / 255, references.flatten(1).double() / 255) / math.sqrt(75)
    expected, _ = full.min(dim=1)
    assert torch.allclose(nearest_neighbour_distances(queries, references, chunk=4), expected, atol=1e-12)


def test_nearest_neighbour_distances_check_shapes():
    with pytest.raises(ValueError, match="same"):
        nearest_neighbour_distances(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="chunk"):
        nearest_neighbour_distances(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), chunk=0)


def test_memorisation_check_flags_copies():
    train, test = _faces(40, seed=10), _faces(20, seed=11)
    check = MemorisationCheck(train, test)
    copies = check.score(train[:10])
    assert copies["nn_fake_median"] == 0 and copies["nn_ratio_median"] == 0
    fresh = check.score(_faces(20, seed=12))  # new draws of the same distribution: no copying
    assert 0.5 < fresh["nn_ratio_median"] < 2
    assert fresh["nn_num_fake"] == 20 and fresh["nn_num_real"] == 20


# ----------------------------------------------------------------------------------- the generator
def test_module_and_pipeline_give_the_same_faces(faces_model_dir):
    from gan_models import FaceGANPipeline

    pipe = FaceGANPipeline.from_pretrained(faces_model_dir, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    module = pipe.stylegan.train()
    from_pipe = sample_images(pipe, 5, seed=3, truncation=0.7, batch_size=2)
    from_module = sample_images(module, 5, seed=3, truncation=0.7)
    assert from_pipe.shape == (5, 3, 16, 16) and from_pipe.dtype == torch.uint8
    assert torch.equal(from_pipe, from_module)
    assert module.training  # restored after sampling
    # image i depends on seed + i only, whatever the batching
    assert torch.equal(sample_images(pipe, 2, seed=4, truncation=0.7), from_pipe[1:3])


def test_face_metrics_for_training_validation(faces_model_dir, extractor):
    from gan_models import FaceGANPipeline

    pipe = FaceGANPipeline.from_pretrained(faces_model_dir, dtype=torch.float32)
    train, test = _faces(30, seed=20), _faces(20, seed=21)
    result = face_metrics(
        pipe.stylegan,
        FIDEvaluator(test, extractor, kid_subset_size=10),
        num_samples=12,
        memorisation=MemorisationCheck(train, test),
    )
    assert result["num_samples"] == 12 and result["fid"] > 0 and result["nn_num_fake"] == 12
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in result.values())


# ------------------------------------------------------------------------------------------- CLI
def test_evaluate_cli_writes_json_grid_and_card(faces_model_dir, tmp_path, capsys):
    from gan_models.cards import write_model_card

    model = Path(shutil.copytree(faces_model_dir, tmp_path / "model"))  # the fixture is shared: write a copy
    write_model_card(
        model, title="Tiny faces", datasets=["celeba"], license="other", metrics={}, protocol="-", training="-"
    )
    # a "celeba" folder: the card must then carry CelebA's non-commercial terms
    train = make_images(tmp_path / "celeba_tiny" / "train", count=12, size=(24, 20), seed=1)
    test = make_images(tmp_path / "celeba_tiny" / "test", count=8, size=(24, 20), seed=2)
    out = tmp_path / "scores.json"
    argv = ["--model", str(model), "--train", str(train), "--test", str(test), "--num-samples", "10"]
    argv += ["--crop-box", "center", "--kid-subset-size", "5", "--grid", "--card", "--json", str(out)]
    assert main(argv) == 0

    result = json.loads(out.read_text())
    assert result["num_samples"] == 10 and result["num_test"] == 8 and result["num_train"] == 12
    assert result["resolution"] == 16 and math.isfinite(result["fid"]) and math.isfinite(result["kid"])
    assert "random-network features" in result["protocol"] and "10 generated faces" in result["protocol"]
    assert result["nn_real_median"] > 0 and math.isfinite(result["nn_ratio_median"])
    grid = Image.open(model / "samples.png")
    assert grid.size == (128, 128) and grid.info["ai_generated"] == "true"
    card = (model / "README.md").read_text()
    assert "FID (random features)" in card and "samples.png" in card and "non-commercial" in card
    assert "fid-random-net" in card  # the model-index name says these are not Inception FIDs
    assert "--crop-box center" in card and "celeba_tiny/test" in card
    assert "FID (random features)" in capsys.readouterr().out


def test_evaluate_cli_checks_its_arguments(faces_model_dir, tmp_path, capsys):
    test = make_images(tmp_path / "test", count=4, size=(24, 20))
    model = Path(shutil.copytree(faces_model_dir, tmp_path / "model"))  # a copy, without a model card
    (model / "README.md").unlink(missing_ok=True)
    base = ["--model", str(model), "--test", str(test)]
    for extra, message in [
        (["--num-samples", "1"], "at least 2"),
        (["--feature", "inception"], "--inception-weights"),
        (["--crop-box", "1,2,3"], "LEFT,TOP,RIGHT,BOTTOM"),
        (["--train", str(tmp_path / "nope")], "not a folder"),
        (["--card"], "write the card first"),
    ]:
        with pytest.raises(SystemExit):
            main(base + extra)
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", "no-such-model", "--test", str(test)])
    assert "Unknown model" in capsys.readouterr().err
