"""Recipe configs: Literal choice fields checked at load, every preset loads, ``--dry-run``."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from training import train_cyclegan, train_faces, train_superres, train_text2image
from training.augment import DEGRADATIONS
from training.config import EngineConfig, _coerce, _type_hints, load_config, parse_cli
from training.evaluation.fid import FEATURE_KINDS
from training.losses import ADVERSARIAL_KINDS
from training.train_cyclegan import CycleGANConfig
from training.train_faces import FacesConfig
from training.train_superres import SuperResConfig
from training.train_text2image import Text2ImageConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"
PRESETS = sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("gpu/*.yaml"))
RECIPES = {  # preset file name prefix -> (config class, the recipe's main)
    "superres_": (SuperResConfig, train_superres.main),
    "faces_": (FacesConfig, train_faces.main),
    "face2anime": (CycleGANConfig, train_cyclegan.main),
    "anime_text2image": (Text2ImageConfig, train_text2image.main),
}
CONFIG_CLASSES = [EngineConfig, SuperResConfig, FacesConfig, CycleGANConfig, Text2ImageConfig]


def recipe_of(preset: Path):
    matches = [recipe for prefix, recipe in RECIPES.items() if preset.name.startswith(prefix)]
    assert len(matches) == 1, f"{preset}: add its recipe to RECIPES in this test"
    return matches[0]


def literal_fields(cls) -> dict[str, tuple]:
    hints = _type_hints(cls)
    return {k: typing.get_args(h) for k, h in hints.items() if typing.get_origin(h) is typing.Literal}


def test_choice_fields_are_literals_with_unchanged_defaults():
    assert literal_fields(EngineConfig) == {
        "mixed_precision": ("no", "fp16", "bf16"),
        "lr_schedule": ("constant", "cosine", "linear"),
        "compile": ("none", "generator", "all"),
    }
    assert _type_hints(EngineConfig)["report_to"] is str  # any accelerate tracker name
    superres = literal_fields(SuperResConfig)
    assert superres["degradation"] == DEGRADATIONS and superres["adv_loss"] == ADVERSARIAL_KINDS
    assert (superres["arch"], superres["stage"]) == (("compact", "rrdb"), ("psnr", "gan"))
    faces = literal_fields(FacesConfig)
    assert faces["augment"] == ("ada", "diffaugment", "none") and faces["fid_feature"] == FEATURE_KINDS
    assert literal_fields(Text2ImageConfig)["captions"] == ("tags", "text")
    # a recipe that re-declares a shared field (CycleGAN's lr_schedule default) keeps it a Literal
    for cls in CONFIG_CLASSES:
        assert literal_fields(EngineConfig).items() <= literal_fields(cls).items(), cls.__name__
    defaults = {cls: cls() for cls in CONFIG_CLASSES}  # the defaults are valid choices
    assert defaults[EngineConfig].mixed_precision == "no" and defaults[CycleGANConfig].lr_schedule == "linear"
    assert (defaults[SuperResConfig].degradation, defaults[SuperResConfig].adv_loss) == ("bicubic", "vanilla")
    assert (defaults[FacesConfig].augment, defaults[Text2ImageConfig].captions) == ("ada", "tags")


def test_bad_choice_from_the_command_line_lists_the_valid_values():
    message = "Config key 'mixed_precision' must be one of 'no', 'fp16', 'bf16'; got 'bf61'."
    with pytest.raises(ValueError) as err:
        load_config(EngineConfig, None, ["--mixed_precision=bf61"])
    assert str(err.value) == message
    with pytest.raises(SystemExit) as exit_info:
        parse_cli(SuperResConfig, ["--stage=psnr", "--mixed_precision=bf61"])
    assert str(exit_info.value.code) == f"error: {message}"
    with pytest.raises(SystemExit, match="'adv_loss' must be one of 'vanilla', 'lsgan', 'hinge'; got 'wgan'"):
        parse_cli(SuperResConfig, ["--adv_loss=wgan"])
    with pytest.raises(SystemExit, match="'augment' must be one of 'ada', 'diffaugment', 'none'; got 'sometimes'"):
        train_faces.main(["--augment=sometimes"])  # refused before any data is read


def test_bad_choice_from_yaml_lists_the_valid_values(tmp_path: Path):
    preset = tmp_path / "bad.yaml"
    preset.write_text("max_steps: 5\ndegradation: gaussian\n")
    with pytest.raises(ValueError, match=r"'degradation' must be one of 'bicubic', 'realistic'; got 'gaussian'\."):
        load_config(SuperResConfig, str(preset))
    preset.write_text("captions: 3\n")
    with pytest.raises(ValueError, match="'captions' must be one of 'tags', 'text'; got 3"):
        load_config(Text2ImageConfig, str(preset))


def test_yaml_spellings_of_a_choice_still_count_and_direct_construction_is_checked(tmp_path: Path):
    # YAML reads a bare `no` as False: it is still the choice "no", from a file and from the CLI
    preset = tmp_path / "p.yaml"
    preset.write_text("mixed_precision: no\ncompile: none\n")
    assert load_config(EngineConfig, str(preset)).mixed_precision == "no"
    assert load_config(EngineConfig, None, ["--mixed_precision=no"]).mixed_precision == "no"
    with pytest.raises(ValueError, match="'mixed_precision' must be one of .*; got True"):
        load_config(EngineConfig, None, ["--mixed_precision=yes"])
    with pytest.raises(ValueError, match="'lr_schedule' must be one of 'constant', 'cosine', 'linear'"):
        CycleGANConfig(lr_schedule="step")  # built in Python, not loaded: checked all the same
    with pytest.raises(ValueError, match="'arch' must be one of 'compact', 'rrdb'"):
        dataclasses.replace(SuperResConfig(), arch="swinir")


def test_unions_coerce_to_their_first_fitting_member():
    assert _coerce("5", int | None, "k") == 5
    assert _coerce(None, int | None, "k") is None
    assert _coerce("fp16", "Literal['no', 'fp16'] | None", "k") == "fp16"
    with pytest.raises(ValueError, match="'k' expects int | NoneType"):
        _coerce("many", int | None, "k")


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_preset_loads_into_its_recipe_config(preset: Path):
    cls, _ = recipe_of(preset)
    config = load_config(cls, str(preset))
    assert isinstance(config, cls)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_dry_run_prints_the_resolved_config_and_builds_nothing(
    preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    cls, main = recipe_of(preset)
    args = ["--config", str(preset), "--max_steps=3", "--hub_model_id=me/x", f"--output_dir={tmp_path / 'run'}"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--dry-run", *args])  # the presets' data folders need not exist: nothing is read
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("output_dir: ")
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(printed)
    config = load_config(cls, str(resolved))
    assert config == parse_cli(cls, args)
    assert list(yaml.safe_load(printed)) == [f.name for f in dataclasses.fields(cls)]  # defaults included
    assert not (tmp_path / "run").exists()


def test_dry_run_prints_once_under_a_multi_process_launcher(monkeypatch, capsys: pytest.CaptureFixture):
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit) as exit_info:
        parse_cli(EngineConfig, ["--dry_run"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == ""


def test_help_lists_the_choices_and_dry_run(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit):
        parse_cli(FacesConfig, ["--help"])
    out = capsys.readouterr().out
    assert "--dry-run" in out and "--augment='ada'  (one of 'ada', 'diffaugment', 'none')" in out
