"""What ``bench_gpu.py`` measures, and what its two halves share: the training families with their GPU
presets, toy sizes and synthetic data; the text-state shape; PyTorch's default backend flags; the error
report.

Imported as ``benchmarks.gpu_families``: the script puts the repository root on ``sys.path`` first.
"""

from __future__ import annotations

import csv
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PRESETS = Path(__file__).resolve().parents[1] / "training" / "configs" / "gpu"
TEXT_DIM = 384  # all-MiniLM-L6-v2's token states, what the text2image preset trains on
TEXT_TOKENS = 16

# PyTorch's backend flags as a fresh process has them; the plain loop and inference run under these
# (the engine switches on TF32 and cuDNN autotuning globally when it starts on CUDA)
DEFAULT_FLAGS = {
    "cudnn.benchmark": torch.backends.cudnn.benchmark,
    "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
    "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
}


def restore_default_flags() -> None:
    torch.backends.cudnn.benchmark = DEFAULT_FLAGS["cudnn.benchmark"]
    torch.backends.cudnn.allow_tf32 = DEFAULT_FLAGS["cudnn.allow_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = DEFAULT_FLAGS["cuda.matmul.allow_tf32"]


def report_error(what: str, err: BaseException) -> str:
    """Print the failure with its traceback (a benchmark reports and goes on); returns the line for its row."""
    print(f"\n!! {what} failed: {type(err).__name__}: {err}\n{traceback.format_exc()}", flush=True)
    return f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------------------------------------
# the families and their synthetic data
# ------------------------------------------------------------------------------------------------


@dataclass
class Family:
    """One training row: a recipe, its GPU preset, and what one batch item is."""

    key: str
    preset: str
    unit: str
    overrides: Callable[[Path], list[str]]  # data root -> --key=value list
    smoke: list[str] = field(default_factory=list)  # toy sizes for --smoke

    def classes(self):
        """(config class, recipe class), imported late: only what a run needs."""
        if self.key.startswith("superres"):
            from training.train_superres import SuperResConfig, SuperResolutionRecipe

            return SuperResConfig, SuperResolutionRecipe
        if self.key == "faces":
            from training.train_faces import FacesConfig, FacesRecipe

            return FacesConfig, FacesRecipe
        if self.key == "translation":
            from training.train_cyclegan import CycleGANConfig, CycleGANRecipe

            return CycleGANConfig, CycleGANRecipe
        from training.train_text2image import Text2ImageConfig, Text2ImageRecipe

        return Text2ImageConfig, Text2ImageRecipe


SR_SMOKE = ["--num_feat=8", "--num_conv=2", "--patch_size=32", "--batch_size=2", "--d_num_feat=8"]
STYLE_SMOKE = ["--size=16", "--channel_base=128", "--channel_max=16", "--style_dim=16", "--n_mlp=2", "--batch_size=4"]

FAMILIES = [
    Family(
        "superres-psnr",
        "superres_psnr.yaml",
        "HR patches",
        lambda root: [f"--data={root / 'sr'}", "--val_data="],
        SR_SMOKE,
    ),
    Family(
        "superres-gan",
        "superres_gan.yaml",
        "HR patches",
        lambda root: [f"--data={root / 'sr'}", "--val_data=", "--pretrained="],
        SR_SMOKE,
    ),
    Family(
        "faces",
        "faces_celeba64.yaml",
        "images",
        lambda root: [f"--data={root / 'faces'}", "--crop_box=", "--val_data=", "--fid_num_samples=0"],
        STYLE_SMOKE,
    ),
    Family(
        "translation",
        "face2anime.yaml",
        "image pairs",
        lambda root: [f"--data_a={root / 'a'}", f"--data_b={root / 'b'}", "--val_a=", "--val_b="],
        ["--size=32", "--ngf=4", "--ndf=4", "--n_blocks=1", "--batch_size=2"],
    ),
    Family(
        "text2image",
        "anime_text2image.yaml",
        "images",
        lambda root: [f"--data={root / 'tagged'}", f"--text_states={root / 'text-states.safetensors'}"],
        [*STYLE_SMOKE, "--z_dim=16", "--captions_per_batch=2", "--phrasings_per_caption=2"],
    ),
]
FAMILY_KEYS = [f.key for f in FAMILIES]


def _noise_png(path: Path, side: int, rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), "RGB").save(path)


def make_data(root: Path, smoke: bool) -> None:
    """Random images for every family: throughput does not depend on what the pixels show."""
    rng = np.random.default_rng(0)
    count, sr_count = (8, 4) if smoke else (256, 32)
    sides = {
        "sr": 64 if smoke else 256,
        "faces": 16 if smoke else 64,
        "a": 32 if smoke else 64,
        "b": 32 if smoke else 64,
    }
    for name, side in sides.items():
        (root / name).mkdir(parents=True)
        for i in range(sr_count if name == "sr" else count):
            _noise_png(root / name / f"{i:05d}.png", side, rng)
    # text2image: images/ + captions.csv (file,hair,eyes,text) with 4 x 4 colour pairs
    from training.captions import EYE_COLOURS, HAIR_COLOURS, tag_prompt

    tagged = root / "tagged"
    (tagged / "images").mkdir(parents=True)
    with (tagged / "captions.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "hair", "eyes", "text"])
        for i in range(count):
            hair, eye = HAIR_COLOURS[i % 4], EYE_COLOURS[(i // 4) % 4]
            _noise_png(tagged / "images" / f"{i:05d}.png", 16 if smoke else 64, rng)
            writer.writerow([f"{i:05d}.png", f"{hair} hair", f"{eye} eyes", tag_prompt(hair, eye)])


def write_text_states(config, text_dim: int) -> int:
    """Random fp16 token states for exactly the prompts the text2image recipe will ask for; returns their count."""
    from training.captions import caption_phrasings, read_captions
    from training.text_states import save_text_states
    from training.train_text2image import GRID_PROMPTS

    _, hair, eye = read_captions(config.data)  # captions=tags: the recipe's own prompt list (see caption_phrasings)
    _, prompts = caption_phrasings(hair, eye, config.phrasings_per_caption, config.seed)
    flat = list(dict.fromkeys([p for variants in prompts for p in variants] + list(GRID_PROMPTS)))
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(4, TEXT_TOKENS + 1, (len(flat),), generator=gen)
    mask = (torch.arange(TEXT_TOKENS) < lengths[:, None]).long()  # 1..1 0..0, as the encoders pad
    states = (torch.randn(len(flat), TEXT_TOKENS, text_dim, generator=gen) * mask[..., None]).half()
    save_text_states(config.text_states, flat, states, mask, "random-states (bench_gpu)")
    return len(flat)
