"""The bundled defaults: Hub-repo layout, fp16 safetensors, a card with metrics, and they run."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import SuperResolutionPipeline
from gan_models.hub import CHECKPOINTS_DIR, bundled_models

BUNDLED = ["superres-x4-gan", "superres-x4-psnr"]


def test_both_superres_defaults_are_bundled():
    assert set(BUNDLED) <= set(bundled_models())


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint_is_small_fp16_with_a_card(name):
    folder = CHECKPOINTS_DIR / name
    weights = list(folder.rglob("*.safetensors"))
    assert len(weights) == 1 and weights[0].stat().st_size < 15 * 2**20
    assert all(t.dtype == torch.float16 for t in load_file(str(weights[0])).values())
    assert not [p for p in folder.rglob("*") if p.suffix in {".bin", ".pkl", ".pt", ".pth"}]
    card = (folder / "README.md").read_text()
    for needed in ("license:", "T91", "## Evaluation", "Set5", "Set14", "samples.png", "Reproduce"):
        assert needed in card, needed
    assert (folder / "samples.png").is_file()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_upscales_exactly_x4_deterministically(name):
    pipe = SuperResolutionPipeline.from_pretrained(str(CHECKPOINTS_DIR / name), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = Image.radial_gradient("L").resize((23, 17)).convert("RGB")
    first, second = pipe(image).images[0], pipe(image).images[0]
    assert first.size == (92, 68) and first.tobytes() == second.tobytes()
