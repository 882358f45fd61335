"""Data packs: a folder of training files as one compact, checksummed file that trainers read directly.

Why: a GPU command carries the repository plus at most 64 MiB, so a family's training data has to
travel as few, small, verifiable files. A pack stores the members' own encoded bytes (JPEG as they
are, PNG optionally as lossless WebP), concatenated and zlib-compressed as ONE stream: compressing
the concatenation removes the headers that every tiny JPEG repeats, which per-file compression
cannot. Re-encoding decoded pixels losslessly would be several times bigger.

Layout (one safetensors file, ``*.pack``):

* tensor ``payload`` (uint8): ``zlib.compress(member_0 + member_1 + ...)``;
* tensor ``offsets`` (int64, N+1): where each member starts in the *decompressed* stream;
* metadata ``pack``: JSON with ``format``, ``names`` (relative POSIX paths, in stored order),
  ``transcoded`` (name -> how it was re-encoded and its original mode), ``info`` (free: family,
  source folder, licence note) and ``sha256`` = SHA-256 of (payload bytes, offsets bytes as
  little-endian int64, the canonical JSON of this metadata without ``sha256``).

Data config keys read a pack as ``pack:<file>`` (every image) or ``pack:<file>#<subfolder>`` (the
images under one folder), in the stored order, which is the order ``sorted(folder.rglob("*"))``
gives, so a pack loads exactly like the folder it was made from.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "tiny.pack"
    >>> write_pack(out, {"a.txt": b"hello", "b/c.txt": b"world"}, info={"family": "demo"}).count
    2
    >>> Pack.open(out).read("b/c.txt")
    b'world'
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from .data import IMAGE_SUFFIXES, to_uint8_tensor

__all__ = [
    "FORMAT_VERSION",
    "Pack",
    "PackChecksumError",
    "PackError",
    "PackSpec",
    "PackSummary",
    "canonical_json",
    "decode_images",
    "is_pack_spec",
    "load_pack_images",
    "pack_folder",
    "parse_pack_spec",
    "write_pack",
]

FORMAT_VERSION = 1
#: What ``pack_folder`` keeps by default: the images the loaders read and caption tables.
DEFAULT_SUFFIXES = frozenset(IMAGE_SUFFIXES | {".csv"})
#: Modes that survive a lossless WebP round trip (L/LA come back as RGB/RGBA and are converted back exactly).
_WEBP_MODES = ("RGB", "RGBA", "L", "LA")
_WEBP_MAX_SIDE = 16383  # libwebp's limit
REPACK_HINT = "Re-create it with `python -m training.pack_data <family> --out <dir>`."


class PackError(ValueError):
    """A pack that cannot be used: truncated, malformed, wrong version, or a bad member."""


class PackChecksumError(PackError):
    """A pack whose bytes do not match its stored SHA-256 (corrupted in transfer or on disk)."""


class PackSummary(NamedTuple):
    """What was written: file name, member count, bytes on disk, bytes of the source files, sha256."""

    name: str
    count: int
    compressed_bytes: int
    raw_bytes: int
    sha256: str


# --------------------------------------------------------------------------------------------
# spec strings
# --------------------------------------------------------------------------------------------


class PackSpec(NamedTuple):
    """``pack:<path>#<subfolder>`` split into the pack file and the folder inside it ("" = all)."""

    path: Path
    subfolder: str


def is_pack_spec(spec: object) -> bool:
    """Whether a data config value names a pack (``pack:...``).

    Example:
        >>> is_pack_spec("pack:packs/anime.pack#images"), is_pack_spec("../shared/data/T91")
        (True, False)
    """
    return isinstance(spec, str) and spec.strip().startswith("pack:")


def parse_pack_spec(spec: str) -> PackSpec:
    """``"pack:<path>[#<subfolder>]"`` -> ``PackSpec(path, subfolder)``; the subfolder loses its slashes.

    Example:
        >>> parse_pack_spec("pack:packs/anime.pack#images/")
        PackSpec(path=PosixPath('packs/anime.pack'), subfolder='images')
    """
    if not is_pack_spec(spec):
        raise PackError(f"{spec!r} is not a pack spec; write pack:<file>.pack or pack:<file>.pack#<subfolder>.")
    path, _, subfolder = spec.strip()[len("pack:") :].partition("#")
    if not path.strip():
        raise PackError(f"{spec!r} names no pack file; write pack:<file>.pack or pack:<file>.pack#<subfolder>.")
    return PackSpec(Path(path.strip()), subfolder.strip().strip("/"))


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def canonical_json(value: object) -> str:
    """The one JSON text of a value that the checksum covers (sorted keys, no spaces, UTF-8 kept).

    Example:
        >>> canonical_json({"b": 1, "a": [1, "é"]})
        '{"a":[1,"é"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(chunks: Sequence[bytes], meta: dict) -> str:
    """SHA-256 of the tensors' bytes in order, then the canonical metadata without its ``sha256``."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    digest.update(canonical_json({k: v for k, v in meta.items() if k != "sha256"}).encode("utf-8"))
    return digest.hexdigest()


def _check_name(name: object) -> str:
    """A member name must be a plain relative POSIX path, so it means the same file on every OS."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        raise PackError(f"Member name {name!r} must be a non-empty relative POSIX path (a/b.jpg).")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "/".join(parts) != name:
        raise PackError(f"Member name {name!r} must be a normalised relative path without '.' or '..' parts.")
    return name


def write_pack(
    path: str | os.PathLike,
    members: Mapping[str, bytes] | Sequence[tuple[str, bytes]],
    info: Mapping[str, object] | None = None,
    transcoded: Mapping[str, Mapping[str, object]] | None = None,
) -> PackSummary:
    """Write ``members`` (name -> file bytes, kept in the given order) as one pack file, atomically.

    ``info`` is free JSON (family, source, licence note); ``transcoded`` says which members were
    re-encoded and how (``pack_folder`` fills it). Names must be unique relative POSIX paths.
    """
    items = list(members.items()) if isinstance(members, Mapping) else list(members)
    if not items:
        raise PackError(f"Nothing to pack into {path}: no members given.")
    names = [_check_name(name) for name, _ in items]
    if len(set(names)) != len(names):
        raise PackError(f"Duplicate member names in {path}; each member needs its own name.")
    transcoded = {name: dict(how) for name, how in (transcoded or {}).items()}
    if set(transcoded) - set(names):
        raise PackError(f"transcoded names members that are not packed: {sorted(set(transcoded) - set(names))[:3]}.")
    # 1. one stream, one compression (see the module docstring for why)
    blobs = [bytes(data) for _, data in items]
    offsets = np.zeros(len(blobs) + 1, dtype="<i8")
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    payload = zlib.compress(b"".join(blobs), 9)
    # 2. metadata + checksum over everything that is read back
    meta = {"format": FORMAT_VERSION, "names": names, "transcoded": transcoded, "info": dict(info or {})}
    try:
        canonical_json(meta)
    except (TypeError, ValueError) as err:
        raise PackError(f"Pack info must be plain JSON (str, numbers, lists, dicts): {err}") from None
    meta["sha256"] = checksum([payload, offsets.tobytes()], meta)
    # 3. atomic write: a crash never leaves a half-written pack under the real name
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tensors = {"payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8), "offsets": torch.from_numpy(offsets)}
    save_file(tensors, str(tmp), metadata={"pack": canonical_json(meta)})
    os.replace(tmp, path)
    raw = sum(transcoded.get(name, {}).get("source_bytes", len(blob)) for name, blob in zip(names, blobs))
    return PackSummary(path.name, len(names), path.stat().st_size, raw, meta["sha256"])


def _collect_files(folders: Mapping[str, Path], suffixes: frozenset[str]) -> list[tuple[str, Path]]:
    """(member name, file) for every kept file, folder by folder, each in ``sorted(rglob)`` order.

    Sorting Paths (by parts), not strings, is what ``load_image_sources`` does: "a/b" < "a-c".
    """
    out = []
    for prefix, folder in folders.items():
        if not folder.is_dir():
            raise FileNotFoundError(f"Cannot pack {folder}: no such folder.")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
        for file in files:
            relative = file.relative_to(folder).as_posix()
            out.append((f"{prefix}/{relative}" if prefix else relative, file))
    if not out:
        where = ", ".join(map(str, folders.values()))
        raise FileNotFoundError(f"No files ({', '.join(sorted(suffixes))}) to pack under {where}.")
    return out


def _restore_mode(img: Image.Image, mode: str) -> Image.Image:
    """WebP decodes to RGB/RGBA; gray images come back exactly with a plain conversion (R = G = B)."""
    return img if img.mode == mode else img.convert(mode)


def _lossless_webp(name: str, data: bytes) -> tuple[bytes, dict] | None:
    """A PNG's pixels as lossless WebP, checked pixel-exact; None when WebP cannot hold it or is not smaller."""
    with Image.open(io.BytesIO(data)) as img:
        if img.format != "PNG" or img.mode not in _WEBP_MODES or getattr(img, "n_frames", 1) != 1:
            return None  # palette, 16-bit and animated PNGs stay PNG: WebP cannot restore them exactly
        if max(img.size) > _WEBP_MAX_SIDE:
            return None
        img.load()
        buf = io.BytesIO()
        # method=4 at quality (effort) 100: measured on T91/BSD200 as small as method 6 and 12x faster;
        # exact=True keeps the colour of fully transparent pixels, which the loaders also read.
        img.save(buf, "WEBP", lossless=True, quality=100, method=4, exact=True)
        webp = buf.getvalue()
        with Image.open(io.BytesIO(webp)) as back:
            restored = _restore_mode(back, img.mode)
            if restored.mode != img.mode or not np.array_equal(np.asarray(restored), np.asarray(img)):
                raise PackError(
                    f"{name}: lossless WebP did not give back the exact pixels ({img.mode}); "
                    "pack this folder without transcode_png_to_webp."
                )
        mode = img.mode
    how = {"codec": "webp-lossless", "from": "png", "mode": mode, "source_bytes": len(data)}
    return (webp, how) if len(webp) < len(data) else None


def _workers() -> int:
    return max(1, min(16, os.cpu_count() or 1))


def pack_folder(
    folder: str | os.PathLike | Mapping[str, str | os.PathLike],
    out_path: str | os.PathLike,
    info: Mapping[str, object] | None = None,
    transcode_png_to_webp: bool = False,
    include: Iterable[str] | None = None,
) -> PackSummary:
    """Pack every file under ``folder`` (recursively) whose suffix is in ``include`` into ``out_path``.

    ``folder`` may also be ``{prefix: folder, ...}``: each folder's files go under ``prefix/``, in
    the mapping's order (e.g. ``{"T91": ..., "BSD200": ...}`` loads like ``"T91,BSD200"``).
    ``include`` defaults to the image suffixes the loaders read plus ``.csv``. With
    ``transcode_png_to_webp`` each PNG is stored as lossless WebP when that is pixel-exact and
    smaller (checked here; a mismatch raises PackError); the member keeps its ``.png`` name.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "data").mkdir(), (tmp / "data" / "labels.csv").write_text("file\\n")
        >>> pack_folder(tmp / "data", tmp / "data.pack").count
        1
    """
    folders = {k: Path(v) for k, v in folder.items()} if isinstance(folder, Mapping) else {"": Path(folder)}
    suffixes = frozenset(s.lower() for s in include) if include is not None else DEFAULT_SUFFIXES
    files = _collect_files(folders, suffixes)
    names = [name for name, _ in files]
    with ThreadPoolExecutor(_workers()) as pool:
        blobs = list(pool.map(lambda item: item[1].read_bytes(), files))
        transcoded: dict[str, dict] = {}
        if transcode_png_to_webp:
            pngs = [i for i, name in enumerate(names) if name.lower().endswith(".png")]
            # PIL releases the GIL while encoding WebP: threads use every core (2x on 2 cores, measured)
            for i, result in zip(pngs, pool.map(lambda i: _lossless_webp(names[i], blobs[i]), pngs)):
                if result is not None:
                    blobs[i], transcoded[names[i]] = result
    sources = {prefix or ".": str(path) for prefix, path in folders.items()}
    return write_pack(out_path, list(zip(names, blobs)), {"sources": sources, **dict(info or {})}, transcoded)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The safetensors file's tensors and metadata; truncation -> PackError, a garbled header -> PackChecksumError."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else None
    if size is None or 8 + size > len(data):
        raise PackError(f"{path} is truncated ({len(data):,} bytes). {REPACK_HINT}")
    try:
        header = json.loads(data[8 : 8 + size])
        ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise PackChecksumError(f"{path} has a corrupted header (checksum cannot be read). {REPACK_HINT}") from None
    if 8 + size + max(ends, default=0) > len(data):
        raise PackError(f"{path} is truncated ({len(data):,} bytes). {REPACK_HINT}")
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as err:  # safetensors raises its own error types for malformed files
        raise PackChecksumError(f"{path} is corrupted ({err}). {REPACK_HINT}") from None
    return tensors, header.get("__metadata__") or {}


class Pack:
    """An opened, checksum-verified pack, decompressed once and held in memory.

    Open with :meth:`open` (cached per path, mtime and size, so several loaders in one process
    decompress a pack once). Members are read by name; images decode with :meth:`open_image`,
    which undoes any transcoding (a PNG stored as WebP comes back in its original mode).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "p.pack"
        >>> _ = write_pack(out, [("x/1.csv", b"a"), ("x/2.csv", b"b")], info={"family": "demo"})
        >>> pack = Pack.open(out)
        >>> pack.names, pack.info["family"], len(pack.sha256)
        (['x/1.csv', 'x/2.csv'], 'demo', 64)
    """

    _cache: OrderedDict[tuple[str, int, int], Pack] = OrderedDict()
    _cache_lock = threading.Lock()
    _cache_size = 8

    def __init__(self, path: Path, meta: dict, stream: bytes, offsets: list[int]):
        self.path = path
        self.names: list[str] = list(meta["names"])
        self.info: dict = dict(meta.get("info") or {})
        self.transcoded: dict[str, dict] = dict(meta.get("transcoded") or {})
        self.sha256: str = meta["sha256"]
        self._stream, self._offsets = stream, offsets
        self._index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def open(cls, path: str | os.PathLike) -> Pack:
        """Read, verify and decompress ``path`` (or reuse it if this process already did)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No pack file at {path}. {REPACK_HINT}")
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        with cls._cache_lock:
            if key in cls._cache:
                cls._cache.move_to_end(key)
                return cls._cache[key]
        pack = cls._load(path)
        with cls._cache_lock:
            cls._cache[key] = pack
            while len(cls._cache) > cls._cache_size:
                cls._cache.popitem(last=False)
        return pack

    @classmethod
    def _load(cls, path: Path) -> Pack:
        tensors, metadata = read_tensors(path)
        try:
            meta = json.loads(metadata["pack"])
            payload = tensors["payload"].numpy().tobytes()
            offsets_le = tensors["offsets"].numpy().astype("<i8")
            stored = meta["sha256"]
        except (KeyError, ValueError, TypeError, AttributeError):
            raise PackChecksumError(f"{path} lacks its pack metadata or tensors (corrupted). {REPACK_HINT}") from None
        if not isinstance(meta, dict) or checksum([payload, offsets_le.tobytes()], meta) != stored:
            raise PackChecksumError(f"{path} does not match its sha256 (corrupted copy). {REPACK_HINT}")
        if meta.get("format") != FORMAT_VERSION:
            raise PackError(f"{path} is format {meta.get('format')}, this code reads {FORMAT_VERSION}. {REPACK_HINT}")
        offsets = offsets_le.tolist()
        stream = zlib.decompress(payload)
        if len(offsets) != len(meta["names"]) + 1 or offsets[0] != 0 or offsets[-1] != len(stream):
            raise PackError(f"{path}: offsets do not fit its {len(meta['names'])} members. {REPACK_HINT}")
        return cls(path, meta, stream, offsets)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"Pack({str(self.path)!r}, members={len(self.names)}, sha256={self.sha256[:12]})"

    def read(self, name: str) -> bytes:
        """A member's stored bytes: the original file, or its WebP if ``name in pack.transcoded``."""
        i = self._index.get(name)
        if i is None:
            raise KeyError(f"{name!r} is not in {self.path} ({len(self.names)} members, e.g. {self.names[:3]}).")
        return self._stream[self._offsets[i] : self._offsets[i + 1]]

    def size(self, name: str) -> int:
        """A member's stored size in bytes (without copying it)."""
        i = self._index[name]
        return self._offsets[i + 1] - self._offsets[i]

    def open_image(self, name: str) -> Image.Image:
        """A member decoded by PIL (fully loaded) with the mode the original file had."""
        img = Image.open(io.BytesIO(self.read(name)))
        img.load()
        how = self.transcoded.get(name)
        return _restore_mode(img, how["mode"]) if how else img

    def images(self, prefix: str = "") -> list[str]:
        """Names of image members under ``prefix`` (a folder inside the pack; "" = all), in stored order."""
        prefix = prefix.strip("/")
        under = [n for n in self.names if not prefix or n.startswith(prefix + "/")]
        return [n for n in under if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]

    def folders(self) -> list[str]:
        """The pack's top-level folders, for error messages."""
        return sorted({n.split("/", 1)[0] for n in self.names if "/" in n})


#: Mean stored bytes per image above which decoding runs on threads (see ``decode_images``).
_THREADED_DECODE_BYTES = 32 * 1024


def decode_images(pack: Pack, names: Sequence[str], convert: Callable = to_uint8_tensor) -> list:
    """``convert(pack.open_image(name))`` for every name, in the order given.

    Large images decode on a thread pool: PIL releases the GIL inside the decoder, so threads
    scale (T91 + BSD200: 2x on 2 cores). Tiny ones (CelebA, anime faces: ~3 KB each) do not: their
    time goes to Python-side header parsing under the GIL, and threads made them 1.7x slower.
    """
    names = list(names)
    mean_bytes = sum(pack.size(n) for n in names) / max(1, len(names))
    workers = _workers() if mean_bytes >= _THREADED_DECODE_BYTES else 1
    if workers == 1:
        return [convert(pack.open_image(name)) for name in names]
    chunk = max(1, -(-len(names) // (workers * 4)))  # contiguous chunks: order kept, little overhead
    chunks = [names[i : i + chunk] for i in range(0, len(names), chunk)]

    def run(part: list[str]) -> list:
        return [convert(pack.open_image(name)) for name in part]

    with ThreadPoolExecutor(workers) as pool:
        return [item for part in pool.map(run, chunks) for item in part]


def load_pack_images(spec: str) -> list[torch.Tensor]:
    """Every image of ``pack:<file>[#<subfolder>]`` as (3, H, W) uint8, like a folder in ``load_image_sources``.

    Example:
        >>> load_pack_images("pack:/nonexistent.pack")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: No pack file at /nonexistent.pack...
    """
    path, subfolder = parse_pack_spec(spec)
    pack = Pack.open(path)
    names = pack.images(subfolder)
    if not names:
        where = f"under {subfolder!r} " if subfolder else ""
        raise FileNotFoundError(
            f"No images {where}in {path} (its folders: {', '.join(pack.folders()) or 'none'}); "
            f"check the #<subfolder> of {spec!r}."
        )
    return decode_images(pack, names)
