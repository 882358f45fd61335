"""Y-channel PSNR / SSIM against hand values and a plain numpy reference, and evaluate() end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import convolve2d

from training.evaluation.psnr_ssim import psnr_y, rgb_to_y, ssim_y
from training.evaluation.superres import bicubic_upscaler, evaluate


def _random_image(seed: int, size=(40, 48), channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = size if channels == 1 else (*size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """BasicSR's _ssim written out with scipy: Gaussian 11x11 / 1.5, 'valid' filtering, 8-bit constants."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    blur = lambda t: convolve2d(t, window, mode="valid")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def _reference_y(img: np.ndarray) -> np.ndarray:
    rgb = np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img
    return rgb.astype(np.float64) / 255.0 @ np.array([65.481, 128.553, 24.966]) + 16.0


def test_rgb_to_y_matches_bt601_and_replicates_gray():
    white, black = torch.ones(1, 3, 1, 1), torch.zeros(1, 3, 1, 1)
    assert rgb_to_y(white).item() == pytest.approx(235.0)
    assert rgb_to_y(black).item() == pytest.approx(16.0)
    gray = torch.full((1, 1, 2, 2), 0.4)
    assert torch.allclose(rgb_to_y(gray), rgb_to_y(gray.expand(1, 3, 2, 2)))
    assert torch.allclose(rgb_to_y(gray, gray_as_y=True), torch.full((1, 1, 2, 2), 0.4 * 255))


def test_psnr_of_identical_images_is_inf_and_ssim_is_one():
    img = _random_image(0)
    assert psnr_y(img, img) == math.inf
    assert ssim_y(img, img) == pytest.approx(1.0, abs=1e-12)
    t = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    assert torch.isinf(psnr_y(t, t))


def test_psnr_known_value_on_constant_offset():
    hr = np.full((16, 16, 3), 100, dtype=np.uint8)
    sr = hr + np.uint8(10)
    # every pixel's Y differs by 10 * (65.481 + 128.553 + 24.966) / 255 = 10 * 219 / 255
    expected = 20 * math.log10(255 / (10 * 219 / 255))
    assert psnr_y(sr, hr) == pytest.approx(expected, abs=1e-9)
    assert psnr_y(sr, hr, border=4) == pytest.approx(expected, abs=1e-9)


def test_psnr_and_ssim_match_numpy_reference():
    sr, hr = _random_image(1), _random_image(2)
    y_sr, y_hr = _reference_y(sr)[3:-3, 3:-3], _reference_y(hr)[3:-3, 3:-3]
    expected_psnr = 10 * math.log10(255**2 / np.mean((y_sr - y_hr) ** 2))
    assert psnr_y(sr, hr, border=3) == pytest.approx(expected_psnr, abs=1e-9)
    assert ssim_y(sr, hr, border=3) == pytest.approx(_reference_ssim(y_sr, y_hr), abs=1e-9)


def test_gray_is_scored_like_replicated_rgb():
    sr, hr = _random_image(3, channels=1), _random_image(4, channels=1)
    sr_rgb, hr_rgb = np.repeat(sr[..., None], 3, -1), np.repeat(hr[..., None], 3, -1)
    assert psnr_y(sr, hr, border=2) == pytest.approx(psnr_y(sr_rgb, hr_rgb, border=2))
    assert ssim_y(Image.fromarray(sr), Image.fromarray(hr)) == pytest.approx(ssim_y(sr_rgb, hr_rgb))


def test_border_crop_ignores_edge_damage():
    hr = _random_image(5)
    sr = hr.copy()
    sr[:2], sr[-2:], sr[:, :2], sr[:, -2:] = 0, 255, 0, 255
    assert psnr_y(sr, hr, border=2) == math.inf
    assert ssim_y(sr, hr, border=2) == pytest.approx(1.0)
    assert psnr_y(sr, hr, border=1) < 30


def test_batch_agrees_with_single_images_and_numpy():
    sr = np.stack([_random_image(6), _random_image(7)])
    hr = np.stack([_random_image(8), _random_image(9)])
    to_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255
    batch_psnr, batch_ssim = psnr_y(to_tensor(sr), to_tensor(hr), 4), ssim_y(to_tensor(sr), to_tensor(hr), 4)
    assert batch_psnr.shape == batch_ssim.shape == (2,)
    for i in range(2):
        single = psnr_y(to_tensor(sr)[i], to_tensor(hr)[i], 4)
        assert single.ndim == 0 and torch.allclose(single, batch_psnr[i])
        assert batch_psnr[i].item() == pytest.approx(psnr_y(sr[i], hr[i], 4), abs=1e-4)
        assert batch_ssim[i].item() == pytest.approx(ssim_y(sr[i], hr[i], 4), abs=1e-5)


def test_float_tensors_are_quantised_like_saved_pngs():
    hr = torch.from_numpy(_random_image(10)).permute(2, 0, 1).float() / 255
    nudged = hr + 0.4 / 255  # rounds back onto the same 8-bit levels
    assert torch.isinf(psnr_y(nudged, hr))
    assert torch.isfinite(psnr_y(nudged, hr, quantize=False))


def test_bad_inputs_fail_with_clear_messages():
    img = _random_image(11)
    with pytest.raises(ValueError, match="same batch size and height/width"):
        psnr_y(img, img[:-1])
    with pytest.raises(ValueError, match="too small"):
        ssim_y(img, img, border=15)
    with pytest.raises(TypeError, match="uint8"):
        psnr_y(img.astype(np.float32), img.astype(np.float32))
    with pytest.raises(TypeError, match="same kind"):
        psnr_y(torch.zeros(3, 8, 8), np.zeros((8, 8, 3), np.uint8))


def _make_set(root, names_and_sizes, scale=4):
    """A tiny benchmark folder with the Set5 layout: HR/ plus MATLAB-style LR made from cropped HR."""
    (root / "HR").mkdir(parents=True)
    (root / "LR_bicubic" / f"X{scale}").mkdir(parents=True)
    for seed, (name, (width, height), mode) in enumerate(names_and_sizes):
        # smooth content, so bicubic does much better than on noise
        yy, xx = np.mgrid[0:height, 0:width]
        base = 127 + 100 * np.sin(xx / 7.0 + seed) * np.cos(yy / 9.0)
        pixels = np.stack([base, np.roll(base, 3, 1), base[::-1]], -1).clip(0, 255).astype(np.uint8)
        hr = Image.fromarray(pixels, "RGB").convert(mode)
        hr.save(root / "HR" / f"{name}.png")
        cropped = hr.crop((0, 0, width // scale * scale, height // scale * scale))
        lr = cropped.resize((width // scale, height // scale), Image.BICUBIC)
        lr.save(root / "LR_bicubic" / f"X{scale}" / f"{name}.png")
    return root


def test_evaluate_bicubic_baseline_on_tiny_set(tmp_path):
    # sizes not divisible by 4 check the top-left HR crop; one gray image checks the L path
    data = _make_set(tmp_path / "Tiny", [("a", (70, 50), "RGB"), ("b", (64, 66), "L")])
    result = evaluate(bicubic_upscaler(4), data, scale=4, save_dir=tmp_path / "out")
    assert result["dataset"] == "Tiny" and result["num_images"] == 2 and result["border"] == 4
    assert [r["name"] for r in result["images"]] == ["a", "b"]
    assert 20 < result["psnr"] < 60 and 0.5 < result["ssim"] <= 1
    assert result["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result["images"]]))
    assert Image.open(tmp_path / "out" / "a.png").size == (68, 48)


def test_evaluate_accepts_a_bare_generator_and_restores_its_mode(tmp_path):
    data = _make_set(tmp_path / "Tiny", [("a", (32, 32), "RGB")])

    class NearestX4(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")

    generator = NearestX4().train()
    result = evaluate(generator, data, scale=4)
    assert generator.training and result["num_images"] == 1 and math.isfinite(result["psnr"])


def test_evaluate_rejects_wrong_output_size_and_missing_files(tmp_path):
    data = _make_set(tmp_path / "Tiny", [("a", (32, 32), "RGB")])
    with pytest.raises(ValueError, match="exactly x4"):
        evaluate(bicubic_upscaler(2), data, scale=4)
    with pytest.raises(FileNotFoundError, match="X3"):
        evaluate(bicubic_upscaler(3), data, scale=3)
