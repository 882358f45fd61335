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


def test_unknown_family_and_missing_checkpoints_are_clear(tmp_path: Path, monkeypatch):
    deploy = load_deploy()
    with pytest.raises(ValueError, match="Unknown family 'no-such-family'"):
        deploy.space_files("no-such-family")
    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    (tmp_path / "spaces" / "superres").mkdir(parents=True)
    (tmp_path / "gan_models").mkdir()
    with pytest.raises(FileNotFoundError, match="train it or pass --no-checkpoints"):
        deploy.space_files("superres")


def test_faces_space_holds_its_ui_and_names_its_checkpoint():
    deploy = load_deploy()
    assert deploy.FAMILY_CHECKPOINTS["faces"] == ["faces-celeba64"]
    paths = {dest for dest, _ in deploy.space_files("faces", with_checkpoints=False)}
    assert {"app.py", "ui.py", "README.md", "requirements.txt", "gan_models/pipelines/faces.py"} <= paths
    readme = (ROOT / "spaces" / "faces" / "README.md").read_text()
    assert 'sdk_version: "6.31.0"' in readme and "non-commercial" in readme
