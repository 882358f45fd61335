"""Image in/out shared by every family: decoding, limits, EXIF, modes, alpha, tensors, disclosure.

The walk of an image through the hub is always the same:

    load_image  ->  split_alpha  ->  pil_to_tensor  ->  network  ->  tensor_to_pil  ->  merge_alpha
                                                                  ->  mark_ai_generated / save_png

Pillow has many modes; the networks only ever see 8-bit RGB in [0, 1]. Everything else (gray,
alpha, palettes, 16-bit and float images, CMYK) is normalised here once, so no pipeline needs to
know about it. Frames (a latent walk) leave as a GIF or MP4 through :func:`save_animation`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from collections.abc import Sequence
from typing import IO, Union

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .checks import FPS, check_int
from .errors import GanModelsError, ImageTooLargeError, InvalidImageError

__all__ = [
    "AI_SOFTWARE",
    "DIGITAL_SOURCE_TYPE",
    "ImageSource",
    "ai_metadata",
    "load_image",
    "mark_ai_generated",
    "merge_alpha",
    "pil_to_tensor",
    "png_metadata",
    "save_animation",
    "save_png",
    "split_alpha",
    "tensor_to_pil",
]

ImageSource = Union[str, os.PathLike, bytes, bytearray, IO[bytes], Image.Image, np.ndarray]

#: Written as the PNG "Software" text chunk of every generated image.
AI_SOFTWARE = "gan-demo-hub"
#: IPTC "Digital Source Type" term for media created by a trained model
#: (https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia).
DIGITAL_SOURCE_TYPE = "trainedAlgorithmicMedia"

# Errors Pillow raises for truncated / corrupt data, depending on format and stage.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)
_SUPPORTED_HINT = "Upload a PNG, JPEG, WebP, BMP, TIFF or GIF image."


# --------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(width, height, max_pixels)


def _open_stream(fp: IO[bytes], what: str, max_pixels: int | None) -> Image.Image:
    """Open a binary stream, check the header's size, then decode fully; all errors become typed."""
    try:
        # Image.open only parses the header: the pixel cap is checked before any decoding work.
        img = Image.open(fp)
    except Image.DecompressionBombError as err:
        # Pillow's own guard (~179 MP) fires inside open(); report it as a size problem too.
        raise ImageTooLargeError(0, 0, max_pixels or Image.MAX_IMAGE_PIXELS or 0, message=str(err)) from err
    except _DECODE_ERRORS as err:
        # the reason, not str(err): Pillow's message repeats the server-side path of the upload
        reason = "unknown format" if isinstance(err, Image.UnidentifiedImageError) else type(err).__name__
        raise InvalidImageError(f"{what} is not a readable image ({reason}). {_SUPPORTED_HINT}") from err
    _check_pixels(img.width, img.height, max_pixels)
    try:
        img.load()  # force the decode now, so truncated files fail here and not deep in a pipeline
    except _DECODE_ERRORS as err:
        raise InvalidImageError(f"{what} is corrupt or truncated ({err}). {_SUPPORTED_HINT}") from err
    return _upright(img)  # while the stream is still open (PNG may keep EXIF after the pixels)


def _upright(img: Image.Image) -> Image.Image:
    """Apply EXIF orientation; returns a new, file-detached image. A broken EXIF block is not fatal."""
    try:
        return ImageOps.exif_transpose(img)
    except _DECODE_ERRORS:
        return img.copy()


def load_image(src: ImageSource, max_pixels: int | None = None) -> Image.Image:
    """Decode an image from a path, bytes, a binary file object, a PIL image or an array, upright.

    The pixel cap is checked from the header before decoding, so an oversized upload costs no
    memory. EXIF orientation is applied (phone photos come out upright) and the result is
    detached from any file. For animated images the first frame is used. The mode is left as it
    is; call :func:`split_alpha` to normalise it.

    Args:
        src: file path, raw encoded bytes, a readable binary file object, a ``PIL.Image``, or a
            ``uint8`` array ``(H, W)`` / ``(H, W, 3|4)`` (what ``gr.Image(type="numpy")`` gives).
        max_pixels: optional cap on ``width * height``.

    Raises:
        InvalidImageError: empty, corrupt, truncated or unknown data, or a missing file.
        ImageTooLargeError: more than ``max_pixels`` pixels.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.new("RGB", (4, 3)).save(buf, "PNG")
        >>> load_image(buf.getvalue()).size
        (4, 3)
        >>> load_image(buf.getvalue(), max_pixels=10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        gan_models.errors.ImageTooLargeError: The image is 4x3 = 12 pixels, over the limit of 10 pixels. ...
    """
    # 1. get the encoded bytes (or an already decoded image)
    if isinstance(src, Image.Image):
        _check_pixels(src.width, src.height, max_pixels)
        img = src
    elif isinstance(src, np.ndarray):
        if src.ndim not in (2, 3) or src.size == 0 or (src.ndim == 3 and src.shape[2] not in (1, 3, 4)):
            raise InvalidImageError(f"An image array must be (H, W) or (H, W, 1|3|4), got shape {src.shape}.")
        _check_pixels(src.shape[1], src.shape[0], max_pixels)
        if src.dtype != np.uint8:
            raise InvalidImageError(f"An image array must be uint8 (0..255), got {src.dtype}; convert it first.")
        img = Image.fromarray(src[:, :, 0] if src.ndim == 3 and src.shape[2] == 1 else src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise InvalidImageError(f"No image file at {str(path)!r}. Check the path.")
        if path.stat().st_size == 0:
            raise InvalidImageError(f"The file {path.name!r} is empty (0 bytes). {_SUPPORTED_HINT}")
        with open(path, "rb") as fp:  # streamed: an oversized file is refused without reading it all
            img = _open_stream(fp, f"The file {path.name!r}", max_pixels)
    elif isinstance(src, (bytes, bytearray, memoryview)) or hasattr(src, "read"):
        data = bytes(src) if not hasattr(src, "read") else src.read()
        if len(data) == 0:
            raise InvalidImageError(f"The uploaded data is empty (0 bytes). {_SUPPORTED_HINT}")
        img = _open_stream(io.BytesIO(data), "The uploaded data", max_pixels)
    else:
        raise InvalidImageError(
            f"Cannot read an image from a {type(src).__name__}; pass a path, bytes, a binary file "
            "object, a PIL.Image or a uint8 array."
        )
    # 2. upright (encoded sources were already turned while their stream was open)
    return _upright(img) if isinstance(src, (Image.Image, np.ndarray)) else img


# --------------------------------------------------------------------------------------------
# modes and alpha
# --------------------------------------------------------------------------------------------


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit int / float gray -> 8-bit L by *scaling* (Pillow's convert("L") clips).

    I;16*: full 0..65535 range maps to 0..255 (divide by 257, so 65535 -> 255 exactly).
    I (int32): 0..255 data is kept; up to 65535 is treated as 16-bit; above that, scaled by max.
    F (float32): data in [0, 1] is scaled by 255; up to 255 kept; above that, scaled by max.
    """
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        arr = arr.astype(np.float64) / 257.0
    else:
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0).clip(min=0)
        peak = float(arr.max()) if arr.size else 0.0
        if img.mode == "F" and peak <= 1.0:
            arr = arr * 255.0
        elif peak > 65535.0:
            arr = arr * (255.0 / peak)
        elif peak > 255.0:
            arr = arr / 257.0
    return Image.fromarray(np.rint(arr).clip(0, 255).astype(np.uint8), mode="L")


def split_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None, bool]:
    """Normalise any Pillow mode to ``(rgb, alpha, was_gray)`` for the networks.

    ``rgb`` is always 8-bit ``RGB``; ``alpha`` is an ``L`` plane or ``None``; ``was_gray`` says the
    input had no colour (1, L, LA, La, I;16*, I, F), so :func:`merge_alpha` can return gray.
    Palette images with a transparency entry get a real alpha plane; fully opaque alpha planes
    are kept (the caller asked for transparency, it gets transparency back).

    Example:
        >>> from PIL import Image
        >>> rgb, alpha, gray = split_alpha(Image.new("LA", (2, 2), (10, 128)))
        >>> rgb.mode, alpha.mode, gray, rgb.getpixel((0, 0)), alpha.getpixel((0, 0))
        ('RGB', 'L', True, (10, 10, 10), 128)
    """
    mode = img.mode
    # 1. gray modes
    if mode in ("1", "L"):
        return img.convert("L").convert("RGB"), None, True
    if mode in ("LA", "La"):
        la = img.convert("LA")  # La (premultiplied) -> straight alpha
        return la.getchannel("L").convert("RGB"), la.getchannel("A"), True
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_l(img).convert("RGB"), None, True
    # 2. colour modes with alpha, or a palette that may carry transparency
    if mode == "P":
        if "transparency" in img.info:
            img = img.convert("RGBA")
        else:
            return img.convert("RGB"), None, False
    elif mode in ("PA", "RGBa"):
        img = img.convert("RGBA")  # PA: palette + alpha; RGBa: premultiplied -> straight
    if img.mode == "RGBA":
        return img.convert("RGB"), img.getchannel("A"), False
    # 3. everything else that Pillow can convert (RGB, RGBX, CMYK, YCbCr, HSV, LAB ...)
    try:
        return img.convert("RGB"), None, False
    except ValueError as err:
        raise InvalidImageError(f"Images in mode {mode!r} are not supported; save it as PNG or JPEG.") from err


def merge_alpha(rgb: Image.Image, alpha: Image.Image | None, was_gray: bool) -> Image.Image:
    """Inverse of :func:`split_alpha`: gray back to ``L``, alpha re-attached -> L / LA / RGB / RGBA.

    An alpha plane of a different size (e.g. not yet upscaled) is Lanczos-resized to fit.

    Example:
        >>> from PIL import Image
        >>> merge_alpha(Image.new("RGB", (4, 4)), Image.new("L", (2, 2), 200), was_gray=False).mode
        'RGBA'
    """
    out = rgb.convert("L") if was_gray else rgb.convert("RGB")
    if alpha is not None:
        if alpha.size != out.size:
            alpha = alpha.resize(out.size, Image.Resampling.LANCZOS)
        out.putalpha(alpha.convert("L"))
    return out


# --------------------------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------------------------

_CHANNEL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit ``L`` / ``LA`` / ``RGB`` / ``RGBA`` image -> float32 ``(1, C, H, W)`` in ``[0, 1]``.

    Other modes are refused: run :func:`split_alpha` first, so the conversion is explicit.

    Example:
        >>> from PIL import Image
        >>> pil_to_tensor(Image.new("RGB", (5, 2), (255, 0, 0))).shape
        torch.Size([1, 3, 2, 5])
    """
    if img.mode not in _CHANNEL_MODES.values():
        raise ValueError(
            f"pil_to_tensor expects an L, LA, RGB or RGBA image, got {img.mode!r}; call split_alpha first."
        )
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    # (H, W, C) uint8 -> (1, C, H, W) float in [0, 1]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """``(1, C, H, W)`` or ``(C, H, W)`` tensor -> PIL image (C = 1, 2, 3, 4 -> L, LA, RGB, RGBA).

    Float tensors are read as ``[0, 1]`` (clamped, rounded); ``uint8`` tensors are used as they are.

    Example:
        >>> tensor_to_pil(torch.ones(1, 3, 2, 5)).getpixel((0, 0))
        (255, 255, 255)
    """
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"tensor_to_pil converts one image at a time, got a batch of {t.shape[0]}.")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in _CHANNEL_MODES:
        raise ValueError(f"Expected a (1, C, H, W) or (C, H, W) tensor with C in 1..4, got {tuple(tensor.shape)}.")
    if t.dtype != torch.uint8:
        t = t.float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    arr = t.permute(1, 2, 0).cpu().numpy()  # (C, H, W) -> (H, W, C)
    mode = _CHANNEL_MODES[arr.shape[2]]
    return Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode)


# --------------------------------------------------------------------------------------------
# AI-generation disclosure
# --------------------------------------------------------------------------------------------


def ai_metadata(model: str, **extra: object) -> dict[str, str]:
    """The text fields that mark an image as AI-generated (all values are strings).

    Example:
        >>> ai_metadata("superres-x4-gan", outscale=4)["DigitalSourceType"]
        'trainedAlgorithmicMedia'
    """
    meta = {
        "ai_generated": "true",
        "Software": AI_SOFTWARE,
        "model": str(model),
        "DigitalSourceType": DIGITAL_SOURCE_TYPE,
    }
    meta.update({str(k): str(v) for k, v in extra.items() if v is not None})
    return meta


def png_metadata(model: str, **extra: object) -> PngImagePlugin.PngInfo:
    """A ``PngInfo`` with the :func:`ai_metadata` fields as text chunks (iTXt when not Latin-1).

    Example:
        >>> info = png_metadata("superres-x4-gan")
        >>> len(info.chunks) >= 4
        True
    """
    info = PngImagePlugin.PngInfo()
    for key, value in ai_metadata(model, **extra).items():
        info.add_text(key, value)
    return info


def mark_ai_generated(img: Image.Image, model: str, **extra: object) -> Image.Image:
    """Put the :func:`ai_metadata` fields into ``img.info`` (in place) and return ``img``.

    gradio 6 writes the ``str`` items of ``img.info`` as PNG text chunks when it caches a PIL
    output, but only if the component's ``format="png"`` (its default is ``"webp"``, which drops
    them). Use ``gr.Image(format="png")`` / ``gr.ImageSlider(format="png")`` to keep the label.

    Example:
        >>> from PIL import Image
        >>> mark_ai_generated(Image.new("RGB", (1, 1)), "superres-x4-gan").info["ai_generated"]
        'true'
    """
    img.info.update(ai_metadata(model, **extra))
    return img


def save_png(img: Image.Image, path: str | os.PathLike, model: str, **extra: object) -> Path:
    """Save ``img`` as PNG with the AI-generation text chunks; returns the path.

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> p = save_png(Image.new("RGB", (2, 2)), os.path.join(tempfile.mkdtemp(), "x.png"), "demo")
        >>> Image.open(p).text["ai_generated"]
        'true'
    """
    path = Path(path)
    img.save(path, format="PNG", pnginfo=png_metadata(model, **extra))
    return path


def save_animation(frames: Sequence[Image.Image], path: str | os.PathLike, fps: int = 8) -> Path:
    """Write frames (e.g. from :meth:`FaceGANPipeline.interpolate`) as a looping GIF or an MP4.

    ``.gif`` always works (Pillow). ``.mp4`` needs ``imageio`` and ``imageio-ffmpeg``
    (``pip install imageio imageio-ffmpeg``). The GIF's comment says the frames are AI-generated.

    Raises:
        GanModelsError: no frames, frames of different sizes, a bad fps or an unknown extension.
        ImportError: ``.mp4`` without imageio / imageio-ffmpeg (the message says what to install).

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> frames = [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(4)]
        >>> p = save_animation(frames, os.path.join(tempfile.mkdtemp(), "walk.gif"), fps=10)
        >>> Image.open(p).n_frames
        4
    """
    path = Path(path)
    frames = list(frames)
    if not frames or not all(isinstance(f, Image.Image) for f in frames):
        raise GanModelsError("frames must be a non-empty list of PIL images (e.g. from pipe.interpolate).")
    if len({f.size for f in frames}) != 1:
        raise GanModelsError(f"All frames must have the same size, got {sorted({f.size for f in frames})}.")
    fps = check_int(fps, FPS)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise GanModelsError(f"save_animation writes .gif or .mp4 files, got {path.name!r}.")
    rgb = [f.convert("RGB") for f in frames]
    if suffix == ".gif":
        model = frames[0].info.get("model")
        comment = f"AI-generated (trainedAlgorithmicMedia) by {model}" if model else "AI-generated"
        rgb[0].save(
            path,
            save_all=True,
            append_images=rgb[1:],
            duration=round(1000 / fps),  # ms per frame
            loop=0,  # loop forever
            disposal=2,
            comment=comment,
        )
        return path
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imported only to fail here, not inside mimwrite)
    except ImportError as err:
        raise ImportError(
            "Writing .mp4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg "
            "(or save a .gif, which needs nothing extra)."
        ) from err
    # macro_block_size=1: keep the exact size (imageio would otherwise pad to multiples of 16)
    imageio.mimwrite(path, [np.asarray(f) for f in rgb], fps=fps, macro_block_size=1)
    return path
