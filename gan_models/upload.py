"""Hub upload: a saved pipeline folder to a Hub model repo, weights as safetensors only.

Example:
    >>> "*.safetensors" in UPLOAD_ALLOW_PATTERNS and "*.pth" in UPLOAD_IGNORE_PATTERNS
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import HfApi

from .hub import REPO_ID

__all__ = ["UPLOAD_ALLOW_PATTERNS", "UPLOAD_IGNORE_PATTERNS", "push_pipeline_to_hub"]

#: Only weights that cannot run code, configs, the card and sample images go to the Hub.
UPLOAD_ALLOW_PATTERNS = ["*.safetensors", "*.json", "README.md", "*.png"]
UPLOAD_IGNORE_PATTERNS = ["*.bin", "*.pkl", "*.pickle", "*.pt", "*.pth", "*.ckpt", ".*", "**/.*"]


def push_pipeline_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload super-resolution pipeline",
):
    """Create (if needed) the Hub model repo and upload the folder's safetensors, json, README, png.

    Pickle-based files (``.bin``, ``.pkl``, ``.pt``, ``.pth``, ``.ckpt``) are never uploaded.

    Returns:
        huggingface_hub's ``CommitInfo`` of the upload.

    Example:
        >>> push_pipeline_to_hub("checkpoints/superres-x4-gan", "me/superres-x4-gan")  # doctest: +SKIP
    """
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"{str(folder)!r} is not a saved pipeline (no model_index.json); call save_pretrained first.")
    if not any(folder.rglob("*.safetensors")):
        raise ValueError(
            f"{str(folder)!r} has no .safetensors weights; save with save_pretrained(safe_serialization=True)."
        )
    if not REPO_ID.match(repo_id):
        raise ValueError(f"repo_id must look like 'owner/name', got {repo_id!r}.")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        commit_message=commit_message,
        allow_patterns=UPLOAD_ALLOW_PATTERNS,
        ignore_patterns=UPLOAD_IGNORE_PATTERNS,
    )
