"""What every Space needs to serve a pipeline: a device, a cache of loaded models, limits, ZeroGPU.

No gradio here: the Spaces import this, and so can any other server.

* :func:`gpu` marks the function that touches the accelerator; on a ZeroGPU Space it becomes
  ``spaces.GPU`` (a GPU is attached only while it runs), anywhere else it changes nothing.
* :func:`load_pipeline` loads a model (any family's pipeline class) once per process and keeps the last few.
* :func:`default_max_pixels` is the input size cap, so one huge upload cannot stall a shared server.

Example:
    >>> @gpu
    ... def double(x):
    ...     return 2 * x
    >>> double(3)
    6
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline

from .hub import model_label, resolve_model
from .pipelines import SuperResolutionPipeline

__all__ = [
    "MAX_PIXELS_ENV",
    "default_max_pixels",
    "download_folder",
    "gpu",
    "load_pipeline",
    "model_label",
    "number_in_range",
    "serving_device",
]

#: Environment variable that overrides :func:`default_max_pixels` (an integer pixel count).
MAX_PIXELS_ENV = "GAN_HUB_MAX_PIXELS"
_CPU_MAX_PIXELS = 4_000_000  # ~2000x2000: a few tens of seconds per image on a small CPU
_GPU_MAX_PIXELS = 16_000_000

F = TypeVar("F", bound=Callable)
P = TypeVar("P", bound=DiffusionPipeline)


def _zero_gpu_decorator() -> Callable | None:
    """``spaces.GPU`` from Hugging Face's ``spaces`` package, or None when it is not installed.

    Our repository has a plain ``spaces/`` folder (the Space sources, no ``__init__.py``). Run
    from the repository root, ``import spaces`` then succeeds as an empty namespace package, so
    success alone proves nothing: only a ``GPU`` attribute means the real package.
    """
    try:
        import spaces
    except ImportError:
        return None
    return getattr(spaces, "GPU", None)


def gpu(fn: F) -> F:
    """Decorate the function that runs the model: ``spaces.GPU`` on ZeroGPU, the identity elsewhere.

    Example:
        >>> gpu(len)([1, 2])
        2
    """
    decorator = _zero_gpu_decorator()
    return decorator(fn) if decorator is not None else fn


def serving_device() -> tuple[torch.device, torch.dtype]:
    """CUDA in float16 when available (half the memory, tensor cores), else the CPU in float32.

    Example:
        >>> serving_device()[1] in (torch.float16, torch.float32)
        True
    """
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


@functools.lru_cache(maxsize=4)  # the bundled SR models and the faces model fit; a fifth evicts the oldest
def _load_resolved(path: str, pipeline_class: type[DiffusionPipeline]) -> DiffusionPipeline:
    device, dtype = serving_device()
    try:
        pipe = pipeline_class.from_pretrained(path, dtype=dtype)
    except OSError as err:  # diffusers' answer to a missing folder, file or uncached Hub repo
        raise ValueError(
            f"Could not load the model {path!r}: {err} Check the name, that the folder was saved "
            "with save_pretrained, or that this machine can reach the Hugging Face Hub."
        ) from err
    except ValueError as err:  # e.g. a super-resolution folder asked for as a face model
        raise ValueError(
            f"{path!r} does not hold a {pipeline_class.__name__}: {err} Pick a model of this family."
        ) from err
    return pipe.to(device)


def load_pipeline(name_or_path: str | os.PathLike, pipeline_class: type[P] = SuperResolutionPipeline) -> P:
    """The ``pipeline_class`` pipeline for a bundled name, a local folder or a Hub repo id.

    Loaded once per process (cached by class and resolved location, so ``"superres-x4-gan"`` and
    its folder share one copy) on :func:`serving_device`. The default class keeps the
    super-resolution callers short; other families pass theirs, e.g.
    ``load_pipeline("faces-celeba64", FaceGANPipeline)``.

    Raises:
        ValueError: an unknown name, or a location that does not hold a loadable pipeline of
            ``pipeline_class``.

    Example:
        >>> import tempfile
        >>> from gan_models import SRVGGNetCompact, SuperResolutionPipeline
        >>> folder = tempfile.mkdtemp()
        >>> SuperResolutionPipeline(SRVGGNetCompact(num_feat=8, num_conv=2)).save_pretrained(folder)
        >>> load_pipeline(folder) is load_pipeline(folder, SuperResolutionPipeline)
        True
    """
    if not (isinstance(pipeline_class, type) and issubclass(pipeline_class, DiffusionPipeline)):
        raise TypeError(f"pipeline_class must be a DiffusionPipeline subclass, got {pipeline_class!r}.")
    return _load_resolved(resolve_model(name_or_path), pipeline_class)


def default_max_pixels() -> int:
    """Largest input (width x height) a Space accepts: ``$GAN_HUB_MAX_PIXELS``, else 4 MP on CPU, 16 MP on GPU.

    Example:
        >>> import os
        >>> os.environ["GAN_HUB_MAX_PIXELS"] = "1000"
        >>> default_max_pixels()
        1000
        >>> del os.environ["GAN_HUB_MAX_PIXELS"]
    """
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if value:
        try:
            pixels = int(value.replace("_", ""))
        except ValueError:
            pixels = 0
        if pixels <= 0:
            raise ValueError(f"{MAX_PIXELS_ENV} must be a positive integer pixel count, got {value!r}.")
        return pixels
    return _GPU_MAX_PIXELS if torch.cuda.is_available() else _CPU_MAX_PIXELS


#: Where Spaces write the files they offer for download; gradio copies them into its own cache.
DOWNLOAD_ROOT = Path(tempfile.gettempdir()) / "gan-demo-hub"
_DOWNLOAD_MAX_AGE_S = 3600


def download_folder(family: str, max_age_s: float = _DOWNLOAD_MAX_AGE_S) -> Path:
    """A fresh folder for one request's downloads; folders older than ``max_age_s`` are swept.

    One folder per request keeps friendly file names without clashes, and the sweep keeps a
    long-running Space from filling its disk.
    """
    root = DOWNLOAD_ROOT / family
    now = time.time()
    if root.is_dir():
        for old in root.iterdir():
            try:
                if now - old.stat().st_mtime > max_age_s:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:  # swept by a concurrent request
                continue
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def number_in_range(
    value: object, name: str, low: float, high: float, default: float, hint: str = "", error: type = ValueError
) -> float:
    """A UI or API value as a float in ``[low, high]``; ``None`` means ``default``.

    API callers skip the sliders, so every Space checks again; ``error`` lets a Space raise its
    own exception type (``gr.Error``) without this module importing gradio.

    Example:
        >>> number_in_range("0.7", "truncation", -1, 2, default=1.0), number_in_range(None, "x", 0, 1, 0.5)
        (0.7, 0.5)
    """
    if value is None:
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not low <= number <= high:  # also false for NaN
        raise error(f"{name} must be a number from {low:g} to {high:g}{f' ({hint})' if hint else ''}, got {value!r}.")
    return number


def whole_number(value: object, name: str, error: type = ValueError) -> int:
    """A UI or API value as an int (3, 3.0 and "3" are fine), else ``error`` naming the input.

    Example:
        >>> whole_number("12", "seed"), whole_number(4.0, "num_images")
        (12, 4)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)  # exact, even past float precision
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not math.isfinite(number) or number != int(number):
        raise error(f"{name} must be a whole number, got {value!r}.")
    return int(number)


def seed_or_random(value: object, max_seed: int, name: str = "seed", error: type = ValueError) -> int:
    """A seed in 0..max_seed; empty means a random one. Out of range is an error, not a clamp:
    a clamped seed is a different image from the one asked for, which would only confuse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return random.randint(0, max_seed)
    seed = whole_number(value, name, error)
    if not 0 <= seed <= max_seed:
        raise error(f"{name} must be a whole number from 0 to {max_seed}, got {value!r}.")
    return seed


def clamped_count(
    value: object,
    name: str,
    low: int,
    high: int,
    default: int,
    notes: list[str],
    error: type = ValueError,
    warn: Callable[[str], object] | None = None,
) -> int:
    """A count clamped into ``low..high`` (``None``: ``default``); a clamp is noted in ``notes`` and ``warn``ed.

    Example:
        >>> notes = []; clamped_count(40, "num_images", 1, 16, 4, notes), notes
        (16, ['num_images 40 is outside 1 to 16: used 16.'])
    """
    if value is None:
        return default
    count = whole_number(value, name, error)
    clamped = min(max(count, low), high)
    if clamped != count:
        note = f"{name} {count} is outside {low} to {high}: used {clamped}."
        if warn is not None:
            warn(note)
        notes.append(note)
    return clamped


def flag(value: object, name: str, error: type = ValueError) -> bool:
    """A checkbox or API value as a bool: True/False, "true"/"false", None or "" (False)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
        return value.strip().lower() == "true"
    raise error(f"{name} must be true or false, got {value!r}.")
