"""An independent judge for text-to-image alignment: a small CNN that names an anime face's hair and eye colour.

It answers "did the generator draw the colours the prompt asked for?" without the text-to-image
model's own discriminator (trained against the very generator it would be judging). It is trained by
us on the train split of ``anime_faces_tagged`` only and scored on its test split: that score is the
ceiling any generated image can be judged against. :func:`load_or_train_attribute_classifier`
refuses test images that also occur in the training split, pixel for pixel.

Network: the judges' trunk (:func:`training.evaluation.judge.conv_features`: four stride-2 3x3 conv
blocks, width, 2x, 4x, 8x channels, batch norm, LeakyReLU 0.2) and one linear layer over its whole 4x4 feature map
(not its average: where a colour sits tells hair from eyes; on the test split that raised hair /
eye / both accuracy from 63.5 / 53.2 / 38.6% to 66.6 / 58.6 / 42.8% at 10 epochs), whose 23 logits
are two heads: 12 hair colours then 11 eye colours, in the orders of
:data:`training.captions.HAIR_COLOURS` and :data:`training.captions.EYE_COLOURS`.

Training: the judges' loop (:func:`training.evaluation.judge.fit_classifier`: AdamW, one-cycle
learning rate, seeded batches and weights) with the sum of the two heads' cross-entropies, each class
weighted by the inverse of its training count, so rare colours (gray or black eyes: ~1% of the faces)
count as much as common ones; the generated images are judged over all 12 x 11 pairs equally, not in
the data's proportions.
Augmentation keeps geometry and sharpness varied but never colour, since colour is the label:
mirror flips, a small random shift, and on a random part of each batch a mild Gaussian blur, mild
noise and a JPEG round trip (no brightness / contrast / saturation / hue jitter;
:class:`AttributeConfig` refuses it).

Weights are cached as safetensors beside a JSON of settings, data fingerprints, training time and
test accuracy in ``runs/attribute_classifier/<data>-<hash>/`` (``runs/`` is git-ignored); a cache
whose settings, training images or captions differ is never reused.

Command line (train or load, then print test accuracy per head; the old form
``python -m training.attribute_classifier`` works too)::

    python -m training.evaluation.attribute_classifier --train ../shared/data/anime_faces_tagged/train \\
        --test ../shared/data/anime_faces_tagged/test
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from training.captions import EYE_COLOURS, HAIR_COLOURS, TaggedFaces, load_tagged_faces
from training.card import REPO_ROOT
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

#: Where trained attribute classifiers are cached (git-ignored).
DEFAULT_CACHE_DIR = REPO_ROOT / "runs" / "attribute_classifier"
#: The tagged faces (``train/`` and ``test/``, each with captions.csv and images/) beside the repo.
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "anime_faces_tagged"
_FORMAT = "gan-demo-hub/attribute-classifier/1"  # bump when the network or the training changes
NUM_HAIR, NUM_EYE = len(HAIR_COLOURS), len(EYE_COLOURS)


@dataclass
class AttributeConfig(ClassifierConfig):
    """:class:`~training.evaluation.judge.ClassifierConfig` with this judge's defaults; never colour jitter.

    Example:
        >>> AttributeConfig(color_jitter=0.1)
        Traceback (most recent call last):
        ...
        ValueError: AttributeConfig.color_jitter must be 0: colour is what this classifier is asked to tell.
    """

    width: int = 24
    epochs: int = 12
    color_jitter: float = 0.0
    balance_classes: bool = True  # weight each colour by 1 / its training count

    def __post_init__(self):
        super().__post_init__()
        if self.color_jitter != 0:
            raise ValueError("AttributeConfig.color_jitter must be 0: colour is what this classifier is asked to tell.")


class AttributeClassifier(nn.Module):
    """The domain classifier's conv trunk and one linear layer over its whole feature map: 12 + 11 logits
    (hair colours, then eye colours) for ``image_size`` x ``image_size`` inputs.

    Example:
        >>> hair, eye = split_logits(AttributeClassifier(width=4)(torch.zeros(2, 3, 64, 64)))
        >>> hair.shape, eye.shape
        (torch.Size([2, 12]), torch.Size([2, 11]))
    """

    def __init__(self, width: int = 24, image_size: int = 64):
        super().__init__()
        self.features = conv_features(width)
        # the whole (S/16 x S/16) map, not its average: where a colour sits (hair around, eyes in the
        # middle) is what tells the two heads apart
        self.head = nn.Linear(8 * width * (image_size // 16) ** 2, NUM_HAIR + NUM_EYE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, 3, S, S) in [-1, 1] -> (N, 23) logits, hair first
        return self.head(self.features(x).flatten(1))


def split_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 23) logits -> hair logits (N, 12), eye logits (N, 11)."""
    return logits[:, :NUM_HAIR], logits[:, NUM_HAIR:]


def colour_indices(words: Sequence[str], colours: Sequence[str]) -> torch.Tensor:
    """Colour words (the data's, e.g. ``"blonde"``) -> their class indices in ``colours`` as a long tensor.

    Example:
        >>> colour_indices(["blue", "red"], EYE_COLOURS).tolist()
        [0, 1]
    """
    unknown = sorted(set(words) - set(colours))
    if unknown:
        raise ValueError(f"Unknown colour(s) {', '.join(map(repr, unknown))}; expected one of: {', '.join(colours)}.")
    lookup = {colour: i for i, colour in enumerate(colours)}
    return torch.tensor([lookup[word] for word in words], dtype=torch.long)


# ------------------------------------------------------------------------------------------------
# training, prediction, scoring
# ------------------------------------------------------------------------------------------------


def _class_weights(labels: torch.Tensor, count: int, balance: bool) -> torch.Tensor | None:
    """1 / count per class, scaled to mean 1 over the classes present (None when not balancing)."""
    if not balance:
        return None
    counts = torch.bincount(labels, minlength=count).float()
    weights = torch.where(counts > 0, 1 / counts.clamp(min=1), torch.zeros_like(counts))
    return weights * (counts > 0).sum() / weights.sum()


def train_attribute_classifier(
    images: torch.Tensor,
    hair: Sequence[str],
    eye: Sequence[str],
    config: AttributeConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[AttributeClassifier, dict]:
    """Train an :class:`AttributeClassifier` on uint8 faces (N, 3, H, W) and their hair / eye colour words.

    Returns:
        The model (CPU, eval mode) and ``{"seconds", "epochs": [{"loss", "accuracy"}, ...]}`` (accuracy:
        both heads right, on the augmented training batches).

    Example:
        >>> faces = torch.zeros(4, 3, 16, 16, dtype=torch.uint8)
        >>> cfg = AttributeConfig(image_size=16, width=4, epochs=1)
        >>> model, info = train_attribute_classifier(faces, ["red"] * 4, ["blue"] * 4, cfg)
        >>> len(info["epochs"])
        1
    """
    cfg = config or AttributeConfig()
    check_images(images, "images")
    if not len(images) == len(hair) == len(eye):
        raise ValueError(
            f"Got {len(images)} images but {len(hair)} hair and {len(eye)} eye colours; one each per image."
        )
    targets = torch.stack([colour_indices(hair, HAIR_COLOURS), colour_indices(eye, EYE_COLOURS)], dim=1)  # (N, 2)
    hair_weight = _class_weights(targets[:, 0], NUM_HAIR, cfg.balance_classes)
    eye_weight = _class_weights(targets[:, 1], NUM_EYE, cfg.balance_classes)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hair_logits, eye_logits = split_logits(logits)
        loss = F.cross_entropy(hair_logits, y[:, 0], weight=hair_weight) + F.cross_entropy(
            eye_logits, y[:, 1], weight=eye_weight
        )
        return loss, (hair_logits.argmax(1) == y[:, 0]) & (eye_logits.argmax(1) == y[:, 1])

    x = to_input(images, cfg.image_size).add(1).div(2)  # float [0, 1] at the classifier's size
    return fit_classifier(
        lambda: AttributeClassifier(cfg.width, cfg.image_size), x, targets, loss_fn, cfg, log, "attribute classifier"
    )


def predict_attributes(
    model: AttributeClassifier, images: torch.Tensor, image_size: int = 64, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted hair and eye class indices (long (N,) each) for uint8 images (N, 3, H, W).

    Example:
        >>> hair, eye = predict_attributes(AttributeClassifier(width=4), torch.zeros(3, 3, 32, 32, dtype=torch.uint8))
        >>> hair.shape, int(eye.max()) < NUM_EYE
        (torch.Size([3]), True)
    """
    hair_logits, eye_logits = split_logits(batched_outputs(model, images, image_size, batch_size))
    return hair_logits.argmax(1), eye_logits.argmax(1)


def score_attributes(
    hair_pred: torch.Tensor, eye_pred: torch.Tensor, hair_true: torch.Tensor, eye_true: torch.Tensor
) -> dict:
    """Accuracy of predicted against true (or prompted) colours, overall, per class and as confusion counts.

    Returns:
        ``num_images``, ``hair_accuracy``, ``eye_accuracy``, ``both_accuracy`` (both heads right);
        ``hair_balanced_accuracy`` / ``eye_balanced_accuracy`` (the mean over the colours present of each
        colour's accuracy); ``per_hair`` / ``per_eye``: for each true hair (eye) colour present, its
        ``num_images`` and the three accuracies of its images; ``hair_confusion`` / ``eye_confusion``:
        counts, row = true colour, column = predicted, in the orders of HAIR_COLOURS / EYE_COLOURS.

    Example:
        >>> r = score_attributes(torch.tensor([0, 1]), torch.tensor([2, 2]), torch.tensor([0, 0]), torch.tensor([2, 3]))
        >>> r["hair_accuracy"], r["eye_accuracy"], r["both_accuracy"], r["per_hair"]["blonde"]["num_images"]
        (0.5, 0.5, 0.5, 2)
    """
    tensors = [torch.as_tensor(t, dtype=torch.long).reshape(-1) for t in (hair_pred, eye_pred, hair_true, eye_true)]
    hair_pred, eye_pred, hair_true, eye_true = tensors
    if len({len(t) for t in tensors}) != 1 or len(hair_true) == 0:
        raise ValueError(
            f"score_attributes needs four equally long, non-empty label tensors, got {[len(t) for t in tensors]}."
        )
    hair_ok, eye_ok = hair_pred == hair_true, eye_pred == eye_true
    both_ok = hair_ok & eye_ok

    def rates(mask: torch.Tensor) -> dict:
        return {
            "num_images": int(mask.sum()),
            "hair_accuracy": float(hair_ok[mask].double().mean()),
            "eye_accuracy": float(eye_ok[mask].double().mean()),
            "both_accuracy": float(both_ok[mask].double().mean()),
        }

    per_hair = {c: rates(hair_true == i) for i, c in enumerate(HAIR_COLOURS) if (hair_true == i).any()}
    per_eye = {c: rates(eye_true == i) for i, c in enumerate(EYE_COLOURS) if (eye_true == i).any()}
    return {
        **rates(torch.ones_like(hair_ok)),
        "hair_balanced_accuracy": sum(r["hair_accuracy"] for r in per_hair.values()) / len(per_hair),
        "eye_balanced_accuracy": sum(r["eye_accuracy"] for r in per_eye.values()) / len(per_eye),
        "per_hair": per_hair,
        "per_eye": per_eye,
        "hair_confusion": _confusion(hair_true, hair_pred, NUM_HAIR),
        "eye_confusion": _confusion(eye_true, eye_pred, NUM_EYE),
    }


def _confusion(true: torch.Tensor, pred: torch.Tensor, count: int) -> list[list[int]]:
    return (
        torch.bincount(true * count + pred.clamp(0, count - 1), minlength=count * count).reshape(count, count).tolist()
    )


# ------------------------------------------------------------------------------------------------
# cache: safetensors + json in runs/attribute_classifier/
# ------------------------------------------------------------------------------------------------


def split_fingerprint(folder: str | os.PathLike) -> str:
    """sha256 of a split's image names and sizes and of its captions.csv (labels decide the weights too)."""
    captions = hashlib.sha256((Path(folder) / "captions.csv").read_bytes()).hexdigest()
    return hashlib.sha256(f"{folder_fingerprint(folder)}:{captions}".encode()).hexdigest()


def load_attribute_classifier(folder: str | os.PathLike) -> tuple[AttributeClassifier, dict]:
    """A cached classifier (eval mode) and its info dict, from a folder written by this module."""
    return load_classifier(folder, AttributeConfig, lambda cfg: AttributeClassifier(cfg.width, cfg.image_size))


def load_or_train_attribute_classifier(
    train: str | os.PathLike,
    test: str | os.PathLike | None = None,
    *,
    config: AttributeConfig | None = None,
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
    retrain: bool = False,
    log: Callable[[str], None] | None = print,
) -> tuple[AttributeClassifier, dict]:
    """The classifier for the tagged split ``train``: from the cache, else trained and cached.

    ``train`` and ``test`` are ``anime_faces_tagged`` split folders (``captions.csv`` + ``images/``).
    The cache folder is ``<cache_dir>/<data name>-<hash of settings, training images and captions>``;
    ``retrain`` ignores it, ``cache_dir=None`` keeps nothing on disk. With ``test`` the returned info
    holds its ``test`` scores (:func:`score_attributes`, stored in the cache too); a test image that is
    pixel-identical to a training image raises ``ValueError``, since the numbers would then not be
    held-out ones.

    Returns:
        ``(model, info)``; info: ``config``, ``classes``, ``train`` (folder, count, fingerprint, seconds,
        per-epoch loss/accuracy), ``test`` (if asked), ``cache`` (the folder or None), ``cached`` (True when
        the weights came from the cache).
    """
    cfg = config or AttributeConfig()
    for name, folder in (("train", train), ("test", test)):
        if folder is not None and not (Path(folder) / "captions.csv").is_file():
            raise FileNotFoundError(
                f"{name} {str(folder)!r} is not a tagged split: it needs captions.csv and images/ "
                "(e.g. ../shared/data/anime_faces_tagged/train)."
            )
    # the cache key: format, settings and the training split (image names + sizes, captions)
    fingerprint = split_fingerprint(train)
    cache = cache_folder(cache_dir, Path(train).resolve().parent.name or "data", [_FORMAT, asdict(cfg), fingerprint])

    def fit(data: TaggedFaces) -> tuple[AttributeClassifier, dict]:
        model, trained = train_attribute_classifier(*data, config=cfg, log=log)
        return model, {"data": str(train), "num_images": len(data.images), "fingerprint": fingerprint, **trained}

    def score(model: AttributeClassifier, data: TaggedFaces) -> dict:
        predicted = predict_attributes(model, data.images, cfg.image_size)
        truth = colour_indices(data.hair, HAIR_COLOURS), colour_indices(data.eye, EYE_COLOURS)
        return {"data": str(test), **score_attributes(*predicted, *truth)}

    return load_or_train_cached(
        cache,
        retrain=retrain,
        what="attribute classifier",
        header={
            "format": _FORMAT,
            "classes": {"hair": list(HAIR_COLOURS), "eye": list(EYE_COLOURS)},
            "config": asdict(cfg),
        },
        load_cached=load_attribute_classifier,
        load_train=lambda: load_tagged_faces(train),
        train=fit,
        images_of=lambda data: data.images,
        test_fingerprints=split_fingerprint(test) if test is not None else None,
        load_test=lambda: load_tagged_faces(test),
        score=score,
        log=log,
    )


def describe_test(test: dict) -> str:
    """One line of a :func:`score_attributes` result on real faces: accuracy per head and both.

    Example:
        >>> describe_test({"num_images": 10, "hair_accuracy": 0.9, "eye_accuracy": 0.8, "both_accuracy": 0.75,
        ...                "hair_balanced_accuracy": 0.85, "eye_balanced_accuracy": 0.7})
        'hair 90.0% (balanced 85.0%), eye 80.0% (balanced 70.0%), both 75.0% of 10 test faces'
    """
    return (
        f"hair {100 * test['hair_accuracy']:.1f}% (balanced {100 * test['hair_balanced_accuracy']:.1f}%), "
        f"eye {100 * test['eye_accuracy']:.1f}% (balanced {100 * test['eye_balanced_accuracy']:.1f}%), "
        f"both {100 * test['both_accuracy']:.1f}% of {test['num_images']} test faces"
    )


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.attribute_classifier",
        description="Train (or load from the cache) the hair/eye colour classifier and print its test accuracy.",
    )
    parser.add_argument("--train", type=Path, default=DEFAULT_DATA / "train", help="tagged training split")
    parser.add_argument("--test", type=Path, default=DEFAULT_DATA / "test", help="tagged test split")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where trained classifiers live")
    parser.add_argument("--retrain", action="store_true", help="train even if a cached classifier matches")
    args = parser.parse_args(argv)
    try:
        _, info = load_or_train_attribute_classifier(
            args.train, args.test, cache_dir=args.cache_dir, retrain=args.retrain
        )
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    train = info["train"]
    print(
        f"test accuracy: {describe_test(info['test'])}; trained in {train['seconds']:.1f} s on "
        f"{train['threads']} thread(s); cache {info['cache']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
