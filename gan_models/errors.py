"""Typed errors for every public entry point (pipelines, CLI, Spaces).

All of them subclass :class:`ValueError`, so a caller that only wants "bad input, tell the user"
can ``except ValueError`` while tests and UIs can still tell the cases apart.

Example:
    >>> from gan_models.errors import InvalidImageError
    >>> try:
    ...     raise InvalidImageError("The file is empty (0 bytes). Upload a PNG, JPEG or WebP image.")
    ... except ValueError as err:
    ...     print(type(err).__name__)
    InvalidImageError
"""

from __future__ import annotations

__all__ = [
    "CheckpointFormatError",
    "GanModelsError",
    "ImageTooLargeError",
    "InferenceOutOfMemoryError",
    "InvalidImageError",
    "InvalidPromptError",
    "TextEncoderUnavailableError",
]


class GanModelsError(ValueError):
    """Base class of every input error raised by ``gan_models``; catch this or ``ValueError``."""


class InvalidImageError(GanModelsError):
    """The input is not a decodable image: empty, truncated, corrupt or an unknown format."""


class ImageTooLargeError(GanModelsError):
    """The image has more pixels than the caller's cap; the message gives both numbers."""

    def __init__(self, width: int, height: int, max_pixels: int, message: str | None = None):
        self.width, self.height, self.max_pixels = width, height, max_pixels
        if message is None:
            message = (
                f"The image is {width}x{height} = {width * height:,} pixels, over the limit of "
                f"{max_pixels:,} pixels. Downscale or crop it and try again."
            )
        else:
            message = f"{message} Downscale or crop the image and try again."
        super().__init__(message)


class CheckpointFormatError(GanModelsError):
    """A foreign checkpoint whose key layout matches none of the known architectures."""


class InferenceOutOfMemoryError(GanModelsError, RuntimeError):
    """The accelerator ran out of memory even at the smallest tile size.

    Also a ``RuntimeError`` (what torch raises for OOM), so code that catches either still works.
    """


class InvalidPromptError(GanModelsError):
    """A text prompt that cannot be used: not a string, empty, over the length cap or without letters."""


class TextEncoderUnavailableError(GanModelsError):
    """The text encoder's weights cannot be found (package not installed, or a folder without a model)."""
