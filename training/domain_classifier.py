"""An independent judge for translation: a small CNN that tells domain A from domain B.

It answers "does an A->B translation look like B?" without the translator's own discriminator (which
was trained against the very generator it would be judging). It is trained only on the train split
(label 0 = A, 1 = B) and scored on the test split; :func:`load_or_train_classifier` refuses test
images that also occur in the training folders, pixel for pixel.

Network: four stride-2 3x3 conv blocks (width, 2x, 4x, 8x channels; batch norm, LeakyReLU 0.2),
global average pooling, one linear logit (>0 = domain B). Inputs are resized to ``image_size``.

Training: AdamW, one-cycle learning rate, a few epochs, balanced classes. Light augmentation keeps it
from keying on incidental cues (both face2anime sides are JPEG q95 files, while translations are
clean 8-bit outputs): mirror flips, a small random shift, brightness / contrast / saturation jitter,
and on a random part of each batch a mild Gaussian blur, mild noise and a JPEG round trip. Every
random draw comes from one seeded ``torch.Generator`` and the weights start from ``seed``, so the
same data, settings and thread count give the same weights. On face2anime (3,000 + 3,000 training
faces) the defaults train in about 75 s on one CPU thread and judge 99.6% of testA "real" and 98.9%
of testB "anime"; its few mistakes are real photos with saturated colours or make-up and anime
drawings with photo-like shading.

Weights are cached as safetensors beside a JSON of settings, data fingerprint, training time and
test accuracy in ``runs/domain_classifier/<data>-<hash>/`` (``runs/`` is git-ignored); a cache
whose settings or training files differ is never reused.

Command line (train or load, then print test accuracy)::

    python -m training.domain_classifier --train-a ../shared/data/face2anime/trainA \\
        --train-b ../shared/data/face2anime/trainB --test-a ../shared/data/face2anime/testA \\
        --test-b ../shared/data/face2anime/testB
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from training.augment import _blur, _jpeg, _noise
from training.data import IMAGE_SUFFIXES, load_square_images

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where trained classifiers are cached (git-ignored).
DEFAULT_CACHE_DIR = REPO_ROOT / "runs" / "domain_classifier"
_FORMAT = "gan-demo-hub/domain-classifier/1"  # bump when the network or the training changes
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


class DomainClassifier(nn.Module):
    """Four stride-2 conv blocks, average pooling and a linear layer: one logit per image, > 0 = domain B.

    Example:
        >>> model = DomainClassifier(width=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(self, width: int = 16):
        super().__init__()
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
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, S, S) in [-1, 1]
        h = self.features(x)  # (N, 8 width, S/16, S/16)
        return self.head(h.mean(dim=(2, 3))).squeeze(1)  # (N,)


# ------------------------------------------------------------------------------------------------
# training and scoring
# ------------------------------------------------------------------------------------------------


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
        (cfg.blur_prob, lambda t: _blur(t, gen, (0.3, 1.0))),
        (cfg.noise_prob, lambda t: _noise(t, gen, (1.0, 4.0), (0.05, 0.2))),
        (cfg.jpeg_prob, lambda t: _jpeg(t, gen, (60, 95))),
    ):
        chosen = torch.rand(b, generator=gen) < prob
        if prob > 0 and chosen.any():
            x = x.clone()
            x[chosen] = degrade(x[chosen]).clamp(0, 1)
    return x


def _to_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 or [0, 1] float (N, 3, H, W) -> float [-1, 1] at ``size`` x ``size``."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x * 2 - 1


def _check_images(images: object, name: str) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        shape = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name} must be uint8 images (N, 3, H, W), got {shape}; load them with load_square_images.")
    if len(images) == 0:
        raise ValueError(f"{name} holds no images.")


def train_domain_classifier(
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    config: ClassifierConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[DomainClassifier, dict]:
    """Train a :class:`DomainClassifier` on uint8 images of domain A (label 0) and B (label 1).

    Returns:
        The model (CPU, eval mode) and a dict ``{"seconds", "epochs": [{"loss", "accuracy"}, ...]}``
        (accuracy on the augmented training batches).

    Example:
        >>> a = torch.zeros(8, 3, 16, 16, dtype=torch.uint8); b = torch.full_like(a, 255)
        >>> model, info = train_domain_classifier(a, b, ClassifierConfig(image_size=16, width=4, epochs=2))
        >>> len(info["epochs"])
        2
    """
    cfg = config or ClassifierConfig()
    _check_images(images_a, "images_a")
    _check_images(images_b, "images_b")
    start = time.perf_counter()
    # 1. data: both domains at the classifier's size, labels 0 / 1
    images = torch.cat([_to_input(images_a, cfg.image_size), _to_input(images_b, cfg.image_size)]).add(1).div(2)
    labels = torch.cat([torch.zeros(len(images_a)), torch.ones(len(images_b))])
    # 2. network from the seed, without touching the global random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = DomainClassifier(cfg.width)
    gen = torch.Generator().manual_seed(cfg.seed)
    # 3. optimiser: AdamW, one-cycle schedule; classes weighted equally whatever their counts
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.2
    )
    pos_weight = torch.tensor(len(images_a) / len(images_b))
    # 4. epochs over a seeded permutation
    model.train()
    history = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(images), generator=gen)
        total_loss, correct = 0.0, 0
        for step in range(steps_per_epoch):
            index = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = augment_batch(images[index], gen, cfg) * 2 - 1
            y = labels[index]
            logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(index)
            correct += int(((logits > 0).float() == y).sum())
        history.append({"loss": total_loss / len(images), "accuracy": correct / len(images)})
        if log:
            log(
                f"domain classifier epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}, "
                f"train accuracy (augmented) {history[-1]['accuracy']:.4f}"
            )
    model.eval()
    return model, {"seconds": time.perf_counter() - start, "epochs": history}


@torch.no_grad()
def domain_probabilities(
    model: DomainClassifier, images: torch.Tensor, image_size: int = 64, batch_size: int = 256
) -> torch.Tensor:
    """P(domain B) for each uint8 image (N, 3, H, W), resized to ``image_size``; float (N,) on the CPU.

    Example:
        >>> model = DomainClassifier(width=4).eval()
        >>> domain_probabilities(model, torch.zeros(3, 3, 32, 32, dtype=torch.uint8)).shape
        torch.Size([3])
    """
    _check_images(images, "images")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        out = [
            torch.sigmoid(model(_to_input(images[i : i + batch_size], image_size).to(device))).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out)


def classifier_accuracy(
    model: DomainClassifier, images_a: torch.Tensor, images_b: torch.Tensor, image_size: int = 64
) -> dict[str, float]:
    """Share of A judged A, of B judged B, and their mean (balanced accuracy).

    Example:
        >>> model = DomainClassifier(width=4).eval()
        >>> sorted(classifier_accuracy(model, *torch.zeros(2, 2, 3, 16, 16, dtype=torch.uint8)))
        ['accuracy', 'accuracy_a', 'accuracy_b']
    """
    acc_a = float((domain_probabilities(model, images_a, image_size) < 0.5).float().mean())
    acc_b = float((domain_probabilities(model, images_b, image_size) >= 0.5).float().mean())
    return {"accuracy_a": acc_a, "accuracy_b": acc_b, "accuracy": (acc_a + acc_b) / 2}


# ------------------------------------------------------------------------------------------------
# cache: safetensors + json in runs/domain_classifier/
# ------------------------------------------------------------------------------------------------


def save_classifier(model: DomainClassifier, folder: str | os.PathLike, info: dict) -> Path:
    """Weights as ``classifier.safetensors`` and ``info`` (must hold ``config``) as ``classifier.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / _WEIGHTS, metadata={"format": _FORMAT})
    (folder / _INFO).write_text(json.dumps(info, indent=2))
    return folder


def load_classifier(folder: str | os.PathLike) -> tuple[DomainClassifier, dict]:
    """A classifier saved by :func:`save_classifier` (eval mode) and its info dict."""
    folder = Path(folder)
    if not (folder / _WEIGHTS).is_file() or not (folder / _INFO).is_file():
        raise FileNotFoundError(f"{folder} holds no {_WEIGHTS} + {_INFO}; train one with load_or_train_classifier.")
    info = json.loads((folder / _INFO).read_text())
    names = {f.name for f in fields(ClassifierConfig)}
    cfg = ClassifierConfig(**{k: v for k, v in info["config"].items() if k in names})
    model = DomainClassifier(cfg.width)
    model.load_state_dict(load_file(folder / _WEIGHTS))
    return model.eval(), info


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """sha256 of the image files' relative names and sizes under ``folder`` (what a cache key needs)."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    listing = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def _pixel_hashes(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest() for image in images}


def load_or_train_classifier(
    train_a: str | os.PathLike,
    train_b: str | os.PathLike,
    test_a: str | os.PathLike | None = None,
    test_b: str | os.PathLike | None = None,
    *,
    config: ClassifierConfig | None = None,
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
    retrain: bool = False,
    log: Callable[[str], None] | None = print,
) -> tuple[DomainClassifier, dict]:
    """The classifier for ``train_a`` vs ``train_b`` (image folders): from the cache, else trained and cached.

    The cache folder is ``<cache_dir>/<data name>-<hash of settings and training files>``; ``retrain``
    ignores it, ``cache_dir=None`` keeps nothing on disk. With ``test_a``/``test_b`` the returned info
    holds ``test`` accuracy (stored in the cache too); a test image that is pixel-identical to a
    training image raises ``ValueError``, since the numbers would then not be held-out ones.

    Returns:
        ``(model, info)``; info: ``config``, ``train`` (folders, counts, fingerprints, seconds,
        per-epoch loss/accuracy), ``test`` (if asked), ``cache`` (the folder or None), ``cached`` (True when
        the weights came from the cache).
    """
    cfg = config or ClassifierConfig()
    for name, folder in (("train_a", train_a), ("train_b", train_b), ("test_a", test_a), ("test_b", test_b)):
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"{name} {str(folder)!r} is not a folder of images.")
    if (test_a is None) != (test_b is None):
        raise ValueError("Give both test_a and test_b, or neither.")
    # 1. the cache key: format, settings and the training files (names + sizes)
    fingerprints = {"a": folder_fingerprint(train_a), "b": folder_fingerprint(train_b)}
    key = hashlib.sha256(json.dumps([_FORMAT, asdict(cfg), fingerprints], sort_keys=True).encode()).hexdigest()
    data_name = Path(train_a).resolve().parent.name or "data"
    cache = Path(cache_dir) / f"{data_name}-{key[:12]}" if cache_dir is not None else None

    # 2. what is missing: the weights (no matching cache) and/or the test accuracy (new test folders)
    model, info = None, {}
    if cache is not None and not retrain and (cache / _WEIGHTS).is_file() and (cache / _INFO).is_file():
        model, info = load_classifier(cache)
        if log:
            log(f"Domain classifier loaded from {cache}")
    cached = model is not None
    test_fp = {"a": folder_fingerprint(test_a), "b": folder_fingerprint(test_b)} if test_a is not None else None
    need_test = test_fp is not None and info.get("test", {}).get("fingerprints") != test_fp

    # 3. before any training: a test image that also sits in the training folders voids the test numbers
    def load(folder) -> torch.Tensor:
        return load_square_images(str(folder), cfg.image_size)

    train_images = (load(train_a), load(train_b)) if not cached or need_test else None
    if need_test:
        test_images = (load(test_a), load(test_b))
        overlap = _pixel_hashes(torch.cat(train_images)) & _pixel_hashes(torch.cat(test_images))
        if overlap:
            raise ValueError(
                f"{len(overlap)} test image(s) are pixel-identical to training images; use a test split "
                "disjoint from the training folders."
            )

    # 4. train on the train split only
    if not cached:
        if log:
            log(
                f"Training the domain classifier on {len(train_images[0])} + {len(train_images[1])} images "
                f"({torch.get_num_threads()} CPU thread(s))..."
            )
        model, trained = train_domain_classifier(*train_images, config=cfg, log=log)
        info = {
            "format": _FORMAT,
            "classes": {"0": str(train_a), "1": str(train_b)},
            "config": asdict(cfg),
            "train": {
                "data_a": str(train_a),
                "data_b": str(train_b),
                "num_a": len(train_images[0]),
                "num_b": len(train_images[1]),
                "fingerprints": fingerprints,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                **trained,
            },
        }

    # 5. held-out accuracy, on images the classifier never saw; weights and json into the cache
    if need_test:
        info["test"] = {
            "data_a": str(test_a),
            "data_b": str(test_b),
            "num_a": len(test_images[0]),
            "num_b": len(test_images[1]),
            "fingerprints": test_fp,
            **classifier_accuracy(model, *test_images, image_size=cfg.image_size),
        }
    if cache is not None and (not cached or need_test):
        save_classifier(model, cache, info)
    return model, {**info, "cache": str(cache) if cache is not None else None, "cached": cached}


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    data = REPO_ROOT.parent / "shared" / "data" / "face2anime"
    parser = argparse.ArgumentParser(
        prog="python -m training.domain_classifier",
        description="Train (or load from the cache) the A-vs-B domain classifier and print its test accuracy.",
    )
    parser.add_argument("--train-a", type=Path, default=data / "trainA", help="domain A training images (label 0)")
    parser.add_argument("--train-b", type=Path, default=data / "trainB", help="domain B training images (label 1)")
    parser.add_argument("--test-a", type=Path, default=data / "testA", help="domain A test images")
    parser.add_argument("--test-b", type=Path, default=data / "testB", help="domain B test images")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where trained classifiers live")
    parser.add_argument("--retrain", action="store_true", help="train even if a cached classifier matches")
    args = parser.parse_args(argv)
    for flag in ("train_a", "train_b", "test_a", "test_b"):
        if not getattr(args, flag).is_dir():
            parser.error(f"--{flag.replace('_', '-')} {str(getattr(args, flag))!r} is not a folder of images.")
    _, info = load_or_train_classifier(
        args.train_a, args.train_b, args.test_a, args.test_b, cache_dir=args.cache_dir, retrain=args.retrain
    )
    test, train = info["test"], info["train"]
    print(
        f"test accuracy: A {test['accuracy_a']:.4f} ({test['num_a']} images), B {test['accuracy_b']:.4f} "
        f"({test['num_b']} images), balanced {test['accuracy']:.4f}; trained in {train['seconds']:.1f} s on "
        f"{train['threads']} thread(s); cache {info['cache']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
