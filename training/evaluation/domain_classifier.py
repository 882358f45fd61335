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

The pieces that are not about two domains (the conv trunk, the training loop and its augmentation,
batched scoring, the train/test pixel-duplicate check and the cache protocol) live in
:mod:`training.evaluation.judge` and also build :mod:`training.evaluation.attribute_classifier`, the
hair/eye colour judge of text-to-image models.

Command line (train or load, then print test accuracy; the old form ``python -m training.domain_classifier``
works too)::

    python -m training.evaluation.domain_classifier --train-a ../shared/data/face2anime/trainA \\
        --train-b ../shared/data/face2anime/trainB --test-a ../shared/data/face2anime/testA \\
        --test-b ../shared/data/face2anime/testB
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from training.card import REPO_ROOT
from training.data import load_square_images
from training.evaluation.judge import (
    ClassifierConfig,
    batched_outputs,
    cache_folder,
    check_images,
    conv_features,
    fit_classifier,
    folder_fingerprint,
    load_classifier,
    load_or_train_cached,
    to_input,
)

#: Where trained classifiers are cached (git-ignored).
DEFAULT_CACHE_DIR = REPO_ROOT / "runs" / "domain_classifier"
_FORMAT = "gan-demo-hub/domain-classifier/1"  # bump when the network or the training changes


class DomainClassifier(nn.Module):
    """Four stride-2 conv blocks, average pooling and a linear layer: one logit per image, > 0 = domain B.

    Example:
        >>> model = DomainClassifier(width=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(self, width: int = 16):
        super().__init__()
        self.features = conv_features(width)
        self.head = nn.Linear(8 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, S, S) in [-1, 1]
        h = self.features(x)  # (N, 8 width, S/16, S/16)
        return self.head(h.mean(dim=(2, 3))).squeeze(1)  # (N,)


# ------------------------------------------------------------------------------------------------
# training and scoring
# ------------------------------------------------------------------------------------------------


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
    check_images(images_a, "images_a")
    check_images(images_b, "images_b")
    # both domains at the classifier's size, labels 0 / 1; classes weighted equally whatever their counts
    images = torch.cat([to_input(images_a, cfg.image_size), to_input(images_b, cfg.image_size)]).add(1).div(2)
    labels = torch.cat([torch.zeros(len(images_a)), torch.ones(len(images_b))])
    pos_weight = torch.tensor(len(images_a) / len(images_b))

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight), (logits > 0).float() == y

    return fit_classifier(lambda: DomainClassifier(cfg.width), images, labels, loss_fn, cfg, log, "domain classifier")


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
    return torch.sigmoid(batched_outputs(model, images, image_size, batch_size))


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


def load_domain_classifier(folder: str | os.PathLike) -> tuple[DomainClassifier, dict]:
    """A cached domain classifier (eval mode) and its info dict, from a folder written by this module."""
    return load_classifier(folder, ClassifierConfig, lambda cfg: DomainClassifier(cfg.width))


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
    # the cache key: format, settings and the training files (names + sizes)
    fingerprints = {"a": folder_fingerprint(train_a), "b": folder_fingerprint(train_b)}
    data_name = Path(train_a).resolve().parent.name or "data"
    cache = cache_folder(cache_dir, data_name, [_FORMAT, asdict(cfg), fingerprints])

    def load(folder) -> torch.Tensor:
        return load_square_images(str(folder), cfg.image_size)

    def train(images: tuple[torch.Tensor, torch.Tensor]) -> tuple[DomainClassifier, dict]:
        model, trained = train_domain_classifier(*images, config=cfg, log=log)
        counts = {"num_a": len(images[0]), "num_b": len(images[1])}
        return model, {
            "data_a": str(train_a),
            "data_b": str(train_b),
            **counts,
            "fingerprints": fingerprints,
            **trained,
        }

    def score(model: DomainClassifier, images: tuple[torch.Tensor, torch.Tensor]) -> dict:
        counts = {"num_a": len(images[0]), "num_b": len(images[1])}
        accuracy = classifier_accuracy(model, *images, image_size=cfg.image_size)
        return {"data_a": str(test_a), "data_b": str(test_b), **counts, **accuracy}

    return load_or_train_cached(
        cache,
        retrain=retrain,
        what="domain classifier",
        header={"format": _FORMAT, "classes": {"0": str(train_a), "1": str(train_b)}, "config": asdict(cfg)},
        load_cached=load_domain_classifier,
        load_train=lambda: (load(train_a), load(train_b)),
        train=train,
        images_of=torch.cat,
        test_fingerprints=(
            {"a": folder_fingerprint(test_a), "b": folder_fingerprint(test_b)} if test_a is not None else None
        ),
        load_test=lambda: (load(test_a), load(test_b)),
        score=score,
        log=log,
    )


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    data = REPO_ROOT.parent / "shared" / "data" / "face2anime"
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.domain_classifier",
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
