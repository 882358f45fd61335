"""TextToImageGANPipeline with a tiny 8 px generator and the real packaged text encoder (offline).

Seeds and prompts, save/load (fp16 on disk), the encoder's embedding cache, the checks at the
door, and the AI-generated label with the prompt and seed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import TextToImageGANPipeline, TextToImageGANPipelineOutput, TextToImageGenerator
from gan_models.checks import NUM_IMAGES, SEED
from gan_models.errors import GanModelsError, InvalidPromptError
from gan_models.text_encoding import MAX_PROMPT_CHARS
from tests.conftest import max_pixel_diff, pixels

PROMPT = "a girl with silver hair and red eyes"


def _make(seed: int = 0) -> TextToImageGANPipeline:
    torch.manual_seed(seed)
    generator = TextToImageGenerator(size=8, z_dim=8, style_dim=16, n_mlp=2, channel_base=64, channel_max=16)
    pipe = TextToImageGANPipeline(generator=generator)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe() -> TextToImageGANPipeline:
    return _make()


# --- generation ----------------------------------------------------------------------------------


def test_output_shape_seeds_and_label(pipe):
    out = pipe(prompt=PROMPT, num_images=3, seed=10, truncation=0.7)
    assert isinstance(out, TextToImageGANPipelineOutput)
    assert out.seeds == [10, 11, 12] and out.prompt == PROMPT and pipe.resolution == 8
    assert all(im.mode == "RGB" and im.size == (8, 8) for im in out.images)
    info = out.images[1].info
    assert info["ai_generated"] == "true" and info["DigitalSourceType"] == "trainedAlgorithmicMedia"
    assert (info["prompt"], info["seed"], info["truncation"]) == (PROMPT, "11", "0.7")
    assert info["model"] == "TextToImageGenerator"  # not saved yet: the class name


def test_same_prompt_and_seed_same_images(pipe):
    a = pipe(prompt=PROMPT, num_images=3, seed=5).images
    b = pipe(prompt=PROMPT, num_images=3, seed=5).images
    assert all(np.array_equal(pixels(x), pixels(y)) for x, y in zip(a, b))


def test_image_i_is_seed_plus_i_whatever_the_count(pipe):
    many = pipe(prompt=PROMPT, num_images=4, seed=20).images
    # batch size may move a float by an ulp, so allow one grey level
    for i in range(4):
        assert max_pixel_diff(many[i], pipe(prompt=PROMPT, num_images=1, seed=20 + i).images[0]) <= 1
    assert max_pixel_diff(many[0], pipe(prompt=PROMPT, num_images=2, seed=20).images[0]) <= 1


def test_more_than_one_batch(pipe):
    out = pipe(prompt=PROMPT, num_images=17, seed=100, output_type="np")  # 16 + 1: two synthesis chunks
    assert len(out.images) == 17
    last = pipe(prompt=PROMPT, num_images=1, seed=116, output_type="np").images[0]
    np.testing.assert_allclose(out.images[16], last, atol=1e-5)


def test_different_seeds_and_prompts_differ(pipe):
    a, b = pipe(prompt=PROMPT, num_images=2, seed=0, output_type="np").images
    assert not np.allclose(a, b)
    other = pipe(prompt="blonde hair, blue eyes", num_images=1, seed=0, output_type="np").images[0]
    assert not np.allclose(a, other)


def test_whitespace_is_normalised(pipe):
    out = pipe(prompt=f"  {PROMPT.replace(' ', '   ')}\n", num_images=1, seed=3)
    assert out.prompt == PROMPT and out.images[0].info["prompt"] == PROMPT
    assert np.array_equal(pixels(out.images[0]), pixels(pipe(prompt=PROMPT, seed=3).images[0]))


def test_output_types_and_tuple_return(pipe):
    np_out = pipe(prompt=PROMPT, num_images=2, seed=1, output_type="np").images
    assert np_out[0].shape == (8, 8, 3) and np_out[0].dtype == np.float32
    assert 0.0 <= np_out[0].min() and np_out[0].max() <= 1.0
    pt_out = pipe(prompt=PROMPT, num_images=1, seed=1, output_type="pt").images
    assert pt_out[0].shape == (3, 8, 8)
    np.testing.assert_allclose(pt_out[0].permute(1, 2, 0).numpy(), np_out[0], atol=1e-6)
    images, seeds = pipe(prompt=PROMPT, num_images=2, seed=1, return_dict=False)
    assert seeds == [1, 2] and len(images) == 2


def test_text_encoder_cache_hit_on_a_repeated_prompt(pipe):
    prompt = "she has black hair and purple eyes"
    pipe(prompt=prompt, seed=0)  # first use: encoded (or already cached by another test)
    hits = pipe.text_encoder.cache_info().hits
    pipe(prompt=prompt, seed=1)
    assert pipe.text_encoder.cache_info().hits == hits + 1
    misses = pipe.text_encoder.cache_info().misses
    pipe(prompt="a never seen prompt: teal hair 7341", seed=0)
    assert pipe.text_encoder.cache_info().misses == misses + 1


# --- save / load ---------------------------------------------------------------------------------


def test_save_load_round_trip_fp16_on_disk(tmp_path):
    pipe = _make()
    reference = pipe(prompt=PROMPT, num_images=2, seed=7).images
    pipe.generator.half()
    pipe.save_pretrained(tmp_path / "t2i-tiny")
    index = json.loads((tmp_path / "t2i-tiny" / "model_index.json").read_text())
    assert index["_class_name"] == "TextToImageGANPipeline"
    assert index["generator"] == ["gan_models.text2image", "TextToImageGenerator"]
    assert index["text_encoder_name"] == "sentence-transformers/all-MiniLM-L6-v2"  # referenced, not stored
    tensors = load_file(tmp_path / "t2i-tiny" / "generator" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt*"))

    loaded = TextToImageGANPipeline.from_pretrained(tmp_path / "t2i-tiny")
    loaded.set_progress_bar_config(disable=True)
    out = loaded(prompt=PROMPT, num_images=2, seed=7).images
    assert max(max_pixel_diff(a, b) for a, b in zip(reference, out)) <= 8  # only the fp16 rounding of the weights
    again = loaded(prompt=PROMPT, num_images=2, seed=7).images
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(out, again))
    assert out[0].info["model"] == "t2i-tiny"  # the folder name, never the full local path


def test_fixture_model_loads(text2image_model_dir):
    loaded = TextToImageGANPipeline.from_pretrained(text2image_model_dir)
    loaded.set_progress_bar_config(disable=True)
    assert loaded(prompt=PROMPT, num_images=2, seed=0).images[1].size == (8, 8)


# --- generator= (a torch.Generator, as diffusers users pass) -------------------------------------


@pytest.mark.parametrize("noise_mode", ["const", "random"])
def test_generator_gives_the_seed_images(pipe, noise_mode):
    single = pipe(prompt=PROMPT, seed=7, noise_mode=noise_mode, output_type="np").images[0]
    one = pipe(prompt=PROMPT, generator=torch.Generator().manual_seed(7), noise_mode=noise_mode, output_type="np")
    assert np.array_equal(one.images[0], single) and one.seeds == [None]
    by_seed = pipe(prompt=PROMPT, num_images=2, seed=7, noise_mode=noise_mode, output_type="np").images
    gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
    listed = pipe(prompt=PROMPT, num_images=2, generator=gens, noise_mode=noise_mode, output_type="np").images
    assert all(np.array_equal(a, b) for a, b in zip(listed, by_seed))
    again = pipe(prompt=PROMPT, num_images=2, generator=torch.Generator().manual_seed(7), output_type="np").images
    assert np.array_equal(again[0], by_seed[0]) and not np.array_equal(again[1], by_seed[1])


def test_seed_and_generator_together_is_an_error(pipe):
    with pytest.raises(ValueError, match="not both"):
        pipe(prompt=PROMPT, seed=0, generator=torch.Generator())
    with pytest.raises(GanModelsError, match="one per image"):
        pipe(prompt=PROMPT, num_images=3, generator=[torch.Generator()] * 2)


# --- checks at the door --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        ("", "The prompt is empty"),
        ("  \t\n ", "The prompt is empty"),
        ("x" * 10_000, "10,000 characters long, over the limit of 300"),
        ("y" * (MAX_PROMPT_CHARS + 1), "over the limit of 300"),
        ("?!?", "has no letters"),
        ("123 456", "has no letters"),
        (None, "must be text"),
        (42, "must be text"),
    ],
    ids=["empty", "blank", "10000-chars", "301-chars", "punctuation", "digits", "none", "int"],
)
def test_bad_prompts_raise_invalid_prompt_error(pipe, prompt, match):
    with pytest.raises(InvalidPromptError, match=match) as err:
        pipe(prompt=prompt)
    assert isinstance(err.value, GanModelsError) and isinstance(err.value, ValueError)


def test_longest_prompt_is_fine(pipe):
    prompt = ("red eyes " * 40)[:MAX_PROMPT_CHARS]
    assert len(pipe(prompt=prompt, seed=0).images) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_images": 0}, "num_images"),
        ({"num_images": NUM_IMAGES.high + 1}, "num_images"),
        ({"num_images": 2.0}, "num_images"),
        ({"num_images": True}, "num_images"),
        ({"seed": -1}, "seed"),
        ({"seed": SEED.high + 1}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"seed": SEED.high, "num_images": 2}, "largest seed"),
        ({"truncation": float("nan")}, "truncation"),
        ({"truncation": 2.5}, "truncation"),
        ({"noise_mode": "fresh"}, "noise_mode"),
        ({"output_type": "latent"}, "output_type"),
    ],
)
def test_other_inputs_checked_at_the_door(pipe, kwargs, match):
    with pytest.raises(GanModelsError, match=match):
        pipe(prompt=PROMPT, **kwargs)


def test_extreme_valid_inputs(pipe):
    assert pipe(prompt=PROMPT, seed=SEED.high, truncation=-1.0).seeds == [SEED.high]
    assert pipe(prompt=PROMPT, seed=np.int64(3), truncation=2).seeds == [3]  # numpy ints are ints


# --- the label on disk ---------------------------------------------------------------------------


def test_png_metadata_survives_saving(pipe, tmp_path):
    from gan_models.imaging import png_metadata

    img = pipe(prompt="pink-haired girl with green eyes", seed=9).images[0]
    extra = {k: v for k, v in img.info.items() if k not in ("model",) and isinstance(v, str)}
    path = tmp_path / "out.png"
    img.save(path, pnginfo=png_metadata(img.info["model"], **extra))
    with Image.open(path) as saved:
        assert saved.text["ai_generated"] == "true"
        assert saved.text["prompt"] == "pink-haired girl with green eyes" and saved.text["seed"] == "9"
        assert saved.text["DigitalSourceType"] == "trainedAlgorithmicMedia"
