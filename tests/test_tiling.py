"""gan_models.tiling, and the pipeline's use of it: seams, OOM back-off, fp16 fallback, alpha, sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gan_models import InferenceOutOfMemoryError, RRDBNet, SRVGGNetCompact, SuperResolutionPipeline
from gan_models.tiling import tiled_upscale


def _image(h: int = 37, w: int = 53, c: int = 3) -> torch.Tensor:
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(0))


def _tiny(kind: str, scale: int):
    torch.manual_seed(0)
    if kind == "compact":  # 4 convs at input resolution: receptive-field radius 4 px
        return SRVGGNetCompact(num_feat=8, num_conv=2, upscale=scale).eval()
    # conv_first + 3 dense blocks (5 chained convs each) + conv_body ~ 17 px, plus the tail
    return RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=scale).eval()


@pytest.mark.parametrize(
    "kind,scale,multiple", [("compact", 4, 1), ("compact", 2, 1), ("rrdb", 4, 1), ("rrdb", 2, 2), ("rrdb", 1, 4)]
)
@torch.no_grad()
def test_tiled_equals_untiled_on_odd_sizes(kind, scale, multiple):
    net, x = _tiny(kind, scale), _image()
    kw = dict(scale=scale, multiple=multiple, canvas_dtype=torch.float32)
    whole = tiled_upscale(net, x, tile_size=0, **kw)
    tiled = tiled_upscale(net, x, tile_size=16, tile_overlap=24, **kw)
    assert whole.shape == tiled.shape == (1, 3, 37 * scale, 53 * scale)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=1e-4)
    if multiple == 1:  # no padding needed: the single tile is exactly the plain forward pass
        torch.testing.assert_close(whole, net(x), atol=1e-6, rtol=1e-5)


@torch.no_grad()
def test_uint8_canvas_is_the_quantised_float_result():
    net, x = _tiny("compact", 2), _image()
    ref = net(x).clamp(0, 1).mul(255).round()
    out = tiled_upscale(net, x, scale=2, tile_size=8, tile_overlap=8)
    assert out.dtype == torch.uint8
    assert (out.float() - ref).abs().max() <= 1


def test_too_small_overlap_shows_seams():
    """The tolerance test above is meaningful: without margin the tiles do differ."""
    net, x = _tiny("rrdb", 4), _image()
    with torch.no_grad():
        whole = tiled_upscale(net, x, scale=4, tile_size=0, canvas_dtype=torch.float32)
        seams = tiled_upscale(net, x, scale=4, tile_size=16, tile_overlap=0, canvas_dtype=torch.float32)
    assert (whole - seams).abs().max() > 1e-4


def _nearest(scale):
    return lambda t: F.interpolate(t.float(), scale_factor=scale, mode="nearest")


def test_progress_is_reported_per_tile():
    calls = []
    tiled_upscale(_nearest(2), _image(), 2, tile_size=16, tile_overlap=4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 12) for i in range(1, 13)]  # ceil(37/16) * ceil(53/16) = 3 * 4


def test_out_of_memory_halves_tiles_then_succeeds():
    seen = []

    def fn(t):
        seen.append(max(t.shape[-2:]))
        if max(t.shape[-2:]) > 65:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return F.interpolate(t, scale_factor=2, mode="nearest")

    totals = []
    x = _image(100, 100)
    out = tiled_upscale(fn, x, 2, tile_size=256, tile_overlap=16, progress=lambda d, t: totals.append(t))
    # whole image (100) -> OOM; 50 + one margin = 66 -> OOM; 32 + two margins = 64 fits
    assert seen[:2] == [100, 66] and max(seen[2:]) == 64
    assert totals[-1] == 16  # 4 x 4 tiles of 32
    assert torch.equal(out, (F.interpolate(x, scale_factor=2, mode="nearest") * 255).round().to(torch.uint8))


def test_out_of_memory_at_min_tile_raises_clear_error():
    def fn(t):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(InferenceOutOfMemoryError, match="smaller image") as info:
        tiled_upscale(fn, _image(), 2, tile_size=64)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)


def test_other_runtime_errors_are_not_swallowed():
    def fn(t):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        tiled_upscale(fn, _image(), 2, tile_size=16)


def test_half_precision_nan_tiles_are_redone_in_fp32():
    x = _image(32, 32)
    x[:, :, :16, :16] = 1.0  # the top-left tile "overflows" in fp16
    fp32_calls = []

    def half_fn(t):
        assert t.dtype == torch.float16
        out = F.interpolate(t.float(), scale_factor=2, mode="nearest").half()
        return out.fill_(float("nan")) if t.float().mean() > 0.95 else out

    def fp32_fn(t):
        fp32_calls.append(t.dtype)
        return F.interpolate(t, scale_factor=2, mode="nearest")

    out = tiled_upscale(half_fn, x, 2, tile_size=16, tile_overlap=0, dtype=torch.float16, fp32_fn=fp32_fn)
    assert fp32_calls == [torch.float32]
    ref = (F.interpolate(x.half().float(), scale_factor=2, mode="nearest") * 255).round().to(torch.uint8)
    assert torch.equal(out, ref)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="CPU|\\(B, C, H, W\\)"):
        tiled_upscale(_nearest(2), torch.rand(3, 8, 8), 2)
    with pytest.raises(ValueError, match="tile_overlap"):
        tiled_upscale(_nearest(2), _image(), 2, tile_overlap=-1)
    with pytest.raises(ValueError, match="exactly x3"):
        tiled_upscale(_nearest(2), _image(), 3)


# --- through the pipeline: alpha, gray, sizes -------------------------------------------------


@pytest.fixture(scope="module")
def pipe():
    p = SuperResolutionPipeline(_tiny("compact", 2))
    p.set_progress_bar_config(disable=True)
    return p


def _noise(mode: str, size=(53, 37)) -> Image.Image:
    rng = np.random.default_rng(1)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(arr[:, :, 0] if channels == 1 else arr, mode=mode)


@pytest.mark.parametrize("mode,out_mode", [("RGBA", "RGBA"), ("LA", "LA"), ("L", "L"), ("RGB", "RGB")])
def test_pipeline_keeps_alpha_and_gray(pipe, mode, out_mode):
    img = _noise(mode)
    out = pipe(img, tile_size=16, tile_overlap=8).images[0]
    assert out.mode == out_mode and out.size == (106, 74)
    if "A" in mode:
        expected = img.getchannel("A").resize((106, 74), Image.Resampling.LANCZOS)
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(expected))


def test_pipeline_palette_with_transparency_comes_back_rgba(pipe):
    img = Image.new("P", (9, 7), 0)
    img.putpalette([10, 200, 30] * 256)
    img.info["transparency"] = 0
    out = pipe(img).images[0]
    assert out.mode == "RGBA" and out.size == (18, 14) and out.getchannel("A").getextrema() == (0, 0)


def test_pipeline_tiled_equals_untiled(pipe):
    img = _noise("RGB")
    whole = np.asarray(pipe(img, tile_size=0).images[0], dtype=np.int16)
    tiled = np.asarray(pipe(img, tile_size=16, tile_overlap=8).images[0], dtype=np.int16)
    assert np.abs(whole - tiled).max() <= 1


@pytest.mark.parametrize(
    "outscale,size",
    [(None, (106, 74)), (2, (106, 74)), (1, (53, 37)), (3.3, (175, 122)), (4, (212, 148)), (1.5, (80, 56))],
)
def test_outscale_sizes_are_exact(pipe, outscale, size):
    assert pipe(_noise("RGB"), outscale=outscale).images[0].size == size


@pytest.mark.parametrize("bad", [0.5, 4.01, float("nan"), "2", True])
def test_outscale_out_of_range_is_refused(pipe, bad):
    with pytest.raises(ValueError, match="outscale"):
        pipe(_noise("RGB"), outscale=bad)
