"""Pictures of GAN Lab runs (Pillow only): D's decision surface, real and generated points, G's arrows, losses.

One panel per run: a heat map of the discriminator's score (yellow: "looks real", purple: "looks
fake") under the real points (white), the generated points (red) and the arrows along which G's
loss pushes them (orange), with the step and PacGAN's numbers above and both losses below. No
plotting library: Pillow is already a dependency, and one picture per update is all the Space needs.

Example:
    >>> from gan_models.lab.loop import train_side_by_side
    >>> from gan_models.lab.recipes import make_recipe
    >>> trainers = next(train_side_by_side("ring8", [make_recipe("vanilla", steps=10, batch_size=32)]))
    >>> picture, shots = draw_runs([("vanilla", trainers[0])], real_points(trainers[0].data, seed=0))
    >>> picture.size, shots[0][2].step
    ((420, 604), 0)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from gan_models.lab.loop import Snapshot, ToyGANTrainer
from gan_models.toy2d import ToyDistribution

__all__ = ["draw_run", "draw_runs", "metrics_line", "real_points", "side_by_side"]

PANEL = 420  # px, the square scatter panel of one run
LOSS_HEIGHT = 140
HEADER_HEIGHT = 44
SURFACE_RESOLUTION = 64
REAL_POINTS, FAKE_POINTS, ARROWS = 512, 512, 128

# viridis-like heat map stops, from "fake" (0) to "real" (1)
_HEAT = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32)
_REAL, _FAKE, _ARROW = (255, 255, 255), (230, 40, 40), (255, 150, 30)
_D_COLOUR, _G_COLOUR = (31, 119, 180), (214, 39, 40)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def _heat_colours(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 through the viridis-like stops."""
    position = np.clip(values, 0, 1) * (len(_HEAT) - 1)
    low = np.minimum(np.floor(position).astype(int), len(_HEAT) - 2)
    frac = (position - low)[..., None]
    return (_HEAT[low] * (1 - frac) + _HEAT[low + 1] * frac).astype(np.uint8)


def _loss_plot(d_losses: list[float], g_losses: list[float], width: int, height: int) -> Image.Image:
    """Both losses over the steps so far (moving average over ~1% of the run, at most 300 points)."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = _font(12)
    left, right, top, bottom = 44, width - 8, 8, height - 18
    draw.rectangle([left, top, right, bottom], outline=(180, 180, 180))
    if not d_losses:
        draw.text((left + 8, top + 8), "losses appear here", fill=(120, 120, 120), font=font)
        return image
    curves = []
    for values in (d_losses, g_losses):
        arr = np.asarray(values, dtype=np.float64)
        window = max(1, len(arr) // 100)
        smooth = np.convolve(arr, np.ones(window) / window, mode="valid")
        index = np.linspace(0, len(smooth) - 1, min(300, len(smooth))).astype(int)
        curves.append((index, smooth[index]))
    low = min(float(c[1].min()) for c in curves)
    high = max(float(c[1].max()) for c in curves)
    span = max(high - low, 1e-6)
    steps = max(1, len(d_losses) - 1)
    for (index, values), colour in zip(curves, (_D_COLOUR, _G_COLOUR)):
        xs = left + index / steps * (right - left)
        ys = bottom - (values - low) / span * (bottom - top)
        points = list(zip(xs.tolist(), ys.tolist()))
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
    draw.text((2, top), f"{high:.3g}", fill=(90, 90, 90), font=font)
    draw.text((2, bottom - 12), f"{low:.3g}", fill=(90, 90, 90), font=font)
    draw.text((left, bottom + 3), "step 0", fill=(90, 90, 90), font=font)
    draw.text((right - 70, bottom + 3), f"step {len(d_losses)}", fill=(90, 90, 90), font=font)
    for offset, label, colour in ((90, "D loss", _D_COLOUR), (170, "G loss", _G_COLOUR)):
        draw.line([(left + offset, bottom + 10), (left + offset + 14, bottom + 10)], fill=colour, width=2)
        draw.text((left + offset + 18, bottom + 3), label, fill=colour, font=font)
    return image


def metrics_line(snapshot: Snapshot, modes_total: int | None) -> str:
    """PacGAN's numbers of a snapshot in one line (or why there are none), as the panel and status show them."""
    m = snapshot.metrics
    if m is None:
        return "no modes to count on this target"
    return f"modes {m.modes}/{modes_total} · HQ {100 * m.high_quality:.1f}% · KL {m.reverse_kl:.3f}"


def draw_run(trainer: ToyGANTrainer, snapshot: Snapshot, title: str, real: np.ndarray) -> Image.Image:
    """One run's picture: the D heat map, real and generated points, G's arrows, the losses."""
    data = trainer.data
    extent = data.extent
    font = _font(14)

    def to_px(points: np.ndarray) -> np.ndarray:
        return (np.stack([points[:, 0], -points[:, 1]], axis=1) + extent) / (2 * extent) * PANEL

    # 1. heat map of D's score, upsampled smoothly to the panel
    surface = trainer.decision_surface(SURFACE_RESOLUTION, context=snapshot.fake)
    panel = Image.fromarray(_heat_colours(surface)).resize((PANEL, PANEL), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(panel)
    # 2. real points, then generated points and the arrows that push them
    for x, y in to_px(real):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=_REAL)
    fake_px = to_px(snapshot.fake)
    arrows = snapshot.arrows[:ARROWS]
    norms = np.linalg.norm(arrows, axis=1)
    scale = 0.06 * PANEL / max(float(norms.max()) if len(norms) else 0.0, 1e-12)
    for (x, y), (dx, dy) in zip(fake_px[:ARROWS], arrows):
        end = (x + dx * scale, y - dy * scale)
        draw.line([(x, y), end], fill=_ARROW, width=1)
    for x, y in fake_px:
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=_FAKE, outline=(60, 0, 0))
    # 3. title and numbers above, losses below
    modes_total = None if data.means is None else len(data.means)
    header = Image.new("RGB", (PANEL, HEADER_HEIGHT), (255, 255, 255))
    hdraw = ImageDraw.Draw(header)
    hdraw.text((6, 4), f"{title} · step {snapshot.step}/{snapshot.steps}", fill=(0, 0, 0), font=font)
    hdraw.text((6, 23), metrics_line(snapshot, modes_total), fill=(60, 60, 60), font=font)
    out = Image.new("RGB", (PANEL, HEADER_HEIGHT + PANEL + LOSS_HEIGHT), (255, 255, 255))
    out.paste(header, (0, 0))
    out.paste(panel, (0, HEADER_HEIGHT))
    out.paste(_loss_plot(snapshot.d_losses, snapshot.g_losses, PANEL, LOSS_HEIGHT), (0, HEADER_HEIGHT + PANEL))
    return out


def side_by_side(images: list[Image.Image]) -> Image.Image:
    """Panels left to right with a white gap, e.g. a run next to the one it is compared with."""
    gap = 12
    out = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), images[0].height), "white")
    x = 0
    for image in images:
        out.paste(image, (x, 0))
        x += image.width + gap
    return out


def real_points(data: ToyDistribution, seed: int) -> np.ndarray:
    """The :data:`REAL_POINTS` real points drawn under every panel of a run with ``seed`` (the same each update)."""
    return data.sample(REAL_POINTS, torch.Generator().manual_seed(seed)).numpy()


def draw_runs(
    runs: list[tuple[str, ToyGANTrainer]], real: np.ndarray, title: str = ""
) -> tuple[Image.Image, list[tuple[str, ToyGANTrainer, Snapshot]]]:
    """The picture of one update of ``(label, trainer)`` runs, side by side, and the snapshots it shows.

    Each panel is titled ``title + label``; the snapshots (:data:`FAKE_POINTS` generated points,
    their arrows, the losses, PacGAN's numbers) are returned for a status line.
    """
    shots = [(label, trainer, trainer.snapshot(FAKE_POINTS)) for label, trainer in runs]
    images = [draw_run(trainer, shot, f"{title}{label}", real) for label, trainer, shot in shots]
    return (images[0] if len(images) == 1 else side_by_side(images)), shots
