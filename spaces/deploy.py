"""Deploy one family as its own Hugging Face Space.

    python spaces/deploy.py superres <user>/<space-name> [--private] [--no-checkpoints]

A Space is the family folder (``spaces/<family>/``: app.py, ui.py, README.md with the Spaces
front matter, requirements.txt, examples) at the Space root, plus the ``gan_models`` library next
to it and, unless ``--no-checkpoints``, the family's bundled ``checkpoints/`` so the Space starts
without downloading anything. Everything goes up in one commit through ``huggingface_hub``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi

ROOT = Path(__file__).resolve().parents[1]
# which bundled checkpoints each family's Space serves (explicit, no scanning by name)
FAMILY_CHECKPOINTS = {
    "superres": ["superres-x4-gan", "superres-x4-psnr"],
    "faces": ["faces-celeba64"],
    "translate": ["face2anime", "superres-x4-gan"],  # the SR model backs "sharpen large results"
    "text2image": ["anime-text2image", "superres-x4-gan"],  # the SR model backs "upscale ×4"
    "ganlab": [],  # trains its toy GANs live, on the Space's CPU: no checkpoint
}
# library files beyond gan_models/ that a family's Space runs (explicit, no scanning by name): the
# GAN Lab trains in the Space, with the benchmark's loop and the shared losses and metrics
FAMILY_EXTRA_FILES = {
    "ganlab": ["training/__init__.py", "training/losses.py", "training/mode_metrics.py", "training/toy_benchmark.py"],
}
_SKIP_PARTS = {"__pycache__", ".gradio", "flagged"}
_SKIP_SUFFIXES = {".pyc", ".bin", ".pkl", ".pt", ".pth", ".ckpt"}


def _files(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not (_SKIP_PARTS & set(rel.parts)) and path.suffix not in _SKIP_SUFFIXES:
            out.append((f"{prefix}{rel.as_posix()}", path))
    return out


def space_files(family: str, with_checkpoints: bool = True) -> list[tuple[str, Path]]:
    """(path in the Space, local file) for every file the Space needs."""
    if family not in FAMILY_CHECKPOINTS:
        raise ValueError(f"Unknown family {family!r}; choose one of {sorted(FAMILY_CHECKPOINTS)}.")
    files = _files(ROOT / "spaces" / family, "") + _files(ROOT / "gan_models", "gan_models/")
    files += [(name, ROOT / name) for name in FAMILY_EXTRA_FILES.get(family, [])]
    if with_checkpoints:
        for name in FAMILY_CHECKPOINTS[family]:
            folder = ROOT / "checkpoints" / name
            if not (folder / "model_index.json").exists():
                raise FileNotFoundError(f"Bundled checkpoint {folder} is missing; train it or pass --no-checkpoints.")
            files += _files(folder, f"checkpoints/{name}/")
    return files


def deploy(
    family: str, repo_id: str, private: bool = False, with_checkpoints: bool = True, token: str | None = None
) -> str:
    """Create (or update) the Space ``repo_id`` and upload the family in one commit; returns its URL."""
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=dest, path_or_fileobj=str(src))
        for dest, src in space_files(family, with_checkpoints)
    ]
    api.create_commit(repo_id, operations=operations, commit_message=f"Deploy the {family} Space", repo_type="space")
    return f"https://huggingface.co/spaces/{repo_id}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=sorted(FAMILY_CHECKPOINTS))
    parser.add_argument("repo_id", help="<user>/<space-name>")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--no-checkpoints", action="store_true", help="serve Hub models instead of bundled ones")
    args = parser.parse_args(argv)
    try:
        print(deploy(args.family, args.repo_id, args.private, not args.no_checkpoints))
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
