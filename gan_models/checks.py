"""Input checks at the door, shared by the Spaces and the pipelines: one range per parameter.

Two kinds of check read the same :class:`Range` constants:

* **Library checks** (``check_*``), used by the pipelines: strict about types (``True`` is not a
  seed, ``"7"`` is not a number) and raise :class:`~gan_models.errors.GanModelsError` (a
  ``ValueError``) with a message that says what is allowed.
* **Door checks** for values typed into a UI or sent to an API (:func:`number_in_range`,
  :func:`whole_number`, :func:`seed_or_random`, :func:`clamped_count`, :func:`flag`): lenient
  about form (``"0.7"``, ``4.0``, ``""``) and raise ``error``, so a Space passes its own exception
  type (``gr.Error``) without this module importing gradio.

A Space may serve less than the library allows per click (16 images, not 64): it narrows the
library's range with :meth:`Range.capped`, so the two can never disagree on the rest.

Example:
    >>> check_truncation(0.7), number_in_range("0.7", TRUNCATION, default=1.0)
    (0.7, 0.7)
    >>> NUM_IMAGES.capped(16).high, 65 in NUM_IMAGES
    (16, False)
"""

from __future__ import annotations

import math
import numbers
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from .errors import GanModelsError

__all__ = [
    "FPS",
    "NOISE_MODES",
    "NUM_FRAMES",
    "NUM_IMAGES",
    "OUTPUT_TYPES",
    "SEED",
    "STYLE_MIX_SEEDS",
    "TILE_OVERLAP",
    "TILE_SIZE",
    "TRUNCATION",
    "Range",
    "check_choice",
    "check_int",
    "check_number",
    "check_outscale",
    "check_seed",
    "check_seed_list",
    "check_seed_or_generator",
    "check_seed_span",
    "check_truncation",
    "clamped_count",
    "flag",
    "number_in_range",
    "outscale_range",
    "seed_or_random",
    "whole_number",
]


@dataclass(frozen=True)
class Range:
    """The allowed values of one parameter: ``low`` to ``high`` (both included; ``None``: no upper bound).

    Example:
        >>> r = Range("num_frames", 2, 240)
        >>> 2 in r, 241 in r, r.capped(96)
        (True, False, Range(name='num_frames', low=2, high=96, hint=''))
    """

    name: str
    low: float
    high: float | None = None
    hint: str = ""

    def __contains__(self, value: object) -> bool:
        try:
            return self.low <= value and (self.high is None or value <= self.high)  # type: ignore[operator]
        except TypeError:
            return False

    def capped(self, high: float) -> Range:
        """The same parameter with a lower maximum (a Space's per-request limit); never a wider one."""
        if high not in self:
            raise ValueError(f"{self.name}: a cap of {high} is outside the library's range {self.describe()}.")
        return replace(self, high=high)

    def describe(self) -> str:
        """``"between 1 and 64"`` or ``">= 0"``."""
        return f">= {self.low}" if self.high is None else f"between {self.low} and {self.high}"


# --------------------------------------------------------------------------------------------
# the ranges: one per parameter, read by the pipelines and the Spaces alike
# --------------------------------------------------------------------------------------------

#: Seeds are unsigned 32-bit, like the official StyleGAN scripts.
SEED = Range("seed", 0, 2**32 - 1)
#: Truncation psi: 0 = the mean image, 1 = untouched, above 1 / below 0 = caricatures.
TRUNCATION = Range("truncation", -1.0, 2.0, hint="0.5 to 1 is usual")
#: Images per generation call (a shared server must not be held up by one request).
NUM_IMAGES = Range("num_images", 1, 64)
#: Frames of one interpolation (10 s at 24 fps).
NUM_FRAMES = Range("num_frames", 2, 240)
#: Row (and column) seeds of a style-mixing grid.
STYLE_MIX_SEEDS = Range("seeds", 1, 16)
#: Frames per second of a saved animation.
FPS = Range("fps", 1, 60)
#: Tile side in input pixels (0: the whole image at once).
TILE_SIZE = Range("tile_size", 0, hint="0 or None = no tiling")
#: Context margin per tile, in input pixels.
TILE_OVERLAP = Range("tile_overlap", 0)
#: StyleGAN2 noise: the stored maps, maps drawn from the seed, or none.
NOISE_MODES = ("const", "random", "none")
#: What a pipeline returns: PIL images, numpy arrays or torch tensors.
OUTPUT_TYPES = ("pil", "np", "pt")


def outscale_range(scale: int) -> Range:
    """Final size factor of an ``x{scale}`` super-resolution model: 1 to twice its native scale.

    Beyond that the Lanczos resize after the network only blurs. A Space serving x4 models caps
    it at 4 (``outscale_range(4).capped(4)``).

    Example:
        >>> outscale_range(4).high
        8.0
    """
    return Range("outscale", 1.0, 2.0 * scale)


# --------------------------------------------------------------------------------------------
# library checks (pipelines): strict types, GanModelsError
# --------------------------------------------------------------------------------------------


def check_int(value: object, allowed: Range, name: str | None = None) -> int:
    """An ``int`` (numpy ints too, never ``bool``) in ``allowed``.

    Example:
        >>> check_int(3, NUM_IMAGES)
        3
    """
    name = name or allowed.name
    # bool is an int subclass: True as a seed is almost certainly a UI wiring bug, so refuse it
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GanModelsError(f"{name} must be an integer {allowed.describe()}, got {value!r}.")
    if int(value) not in allowed:
        hint = f" ({allowed.hint})" if allowed.hint else ""
        raise GanModelsError(f"{name} must be {allowed.describe()}{hint}, got {value}.")
    return int(value)


def check_number(value: object, allowed: Range, name: str | None = None, hint: str = "") -> float:
    """A finite real number (never ``bool``) in ``allowed``; ``hint`` ends the out-of-range message.

    Example:
        >>> check_number(2, outscale_range(4))
        2.0
    """
    name = name or allowed.name
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise GanModelsError(f"{name} must be a finite number {allowed.describe()}, got {value!r}.")
    if value not in allowed:
        raise GanModelsError(f"{name} must be {allowed.describe()}, got {value}.{f' {hint}' if hint else ''}")
    return float(value)


def check_choice(value: object, choices: Sequence[str], name: str) -> str:
    """One of ``choices`` (exactly: a string, same case).

    Example:
        >>> check_choice("np", OUTPUT_TYPES, "output_type")
        'np'
    """
    if not isinstance(value, str) or value not in choices:
        raise GanModelsError(f"{name} must be one of {tuple(choices)}, got {value!r}.")
    return value


def check_seed(value: object, name: str = "seed") -> int:
    """A seed in :data:`SEED`."""
    return check_int(value, SEED, name)


def check_seed_span(seed: int, count: int) -> list[int]:
    """The seeds ``seed, seed + 1, ..., seed + count - 1``, all in :data:`SEED`.

    Example:
        >>> check_seed_span(7, 3)
        [7, 8, 9]
    """
    last = seed + count - 1
    if last > SEED.high:
        raise GanModelsError(
            f"seed + num_images - 1 is over the largest seed {SEED.high} (it is {last}); "
            f"use a seed up to {SEED.high - count + 1}."
        )
    return list(range(seed, last + 1))


def check_seed_or_generator(
    seed: object, generator: object, count: int
) -> tuple[list[int | None], list[torch.Generator]]:
    """Each image's seed and ``torch.Generator``: from ``seed`` (default 0) or from ``generator=``.

    ``seed=s``: image ``i`` draws from a fresh CPU generator seeded ``s + i``. ``generator``: one
    ``torch.Generator`` that every image draws from in turn (as diffusers does), or a list of them,
    one per image; the seeds are then ``None``. ``[torch.Generator().manual_seed(s + i) ...]``
    reproduces ``seed=s`` exactly. Both at once is an error.

    Example:
        >>> seeds, gens = check_seed_or_generator(None, torch.Generator().manual_seed(3), 2)
        >>> seeds, gens[0] is gens[1]
        ([None, None], True)
    """
    if generator is None:
        seeds = check_seed_span(check_seed(0 if seed is None else seed), count)
        return list(seeds), [torch.Generator().manual_seed(s) for s in seeds]
    if seed is not None:
        raise GanModelsError(
            "Pass seed or generator, not both: seed=s draws image i from seed s + i, generator= draws every "
            "image from the torch.Generator(s) you give."
        )
    if isinstance(generator, torch.Generator):
        return [None] * count, [generator] * count
    if isinstance(generator, (list, tuple)) and all(isinstance(g, torch.Generator) for g in generator):
        if len(generator) != count:
            raise GanModelsError(
                f"generator is a list of {len(generator)} torch.Generators for {count} images; pass one per "
                "image, or a single generator for all of them."
            )
        return [None] * count, list(generator)
    raise GanModelsError(f"generator must be a torch.Generator or a list of them (one per image), got {generator!r}.")


def check_truncation(value: object) -> float:
    """A truncation psi in :data:`TRUNCATION`."""
    return check_number(value, TRUNCATION, hint="Use 0.5-0.8 for typical faces, 1 for the full variety.")


def check_seed_list(seeds: object, name: str, count: Range = STYLE_MIX_SEEDS) -> list[int]:
    """A list of seeds, as many as ``count`` allows (a string is not a list of seeds).

    Example:
        >>> check_seed_list((1, 2), "row_seeds")
        [1, 2]
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise GanModelsError(f"{name} must be a list of integer seeds, got {seeds!r}.")
    if len(seeds) not in count:
        raise GanModelsError(f"{name} must hold {count.low} to {count.high} seeds, got {len(seeds)}.")
    return [check_seed(s, f"{name}[{i}]") for i, s in enumerate(seeds)]


def check_outscale(value: object, scale: int) -> float | None:
    """``None`` (the native scale) or a number in :func:`outscale_range` of an ``x{scale}`` model."""
    if value is None:
        return None
    return check_number(value, outscale_range(scale), hint=f"This is an x{scale} model: leave it unset for x{scale}.")


# --------------------------------------------------------------------------------------------
# door checks (UI and API values): lenient form, the caller's error type
# --------------------------------------------------------------------------------------------


def number_in_range(value: object, allowed: Range, default: float, error: type = ValueError) -> float:
    """A UI or API value as a float in ``allowed``; ``None`` means ``default``.

    API callers skip the sliders, so every Space checks again; ``error`` lets a Space raise its
    own exception type (``gr.Error``).

    Example:
        >>> number_in_range("0.7", TRUNCATION, default=1.0), number_in_range(None, TRUNCATION, 0.5)
        (0.7, 0.5)
    """
    if value is None:
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not (math.isfinite(number) and number in allowed):
        hint = f" ({allowed.hint})" if allowed.hint else ""
        span = f"from {allowed.low:g} to {allowed.high:g}" if allowed.high is not None else f">= {allowed.low:g}"
        raise error(f"{allowed.name} must be a number {span}{hint}, got {value!r}.")
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


def seed_or_random(value: object, name: str = "seed", error: type = ValueError) -> int:
    """A seed in :data:`SEED`; empty means a random one. Out of range is an error, not a clamp:
    a clamped seed is a different image from the one asked for, which would only confuse.

    Example:
        >>> seed_or_random("42"), seed_or_random(None) in SEED
        (42, True)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return random.randint(SEED.low, SEED.high)
    seed = whole_number(value, name, error)
    if seed not in SEED:
        raise error(f"{name} must be a whole number from {SEED.low} to {SEED.high}, got {value!r}.")
    return seed


def clamped_count(
    value: object,
    allowed: Range,
    default: int,
    notes: list[str],
    error: type = ValueError,
    warn: Callable[[str], object] | None = None,
    name: str | None = None,
) -> int:
    """A count clamped into ``allowed`` (``None``: ``default``); a clamp is noted in ``notes`` and ``warn``ed.

    Example:
        >>> notes = []; clamped_count(40, NUM_IMAGES.capped(16), 4, notes), notes
        (16, ['num_images 40 is outside 1 to 16: used 16.'])
    """
    if value is None:
        return default
    name = name or allowed.name
    count = whole_number(value, name, error)
    clamped = max(count, allowed.low)
    clamped = min(clamped, allowed.high) if allowed.high is not None else clamped
    if clamped != count:
        note = f"{name} {count} is outside {allowed.low} to {allowed.high}: used {clamped}."
        if warn is not None:
            warn(note)
        notes.append(note)
    return clamped


def flag(value: object, name: str, error: type = ValueError) -> bool:
    """A checkbox or API value as a bool: True/False, "true"/"false", None or "" (False).

    Example:
        >>> flag("true", "upscale"), flag(None, "upscale")
        (True, False)
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
        return value.strip().lower() == "true"
    raise error(f"{name} must be true or false, got {value!r}.")
