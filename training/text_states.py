"""Precomputed text-encoder token states in one checksummed file, so a GPU machine needs no text encoder.

``python -m training.pack_data text2image`` encodes every prompt the text-to-image recipe trains on
(and its sample-grid prompts) and saves them here; the recipe reads them with ``text_states=<file>``
instead of running the encoder. Only real tokens are stored (ragged), with the data packs' checksum
scheme (``training.packs``), and :func:`load_text_states` gives back exactly what
``gan_models.text_encoding.precompute_token_states`` gave: (N, T, D) fp16, zero-padded, and the mask.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import save_file

from .packs import (
    REPACK_HINT,
    FORMAT_VERSION,
    PackChecksumError,
    PackError,
    PackSummary,
    checksum,
    read_tensors,
    canonical_json,
)

__all__ = ["TextStates", "load_text_states", "save_text_states", "text_states_info"]

_MASK_DTYPES = {"bool": torch.bool, "uint8": torch.uint8, "int32": torch.int32, "int64": torch.int64}


class TextStates(NamedTuple):
    """Prompts and their token states as ``precompute_token_states`` gives them: (N, T, D) fp16, (N, T)."""

    prompts: list[str]
    states: torch.Tensor
    mask: torch.Tensor
    encoder_name: str


def _prefix_lengths(mask: torch.Tensor) -> torch.Tensor:
    """Valid tokens per row; PackError unless every row is 1..1 0..0 (what the padded encoders give)."""
    lengths = mask.ne(0).sum(dim=1)
    if not torch.equal(torch.arange(mask.shape[1]) < lengths[:, None], mask.ne(0)):
        raise PackError("Token masks must be a run of valid tokens then padding (1..1 0..0) in every row.")
    return lengths


def save_text_states(
    path: str | os.PathLike,
    prompts: Sequence[str],
    states: torch.Tensor,
    mask: torch.Tensor,
    encoder_name: str,
    info: Mapping[str, object] | None = None,
) -> PackSummary:
    """Write token states (N, T, D) + mask (N, T) of ``prompts`` compactly, with a sha256, atomically.

    Only real tokens are stored (ragged: ``tokens`` (total, D) fp16 + per-row ``lengths``), and
    rows that are bit-identical (the same prompt twice) once, indexed by ``rows``. Metadata keeps
    the prompts, the encoder's name, the padded length, the mask dtype and a free ``info`` dict
    (e.g. phrasings and seed). :func:`load_text_states` gives back exactly what was given (fp16).
    """
    prompts = [str(p) for p in prompts]
    if states.ndim != 3 or mask.shape != states.shape[:2] or len(prompts) != len(states):
        raise PackError(
            f"Need states (N, T, D) and mask (N, T) for N={len(prompts)} prompts, got {tuple(states.shape)} "
            f"and {tuple(mask.shape)}."
        )
    if str(mask.dtype).removeprefix("torch.") not in _MASK_DTYPES:
        raise PackError(f"mask dtype {mask.dtype} is not one of {', '.join(_MASK_DTYPES)}.")
    states, mask = states.detach().cpu().half(), mask.detach().cpu()
    lengths = _prefix_lengths(mask)
    # 1. keep each distinct row once: the encoder gives one row per distinct (normalised) prompt
    first: dict[bytes, int] = {}
    unique, rows = [], []
    for i, n in enumerate(lengths.tolist()):
        row = states[i, :n].contiguous()
        rows.append(first.setdefault(row.numpy().tobytes() + n.to_bytes(4, "little"), len(unique)))
        if rows[-1] == len(unique):
            unique.append(row)
    tensors = {
        "tokens": torch.cat(unique) if unique else states.new_zeros(0, states.shape[-1]),
        "lengths": torch.tensor([len(u) for u in unique], dtype=torch.int64),
        "rows": torch.tensor(rows, dtype=torch.int64),
    }
    # 2. metadata + the same checksum scheme as packs
    meta = {
        "format": FORMAT_VERSION,
        "encoder": encoder_name,
        "prompts": prompts,
        "length": int(states.shape[1]),
        "mask_dtype": str(mask.dtype).removeprefix("torch."),
        "info": dict(info or {}),
    }
    meta["sha256"] = checksum([_le_bytes(tensors[k]) for k in ("tokens", "lengths", "rows")], meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"text_states": canonical_json(meta)})
    os.replace(tmp, path)
    raw = states.numel() * states.element_size() + mask.numel() * mask.element_size()
    return PackSummary(path.name, len(prompts), path.stat().st_size, raw, meta["sha256"])


def _le_bytes(tensor: torch.Tensor) -> bytes:
    """A tensor's bytes as stored by safetensors (little-endian), whatever the machine."""
    array = tensor.contiguous().numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _read_text_meta(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not path.is_file():
        raise FileNotFoundError(f"No text-states file at {path}; make it: `python -m training.pack_data text2image`.")
    tensors, metadata = read_tensors(path)
    try:
        meta = json.loads(metadata["text_states"])
        chunks = [_le_bytes(tensors[k]) for k in ("tokens", "lengths", "rows")]
        stored = meta["sha256"]
    except (KeyError, ValueError, TypeError, AttributeError):
        raise PackChecksumError(f"{path} is not an intact text-states file. {REPACK_HINT}") from None
    if checksum(chunks, meta) != stored:
        raise PackChecksumError(f"{path} does not match its sha256 (corrupted copy). {REPACK_HINT}")
    if meta.get("format") != FORMAT_VERSION:
        raise PackError(f"{path} is format {meta.get('format')}; this code reads {FORMAT_VERSION}. {REPACK_HINT}")
    return tensors, meta


def text_states_info(path: str | os.PathLike) -> dict:
    """A text-states file's verified metadata: encoder, prompts, length, mask_dtype, info, sha256."""
    return _read_text_meta(Path(path))[1]


def load_text_states(path: str | os.PathLike) -> TextStates:
    """Read a :func:`save_text_states` file (checksum verified): prompts, states (N, T, D) fp16 zero-padded, mask.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "s.safetensors"
        >>> mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
        >>> states = torch.randn(2, 3, 4).half() * mask[..., None]
        >>> _ = save_text_states(out, ["a b", "c"], states, mask, "demo-encoder")
        >>> prompts, back, back_mask, name = load_text_states(out)
        >>> torch.equal(back, states), torch.equal(back_mask, mask), name
        (True, True, 'demo-encoder')
    """
    tensors, meta = _read_text_meta(Path(path))
    tokens, lengths, rows = tensors["tokens"], tensors["lengths"], tensors["rows"]
    length, count = int(meta["length"]), len(meta["prompts"])
    if len(rows) != count or int(lengths.sum()) != len(tokens) or (len(lengths) and int(lengths.max()) > length):
        raise PackError(f"{path}: its tensors do not fit its {count} prompts. {REPACK_HINT}")
    # rows of real tokens, then padding: the boolean-mask assignment fills row-major, as they were cut
    valid = torch.arange(length) < lengths[:, None]  # (U, T)
    padded = tokens.new_zeros(len(lengths), length, tokens.shape[-1])
    padded[valid] = tokens
    mask = valid[rows].to(_MASK_DTYPES[meta["mask_dtype"]])
    return TextStates(list(meta["prompts"]), padded[rows], mask, meta["encoder"])
