"""What every Space needs to serve a pipeline: a device, a cache of loaded models, limits, ZeroGPU.

No gradio here: the Spaces import this, and so can any other server.

* :func:`gpu` marks the function that touches the accelerator; on a ZeroGPU Space it becomes
  ``spaces.GPU`` (a GPU is attached only while it runs), anywhere else it changes nothing.
* :func:`load_pipeline` loads a model (any family's pipeline class) once per process and keeps the last few.
* :func:`default_max_pixels` is the input size cap, so one huge upload cannot stall a shared server.

Input checks (seeds, counts, numbers, flags) are in :mod:`gan_models.checks`, shared with the pipelines.

Example:
    >>> @gpu
    ... def double(x):
    ...     return 2 * x
    >>> double(3)
    6
"""

from __future__ import annotations

import functools
import os
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
