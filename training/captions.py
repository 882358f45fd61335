"""Anime faces with hair/eye colour tags, and many phrasings of each (hair, eye) caption.

The data (``anime_faces_tagged/{train,test}``) is a folder with ``images/<id>.jpg`` (64x64) and a
``captions.csv`` with columns ``file,hair,eyes,text``, e.g. ``00002.jpg,blonde hair,pink eyes,blonde
hair pink eyes``. Every image has exactly one of 12 hair colours and one of 11 eye colours.

Colours are handled as the bare colour word used in the data (``"blonde"``, ``"aqua"``, ``"gray"``);
:func:`phrase` turns a pair into one of many training phrasings (templates x colour synonyms x
casing/punctuation), deterministic in its seed, so a text encoder learns to map free text, not one
fixed tag string, onto the label. ``HELD_OUT_TEMPLATES`` are never used by :func:`phrase`: they are
kept for evaluating free-form prompts (:func:`free_form_prompts`). Both attributes are always named,
so the label of a phrasing stays exact.
"""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image

from .data import to_uint8_tensor
from .packs import Pack, decode_images, is_pack_spec, parse_pack_spec

__all__ = [
    "EYE_COLOURS",
    "EYE_SYNONYMS",
    "HAIR_COLOURS",
    "HAIR_SYNONYMS",
    "HELD_OUT_TEMPLATES",
    "TRAIN_TEMPLATES",
    "TaggedFaces",
    "caption_phrasings",
    "free_form_prompts",
    "load_tagged_faces",
    "phrase",
    "read_captions",
    "tag_prompt",
]

#: Hair colours exactly as written in captions.csv (without the trailing " hair"), most frequent first.
HAIR_COLOURS = ("blonde", "brown", "black", "blue", "pink", "purple", "aqua", "green", "gray", "red", "white", "orange")
#: Eye colours exactly as written in captions.csv (without the trailing " eyes"), most frequent first.
EYE_COLOURS = ("blue", "red", "brown", "green", "purple", "aqua", "yellow", "pink", "orange", "black", "gray")

# Synonyms, the data's own word first. Within one attribute no word belongs to two colours: the data
# has both "gray" and "white" hair, so "silver" goes to gray only (and "snow-white" to white).
HAIR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "blonde": ("blonde", "blond", "golden", "yellow"),
    "brown": ("brown", "chestnut", "light brown"),
    "black": ("black", "jet-black", "raven"),
    "blue": ("blue", "dark blue", "light blue"),
    "pink": ("pink", "rose pink", "pastel pink"),
    "purple": ("purple", "violet", "lavender"),
    "aqua": ("aqua", "teal", "cyan", "turquoise"),
    "green": ("green", "emerald green", "mint green"),
    "gray": ("gray", "grey", "silver", "ash gray"),
    "red": ("red", "crimson", "scarlet"),
    "white": ("white", "snow-white", "pure white"),
    "orange": ("orange", "ginger", "copper"),
}
EYE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "blue": ("blue", "sapphire", "azure"),
    "red": ("red", "crimson", "scarlet", "ruby"),
    "brown": ("brown", "dark brown", "chocolate brown"),
    "green": ("green", "emerald", "jade"),
    "purple": ("purple", "violet", "lavender", "amethyst"),
    "aqua": ("aqua", "teal", "cyan", "turquoise"),
    "yellow": ("yellow", "golden", "gold", "amber"),
    "pink": ("pink", "rose", "magenta"),
    "orange": ("orange", "tangerine"),
    "black": ("black", "jet-black", "onyx"),
    "gray": ("gray", "grey", "silver"),
}

#: Phrasings used for training; ``{hair}`` / ``{eye}`` are colour words (any synonym).
TRAIN_TEMPLATES = (
    "{hair} hair {eye} eyes",
    "{eye} eyes {hair} hair",
    "{hair} hair, {eye} eyes",
    "{eye} eyes, {hair} hair",
    "1girl, {hair} hair, {eye} eyes",
    "a girl with {hair} hair and {eye} eyes",
    "a girl with {eye} eyes and {hair} hair",
    "anime character, her eyes are {eye} and her hair is {hair}",
    "anime character, her hair is {hair} and her eyes are {eye}",
    "portrait of someone with {hair} hair and {eye} eyes",
    "portrait of someone with {eye} eyes and {hair} hair",
    "an anime face with {hair} hair and {eye} eyes",
    "{hair}-haired girl with {eye} eyes",
    "{eye}-eyed character with {hair} hair",
    "she has {hair} hair and {eye} eyes",
    "anime portrait: {hair} hair, {eye} eyes",
)

#: Free-form phrasings never used for training, only to evaluate how the model handles new wording.
HELD_OUT_TEMPLATES = (
    "draw a cute anime girl whose hair is {hair} and whose eyes are {eye}",
    "{eye} eyes looking at the viewer, framed by {hair} hair",
    "manga heroine with {hair} locks and {eye} irises",
    "a boy with {eye} eyes and {hair} hair",
    "headshot of an anime character who has {hair} hair and {eye} eyes",
    "her {hair} hair frames her {eye} eyes",
    "illustration of a young woman, {hair} hair and striking {eye} eyes",
)


def _colour(value: str, attribute: str) -> str:
    """``"blonde"`` or ``"blonde hair"`` -> ``"blonde"``; anything else is a ValueError naming the choices."""
    valid = HAIR_COLOURS if attribute == "hair" else EYE_COLOURS
    word = " ".join(str(value).lower().split()).removesuffix(" " + attribute).removesuffix(" eye")
    if word not in valid:
        raise ValueError(f"Unknown {attribute} colour {value!r}; choose one of: {', '.join(valid)}.")
    return word


def tag_prompt(hair: str, eye: str) -> str:
    """The plain tag phrasing used by the data's ``text`` column.

    Example:
        >>> tag_prompt("blonde", "pink eyes")
        'blonde hair pink eyes'
    """
    return f"{_colour(hair, 'hair')} hair {_colour(eye, 'eyes')} eyes"


def free_form_prompts(hair: str, eye: str) -> list[str]:
    """One prompt per held-out template, with the data's colour words (for evaluation only).

    Example:
        >>> free_form_prompts("gray", "red")[0]
        'draw a cute anime girl whose hair is gray and whose eyes are red'
    """
    hair, eye = _colour(hair, "hair"), _colour(eye, "eyes")
    return [template.format(hair=hair, eye=eye) for template in HELD_OUT_TEMPLATES]


def phrase(hair: str, eye: str, rng: random.Random | int | None = None) -> str:
    """A random training phrasing of (hair, eye): template, synonyms, casing and end punctuation.

    ``rng`` is a ``random.Random`` (advanced by the call) or an int seed; the same seed always gives
    the same phrasing. Only ``TRAIN_TEMPLATES`` are used.

    Example:
        >>> phrase("gray", "red", 0) == phrase("gray", "red", 0)
        True
        >>> "hair" in phrase("blonde hair", "blue eyes", 1)
        True
    """
    hair, eye = _colour(hair, "hair"), _colour(eye, "eyes")
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    # 1. pick a template and a synonym per colour (the data's own word half the time)
    template = rng.choice(TRAIN_TEMPLATES)
    hair_word = hair if rng.random() < 0.5 else rng.choice(HAIR_SYNONYMS[hair])
    eye_word = eye if rng.random() < 0.5 else rng.choice(EYE_SYNONYMS[eye])
    text = template.format(hair=hair_word, eye=eye_word)
    # 2. casing: as written, sentence case, or (rarely) all capitals
    casing = rng.random()
    if casing < 0.25:
        text = text[0].upper() + text[1:]
    elif casing < 0.3:
        text = text.upper()
    # 3. optional end punctuation
    return text + rng.choice(("", "", "", ".", "!"))


def caption_phrasings(
    hair: list[str], eye: list[str], phrasings_per_caption: int, seed: int
) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """The (hair, eye) pairs of a split, sorted, and each pair's training prompts: tags, then phrasings.

    This is how ``train_text2image``'s ``captions=tags`` builds its prompts (one ``random.Random(seed)``
    drawn pair after pair), so ``training.pack_data`` can encode exactly the same list ahead of time.

    Example:
        >>> pairs, prompts = caption_phrasings(["gray", "blonde", "gray"], ["red", "blue", "red"], 2, seed=0)
        >>> pairs, [len(p) for p in prompts], prompts[0][0]
        ([('blonde', 'blue'), ('gray', 'red')], [3, 3], 'blonde hair blue eyes')
    """
    pairs = sorted(set(zip(hair, eye)))
    rng = random.Random(seed)
    return pairs, [[tag_prompt(h, e)] + [phrase(h, e, rng) for _ in range(phrasings_per_caption)] for h, e in pairs]


# --------------------------------------------------------------------------------------------
# the tagged faces on disk
# --------------------------------------------------------------------------------------------


class TaggedFaces(NamedTuple):
    """Images (N, 3, H, W) uint8 and their colour words, row i of each belonging together."""

    images: torch.Tensor
    hair: list[str]
    eye: list[str]


def read_captions(source: str | os.PathLike) -> tuple[list[Path] | list[str], list[str], list[str]]:
    """Read a split's ``captions.csv`` without opening images: (images, hair colours, eye colours).

    ``source`` is a split folder (``captions.csv`` + ``images/``) or a pack of one
    (``pack:<file>[#<subfolder>]``, see ``training.packs``). For a folder the images are paths; for
    a pack they are member names (``images/00002.jpg``) to read through ``training.packs.Pack``.
    Raises FileNotFoundError for a missing csv or image, ValueError for a malformed row.
    """
    if is_pack_spec(source):
        return _read_pack_captions(str(source))
    folder = Path(source)
    csv_path = folder / "captions.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"No captions.csv in {folder}. Point at an anime_faces_tagged split folder (with captions.csv and images/)."
        )

    def locate(file: str) -> tuple[Path, bool]:
        path = folder / "images" / file
        return path, path.is_file()

    with csv_path.open(newline="", encoding="utf-8") as f:
        return _parse_caption_rows(f, str(csv_path), locate)


def _read_pack_captions(spec: str) -> tuple[list[str], list[str], list[str]]:
    """``read_captions`` for ``pack:<file>[#<subfolder>]``: the csv and the images are pack members."""
    path, subfolder = parse_pack_spec(spec)
    pack = Pack.open(path)
    root = f"{subfolder}/" if subfolder else ""
    if root + "captions.csv" not in pack:
        raise FileNotFoundError(
            f"No captions.csv in {spec}. Pack an anime_faces_tagged split folder (with captions.csv and images/), "
            "e.g. `python -m training.pack_data text2image --out packs`."
        )

    def locate(file: str) -> tuple[str, bool]:
        name = f"{root}images/{file}"
        return name, name in pack

    text = pack.read(root + "captions.csv").decode("utf-8")
    return _parse_caption_rows(io.StringIO(text, newline=""), f"{spec}: captions.csv", locate)


def _parse_caption_rows(f, where: str, locate):
    """Rows of an open captions.csv: (located images, hair, eye); ``locate(file) -> (image, exists)``."""
    images, hair, eye = [], [], []
    reader = csv.DictReader(f)
    missing = {"file", "hair", "eyes"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{where} lacks the column(s) {', '.join(sorted(missing))} (needs file,hair,eyes).")
    for line, row in enumerate(reader, start=2):
        try:
            hair.append(_colour(row["hair"], "hair"))
            eye.append(_colour(row["eyes"], "eyes"))
        except ValueError as err:
            raise ValueError(f"{where}, line {line}: {err}") from None
        image, exists = locate(row["file"])
        if not exists:
            raise FileNotFoundError(f"{where}, line {line}: image {image} does not exist.")
        images.append(image)
    if not images:
        raise ValueError(f"{where} lists no images.")
    return images, hair, eye


def load_tagged_faces(source: str | os.PathLike) -> TaggedFaces:
    """Load one split of anime_faces_tagged into memory: ``images, hair, eye = load_tagged_faces(path)``.

    ``source`` is a split folder or a pack of one (``pack:<file>[#<subfolder>]``); both give the
    same result. All images must share one size (the prepared data is 64x64); colours are the data's words.
    """
    items, hair, eye = read_captions(source)
    if is_pack_spec(source):
        images = decode_images(Pack.open(parse_pack_spec(str(source)).path), items)
    else:
        images = []
        for path in items:
            with Image.open(path) as img:
                images.append(to_uint8_tensor(img))
    sizes = {tuple(im.shape) for im in images}
    if len(sizes) > 1:
        raise ValueError(f"Images under {source} differ in size ({sorted(sizes)[:3]}); resize them to one size first.")
    return TaggedFaces(torch.stack(images), hair, eye)
