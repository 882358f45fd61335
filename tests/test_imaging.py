"""gan_models.imaging: decoding, limits, EXIF, every Pillow mode, tensors, disclosure metadata."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gan_models.errors import ImageTooLargeError, InvalidImageError
from gan_models.imaging import (
    ai_metadata,
    load_image,
    mark_ai_generated,
    merge_alpha,
    pil_to_tensor,
    save_png,
    split_alpha,
    tensor_to_pil,
)


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _palette(transparent_index: int | None = None, mode: str = "P") -> Image.Image:
    img = Image.new(mode, (4, 3), 0) if mode == "P" else Image.new("PA", (4, 3), (0, 100))
    img.putpalette([200, 10, 30] + [0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 1 if mode == "P" else (1, 100))
    if transparent_index is not None:
        img.info["transparency"] = transparent_index
    return img


def _i16(values: list[int]) -> Image.Image:
    img = Image.fromarray(np.array([values], dtype=np.uint16))
    assert img.mode == "I;16"
    return img


# (image, expected rgb at (1, 0), expected alpha at (1, 0) or None, was_gray, merged mode)
MODES = {
    "1": (Image.new("1", (4, 3), 1), (255, 255, 255), None, True, "L"),
    "L": (Image.new("L", (4, 3), 77), (77, 77, 77), None, True, "L"),
    "LA": (Image.new("LA", (4, 3), (77, 128)), (77, 77, 77), 128, True, "LA"),
    "P": (_palette(), (200, 10, 30), None, False, "RGB"),
    "P+transparency": (_palette(transparent_index=0), (200, 10, 30), 0, False, "RGBA"),
    "PA": (_palette(mode="PA"), (200, 10, 30), 100, False, "RGBA"),
    "RGB": (Image.new("RGB", (4, 3), (1, 2, 3)), (1, 2, 3), None, False, "RGB"),
    "RGBA": (Image.new("RGBA", (4, 3), (1, 2, 3, 4)), (1, 2, 3), 4, False, "RGBA"),
    "RGBa": (Image.new("RGBa", (4, 3), (50, 50, 50, 128)), (100, 100, 100), 128, False, "RGBA"),
    "CMYK": (Image.new("CMYK", (4, 3), (0, 255, 255, 0)), (255, 0, 0), None, False, "RGB"),
    "YCbCr": (Image.new("RGB", (4, 3), (200, 10, 30)).convert("YCbCr"), (200, 10, 30), None, False, "RGB"),
    # 16-bit: 257*100 must become 100 (scaled), not 255 (Pillow's convert("L") clips)
    "I;16": (_i16([0, 257 * 100, 65535, 0]), (100, 100, 100), None, True, "L"),
    "I": (Image.fromarray(np.array([[0, 65535, 0, 0]], dtype=np.int32)), (255, 255, 255), None, True, "L"),
    "F": (Image.fromarray(np.array([[0, 0.5, 0, 0]], dtype=np.float32)), (128, 128, 128), None, True, "L"),
}


@pytest.mark.parametrize("name", list(MODES))
def test_split_alpha_every_mode(name):
    img, rgb_px, alpha_px, gray, merged_mode = MODES[name]
    rgb, alpha, was_gray = split_alpha(img)
    assert rgb.mode == "RGB" and rgb.size == img.size
    assert was_gray is gray
    got = rgb.getpixel((1, 0))
    assert max(abs(a - b) for a, b in zip(got, rgb_px)) <= 2, (got, rgb_px)  # YCbCr/RGBa round
    if alpha_px is None:
        assert alpha is None
    else:
        assert alpha.mode == "L" and abs(alpha.getpixel((1, 0)) - alpha_px) <= 1
    assert merge_alpha(rgb, alpha, was_gray).mode == merged_mode


def test_palette_transparency_only_hides_the_transparent_index():
    rgb, alpha, _ = split_alpha(_palette(transparent_index=0))
    assert alpha.getpixel((0, 0)) == 255 and rgb.getpixel((0, 0)) == (0, 0, 255)  # index 1: opaque
    assert alpha.getpixel((1, 0)) == 0


def test_i16_full_range_scales_not_clips():
    rgb, _, _ = split_alpha(_i16([0, 257, 32896, 65535]))
    assert [rgb.getpixel((x, 0))[0] for x in range(4)] == [0, 1, 128, 255]


def test_merge_alpha_resizes_a_small_alpha():
    out = merge_alpha(Image.new("RGB", (8, 6)), Image.new("L", (4, 3), 200), was_gray=True)
    assert out.mode == "LA" and out.size == (8, 6) and out.getpixel((3, 3))[1] == 200


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (8, 4), (255, 0, 0))
    img.paste((0, 0, 255), (4, 0, 8, 4))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(buf.getvalue())
    assert out.size == (4, 8)
    top, bottom = out.getpixel((2, 1)), out.getpixel((2, 6))
    assert top[0] > 200 and top[2] < 60  # the left (red) edge is now on top
    assert bottom[2] > 200 and bottom[0] < 60
    assert out.getexif().get(0x0112, 1) == 1


@pytest.mark.parametrize("kind", ["path", "bytes", "filelike", "pil", "array"])
def test_load_image_sources(tmp_path, kind):
    img = Image.new("RGB", (5, 3), (9, 8, 7))
    path = tmp_path / "x.png"
    img.save(path)
    src = {
        "path": str(path),
        "bytes": path.read_bytes(),
        "filelike": io.BytesIO(path.read_bytes()),
        "pil": img,
        "array": np.asarray(img),
    }[kind]
    out = load_image(src)
    assert out.size == (5, 3) and out.getpixel((0, 0)) == (9, 8, 7)


def test_empty_and_corrupt_inputs_raise_invalid_image(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = _png_bytes(Image.effect_noise((64, 64), 50))[:200]
    for bad in (str(empty), b"", b"definitely not an image", truncated, str(tmp_path / "missing.png"), 42):
        with pytest.raises(InvalidImageError):
            load_image(bad)
    assert issubclass(InvalidImageError, ValueError)


def test_too_large_is_refused_from_the_header(monkeypatch):
    data = _png_bytes(Image.new("RGB", (100, 80)))

    def no_decode(self, *args, **kwargs):
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    with pytest.raises(ImageTooLargeError, match=r"100x80 = 8,000 pixels.*5,000") as info:
        load_image(data, max_pixels=5000)
    assert isinstance(info.value, ValueError) and info.value.max_pixels == 5000


def test_max_pixels_allows_exact_cap():
    assert load_image(_png_bytes(Image.new("RGB", (10, 10))), max_pixels=100).size == (10, 10)


def test_tensor_round_trip_is_exact():
    rng = np.random.default_rng(0)
    for shape, mode in (((6, 5, 3), "RGB"), ((6, 5), "L"), ((6, 5, 4), "RGBA")):
        img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)
        t = pil_to_tensor(img)
        assert t.dtype == torch.float32 and t.shape == (1, len(mode), 6, 5) and 0 <= t.min() <= t.max() <= 1
        assert np.array_equal(np.asarray(tensor_to_pil(t)), np.asarray(img))
    with pytest.raises(ValueError, match="split_alpha"):
        pil_to_tensor(Image.new("CMYK", (2, 2)))


def test_saved_png_carries_ai_metadata(tmp_path):
    path = save_png(Image.new("RGB", (3, 3)), tmp_path / "out.png", "superres-x4-gan", outscale=4)
    text = Image.open(path).text
    assert text["ai_generated"] == "true"
    assert text["DigitalSourceType"] == "trainedAlgorithmicMedia"
    assert text["model"] == "superres-x4-gan" and text["Software"] and text["outscale"] == "4"


def test_mark_ai_generated_survives_gradio_png_cache(tmp_path):
    """Finding: gradio 6 copies str img.info items to PNG text chunks, only when format='png'."""
    processing_utils = pytest.importorskip("gradio.processing_utils")
    img = mark_ai_generated(Image.new("RGB", (3, 3)), "superres-x4-gan")
    assert img.info == {**img.info, **ai_metadata("superres-x4-gan")}
    png = processing_utils.save_pil_to_cache(img, str(tmp_path), format="png")
    assert Image.open(png).text["ai_generated"] == "true"
    webp = processing_utils.save_pil_to_cache(img, str(tmp_path), format="webp")  # gradio's default
    assert "ai_generated" not in getattr(Image.open(webp), "text", {})
