"""Names: what a user types (bundled name, folder, ``owner/name``) -> what ``from_pretrained`` takes.

* :func:`resolve_model` turns a name into a folder or a Hub repo id; :func:`bundled_models` lists
  the folders under ``checkpoints/``.
* :func:`model_label` is the name written into outputs' metadata (never a local path).

Nothing here writes cards or talks to the Hub, so pipelines import it freely. Model cards live in
:mod:`gan_models.cards`, Hub upload in :mod:`gan_models.upload`, foreign checkpoints in
:mod:`gan_models.converters`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["CHECKPOINTS_DIR", "REPO_ID", "bundled_models", "model_label", "resolve_model"]

#: Bundled defaults, laid out exactly like Hub model repos (``checkpoints/<name>/model_index.json``).
CHECKPOINTS_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
#: What a Hub repo id looks like: ``owner/name``.
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def bundled_models(checkpoints_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the pipeline folders shipped under ``checkpoints/`` (those with a model_index.json).

    Example:
        >>> isinstance(bundled_models(), list)
        True
    """
    root = Path(checkpoints_dir) if checkpoints_dir is not None else CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "model_index.json").is_file())


def model_label(name_or_path: str | os.PathLike | None, fallback: str = "") -> str:
    """The model name written into outputs' metadata: a repo id or bundled name, never a local path.

    A full path can reveal user or folder names, so a folder is reduced to its last component.

    Example:
        >>> model_label("someone/faces-ffhq"), model_label(None, "StyleGAN2Generator")
        ('someone/faces-ffhq', 'StyleGAN2Generator')
    """
    if not name_or_path:
        return fallback
    name = str(name_or_path)
    return Path(name).name if Path(name).expanduser().is_dir() else name


def resolve_model(name_or_path: str | os.PathLike, checkpoints_dir: str | os.PathLike | None = None) -> str:
    """Map a bundled name, a local folder or a Hub repo id to a ``from_pretrained`` argument.

    Order: a bundled name (``"superres-x4-gan"`` -> ``<repo>/checkpoints/superres-x4-gan``), then an
    existing local folder, then anything shaped like ``owner/name`` (a Hub repo id, downloaded by
    ``from_pretrained``; offline it must already be in the cache).

    Raises:
        ValueError: none of the above; the message lists the bundled names.

    Example:
        >>> resolve_model("someorg/tiny-sr")
        'someorg/tiny-sr'
    """
    root = Path(checkpoints_dir) if checkpoints_dir is not None else CHECKPOINTS_DIR
    name = os.fspath(name_or_path).strip()
    if name and (root / name / "model_index.json").is_file():
        return str(root / name)
    if name and Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if REPO_ID.match(name) and ".." not in name and not name.startswith((".", "/", "~")):
        return name
    bundled = ", ".join(bundled_models(root)) or "(none installed)"
    raise ValueError(
        f"Unknown model {name!r}: not a bundled name, an existing folder or a Hub repo id "
        f"('owner/name'). Bundled models: {bundled}."
    )
