"""Deploy one family as its own Hugging Face Space.

    python spaces/deploy.py superres <user>/<space-name> [--private] [--no-checkpoints]

The name is a family's Space folder (``spaces/<space>/``), one per family of the one family list
(``gan_models/families.py``): superres, faces, translate, text2image, ganlab. A Space is that folder
(app.py, ui.py, README.md with the Spaces front matter, requirements.txt, examples) at the Space
root, plus the ``gan_models`` library next to it and, unless ``--no-checkpoints``, the bundled
``checkpoints/`` the Space declares (``BUNDLED_CHECKPOINTS`` in its ui.py) so it starts without
downloading anything. Nothing from ``training/`` goes up: a Space imports the library only.
Everything goes up in one commit through ``huggingface_hub``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python spaces/deploy.py`: the library is one folder up
    sys.path.insert(0, str(ROOT))

from gan_models.families import FAMILIES  # noqa: E402 (after the path set-up above)

_SKIP_PARTS = {"__pycache__", ".gradio", "flagged"}
_SKIP_SUFFIXES = {".pyc", ".bin", ".pkl", ".pt", ".pth", ".ckpt"}


def space_names() -> list[str]:
    """The deployable Spaces: each family's Space folder, in the family list's order."""
    return [family.space for family in FAMILIES]


def bundled_checkpoints(space: str) -> tuple[str, ...]:
    """The bundled checkpoints the Space declares (``BUNDLED_CHECKPOINTS`` in ``spaces/<space>/ui.py``).

    Raises:
        ValueError: ``space`` is not a family's Space folder; the message lists the valid ones.
    """
    if space not in space_names():
        raise ValueError(f"Unknown family {space!r}; choose one of {', '.join(space_names())}.")
    path = ROOT / "spaces" / space / "ui.py"
    spec = importlib.util.spec_from_file_location(f"gan_hub_deploy_ui_{space}", path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise FileNotFoundError(f"The {space!r} Space has no {path}; every family's Space folder needs a ui.py.")
    ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ui)  # by path: the folder name `spaces` is also Hugging Face's package
    if not hasattr(ui, "BUNDLED_CHECKPOINTS"):
        raise ImportError(f"{path} must declare BUNDLED_CHECKPOINTS (a tuple of checkpoints/ names, maybe empty).")
    return tuple(ui.BUNDLED_CHECKPOINTS)


def _files(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not (_SKIP_PARTS & set(rel.parts)) and path.suffix not in _SKIP_SUFFIXES:
            out.append((f"{prefix}{rel.as_posix()}", path))
    return out


def space_files(family: str, with_checkpoints: bool = True) -> list[tuple[str, Path]]:
    """(path in the Space, local file) for every file the Space ``family`` (a Space folder name) needs."""
    checkpoints = bundled_checkpoints(family)
    files = _files(ROOT / "spaces" / family, "") + _files(ROOT / "gan_models", "gan_models/")
    if with_checkpoints:
        for name in checkpoints:
            folder = ROOT / "checkpoints" / name
            if not (folder / "model_index.json").exists():
                raise FileNotFoundError(f"Bundled checkpoint {folder} is missing; train it or pass --no-checkpoints.")
            files += _files(folder, f"checkpoints/{name}/")
    return files


def deploy(
    family: str, repo_id: str, private: bool = False, with_checkpoints: bool = True, token: str | None = None
) -> str:
    """Create (or update) the Space ``repo_id`` and upload the family in one commit; returns its URL."""
    files = space_files(family, with_checkpoints)  # every check before anything goes to the Hub
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=dest, path_or_fileobj=str(src)) for dest, src in files]
    api.create_commit(repo_id, operations=operations, commit_message=f"Deploy the {family} Space", repo_type="space")
    return f"https://huggingface.co/spaces/{repo_id}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=space_names(), help="the family's Space folder under spaces/")
    parser.add_argument("repo_id", help="<user>/<space-name>")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--no-checkpoints", action="store_true", help="serve Hub models instead of bundled ones")
    args = parser.parse_args(argv)
    try:
        print(deploy(args.family, args.repo_id, args.private, not args.no_checkpoints))
    except (ValueError, FileNotFoundError, ImportError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
