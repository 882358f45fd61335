"""FaceGANPipeline: seeds, truncation, save/load (fp16 on disk), walks, style mixing, animations, checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gan_models import FaceGANPipeline, FaceGANPipelineOutput, StyleGAN2Generator, save_animation
from gan_models.checks import NUM_IMAGES, SEED
from gan_models.errors import GanModelsError
from gan_models.pipelines.faces import style_mix_layers
from tests.conftest import max_pixel_diff, pixels


def _generator(seed: int = 0, size: int = 16) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    return StyleGAN2Generator(size=size, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)


def _make(seed: int = 0, size: int = 16) -> FaceGANPipeline:
    pipe = FaceGANPipeline(stylegan=_generator(seed, size))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe() -> FaceGANPipeline:
    return _make()


# --- generation ----------------------------------------------------------------------------------


def test_output_shape_seeds_and_label(pipe):
    out = pipe(num_images=3, seed=10, truncation=0.7)
    assert isinstance(out, FaceGANPipelineOutput)
    assert out.seeds == [10, 11, 12] and pipe.resolution == 16
    assert all(im.mode == "RGB" and im.size == (16, 16) for im in out.images)
    info = out.images[1].info
    assert info["ai_generated"] == "true" and info["DigitalSourceType"] == "trainedAlgorithmicMedia"
    assert (info["seed"], info["truncation"], info["model"]) == ("11", "0.7", "StyleGAN2Generator")


def test_same_seed_same_face_and_independent_of_count(pipe):
    a = pipe(num_images=3, seed=5).images
    b = pipe(num_images=3, seed=5).images
    assert all(np.array_equal(pixels(x), pixels(y)) for x, y in zip(a, b))
    # image i is the face of seed + i, whatever the batch it was made in (batch size may move a
    # float by an ulp, so allow one grey level)
    for i in range(3):
        assert max_pixel_diff(a[i], pipe(num_images=1, seed=5 + i).images[0]) <= 1


def test_more_than_one_batch(pipe):
    out = pipe(num_images=17, seed=100, output_type="np")  # 16 + 1: two synthesis chunks
    assert len(out.images) == 17
    last = pipe(num_images=1, seed=116, output_type="np").images[0]
    np.testing.assert_allclose(out.images[16], last, atol=1e-5)


def test_different_seeds_differ(pipe):
    a, b = pipe(num_images=2, seed=0).images
    assert max_pixel_diff(a, b) > 10


def test_truncation_zero_is_the_mean_face_for_every_seed(pipe):
    images = pipe(num_images=4, seed=3, truncation=0.0, output_type="np").images
    for img in images[1:]:
        np.testing.assert_array_equal(img, images[0])
    other = pipe(num_images=1, seed=999, truncation=0.0, output_type="np").images[0]
    np.testing.assert_allclose(other, images[0], atol=1e-5)  # another batch size: float rounding only
    # and truncation really moves the faces
    assert not np.array_equal(pipe(seed=3, truncation=0.5, output_type="np").images[0], images[0])


def test_output_types_and_tuple_return(pipe):
    (images, seeds) = pipe(num_images=2, seed=1, output_type="np", return_dict=False)
    assert seeds == [1, 2]
    assert images[0].shape == (16, 16, 3) and images[0].dtype == np.float32
    assert 0 <= images[0].min() and images[0].max() <= 1
    t = pipe(seed=1, output_type="pt").images[0]
    assert t.shape == (3, 16, 16) and t.dtype == torch.float32
    pil = pipe(seed=1).images[0]
    assert np.abs(np.asarray(pil, dtype=np.float32) / 255 - images[0]).max() <= 0.5 / 255 + 1e-6


def test_noise_modes():
    pipe = _make()
    with torch.no_grad():  # a fresh generator has zero noise strengths: make the noise matter
        for i, conv in enumerate([pipe.stylegan.conv1, *pipe.stylegan.convs]):
            conv.noise.weight.fill_(0.3 + 0.1 * i)
    const = pipe(seed=4, output_type="np").images[0]
    rand1 = pipe(seed=4, noise_mode="random", output_type="np").images[0]
    rand2 = pipe(num_images=2, seed=3, noise_mode="random", output_type="np").images[1]
    none = pipe(seed=4, noise_mode="none", output_type="np").images[0]
    np.testing.assert_allclose(rand1, rand2, atol=1e-5)  # "random" noise is drawn from the seed too
    assert not np.allclose(const, none) and not np.allclose(const, rand1)


def test_output_slice_is_stable():
    """A 3x3 corner of a seeded tiny model: catches silent changes to the synthesis maths."""
    img = pixels(_make()(seed=0, truncation=0.7).images[0])
    assert img.shape == (16, 16, 3)
    # an untrained generator: not flat, not saturated everywhere
    assert 5 < img.std() and 0 < (img.clip(1, 254) == img).mean()


# --- precision, save and load --------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    pipe = _make()
    reference = pipe(num_images=2, seed=7).images
    pipe.save_pretrained(tmp_path / "faces-tiny")
    index = json.loads((tmp_path / "faces-tiny" / "model_index.json").read_text())
    assert index["_class_name"] == "FaceGANPipeline"
    assert index["stylegan"][0].startswith("gan_models") and index["stylegan"][1] == "StyleGAN2Generator"

    loaded = FaceGANPipeline.from_pretrained(tmp_path / "faces-tiny")
    loaded.set_progress_bar_config(disable=True)
    out = loaded(num_images=2, seed=7).images
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(reference, out))
    assert out[0].info["model"] == "faces-tiny"  # the folder name, never the full local path


def test_fp16_on_disk_fp32_on_load(tmp_path):
    pipe = _make()
    reference = pipe(num_images=3, seed=20, truncation=0.8).images
    pipe.stylegan.half()
    pipe.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "stylegan" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert not list(tmp_path.rglob("*.bin"))

    loaded = FaceGANPipeline.from_pretrained(tmp_path, dtype=torch.float32)
    loaded.set_progress_bar_config(disable=True)
    assert {p.dtype for p in loaded.stylegan.parameters()} == {torch.float32}
    out = loaded(num_images=3, seed=20, truncation=0.8).images
    # only the fp16 rounding of the weights differs
    assert max(max_pixel_diff(a, b) for a, b in zip(reference, out)) <= 8


def test_half_pipeline_on_cpu_computes_in_fp32():
    pipe = _make()
    reference = pipe(seed=2).images[0]
    pipe.stylegan.half()
    out = pipe(seed=2).images[0]
    assert pipe.stylegan.dtype == torch.float16  # the user's module is left as it was
    assert max_pixel_diff(out, reference) <= 8


def test_fixture_model_loads(faces_model_dir):
    loaded = FaceGANPipeline.from_pretrained(faces_model_dir)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.resolution == 16
    assert len(loaded(num_images=2, seed=0).images) == 2


def test_mean_latent_cache_follows_weight_changes():
    pipe = _make(seed=0)
    before = pipe(seed=1, truncation=0.5, output_type="np").images[0]
    pipe.stylegan.load_state_dict(_generator(seed=1).state_dict())  # in-place: same module object
    after = pipe(seed=1, truncation=0.5, output_type="np").images[0]
    fresh = _make(seed=1)(seed=1, truncation=0.5, output_type="np").images[0]
    np.testing.assert_allclose(after, fresh, atol=1e-6)
    assert not np.allclose(before, after)


# --- interpolation, style mixing, animations ------------------------------------------------------


@pytest.mark.parametrize("space", ["w", "z"])
def test_interpolation_endpoints_are_the_seed_faces(pipe, space):
    frames = pipe.interpolate(3, 8, num_frames=5, truncation=0.7, space=space)
    assert len(frames) == 5 and all(f.size == (16, 16) for f in frames)
    assert max_pixel_diff(frames[0], pipe(seed=3, truncation=0.7).images[0]) <= 1
    assert max_pixel_diff(frames[-1], pipe(seed=8, truncation=0.7).images[0]) <= 1
    assert max_pixel_diff(frames[0], frames[2]) > 0 and max_pixel_diff(frames[2], frames[-1]) > 0
    assert frames[2].info["ai_generated"] == "true" and frames[2].info["seed_a"] == "3"


def test_z_and_w_walks_differ_in_the_middle(pipe):
    w_mid = pipe.interpolate(0, 1, num_frames=3, space="w")[1]
    z_mid = pipe.interpolate(0, 1, num_frames=3, space="z")[1]
    assert max_pixel_diff(w_mid, z_mid) > 0


def test_style_mix_layers_follow_the_paper():
    layers = {n: [list(style_mix_layers(n, lv)) for lv in ("coarse", "middle", "fine")] for n in (6, 8, 10, 14)}
    assert layers[10] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # 64 px: 4-8 / 16-32 / 64
    assert layers[14] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12, 13]]  # 256 px
    assert layers[8] == [[0, 1, 2, 3], [4, 5], [6, 7]]  # 32 px: fine keeps the top resolution
    assert layers[6] == [[0, 1], [2, 3], [4, 5]]  # 16 px: one resolution each
    with pytest.raises(ValueError, match="level"):
        style_mix_layers(10, "medium")
    with pytest.raises(ValueError, match="at least 16 px"):
        style_mix_layers(4, "coarse")


@pytest.mark.parametrize("level", ["coarse", "middle", "fine"])
def test_style_mix_grid(pipe, level):
    rows, cols = [1, 2], [3, 4, 5]
    grid = pipe.style_mix(rows, cols, level=level, truncation=0.8)
    assert grid.size == (4 * 16, 3 * 16) and grid.mode == "RGB"
    assert grid.info["ai_generated"] == "true" and grid.info["level"] == level

    def cell(r: int, c: int) -> Image.Image:
        return grid.crop((c * 16, r * 16, (c + 1) * 16, (r + 1) * 16))

    assert pixels(cell(0, 0)).min() == 255  # the empty corner
    for c, seed in enumerate(cols, 1):  # top row: the column sources
        assert max_pixel_diff(cell(0, c), pipe(seed=seed, truncation=0.8).images[0]) <= 1
    for r, seed in enumerate(rows, 1):  # left column: the row sources
        assert max_pixel_diff(cell(r, 0), pipe(seed=seed, truncation=0.8).images[0]) <= 1
    # a mixed cell is neither of its sources
    assert max_pixel_diff(cell(1, 1), cell(1, 0)) > 0 and max_pixel_diff(cell(1, 1), cell(0, 1)) > 0


def test_style_mix_with_the_same_seed_changes_nothing(pipe):
    grid = pipe.style_mix([7], [7], level="middle")
    assert max_pixel_diff(grid.crop((16, 16, 32, 32)), grid.crop((0, 16, 16, 32))) <= 1


def test_save_animation_gif(tmp_path, pipe):
    frames = pipe.interpolate(0, 1, num_frames=6)
    path = save_animation(frames, tmp_path / "walk.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 6 and gif.size == (16, 16)
        assert gif.info["duration"] == 100 and gif.info["loop"] == 0
        assert b"AI-generated" in gif.info["comment"]


def test_save_animation_checks(tmp_path, pipe):
    frames = pipe.interpolate(0, 1, num_frames=2)
    with pytest.raises(ValueError, match="gif or .mp4"):
        save_animation(frames, tmp_path / "walk.avi")
    with pytest.raises(ValueError, match="non-empty"):
        save_animation([], tmp_path / "walk.gif")
    with pytest.raises(ValueError, match="same size"):
        save_animation([frames[0], Image.new("RGB", (8, 8))], tmp_path / "walk.gif")
    with pytest.raises(ValueError, match="fps"):
        save_animation(frames, tmp_path / "walk.gif", fps=0)


def test_save_animation_mp4(tmp_path, pipe):
    frames = pipe.interpolate(0, 1, num_frames=3)
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install imageio imageio-ffmpeg"):
            save_animation(frames, tmp_path / "walk.mp4")
    else:
        assert save_animation(frames, tmp_path / "walk.mp4").stat().st_size > 0


# --- generator= (a torch.Generator, as diffusers users pass) -------------------------------------


@pytest.mark.parametrize("noise_mode", ["const", "random"])
def test_generator_gives_the_seed_faces(pipe, noise_mode):
    single = pipe(seed=7, noise_mode=noise_mode, output_type="np").images[0]
    one = pipe(generator=torch.Generator().manual_seed(7), noise_mode=noise_mode, output_type="np")
    assert np.array_equal(one.images[0], single) and one.seeds == [None]
    by_seed = pipe(num_images=2, seed=7, noise_mode=noise_mode, output_type="np").images
    gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
    listed = pipe(num_images=2, generator=gens, noise_mode=noise_mode, output_type="np").images
    assert all(np.array_equal(a, b) for a, b in zip(listed, by_seed))


def test_generator_is_deterministic_and_advances(pipe):
    a = pipe(num_images=2, generator=torch.Generator().manual_seed(3), output_type="np").images
    b = pipe(num_images=2, generator=torch.Generator().manual_seed(3), output_type="np").images
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])  # one generator: each face draws on from where the last stopped
    label = pipe(generator=torch.Generator().manual_seed(3)).images[0].info
    assert "seed" not in label and label["ai_generated"] == "true"


def test_interpolate_with_a_generator_walks_between_its_two_faces(pipe):
    ends = pipe(num_images=2, generator=torch.Generator().manual_seed(4)).images
    frames = pipe.interpolate(num_frames=3, generator=torch.Generator().manual_seed(4))
    # (batch size may move a float by an ulp, so allow one grey level)
    assert max_pixel_diff(frames[0], ends[0]) <= 1 and max_pixel_diff(frames[-1], ends[1]) <= 1
    assert max_pixel_diff(frames[0], ends[1]) > 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p(seed=1, generator=torch.Generator()), "not both"),
        (lambda p: p(num_images=2, generator=[torch.Generator()]), "one per image"),
        (lambda p: p(generator=7), "torch.Generator"),
        (lambda p: p.interpolate(1, 2, generator=torch.Generator()), "not both"),
        (lambda p: p.interpolate(generator=[torch.Generator()] * 3), "one per image"),
        (lambda p: p.interpolate(1), "seed_b"),
    ],
)
def test_generator_misuse_is_a_clear_error(pipe, call, match):
    with pytest.raises(ValueError, match=match):
        call(pipe)


# --- checks at the door --------------------------------------------------------------------------


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
        ({"truncation": float("inf")}, "truncation"),
        ({"truncation": 2.5}, "truncation"),
        ({"truncation": -1.5}, "truncation"),
        ({"truncation": False}, "truncation"),
        ({"noise_mode": "fresh"}, "noise_mode"),
        ({"output_type": "latent"}, "output_type"),
    ],
)
def test_call_inputs_checked_at_the_door(pipe, kwargs, match):
    with pytest.raises(GanModelsError, match=match):
        pipe(**kwargs)


def test_extreme_valid_inputs(pipe):
    assert pipe(seed=SEED.high, truncation=-1.0).seeds == [SEED.high]
    assert pipe(seed=np.int64(3), truncation=2).seeds == [3]  # numpy ints are ints


def test_other_inputs_checked_at_the_door(pipe):
    with pytest.raises(ValueError, match="num_frames"):
        pipe.interpolate(0, 1, num_frames=1)
    with pytest.raises(ValueError, match="num_frames"):
        pipe.interpolate(0, 1, num_frames=241)
    with pytest.raises(ValueError, match="space"):
        pipe.interpolate(0, 1, space="x")
    with pytest.raises(ValueError, match="seed_b"):
        pipe.interpolate(0, -3)
    with pytest.raises(ValueError, match="level"):
        pipe.style_mix([1], [2], level="all")
    with pytest.raises(ValueError, match="row_seeds"):
        pipe.style_mix([], [2])
    with pytest.raises(ValueError, match=r"col_seeds\[1\]"):
        pipe.style_mix([1], [2, 1.5])
    with pytest.raises(ValueError, match="list of integer seeds"):
        pipe.style_mix("12", [2])
    with pytest.raises(TypeError, match="StyleGAN2Generator"):
        FaceGANPipeline(stylegan=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="at least 16 px"):
        _make(size=8).style_mix([1], [2])


# --- serving -------------------------------------------------------------------------------------


def test_load_pipeline_per_class(faces_model_dir, tiny_model):
    from gan_models import SuperResolutionPipeline
    from gan_models.serving import load_pipeline

    faces = load_pipeline(faces_model_dir, FaceGANPipeline)
    assert isinstance(faces, FaceGANPipeline) and faces is load_pipeline(faces_model_dir + "/", FaceGANPipeline)
    assert isinstance(load_pipeline(tiny_model), SuperResolutionPipeline)  # the default class is unchanged
    with pytest.raises(ValueError, match="FaceGANPipeline"):
        load_pipeline(tiny_model, FaceGANPipeline)
    with pytest.raises(ValueError, match="Unknown model"):
        load_pipeline("no-such-faces-model", FaceGANPipeline)
