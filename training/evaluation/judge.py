"""What every judge classifier here shares: the conv trunk, the training loop, its augmentation, and the cache.

A judge is a small CNN trained by us on a train split only and scored on the held-out test split, so
a generator is never judged by its own discriminator. Two are built from these pieces:
:mod:`training.evaluation.domain_classifier` (A vs B, for translation) and
:mod:`training.evaluation.attribute_classifier` (hair / eye colour, for text-to-image).

* Network trunk (:func:`conv_features`): four stride-2 3x3 conv blocks (width, 2x, 4x, 8x channels;
  batch norm, LeakyReLU 0.2); inputs resized to ``image_size`` (:func:`to_input`).
* Training (:func:`fit_classifier`): AdamW, one-cycle learning rate, a few epochs over a seeded
  permutation. Every random draw comes from one seeded ``torch.Generator`` and the weights start from
  ``seed``, so the same data, settings and thread count give the same weights.
* Augmentation (:func:`augment_batch`): mirror flips, a small random shift, brightness / contrast /
  saturation jitter, and on a random part of each batch a mild Gaussian blur, mild noise and a JPEG
  round trip (the degradations of :mod:`training.augment`).
* Cache (:func:`load_or_train_cached`): weights as safetensors beside a JSON of settings, data
  fingerprint, training time and test accuracy in ``runs/<judge>/<data>-<hash>/`` (``runs/`` is
  git-ignored); a cache whose settings or training files differ is never reused, and test images that
  are pixel-identical to training images are refused (:func:`check_disjoint`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from training.augment import add_noise, blur, jpeg_round_trip
from training.data import IMAGE_SUFFIXES

_WEIGHTS, _INFO = "classifier.safetensors", "classifier.json"


@dataclass
class ClassifierConfig:
    """Everything that decides the classifier's weights (all of it goes into the cache key)."""

    image_size: int = 64  # inputs are resized to this square
    width: int = 24  # channels of the first conv block; doubled by each of the next three
    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    seed: int = 0
    # augmentation
    flip: bool = True
    shift: int = 4  # random translation up to this many pixels (reflect padding)
    color_jitter: float = 0.1  # brightness, contrast and saturation factors in 1 +- this
    blur_prob: float = 0.15  # share of each batch blurred, Gaussian sigma in [0.3, 1.0] px
    noise_prob: float = 0.15  # share with Gaussian or shot noise, a few 8-bit levels
    jpeg_prob: float = 0.15  # share re-encoded as JPEG, quality 60-95

    def __post_init__(self):
        for name in ("image_size", "width", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ClassifierConfig.{name} must be a positive int, got {value!r}.")
        if self.image_size % 16:
            raise ValueError(f"ClassifierConfig.image_size must be a multiple of 16, got {self.image_size}.")
        for name in ("blur_prob", "noise_prob", "jpeg_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"ClassifierConfig.{name} must lie in [0, 1], got {getattr(self, name)}.")


def conv_features(width: int) -> nn.Sequential:
    """The classifiers' trunk: four stride-2 3x3 conv blocks (width, 2x, 4x, 8x channels; batch norm,
    LeakyReLU 0.2); (N, 3, S, S) -> (N, 8 width, S/16, S/16). Shared by every judge built on this module.

    Example:
        >>> conv_features(4)(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 32, 4, 4])
    """
    layers: list[nn.Module] = []
    channels = 3
    for block in range(4):
        out = width * 2**block
        layers += [
            nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = out
    return nn.Sequential(*layers)


def augment_batch(x: torch.Tensor, gen: torch.Generator, cfg: ClassifierConfig) -> torch.Tensor:
    """The training augmentation of a float batch in [0, 1] (see the module docstring).

    Example:
        >>> x = torch.rand(4, 3, 16, 16)
        >>> augment_batch(x, torch.Generator().manual_seed(0), ClassifierConfig()).shape
        torch.Size([4, 3, 16, 16])
    """
    b, _, h, w = x.shape
    # 1. mirror
    if cfg.flip:
        flip = torch.rand(b, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    # 2. small shift: reflect-pad, then crop each image at its own offset
    if cfg.shift > 0:
        s = min(cfg.shift, h - 1, w - 1)
        padded = F.pad(x, [s] * 4, mode="reflect")
        offsets = torch.randint(0, 2 * s + 1, (b, 2), generator=gen).tolist()
        x = torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)])
    # 3. colour: brightness, contrast (around each image's mean), saturation (around its gray)
    if cfg.color_jitter > 0:
        f = 1 + (torch.rand(b, 3, 1, 1, 1, generator=gen) * 2 - 1) * cfg.color_jitter
        x = x * f[:, 0]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * f[:, 1] + mean
        gray = x.mean(dim=1, keepdim=True)
        x = ((x - gray) * f[:, 2] + gray).clamp(0, 1)
    # 4. mild degradations on random parts of the batch
    for prob, degrade in (
        (cfg.blur_prob, lambda t: blur(t, gen, (0.3, 1.0))),
        (cfg.noise_prob, lambda t: add_noise(t, gen, (1.0, 4.0), (0.05, 0.2))),
        (cfg.jpeg_prob, lambda t: jpeg_round_trip(t, gen, (60, 95))),
    ):
        chosen = torch.rand(b, generator=gen) < prob
        if prob > 0 and chosen.any():
            x = x.clone()
            x[chosen] = degrade(x[chosen]).clamp(0, 1)
    return x


def to_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 or [0, 1] float (N, 3, H, W) -> float [-1, 1] at ``size`` x ``size``."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x * 2 - 1


def check_images(images: object, name: str) -> None:
    """Raise ValueError unless ``images`` is a non-empty uint8 tensor (N, 3, H, W)."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        shape = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name} must be uint8 images (N, 3, H, W), got {shape}; load them with load_square_images.")
    if len(images) == 0:
        raise ValueError(f"{name} holds no images.")


def fit_classifier(
    build: Callable[[], nn.Module],
    images: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    cfg: ClassifierConfig,
    log: Callable[[str], None] | None = None,
    name: str = "classifier",
) -> tuple[nn.Module, dict]:
    """The training loop every classifier here shares: seeded weights, AdamW + one-cycle, augmented batches.

    Args:
        build: makes the untrained network; called under ``cfg.seed`` without touching the global random state.
        images: float (N, 3, S, S) in [0, 1], already at ``cfg.image_size``.
        targets: anything indexed along dim 0 like ``images`` (labels, one column per head, ...).
        loss_fn: ``(model output, targets of the batch) -> (loss, bool (batch,) "got it right")``.
        cfg: batch size, epochs, learning rate, weight decay, seed and the augmentation (:func:`augment_batch`).
        log: called with one line per epoch; ``name`` starts that line.

    Returns:
        The model (eval mode) and ``{"seconds", "epochs": [{"loss", "accuracy"}, ...]}`` (accuracy on the
        augmented training batches).
    """
    start = time.perf_counter()
    # 1. network from the seed, without touching the global random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build()
    gen = torch.Generator().manual_seed(cfg.seed)
    # 2. optimiser: AdamW, one-cycle schedule
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.2
    )
    # 3. epochs over a seeded permutation
    model.train()
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(images), generator=gen)
        total_loss, correct = 0.0, 0
        for step in range(steps_per_epoch):
            index = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = augment_batch(images[index], gen, cfg) * 2 - 1
            loss, right = loss_fn(model(x), targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(index)
            correct += int(right.sum())
        history.append({"loss": total_loss / len(images), "accuracy": correct / len(images)})
        if log:
            log(
                f"{name} epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}, "
                f"train accuracy (augmented) {history[-1]['accuracy']:.4f}"
            )
    model.eval()
    return model, {"seconds": time.perf_counter() - start, "epochs": history}


@torch.no_grad()
def batched_outputs(
    model: nn.Module, images: torch.Tensor, image_size: int = 64, batch_size: int = 256
) -> torch.Tensor:
    """``model``'s raw output (float, CPU) for uint8 images (N, 3, H, W) resized to ``image_size``, in batches,
    in eval mode (the model's mode is restored afterwards)."""
    check_images(images, "images")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        out = [
            model(to_input(images[i : i + batch_size], image_size).to(device)).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out)


# ------------------------------------------------------------------------------------------------
# cache: safetensors + json in runs/<judge>/
# ------------------------------------------------------------------------------------------------


def save_classifier(model: nn.Module, folder: str | os.PathLike, info: dict) -> Path:
    """Weights as ``classifier.safetensors`` and ``info`` (must hold ``format`` and ``config``) as
    ``classifier.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / _WEIGHTS, metadata={"format": info["format"]})
    (folder / _INFO).write_text(json.dumps(info, indent=2))
    return folder


def load_classifier(
    folder: str | os.PathLike,
    config_type: type[ClassifierConfig],
    build: Callable[[ClassifierConfig], nn.Module],
) -> tuple[nn.Module, dict]:
    """A classifier saved by :func:`save_classifier` (eval mode) and its info dict.

    ``config_type`` reads the saved ``config`` and ``build`` makes the network from it; each judge
    passes its own (e.g. :func:`training.evaluation.domain_classifier.load_domain_classifier`).
    """
    folder = Path(folder)
    if not has_saved_classifier(folder):
        raise FileNotFoundError(
            f"{folder} holds no {_WEIGHTS} + {_INFO}; train one with the judge's load_or_train_* function."
        )
    info = json.loads((folder / _INFO).read_text())
    names = {f.name for f in fields(config_type)}
    model = build(config_type(**{k: v for k, v in info["config"].items() if k in names}))
    model.load_state_dict(load_file(folder / _WEIGHTS))
    return model.eval(), info


def has_saved_classifier(folder: Path | None) -> bool:
    """Whether ``folder`` holds what :func:`save_classifier` writes."""
    return folder is not None and (folder / _WEIGHTS).is_file() and (folder / _INFO).is_file()


def cache_folder(cache_dir: str | os.PathLike | None, data_name: str, key_parts: object) -> Path | None:
    """``<cache_dir>/<data_name>-<12 hex of sha256(key_parts as JSON)>``, or None without a ``cache_dir``.

    ``key_parts`` must hold everything that decides the weights (format, settings, data fingerprints),
    so a cache whose settings or data differ is never reused.
    """
    if cache_dir is None:
        return None
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()
    return Path(cache_dir) / f"{data_name}-{key[:12]}"


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """sha256 of the image files' relative names and sizes under ``folder`` (what a cache key needs)."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    listing = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def _pixel_hashes(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest() for image in images}


def check_disjoint(train_images: torch.Tensor, test_images: torch.Tensor) -> None:
    """Raise ValueError if a test image is pixel-identical to a training image: its score would not be held out."""
    overlap = _pixel_hashes(train_images) & _pixel_hashes(test_images)
    if overlap:
        raise ValueError(
            f"{len(overlap)} test image(s) are pixel-identical to training images; use a test split "
            "disjoint from the training folders."
        )


def load_or_train_cached(
    cache: Path | None,
    *,
    retrain: bool,
    what: str,
    header: dict,
    load_cached: Callable[[Path], tuple[nn.Module, dict]],
    load_train: Callable[[], object],
    train: Callable[[object], tuple[nn.Module, dict]],
    images_of: Callable[[object], torch.Tensor],
    test_fingerprints: object | None = None,
    load_test: Callable[[], object] | None = None,
    score: Callable[[nn.Module, object], dict] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[nn.Module, dict]:
    """The cache protocol every classifier here follows: reuse, else train on the train split only; score held out.

    Args:
        cache: the folder for these settings and training data (:func:`cache_folder`), or None to keep nothing.
        retrain: train even if ``cache`` holds weights.
        what: the classifier's name in log lines ("domain classifier").
        header: the start of the info dict (``format``, ``classes``, ``config``).
        load_cached: ``cache`` -> (model, info) (:func:`load_classifier` with the right network).
        load_train: loads the training data (only when it is needed).
        train: training data -> (model, the info's ``train`` entry).
        images_of: data -> its uint8 images (N, 3, H, W), for the train/test pixel-duplicate check.
        test_fingerprints: identifies the test data; scores cached for other test data are recomputed.
        load_test, score: load the test data; (model, test data) -> the info's ``test`` entry.

    Returns:
        ``(model, info)``; info: ``header``, ``train`` (plus ``torch`` and ``threads``), ``test`` (with
        ``fingerprints``; if asked), ``cache`` (the folder or None), ``cached`` (True when the weights came
        from the cache). A test image that is pixel-identical to a training image raises ``ValueError``.
    """
    # 1. what is missing: the weights (no matching cache) and/or the test scores (new test data)
    model, info = None, {}
    if not retrain and has_saved_classifier(cache):
        model, info = load_cached(cache)
        if log:
            log(f"{what[:1].upper()}{what[1:]} loaded from {cache}")
    cached = model is not None
    need_test = test_fingerprints is not None and info.get("test", {}).get("fingerprints") != test_fingerprints

    # 2. before any training: a test image that also sits in the training data voids the test numbers
    train_data = load_train() if not cached or need_test else None
    if need_test:
        test_data = load_test()
        check_disjoint(images_of(train_data), images_of(test_data))

    # 3. train on the train split only
    if not cached:
        if log:
            threads = torch.get_num_threads()
            log(f"Training the {what} on {len(images_of(train_data))} images ({threads} CPU thread(s))...")
        model, trained = train(train_data)
        info = {**header, "train": {**trained, "torch": torch.__version__, "threads": torch.get_num_threads()}}

    # 4. held-out scores, on images the classifier never saw; weights and json into the cache
    if need_test:
        info["test"] = {**score(model, test_data), "fingerprints": test_fingerprints}
    if cache is not None and (not cached or need_test):
        save_classifier(model, cache, info)
    return model, {**info, "cache": str(cache) if cache is not None else None, "cached": cached}
