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


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """PIL -> (3, H, W) uint8, any mode (gray replicated, alpha dropped)."""
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def load_image_sources(spec: str, min_size: int = 0) -> list[torch.Tensor]:
    """Load every training image named by ``spec`` into memory as uint8 tensors.

    ``spec`` is a comma-separated list of image folders (searched recursively), Hugging Face
    datasets written ``hf:<name>[:<split>]`` (the first image column is used) and/or data packs
    written ``pack:<file>[#<subfolder>]`` (see ``training.packs``; stored order = the folder's order).
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
        if part.startswith("pack:"):
            from .packs import load_pack_images  # lazy: packs imports this module

            images.extend(load_pack_images(part))
            continue
        folder = Path(part)
        if not folder.is_dir():
            raise FileNotFoundError(f"Training data folder {folder} does not exist (from data={spec!r}).")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {folder}.")
        for file in files:
            with Image.open(file) as img:
                images.append(to_uint8_tensor(img))
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
    return [to_uint8_tensor(row[column]) for row in ds]


def counter_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """A distinct, reproducible CPU random stream per (seed, step, rank).

    Batches are drawn on the CPU from this stream and only the pixels are gathered on the
    training device, so the CPU and the GPU cut the same batches, and drawing never waits for
    the GPU. Large odd multipliers keep the streams of neighbouring steps and ranks apart.
    """
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 7919 + rank * 104_729)


class RandomPatchSampler:
    """Random square crops with random flips / 90-degree rotations, as float tensors in [0, 1].

    ``sample(step, rank)`` is deterministic in its arguments (see the module docstring). All
    images live in one flat uint8 buffer (3, total pixels), on the device given to ``to()``; a
    batch is one gather from it, whatever the number of patches, so no per-patch work runs on
    the host and the pixels never cross the PCIe bus during training.

    Example:
        >>> sampler = RandomPatchSampler([torch.zeros(3, 40, 50, dtype=torch.uint8)], patch_size=16, seed=0)
        >>> sampler.sample(step=0, batch_size=2).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, images: Sequence[torch.Tensor], patch_size: int, seed: int = 0, augment: bool = True):
        too_small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < patch_size]
        if too_small:
            raise ValueError(f"{len(too_small)} images are smaller than patch_size={patch_size}, e.g. {too_small[0]}.")
        if not images:
            raise ValueError("RandomPatchSampler needs at least one image.")
        self.patch_size = patch_size
        self.seed = seed
        self.augment = augment
        self.flat = torch.cat([im.reshape(im.shape[0], -1) for im in images], dim=1)  # (C, sum of H*W)
        self.heights = torch.tensor([im.shape[-2] for im in images])
        self.widths = torch.tensor([im.shape[-1] for im in images])
        sizes = self.heights * self.widths
        self.starts = torch.cumsum(sizes, 0) - sizes  # where each image begins in the flat buffer

    def __len__(self) -> int:
        return len(self.heights)

    def to(self, device: torch.device | str) -> RandomPatchSampler:
        """Hold the pixels on ``device`` (once; the training device, normally)."""
        self.flat = self.flat.to(device)
        return self

    def generator(self, step: int, rank: int = 0) -> torch.Generator:
        return counter_generator(self.seed, step, rank)

    def sample(self, step: int, batch_size: int, rank: int = 0) -> torch.Tensor:
        gen = self.generator(step, rank)
        p = self.patch_size
        # 1. per patch, on the host: which image, where, and which of the 8 flips/rotations
        index = torch.randint(len(self), (batch_size,), generator=gen)
        h, w = self.heights[index], self.widths[index]
        top = (torch.rand(batch_size, generator=gen) * (h - p + 1)).long()
        left = (torch.rand(batch_size, generator=gen) * (w - p + 1)).long()
        flip = (
            torch.randint(2, (batch_size,), generator=gen)
            if self.augment
            else torch.zeros(batch_size, dtype=torch.long)
        )
        rot = (
            torch.randint(4, (batch_size,), generator=gen)
            if self.augment
            else torch.zeros(batch_size, dtype=torch.long)
        )
        params = torch.stack([self.starts[index], w, top, left, flip, rot], dim=1)  # (B, 6)
        # 2. on the device: the source pixel of every output pixel, then one gather
        params = params.to(self.flat.device, non_blocking=True)
        start, width, top, left, flip, rot = (params[:, k].view(-1, 1, 1) for k in range(6))
        i = torch.arange(p, device=self.flat.device).view(1, p, 1)
        j = torch.arange(p, device=self.flat.device).view(1, 1, p)
        last = p - 1
        # torch.rot90(patch, k) reads patch[i, j] (k=0), [j, last-i] (1), [last-i, last-j] (2), [last-j, i] (3)
        row = torch.where(rot == 0, i, torch.where(rot == 1, j, torch.where(rot == 2, last - i, last - j)))
        col = torch.where(rot == 0, j, torch.where(rot == 1, last - i, torch.where(rot == 2, last - j, i)))
        col = torch.where(flip == 1, last - col, col)  # the mirror flip comes before the rotation
        source = start + (top + row) * width + (left + col)  # (B, p, p) positions in the flat buffer
        patches = self.flat[:, source.flatten()].view(-1, batch_size, p, p).transpose(0, 1)
        return patches.float().div_(255)


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

    Deterministic in (seed, step, rank) like ``RandomPatchSampler``, whose device rule it follows:
    indices and flips are drawn on the CPU, the images (held on the device given to ``to()``)
    are gathered there. The indices come back on the CPU and let a recipe look up per-image side
    data (captions, labels).

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

    def to(self, device: torch.device | str) -> ImageBatchSampler:
        """Hold the images on ``device`` (once; the training device, normally)."""
        self.images = self.images.to(device)
        return self

    def generator(self, step: int, rank: int = 0) -> torch.Generator:
        return counter_generator(self.seed, step, rank)

    def sample(self, step: int, batch_size: int, rank: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        gen = self.generator(step, rank)
        indices = torch.randint(len(self.images), (batch_size,), generator=gen)
        return self.take(indices, gen), indices

    def take(self, indices: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The images at ``indices`` in [0, 1], mirrored at random (from ``gen``) if ``mirror``."""
        device = self.images.device
        flip = torch.rand(len(indices), generator=gen) < 0.5 if self.mirror else None
        batch = self.images[indices.to(device, non_blocking=True)].float().div_(255)
        if flip is not None:
            flip = flip.to(device, non_blocking=True).view(-1, 1, 1, 1)
            batch = torch.where(flip, batch.flip(-1), batch)
        return batch
