"""Write the data packs a GPU command carries: ``python -m training.pack_data <family> --out DIR``.

A GPU command receives the repository plus carried paths, 64 MiB in all, so each family's training
data travels as packs (``training.packs``) and the text-to-image recipe's token states as one
file, so that machine needs no text encoder. Families and what they write:

* ``faces``: ``celeba_10k-train.pack``; ``translation``: ``face2anime-trainA.pack``, ``-trainB.pack``;
* ``text2image``: ``anime_faces_tagged-train.pack`` (captions.csv + images/) and
  ``anime-text-states.safetensors`` (every training phrasing + the sample-grid prompts);
* ``superres``: ``sr-train.pack`` (T91/ + BSD200/, PNG stored as lossless WebP); ``all``: every one.

Then it prints one table (members, sizes, sha256) and, per planned GPU command, whether its files
fit in the 64 MiB beside the code that travels. Train on them with e.g. ``--data=pack:packs/sr-train.pack``.

Example:
    python -m training.pack_data all --out packs
    python -m training.pack_data text2image --out packs --phrasings 24 --seed 0 --time-decode
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python training/pack_data.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.packs import PackSummary, pack_folder
from training.text_states import load_text_states, save_text_states

REPO = Path(__file__).resolve().parents[1]
MIB = 2**20
TEXT_STATES_FILE = "anime-text-states.safetensors"


@dataclass(frozen=True)
class Target:
    """One pack: its file name, source folders (pack prefix -> folder under the data root), notes."""

    file: str
    sources: dict[str, str]
    info: dict = field(default_factory=dict)
    transcode_png_to_webp: bool = False
    captions: bool = False  # a captions.csv + images/ split: decoded with load_tagged_faces


_CELEBA = "unstated upstream (karthikSingireddy/cs389-hw4); CelebA's terms: non-commercial research use only"
_ANIME = "unstated (crawled anime illustrations via antoncoding/Deep_Learning_GAN); research use"
# The folders are the recipes' default data (train_faces, train_cyclegan, train_text2image,
# train_superres), relative to the data root; tests/test_packs.py checks they still agree.
FAMILIES: dict[str, list[Target]] = {
    "faces": [Target("celeba_10k-train.pack", {"": "celeba_10k/train"}, {"family": "faces", "licence": _CELEBA})],
    "translation": [
        Target("face2anime-trainA.pack", {"": "face2anime/trainA"}, {"family": "translation", "licence": _CELEBA}),
        Target("face2anime-trainB.pack", {"": "face2anime/trainB"}, {"family": "translation", "licence": _ANIME}),
    ],
    "text2image": [
        Target(
            "anime_faces_tagged-train.pack",
            {"": "anime_faces_tagged/train"},
            {"family": "text2image", "licence": _ANIME},
            captions=True,
        )
    ],
    "superres": [
        Target(
            "sr-train.pack",
            {"T91": "T91", "BSD200": "BSD200"},
            {
                "family": "superres",
                "licence": "jiny2001/dcscn-super-resolution (MIT repo); T91 (Yang et al.) and BSD200 (BSDS300 "
                "train) images carry no stated licence",
            },
            transcode_png_to_webp=True,
        )
    ],
}


class MissingDataError(FileNotFoundError):
    """A family's source folder is not under the data root."""


# --------------------------------------------------------------------------------------------
# the text-to-image recipe's prompts, encoded once
# --------------------------------------------------------------------------------------------


def text2image_prompts(split: str | os.PathLike, phrasings: int, seed: int) -> tuple[list[str], dict]:
    """Every prompt ``train_text2image`` (captions=tags) trains on, then its grid prompts; and notes."""
    from training.captions import caption_phrasings, read_captions
    from training.train_text2image import GRID_PROMPTS

    _, hair, eye = read_captions(split)
    pairs, prompts = caption_phrasings(hair, eye, phrasings, seed)
    flat = [p for variants in prompts for p in variants]
    info = {
        "family": "text2image",
        "phrasings_per_caption": phrasings,
        "seed": seed,
        "pairs": len(pairs),
        "train_prompts": len(flat),
        "grid_prompts": len(GRID_PROMPTS),
    }
    return flat + list(GRID_PROMPTS), info


def encode_prompts(prompts: list[str], grid_count: int, text_encoder: str = ""):
    """Token states as the recipe computes them: training prompts via ``precompute_token_states``, grid apart.

    Encoding the two lists separately keeps the training prompts' batches (and so their values)
    the same as in the recipe's own run. Returns (states (N, T, D) fp16, mask (N, T), encoder name).
    """
    from gan_models.text_encoding import SentenceEncoder, pad_token_states, precompute_token_states

    encoder = SentenceEncoder.from_pretrained(text_encoder or None)
    train = prompts[: len(prompts) - grid_count]
    with tempfile.TemporaryDirectory() as cache:
        states, mask = precompute_token_states(encoder, train, cache)
    grid_states, grid_mask = encoder.encode_tokens(prompts[len(train) :])
    length = max(states.shape[1], grid_states.shape[1])
    rows = [s[: int(m.sum())] for s, m in zip([*states.float(), *grid_states.half().float()], [*mask, *grid_mask])]
    padded, padded_mask = pad_token_states(rows, states.shape[-1], length=length)
    return padded.half(), padded_mask.to(mask.dtype), encoder.name


def write_text_states(data_root: Path, out: Path, phrasings: int, seed: int, text_encoder: str) -> PackSummary:
    """Encode the text2image recipe's prompts for its default split and save them beside the packs."""
    source = FAMILIES["text2image"][0].sources[""]
    prompts, info = text2image_prompts(data_root / source, phrasings, seed)
    states, mask, name = encode_prompts(prompts, info["grid_prompts"], text_encoder)
    return save_text_states(out / TEXT_STATES_FILE, prompts, states, mask, name, {**info, "source": source})


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def _check_sources(families: list[str], data_root: Path) -> None:
    missing = [
        f"{family}: {data_root / rel}"
        for family in families
        for target in FAMILIES[family]
        for rel in target.sources.values()
        if not (data_root / rel).is_dir()
    ]
    if missing:
        raise MissingDataError(
            f"Training data is missing under {data_root}: {'; '.join(missing)}. Pass --data-root=<folder holding "
            "celeba_10k/, face2anime/, anime_faces_tagged/, T91/, BSD200/> (default: ../shared/data next to the repo)."
        )


def _decode_seconds(path: Path, target: Target | None) -> float:
    """Seconds to turn a written file into what the trainer holds (tensors), from a cold read."""
    from training.captions import load_tagged_faces
    from training.data import load_image_sources

    start = time.perf_counter()
    if target is None:
        load_text_states(path)
    elif target.captions:
        load_tagged_faces(f"pack:{path}")
    else:
        load_image_sources(f"pack:{path}")
    return time.perf_counter() - start


def _table(rows: list[tuple[PackSummary, float | None]]) -> list[str]:
    timed = any(seconds is not None for _, seconds in rows)
    head = f"{'file':<32} {'members':>8} {'raw MiB':>8} {'packed MiB':>10}  sha256[:12]"
    head += "  decode s" if timed else ""
    lines = [head, "-" * len(head)]
    for s, seconds in rows:
        line = f"{s.name:<32} {s.count:>8} {s.raw_bytes / MIB:>8.1f} {s.compressed_bytes / MIB:>10.1f}  {s.sha256[:12]}"
        lines.append(line + (f"  {seconds:>8.1f}" if seconds is not None else ""))
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.pack_data", description=__doc__.split("\n")[0])
    parser.add_argument("family", choices=[*FAMILIES, "all"], help="which family's training data to pack")
    parser.add_argument("--out", type=Path, default=REPO / "packs", help="output folder (default: <repo>/packs)")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data", help="the shared data")
    parser.add_argument("--phrasings", type=int, default=24, help="text2image: phrasings per (hair, eye) pair")
    parser.add_argument("--seed", type=int, default=None, help="text2image: the recipe's seed (default: its config's)")
    parser.add_argument("--text-encoder", default="", help="text2image: as the recipe's text_encoder ('' = packaged)")
    parser.add_argument("--time-decode", action="store_true", help="also time decoding each file into tensors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Pack the family's data, print the table and the GPU budget; 0 on success, 2 if data is missing."""
    args = _parser().parse_args(argv)
    families = list(FAMILIES) if args.family == "all" else [args.family]
    if args.phrasings < 0:
        print("--phrasings must be 0 or more.", file=sys.stderr)
        return 2
    try:
        _check_sources(families, args.data_root)
    except MissingDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows: list[tuple[PackSummary, float | None]] = []
    for family in families:
        for target in FAMILIES[family]:
            sources = {prefix: args.data_root / rel for prefix, rel in target.sources.items()}
            info = {**target.info, "sources": {p or ".": rel for p, rel in target.sources.items()}}
            summary = pack_folder(
                sources if len(sources) > 1 else sources[""], args.out / target.file, info, target.transcode_png_to_webp
            )
            rows.append((summary, _decode_seconds(args.out / target.file, target) if args.time_decode else None))
        if family == "text2image":
            seed = args.seed if args.seed is not None else _recipe_seed()
            summary = write_text_states(args.data_root, args.out, args.phrasings, seed, args.text_encoder)
            rows.append((summary, _decode_seconds(args.out / TEXT_STATES_FILE, None) if args.time_decode else None))
            print(
                f"text states: {summary.count} prompts, {summary.compressed_bytes / MIB:.1f} MiB; train with "
                f"--text_states={args.out / TEXT_STATES_FILE} --phrasings_per_caption={args.phrasings} "
                f"--seed={seed}"
            )
    from training.campaign import plan_table  # the GPU commands and their 64 MiB live there

    print("\n".join(_table(rows)))
    print(plan_table(args.out, REPO / ".whl")[0])
    return 0


def _recipe_seed() -> int:
    from training.train_text2image import Text2ImageConfig

    return Text2ImageConfig().seed


if __name__ == "__main__":
    raise SystemExit(main())
