"""Text-alignment metrics: the hair/eye colour classifier, alignment_metrics with stub generators, and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.captions import EYE_COLOURS, HAIR_COLOURS, HELD_OUT_TEMPLATES, free_form_prompts, tag_prompt
from training.evaluation.attribute_classifier import (
    AttributeConfig,
    load_or_train_attribute_classifier,
    predict_attributes,
    score_attributes,
    train_attribute_classifier,
)
from training.evaluation.text2image import alignment_metrics, format_report, main, pipeline_generator

TINY = AttributeConfig(image_size=16, width=4, epochs=6, batch_size=8, lr=1e-2)
# a few colours of each attribute, drawn as obviously different RGB values
HAIR_RGB = {"red": (220, 30, 30), "blue": (30, 40, 220), "green": (30, 200, 40)}
EYE_RGB = {"yellow": (235, 225, 20), "purple": (120, 20, 160)}
PAIRS = [(hair, eye) for hair in HAIR_RGB for eye in EYE_RGB]


def face(hair: str, eye: str, seed: int, size: int = 16) -> torch.Tensor:
    """A 'face' a CNN reads trivially: top half in the hair colour, bottom half in the eye colour, light noise."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3))
    image[: size // 2] = HAIR_RGB[hair]
    image[size // 2 :] = EYE_RGB[eye]
    image += rng.normal(0, 6, image.shape)
    return torch.from_numpy(image.clip(0, 255).round().astype(np.uint8)).permute(2, 0, 1)


def faces(per_pair: int, seed: int) -> tuple[torch.Tensor, list[str], list[str]]:
    rows = [(hair, eye, seed * 1000 + i) for i in range(per_pair) for hair, eye in PAIRS]
    return torch.stack([face(h, e, s) for h, e, s in rows]), [r[0] for r in rows], [r[1] for r in rows]


def save_split(folder: Path, images: torch.Tensor, hair: list[str], eye: list[str]) -> Path:
    """An anime_faces_tagged-shaped split: images/<id>.png and captions.csv (file,hair,eyes,text)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with (folder / "captions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "hair", "eyes", "text"])
        for i, (image, h, e) in enumerate(zip(images, hair, eye)):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / "images" / f"{i:04d}.png")
            writer.writerow([f"{i:04d}.png", f"{h} hair", f"{e} eyes", tag_prompt(h, e)])
    return folder


@pytest.fixture(scope="module")
def data() -> dict:
    return {"train": faces(4, seed=0), "test": faces(2, seed=1)}


@pytest.fixture(scope="module")
def classifier(data):
    model, _ = train_attribute_classifier(*data["train"], TINY)
    return model


@pytest.fixture(scope="module")
def splits(tmp_path_factory, data) -> Path:
    root = tmp_path_factory.mktemp("tagged")
    save_split(root / "train", *data["train"])
    save_split(root / "test", *data["test"])
    return root


def asked_colours(prompt: str) -> tuple[str, str]:
    """The (hair, eye) pair a tag or free-form prompt of PAIRS asks for."""
    for hair, eye in PAIRS:
        if prompt == tag_prompt(hair, eye) or prompt in free_form_prompts(hair, eye):
            return hair, eye
    raise AssertionError(f"unexpected prompt {prompt!r}")


def obedient(prompt: str, seeds: list[int]) -> torch.Tensor:
    """A stub generator that draws exactly what it is asked for."""
    return torch.stack([face(*asked_colours(prompt), seed) for seed in seeds])


# ------------------------------------------------------------------------------------------------
# the classifier
# ------------------------------------------------------------------------------------------------


def test_classifier_learns_separable_colours_and_predicts_label_indices(classifier, data):
    images, hair, eye = data["test"]
    hair_pred, eye_pred = predict_attributes(classifier, images, image_size=16)
    assert hair_pred.shape == eye_pred.shape == (len(images),) and hair_pred.dtype == torch.long
    assert [HAIR_COLOURS[i] for i in hair_pred] == hair
    assert [EYE_COLOURS[i] for i in eye_pred] == eye
    # any input size works (resized to the classifier's), and 64 px faces too
    assert predict_attributes(classifier, torch.zeros(3, 3, 64, 64, dtype=torch.uint8), 16)[0].shape == (3,)


def test_training_is_deterministic_and_checks_its_inputs(data):
    images, hair, eye = data["train"]
    config = AttributeConfig(image_size=16, width=4, epochs=1, batch_size=8)
    first, info = train_attribute_classifier(images, hair, eye, config)
    again, _ = train_attribute_classifier(images, hair, eye, config)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in first.state_dict().items())
    assert len(info["epochs"]) == 1 and info["seconds"] > 0
    with pytest.raises(ValueError, match="one each per image"):
        train_attribute_classifier(images, hair[:-1], eye, config)
    with pytest.raises(ValueError, match="Unknown colour"):
        train_attribute_classifier(images[:1], ["tartan"], ["blue"], config)
    with pytest.raises(ValueError, match="colour is what"):
        AttributeConfig(color_jitter=0.1)


def test_score_attributes_counts_heads_classes_and_confusions():
    truth_hair, truth_eye = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    r = score_attributes(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 0, 0, 1]), truth_hair, truth_eye)
    assert (r["hair_accuracy"], r["eye_accuracy"], r["both_accuracy"]) == (0.75, 0.75, 0.5)
    assert r["per_hair"]["brown"] == {"num_images": 2, "hair_accuracy": 0.5, "eye_accuracy": 1.0, "both_accuracy": 0.5}
    assert set(r["per_hair"]) == {"blonde", "brown"} and r["hair_balanced_accuracy"] == 0.75
    assert r["hair_confusion"][1][2] == 1 and sum(map(sum, r["eye_confusion"])) == 4
    with pytest.raises(ValueError, match="equally long"):
        score_attributes(torch.tensor([0]), torch.tensor([0, 1]), truth_hair, truth_eye)


def test_cache_round_trip_test_scores_and_no_test_leak(splits: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    model, info = load_or_train_attribute_classifier(
        splits / "train", splits / "test", config=TINY, cache_dir=cache, log=None
    )
    assert not info["cached"] and info["test"]["num_images"] == 12 and info["test"]["both_accuracy"] == 1.0
    saved = json.loads((Path(info["cache"]) / "classifier.json").read_text())
    assert saved["config"]["color_jitter"] == 0 and saved["train"]["num_images"] == 24
    again, info_again = load_or_train_attribute_classifier(
        splits / "train", splits / "test", config=TINY, cache_dir=cache, log=None
    )
    assert info_again["cached"] and info_again["test"]["both_accuracy"] == 1.0
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    # a test split holding a training image, pixel for pixel, is refused
    leak = save_split(tmp_path / "leak", *[x[:3] for x in faces(4, seed=0)])
    with pytest.raises(ValueError, match="pixel-identical"):
        load_or_train_attribute_classifier(splits / "train", leak, config=TINY, cache_dir=None, log=None)
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        load_or_train_attribute_classifier(tmp_path / "missing", config=TINY, cache_dir=None, log=None)


# ------------------------------------------------------------------------------------------------
# alignment_metrics with stub generators
# ------------------------------------------------------------------------------------------------


def test_alignment_of_an_obedient_and_a_text_blind_generator(classifier):
    calls = []

    def recording(prompt: str, seeds: list[int]) -> torch.Tensor:
        calls.append((prompt, list(seeds)))
        return obedient(prompt, seeds).float() / 255  # float [0, 1] output is accepted too

    result = alignment_metrics(recording, classifier, seeds=2, first_seed=5, pairs=PAIRS, image_size=16)
    assert result["seeds"] == [5, 6] and all(seeds == [5, 6] for _, seeds in calls)
    assert len(calls) == len(PAIRS) * (1 + len(HELD_OUT_TEMPLATES))
    tag, free = result["tag"], result["free_form"]
    assert tag["num_images"] == 2 * len(PAIRS) and free["num_images"] == 2 * len(PAIRS) * len(HELD_OUT_TEMPLATES)
    assert tag["both_accuracy"] == free["both_accuracy"] == 1.0
    assert set(free["per_template"]) == set(HELD_OUT_TEMPLATES) and set(tag["per_hair"]) == set(HAIR_RGB)
    assert result["chance"] == pytest.approx({"hair": 1 / 12, "eye": 1 / 11, "both": 1 / 132})

    # a generator that always draws red hair and yellow eyes, whatever the text says
    blind = alignment_metrics(
        lambda prompt, seeds: torch.stack([face("red", "yellow", s) for s in seeds]),
        classifier,
        seeds=1,
        pairs=PAIRS,
        image_size=16,
    )
    for kind in ("tag", "free_form"):
        scores = blind[kind]
        assert all(0 <= scores[f"{key}_accuracy"] <= 1 for key in ("hair", "eye", "both"))
        assert scores["hair_accuracy"] == pytest.approx(1 / 3) and scores["eye_accuracy"] == pytest.approx(1 / 2)
        assert scores["per_hair"]["red"]["hair_accuracy"] == 1.0 and scores["per_hair"]["blue"]["hair_accuracy"] == 0.0

    report = format_report(
        {**result, "real": {**tag, "hair_balanced_accuracy": 1.0, "eye_balanced_accuracy": 1.0}}, detail=True
    )
    assert "| generated, tag prompts" in report and "| *chance:* any generator that ignores the text | 8.3% |" in report
    assert "*ceiling:* real test faces" in report and "| red | 100.0% |" in report


def test_alignment_rejects_bad_generators_and_arguments(classifier):
    with pytest.raises(ValueError, match="seeds must be"):
        alignment_metrics(obedient, classifier, seeds=0, pairs=PAIRS)
    with pytest.raises(ValueError, match="expected 2 images"):
        alignment_metrics(lambda p, s: torch.zeros(1, 3, 16, 16), classifier, seeds=2, pairs=PAIRS, image_size=16)


def test_pipeline_generator_groups_consecutive_seeds_and_passes_truncation():
    calls = []

    def pipe(prompt, num_images, seed, truncation=0.7, output_type="pil"):
        calls.append((prompt, num_images, seed, truncation, output_type))
        return type("Out", (), {"images": [torch.full((3, 4, 4), seed / 10) for _ in range(num_images)]})()

    images = pipeline_generator(pipe, truncation=0.5, max_images=3)("p", [0, 1, 2, 3, 9])
    assert images.dtype == torch.uint8 and images.shape == (5, 3, 4, 4)
    assert [(n, s) for _, n, s, _, _ in calls] == [(3, 0), (1, 3), (1, 9)]
    assert {(t, o) for *_, t, o in calls} == {(0.5, "pt")}


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def test_cli_errors_clearly_on_missing_folders_and_wrong_models(splits: Path, tmp_path: Path, capsys):
    def error(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    good = [f"--train={splits / 'train'}", f"--test={splits / 'test'}"]
    missing = tmp_path / "runs" / "no-such-model"
    assert "is not a folder" in error([f"--model={missing}", *good])
    assert "is not a tagged split" in error(["--model=x", f"--train={tmp_path / 'nope'}", good[1]])
    assert "--seeds must be positive" in error(["--model=x", *good, "--seeds=0"])
    faces_model = tmp_path / "faces"
    faces_model.mkdir()
    (faces_model / "model_index.json").write_text(json.dumps({"_class_name": "FaceGANPipeline"}))
    assert "not a TextToImageGANPipeline" in error([f"--model={faces_model}", *good])
    assert "write the card first" in error([f"--model={faces_model}", *good, "--card"])


def test_cli_on_a_tiny_pipeline_writes_table_card_and_json(splits: Path, tmp_path: Path, capsys, monkeypatch):
    from gan_models.cards import write_model_card
    from gan_models.pipelines.text2image import TextToImageGANPipeline
    from gan_models.text2image import TextToImageGenerator

    torch.manual_seed(0)
    generator = TextToImageGenerator(size=16, z_dim=8, style_dim=16, n_mlp=2, channel_base=64, channel_max=16)
    model = tmp_path / "tiny-t2i"
    TextToImageGANPipeline(generator=generator.half()).save_pretrained(str(model))
    write_model_card(model, title="tiny", datasets=["x"], license="mit", metrics={}, protocol="-", training="-")
    # two pairs instead of all 132 keep the test fast; the code path is the same
    monkeypatch.setattr("training.evaluation.text2image.all_pairs", lambda: PAIRS[:2])
    out_json = tmp_path / "scores.json"
    argv = [f"--model={model}", f"--train={splits / 'train'}", f"--test={splits / 'test'}", "--seeds=2"]
    assert (
        main([*argv, "--truncation=0.5", "--card", f"--json={out_json}", f"--classifier-dir={tmp_path / 'cls'}"]) == 0
    )

    printed = capsys.readouterr().out
    assert "| generated, free-form prompts (7 held-out templates), 28 images |" in printed
    scores = json.loads(out_json.read_text())
    assert scores["truncation"] == 0.5 and scores["tag"]["num_images"] == 4 and scores["real"]["num_images"] == 12
    assert 0 <= scores["free_form"]["both_accuracy"] <= 1 and len(scores["free_form"]["per_template"]) == 7
    assert "truncation psi = 0.5" in scores["protocol"] and scores["classifier"]["train"]["num_images"] == 24
    card = (model / "README.md").read_text()
    assert "## Evaluation" in card and "Reproduce: `python -m training.evaluate_text2image" in card
    assert "tag_both_accuracy" in card  # machine-readable model-index
    assert list((tmp_path / "cls").glob("*/classifier.safetensors"))
