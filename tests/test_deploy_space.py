"""Deploying a family as its own Space: the right files, one commit, network faked at HfApi only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import ROOT


def load_deploy():
    spec = importlib.util.spec_from_file_location("gan_hub_deploy", ROOT / "spaces" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_space_holds_ui_library_and_no_pickles(monkeypatch):
    deploy = load_deploy()
    calls = {}
    monkeypatch.setattr(
        deploy.HfApi, "create_repo", lambda self, repo_id, **kw: calls.setdefault("repo", (repo_id, kw))
    )
    monkeypatch.setattr(
        deploy.HfApi, "create_commit", lambda self, repo_id, operations, **kw: calls.setdefault("ops", operations)
    )
    url = deploy.deploy("superres", "me/sr-space", with_checkpoints=False)
    assert url == "https://huggingface.co/spaces/me/sr-space"
    assert calls["repo"] == (
        "me/sr-space",
        {"repo_type": "space", "space_sdk": "gradio", "private": False, "exist_ok": True},
    )
    paths = {op.path_in_repo for op in calls["ops"]}
    assert {"app.py", "ui.py", "README.md", "requirements.txt", "gan_models/__init__.py"} <= paths
    assert not any(p.endswith((".pyc", ".bin", ".pkl", ".pth")) or "__pycache__" in p for p in paths)
    assert "sdk: gradio" in (ROOT / "spaces" / "superres" / "README.md").read_text()


def test_deploying_an_unknown_family_is_an_error_listing_the_valid_ones(capsys):
    deploy = load_deploy()
    valid = "superres, faces, translate, text2image, ganlab"  # the family list's Space folders, in its order
    with pytest.raises(ValueError, match=f"Unknown family 'no-such-family'; choose one of {valid}"):
        deploy.space_files("no-such-family")
    with pytest.raises(ValueError, match="Unknown family 'translation'"):  # a family's name, not its Space folder
        deploy.deploy("translation", "me/space", with_checkpoints=False)
    with pytest.raises(SystemExit):
        deploy.main(["no-such-family", "me/space"])
    assert "invalid choice" in capsys.readouterr().err


def test_missing_checkpoints_and_declaration_are_clear(tmp_path: Path, monkeypatch):
    deploy = load_deploy()
    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    (tmp_path / "spaces" / "superres").mkdir(parents=True)
    (tmp_path / "gan_models").mkdir()
    with pytest.raises(FileNotFoundError, match="needs a ui.py"):
        deploy.space_files("superres")
    (tmp_path / "spaces" / "superres" / "ui.py").write_text("TAB_LABEL = 'Super-resolution'\n")
    with pytest.raises(ImportError, match="must declare BUNDLED_CHECKPOINTS"):
        deploy.space_files("superres")
    (tmp_path / "spaces" / "superres" / "ui.py").write_text("BUNDLED_CHECKPOINTS = ('superres-x4-gan',)\n")
    with pytest.raises(FileNotFoundError, match="train it or pass --no-checkpoints"):
        deploy.space_files("superres")
    assert {dest for dest, _ in deploy.space_files("superres", with_checkpoints=False)} == {"ui.py"}


def test_checkpoints_come_from_each_spaces_declaration():
    from app import load_family_ui

    deploy = load_deploy()
    for space in deploy.space_names():
        assert deploy.bundled_checkpoints(space) == tuple(load_family_ui(space).BUNDLED_CHECKPOINTS)
    assert deploy.bundled_checkpoints("translate") == ("face2anime", "superres-x4-gan")  # SR backs "sharpen"
    assert not hasattr(deploy, "FAMILY_CHECKPOINTS") and not hasattr(deploy, "FAMILY_EXTRA_FILES")


def test_no_space_ships_training_code():
    deploy = load_deploy()
    for space in deploy.space_names():
        paths = [dest for dest, _ in deploy.space_files(space, with_checkpoints=False)]
        assert not [p for p in paths if p.startswith("training/")], space


def test_faces_space_holds_its_ui_and_names_its_checkpoint():
    deploy = load_deploy()
    assert deploy.bundled_checkpoints("faces") == ("faces-celeba64",)
    paths = {dest for dest, _ in deploy.space_files("faces", with_checkpoints=False)}
    assert {"app.py", "ui.py", "README.md", "requirements.txt", "gan_models/pipelines/faces.py"} <= paths
    readme = (ROOT / "spaces" / "faces" / "README.md").read_text()
    assert 'sdk_version: "6.31.0"' in readme and "non-commercial" in readme
