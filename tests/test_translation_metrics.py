"""Translation metrics: PSNR, cycle consistency, the independent domain classifier and the CLI, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import make_images, save_tiny_translation_model
from training.evaluation.domain_classifier import (
    ClassifierConfig,
    classifier_accuracy,
    load_or_train_classifier,
    train_domain_classifier,
)
from training.evaluation.psnr_ssim import psnr_uint8
from training.evaluation.translation import format_report, main
from training.evaluation.translation_metrics import (
    cycle_metrics,
    translate_batches,
    translation_grid,
    translation_metrics,
)

TINY = ClassifierConfig(image_size=16, width=4, epochs=3, batch_size=8, lr=1e-2)


def domain_images(count: int, size: int, red: bool, seed: int) -> torch.Tensor:
    """Smooth random images tinted red (domain A) or blue (domain B): obviously different domains."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(count, 3, size // 4, size // 4, generator=gen)
    base = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    tint = torch.tensor([0.9, 0.2, 0.1] if red else [0.1, 0.2, 0.9])[None, :, None, None]
    return (0.4 * base + 0.6 * tint).mul(255).round().to(torch.uint8)


def swap_red_blue(x: torch.Tensor) -> torch.Tensor:
    """A perfect 'translator' between the two tinted domains, and its own inverse."""
    return x.flip(1)


def save_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def domains() -> dict[str, torch.Tensor]:
    return {
        "train_a": domain_images(24, 16, red=True, seed=0),
        "train_b": domain_images(24, 16, red=False, seed=1),
        "test_a": domain_images(8, 16, red=True, seed=2),
        "test_b": domain_images(8, 16, red=False, seed=3),
    }


@pytest.fixture(scope="module")
def classifier(domains):
    model, _ = train_domain_classifier(domains["train_a"], domains["train_b"], TINY)
    return model


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, domains) -> Path:
    root = tmp_path_factory.mktemp("face2tiny")
    for split, key in (("trainA", "train_a"), ("trainB", "train_b"), ("testA", "test_a"), ("testB", "test_b")):
        save_folder(root / split, domains[key])
    return root


# ------------------------------------------------------------------------------------------------
# PSNR and cycle consistency
# ------------------------------------------------------------------------------------------------


def test_psnr_uint8_identical_is_100_and_one_level_is_48_dB():
    x = torch.randint(0, 255, (3, 3, 8, 8), dtype=torch.uint8)
    assert psnr_uint8(x, x).tolist() == [100.0] * 3
    expected = 10 * np.log10(255.0**2)  # MSE 1
    assert torch.allclose(psnr_uint8(x + 1, x), torch.full((3,), expected))
    with pytest.raises(ValueError, match="same shape"):
        psnr_uint8(x, x[:2])


def test_cycle_metrics_identity_and_swap_are_perfect(domains):
    a, b = domains["test_a"], domains["test_b"]
    identity = cycle_metrics(lambda t: t, lambda t: t, a, b)
    swap = cycle_metrics(swap_red_blue, swap_red_blue, a, b)
    assert identity == swap == {"cycle_psnr_aba": 100.0, "cycle_psnr_bab": 100.0}
    with pytest.raises(ValueError, match="both translators"):
        cycle_metrics(None, swap_red_blue, a, b)


def test_translate_batches_runs_a_real_generator_at_any_size():
    from gan_models.translation import ResnetGenerator

    torch.manual_seed(0)
    generator = ResnetGenerator(ngf=4, n_blocks=1).half()  # fp16 on the CPU: run as a float32 copy
    x = torch.randint(0, 256, (5, 3, 18, 22), dtype=torch.uint8)  # not a multiple of 4: padded, cropped back
    out = translate_batches(generator, x, batch_size=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert generator.dtype == torch.float16  # the caller's module is untouched
    again = translate_batches(generator, x, batch_size=5)  # batching changes float sums, not the picture
    assert (out.int() - again.int()).abs().max() <= 1


# ------------------------------------------------------------------------------------------------
# the domain classifier
# ------------------------------------------------------------------------------------------------


def test_classifier_separates_two_obvious_domains(classifier, domains):
    accuracy = classifier_accuracy(classifier, domains["test_a"], domains["test_b"], image_size=16)
    assert accuracy == {"accuracy_a": 1.0, "accuracy_b": 1.0, "accuracy": 1.0}


def test_classifier_training_is_deterministic_for_a_seed(domains):
    a, b = domains["train_a"][:8], domains["train_b"][:8]
    config = ClassifierConfig(image_size=16, width=4, epochs=1, batch_size=8)
    first, info = train_domain_classifier(a, b, config)
    again, _ = train_domain_classifier(a, b, config)
    other, _ = train_domain_classifier(a, b, ClassifierConfig(image_size=16, width=4, epochs=1, batch_size=8, seed=1))
    state, state_again, state_other = first.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    assert not all(torch.equal(state[k], state_other[k]) for k in state)
    assert len(info["epochs"]) == 1 and info["seconds"] > 0


def test_classifier_cache_round_trip_and_no_test_leak(data_root: Path, tmp_path: Path):
    folders = [data_root / split for split in ("trainA", "trainB", "testA", "testB")]
    cache = tmp_path / "cache"
    model, info = load_or_train_classifier(*folders, config=TINY, cache_dir=cache, log=None)
    assert not info["cached"] and info["test"]["accuracy"] == 1.0 and info["test"]["num_a"] == 8
    saved = json.loads((Path(info["cache"]) / "classifier.json").read_text())
    assert saved["config"]["width"] == 4 and saved["train"]["num_a"] == 24 and saved["test"]["accuracy"] == 1.0
    assert (Path(info["cache"]) / "classifier.safetensors").is_file()

    loaded, info_again = load_or_train_classifier(*folders, config=TINY, cache_dir=cache, log=None)
    assert info_again["cached"] and info_again["cache"] == info["cache"]
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    # other settings: another cache entry, never the old weights
    _, other = load_or_train_classifier(
        *folders[:2], config=ClassifierConfig(**{**TINY.__dict__, "epochs": 1}), cache_dir=cache, log=None
    )
    assert not other["cached"] and other["cache"] != info["cache"]

    # a "test" folder that repeats training images is refused
    with pytest.raises(ValueError, match="pixel-identical"):
        load_or_train_classifier(folders[0], folders[1], folders[0], folders[3], config=TINY, cache_dir=None, log=None)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_or_train_classifier(tmp_path / "missing", folders[1], config=TINY, cache_dir=None, log=None)


def test_classifier_config_rejects_bad_values():
    with pytest.raises(ValueError, match="multiple of 16"):
        ClassifierConfig(image_size=20)
    with pytest.raises(ValueError, match="epochs"):
        ClassifierConfig(epochs=0)


# ------------------------------------------------------------------------------------------------
# translation_metrics and the grid
# ------------------------------------------------------------------------------------------------


def test_translation_metrics_identity_and_perfect_swap(classifier, domains):
    a, b = domains["test_a"], domains["test_b"]
    identity = translation_metrics((lambda t: t, lambda t: t), a, b, classifier, classifier_size=16)
    assert identity["cycle_psnr_aba"] == identity["cycle_psnr_bab"] == identity["identity_cycle_psnr"] == 100.0
    assert identity["l1_change_a_to_b"] == identity["l1_change_b_to_a"] == 0.0
    assert identity["classifier_accuracy_a"] == identity["classifier_accuracy_b"] == 1.0
    assert identity["target_share_a_to_b"] == identity["identity_target_share_a_to_b"] == 0.0
    assert identity["target_share_b_to_a"] == identity["identity_target_share_b_to_a"] == 0.0
    assert identity["unrelated_psnr_a"] < 40 and identity["num_test_a"] == 8

    swap = translation_metrics((swap_red_blue, swap_red_blue), a, b, classifier, classifier_size=16)
    assert swap["target_share_a_to_b"] == swap["target_share_b_to_a"] == 1.0
    assert swap["target_prob_a_to_b"] > 0.5 and swap["cycle_psnr_aba"] == 100.0 and swap["l1_change_a_to_b"] > 0.1

    report = format_report(swap, model="swap", domain_a="reds", domain_b="blues")
    assert "| translations judged the target domain | 100.0% | 100.0% |" in report
    assert "reds → blues" in report


def test_translation_metrics_fid_to_the_target_domain(domains):
    from training.evaluation.fid import RandomFeatureExtractor

    a, b = domains["test_a"], domains["test_b"]
    extractor = RandomFeatureExtractor(seed=0, input_size=16, widths=(16, 32, 64))  # the default's maths, small
    kwargs = {"feature_extractor": extractor, "train_a": domains["train_a"], "train_b": domains["train_b"]}
    identity = translation_metrics((lambda t: t, lambda t: t), a, b, **kwargs)
    assert identity["fid_a_to_b"] == pytest.approx(identity["identity_fid_a_to_b"])
    swap = translation_metrics((swap_red_blue, swap_red_blue), a, b, **kwargs)
    # a translator that lands in the target domain is much closer to it than its untouched input
    assert swap["fid_a_to_b"] < swap["identity_fid_a_to_b"] / 2 and swap["fid_b_to_a"] < swap["identity_fid_b_to_a"] / 2
    assert swap["real_fid_a_to_b"] < swap["identity_fid_a_to_b"]
    assert "FID of the translations" in format_report(swap)


def test_translation_metrics_one_direction_and_bad_inputs(classifier, domains):
    a, b = domains["test_a"], domains["test_b"]
    one_way = translation_metrics((swap_red_blue, None), a, b, classifier, classifier_size=16)
    assert "cycle_psnr_aba" not in one_way and "target_share_b_to_a" not in one_way
    assert one_way["target_share_a_to_b"] == 1.0
    assert "| n/a |" in format_report(one_way)
    no_judge = translation_metrics((swap_red_blue, swap_red_blue), a, b)
    assert "target_share_a_to_b" not in no_judge and no_judge["cycle_psnr_bab"] == 100.0
    with pytest.raises(ValueError, match="uint8 RGB"):
        translation_metrics((swap_red_blue, swap_red_blue), a.float(), b)
    with pytest.raises(ValueError, match="Both translators are None"):
        translation_metrics((None, None), a, b)
    with pytest.raises(TypeError, match="CycleGANPipeline"):
        translation_metrics(42, a, b)


def test_translation_grid_rows(domains):
    a, b = domains["test_a"], domains["test_b"]
    grid = translation_grid(swap_red_blue, swap_red_blue, a, b, count=8)
    assert grid.size == (8 * 16, 4 * 16)
    pixels = np.asarray(grid)
    assert np.array_equal(pixels[16:32, :16], a[0].flip(0).permute(1, 2, 0).numpy())  # row 2: A -> B of image 0
    assert translation_grid(None, swap_red_blue, a, b, count=3).size == (3 * 16, 2 * 16)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def data_args(root: Path) -> list[str]:
    return [
        f"--train-a={root / 'trainA'}",
        f"--train-b={root / 'trainB'}",
        f"--test-a={root / 'testA'}",
        f"--test-b={root / 'testB'}",
    ]


def test_cli_on_a_tiny_model_writes_table_grid_card_and_json(data_root: Path, tmp_path: Path, capsys):
    from gan_models.cards import write_model_card

    model = Path(save_tiny_translation_model(tmp_path / "tiny-cyclegan", train_size=16))
    write_model_card(model, title="tiny", datasets=["x"], license="mit", metrics={}, protocol="-", training="-")
    out_json = tmp_path / "scores.json"
    args = [f"--model={model}", *data_args(data_root), "--grid", "--card", f"--json={out_json}"]
    assert main([*args, f"--classifier-dir={tmp_path / 'cls'}"]) == 0

    printed = capsys.readouterr().out
    assert "| cycle-consistency PSNR (there and back), dB |" in printed and "real face → anime face" in printed
    scores = json.loads(out_json.read_text())
    for key in ("cycle_psnr_aba", "cycle_psnr_bab", "target_share_a_to_b", "target_share_b_to_a", "protocol"):
        assert key in scores
    assert scores["size"] == [16, 16] and scores["classifier"]["train"]["num_a"] == 24
    assert Image.open(model / "samples.png").size == (8 * 16, 4 * 16)
    card = (model / "README.md").read_text()
    assert "## Evaluation" in card and "Reproduce: `python -m training.evaluate_translation" in card
    assert "cycle_psnr_aba" in card  # machine-readable model-index
    assert list((tmp_path / "cls").glob("*/classifier.safetensors"))


def test_cli_rejects_bad_paths_and_models(data_root: Path, tmp_path: Path, capsys):
    def error(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    good = data_args(data_root)
    missing = tmp_path / "nope"
    assert "is not a folder of images" in error(["--model=x", *good, f"--test-b={missing}"])
    assert "Unknown model" in error([f"--model={missing}", *good])
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "model_index.json").write_text(json.dumps({"_class_name": "FaceGANPipeline"}))
    assert "not a CycleGANPipeline" in error([f"--model={faces}", *good, f"--classifier-dir={tmp_path}"])
    model = save_tiny_translation_model(tmp_path / "no-card")
    assert "write the card first" in error([f"--model={model}", *good, "--card"])
    make_images(tmp_path / "mixed", count=2, size=(20, 24))  # not square
    assert "--size" in error([f"--model={model}", *good[:2], f"--test-a={tmp_path / 'mixed'}", good[3]])
