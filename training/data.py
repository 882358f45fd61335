"""Training images: load once, then draw random patches as a pure function of (seed, step, rank).

Drawing batches from a counter-seeded generator instead of a stateful DataLoader makes resume
exact (the batch after step N is the same whether or not the run was interrupted) and gives
every process its own data without a sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def _to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """PIL -> (3, H, W) uint8, any mode (gray replicated, alpha dropped)."""
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def load_image_sources(spec: str, min_size: int = 0) -> list[torch.Tensor]:
    """Load every training image named by ``spec`` into memory as uint8 tensors.

    ``spec`` is a comma-separated list of image folders (searched recursively) and/or Hugging Face
    datasets written ``hf:<name>[:<split>]`` (the first image column is used).
    Images smaller than ``min_size`` on either side are skipped.

    Example:
        >>> load_image_sources("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
    """
    images: list[torch.Tensor] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part.startswith("hf:"):
            images.extend(_load_hf_images(part[3:]))
            continue
        folder = Path(part)
        if not folder.is_dir():
            raise FileNotFoundError(f"Training data folder {folder} does not exist (from data={spec!r}).")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {folder}.")
        for file in files:
            with Image.open(file) as img:
                images.append(_to_uint8_tensor(img))
    kept = [im for im in images if min(im.shape[-2:]) >= min_size]
    if not kept:
        raise ValueError(f"No training image is at least {min_size}px on its shorter side in {spec!r}.")
    return kept


def _load_hf_images(name_and_split: str) -> list[torch.Tensor]:
    try:
        import datasets
    except ImportError as err:  # optional dependency
        raise ImportError("hf:<dataset> data needs the `datasets` package: pip install datasets") from err
    name, _, split = name_and_split.partition(":")
    ds = datasets.load_dataset(name, split=split or "train")
    column = next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
    if column is None:
        raise ValueError(f"Dataset {name!r} has no image column (features: {list(ds.features)}).")
    return [_to_uint8_tensor(row[column]) for row in ds]


class RandomPatchSampler:
    """Random square crops with random flips / 90-degree rotations, as float tensors in [0, 1].

    ``sample(step, rank)`` is deterministic in its arguments (see the module docstring).

    Example:
        >>> sampler = RandomPatchSampler([torch.zeros(3, 40, 50, dtype=torch.uint8)], patch_size=16, seed=0)
        >>> sampler.sample(step=0, batch_size=2).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, images: Sequence[torch.Tensor], patch_size: int, seed: int = 0, augment: bool = True):
        too_small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < patch_size]
        if too_small:
            raise ValueError(f"{len(too_small)} images are smaller than patch_size={patch_size}, e.g. {too_small[0]}.")
        self.images = list(images)
        self.patch_size = patch_size
        self.seed = seed
        self.augment = augment

    def generator(self, step: int, rank: int = 0) -> torch.Generator:
        # a distinct, reproducible stream per (step, rank); large odd multipliers avoid overlaps
        return torch.Generator().manual_seed(self.seed * 1_000_003 + step * 7919 + rank * 104_729)

    def sample(self, step: int, batch_size: int, rank: int = 0) -> torch.Tensor:
        gen = self.generator(step, rank)
        p = self.patch_size
        patches = []
        for index in torch.randint(len(self.images), (batch_size,), generator=gen).tolist():
            img = self.images[index]
            top = int(torch.randint(img.shape[1] - p + 1, (1,), generator=gen))
            left = int(torch.randint(img.shape[2] - p + 1, (1,), generator=gen))
            patch = img[:, top : top + p, left : left + p]
            if self.augment:
                flip, rot = torch.randint(2, (1,), generator=gen).item(), torch.randint(4, (1,), generator=gen).item()
                patch = patch.flip(-1) if flip else patch
                patch = torch.rot90(patch, rot, dims=(-2, -1))
            patches.append(patch)
        return torch.stack(patches).float().div_(255)


#: CelebA's aligned 89x109 faces: the square that holds the face (left, top, right, bottom).
CELEBA_FACE_BOX = (0, 10, 89, 99)


def parse_crop_box(text: str) -> tuple[int, int, int, int] | None:
    """``"left,top,right,bottom"`` -> a box; ``""``, ``"center"`` or ``"none"`` -> None (centred square).

    Example:
        >>> parse_crop_box("0,10,89,99"), parse_crop_box("center")
        ((0, 10, 89, 99), None)
    """
    if text.strip().lower() in ("", "center", "centre", "none"):
        return None
    try:
        box = tuple(int(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] < 0 or box[1] < 0 or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"crop box must be LEFT,TOP,RIGHT,BOTTOM (e.g. 0,10,89,99) or 'center', got {text!r}.")
    return box  # type: ignore[return-value]


def load_square_images(spec: str, size: int, crop_box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """Whole training images as one uint8 tensor (N, 3, size, size), loaded and resized once.

    Each image is cropped to ``crop_box`` (left, top, right, bottom; e.g. CelebA's aligned face
    square ``(0, 10, 89, 99)``), or else to its centred square, then resized with Lanczos.
    ``spec`` is read as in ``load_image_sources`` (folders and/or ``hf:<name>[:split]``).

    Example:
        >>> load_square_images("/nonexistent", 64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
    """
    out = []
    for img in load_image_sources(spec):
        h, w = img.shape[-2:]
        if crop_box is not None:
            left, top, right, bottom = crop_box
            if right > w or bottom > h:
                raise ValueError(f"crop_box {crop_box} does not fit inside a {w}x{h} training image.")
        else:
            side = min(h, w)
            left, top = (w - side) // 2, (h - side) // 2
            right, bottom = left + side, top + side
        pil = Image.fromarray(img[:, top:bottom, left:right].permute(1, 2, 0).numpy())
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.LANCZOS)
        out.append(torch.from_numpy(np.asarray(pil, dtype=np.uint8).copy()).permute(2, 0, 1))
    return torch.stack(out)


class ImageBatchSampler:
    """Random batches of whole images (+ their indices) with optional mirror flips, in [0, 1].

    Deterministic in (seed, step, rank) like ``RandomPatchSampler``; the indices let a recipe look
    up per-image side data (captions, labels).

    Example:
        >>> sampler = ImageBatchSampler(torch.zeros(5, 3, 8, 8, dtype=torch.uint8), seed=0)
        >>> images, indices = sampler.sample(step=0, batch_size=2)
        >>> images.shape, indices.shape
        (torch.Size([2, 3, 8, 8]), torch.Size([2]))
    """

    def __init__(self, images: torch.Tensor, seed: int = 0, mirror: bool = True):
        if images.ndim != 4 or images.dtype != torch.uint8 or len(images) == 0:
            raise ValueError("images must be a non-empty uint8 tensor (N, 3, H, W).")
        self.images, self.seed, self.mirror = images, seed, mirror

    def generator(self, step: int, rank: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + step * 7919 + rank * 104_729)

    def sample(self, step: int, batch_size: int, rank: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        gen = self.generator(step, rank)
        indices = torch.randint(len(self.images), (batch_size,), generator=gen)
        return self.take(indices, gen), indices

    def take(self, indices: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The images at ``indices`` in [0, 1], mirrored at random (from ``gen``) if ``mirror``."""
        batch_size = len(indices)
        batch = self.images[indices].float().div_(255)
        if self.mirror:
            flip = torch.rand(batch_size, generator=gen) < 0.5
            batch[flip] = batch[flip].flip(-1)
        return batch
