"""Shared test fixtures: tiny data made here, never ../shared/data."""

from __future__ import annotations

import io
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs one worker per core: one thread each (and in the processes tests start), or the
    # workers' thread pools fight over the cores and the suite gets slower than running serially
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


# What every short training test gives the engine: 4 steps with a checkpoint every 2 (so resume has
# something to resume from), no validation, a log line per step and no tracker. Recipes add their
# own sizes; a test that needs other counts overrides keys after ``**TINY_RUN``.
TINY_RUN = {
    "max_steps": 4,
    "checkpoint_every": 2,
    "checkpoints_total_limit": 5,
    "validate_every": 1000,
    "log_every": 1,
    "report_to": "none",
}


def pixels(img: Image.Image) -> np.ndarray:
    """An image's pixels as int16, so differences of uint8 values do not wrap around."""
    return np.asarray(img, dtype=np.int16)


def max_pixel_diff(a: Image.Image, b: Image.Image) -> int:
    """The largest per-channel difference between two same-size images, in 8-bit levels."""
    return int(np.abs(pixels(a) - pixels(b)).max())


def make_images(folder: Path, count: int = 4, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    """Smooth random colour images (gradients + blobs), so SR has something learnable."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for i in range(count):
        a, b, c = rng.uniform(1, 6, 3)
        img = np.stack([np.sin(a * xx + i), np.cos(b * yy), np.sin(c * (xx + yy))], -1)
        Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_images(tmp_path / "images")


@pytest.fixture(autouse=True)
def _reset_accelerate_state():
    """accelerate keeps process-wide singletons; tests that build several engines need them fresh."""
    yield
    try:
        from accelerate.state import AcceleratorState, GradientState, PartialState

        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        PartialState._reset_state()
    except Exception:  # accelerate not imported by this test
        pass


def make_sr_benchmark(folder: Path, scale: int = 4, count: int = 2) -> Path:
    """A Set5-shaped folder (HR/, LR_bicubic/X<scale>/) from synthetic images."""
    make_images(folder / "HR", count=count, size=(52, 66), seed=1)
    (folder / "LR_bicubic" / f"X{scale}").mkdir(parents=True, exist_ok=True)
    for hr_file in sorted((folder / "HR").glob("*.png")):
        hr = Image.open(hr_file)
        hr = hr.crop((0, 0, hr.width // scale * scale, hr.height // scale * scale))
        hr.resize((hr.width // scale, hr.height // scale), Image.Resampling.BICUBIC).save(
            folder / "LR_bicubic" / f"X{scale}" / hr_file.name
        )
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def save_tiny_sr_model(folder: Path) -> str:
    """A real SuperResolutionPipeline folder with a toy x4 generator (seeded)."""
    import torch

    from gan_models import SRVGGNetCompact, SuperResolutionPipeline

    torch.manual_seed(0)
    SuperResolutionPipeline(upscaler=SRVGGNetCompact(num_feat=8, num_conv=2, upscale=4)).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return save_tiny_sr_model(tmp_path_factory.mktemp("tiny-sr"))


def save_tiny_faces_model(folder: Path) -> str:
    """A real FaceGANPipeline folder with a toy 16 px StyleGAN2 (seeded), fp16 on disk like the bundled one.

    Load it with ``FaceGANPipeline.from_pretrained(path)`` (fp16; the CPU computes in fp32) or with
    ``dtype=torch.float32``.
    """
    import torch

    from gan_models import FaceGANPipeline, StyleGAN2Generator

    torch.manual_seed(0)
    generator = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
    FaceGANPipeline(stylegan=generator.half()).save_pretrained(folder)  # .half(): no diffusers dtype warning
    return str(folder)


@pytest.fixture(scope="session")
def faces_model_dir(tmp_path_factory) -> str:
    """Path (str) of a tiny saved FaceGANPipeline: 16 px, style_dim 16, 2 mapping layers, widths 8-16."""
    return save_tiny_faces_model(tmp_path_factory.mktemp("tiny-faces"))


@pytest.fixture(scope="module")
def hub_url():
    """The whole hub (app.py) served on a free local port for the module's tests."""
    from app import build_hub

    hub = build_hub()
    _, url, _ = hub.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield url
    hub.close()


def save_tiny_translation_model(
    folder: Path,
    ngf: int = 4,
    n_blocks: int = 1,
    domain_a: str = "real face",
    domain_b: str = "anime face",
    train_size: int = 32,
) -> str:
    """A real CycleGANPipeline folder with two toy ResNet generators (seeded), fp16 on disk like the bundled one.

    Load it with ``CycleGANPipeline.from_pretrained(path)`` (the CPU computes in fp32) or with
    ``dtype=torch.float32``.
    """
    import torch

    from gan_models import CycleGANPipeline, ResnetGenerator

    torch.manual_seed(0)
    a_to_b = ResnetGenerator(ngf=ngf, n_blocks=n_blocks).half()  # .half(): no diffusers dtype warning
    b_to_a = ResnetGenerator(ngf=ngf, n_blocks=n_blocks).half()
    CycleGANPipeline(a_to_b, b_to_a, domain_a=domain_a, domain_b=domain_b, train_size=train_size).save_pretrained(
        folder
    )
    return str(folder)


@pytest.fixture(scope="session")
def translation_model_dir(tmp_path_factory) -> str:
    """Path (str) of a tiny saved CycleGANPipeline: both directions, ngf 4, 1 block, "real face" <-> "anime face", 32 px."""
    return save_tiny_translation_model(tmp_path_factory.mktemp("tiny-translation"))


@pytest.fixture(scope="module")
def client(hub_url):
    """A gradio_client user of the module's hub server (the test_app_* files ask the hub's endpoints)."""
    from gradio_client import Client

    return Client(hub_url, verbose=False)


def build_space_without_loading(family: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[str]]:
    """Build ``spaces/<family>`` alone, as its app.py does, failing the test if building loads a model.

    Returns the Space's ui module and its public endpoint names (private events, such as the
    examples' loaders, are not listed: they are not part of the API).
    """
    from app import load_family_ui

    ui = load_family_ui(family)

    def no_loading(*args, **kwargs):
        raise AssertionError("building the UI must not load a model")

    monkeypatch.setattr(ui, "load_pipeline", no_loading)
    demo = ui.build()
    return ui, [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]


def truncated_png() -> bytes:
    """The first half of a PNG file: a real PNG header whose pixel data stops short."""
    buf = io.BytesIO()
    Image.effect_noise((32, 32), 64).save(buf, "PNG")  # noise: the pixel data does not compress away
    return buf.getvalue()[: buf.tell() // 2]


# uploads every image endpoint must refuse with a clear message: (file content, what the message says)
UNREADABLE_UPLOADS = pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not an image", "is not a readable image"),
        (b"", "is empty (0 bytes)"),
        (truncated_png(), "is corrupt or truncated"),
    ],
    ids=["corrupt", "zero-bytes", "truncated-png"],
)


def save_tiny_text2image_model(folder: Path) -> str:
    """A real TextToImageGANPipeline folder with a toy 8 px generator (seeded), fp16 on disk like the bundled one.

    text_dim is the packaged all-MiniLM-L6-v2's 384, so the pipeline uses the real (offline) text
    encoder. Load it with ``TextToImageGANPipeline.from_pretrained(path)`` (the CPU computes in fp32).
    """
    import torch

    from gan_models import TextToImageGANPipeline, TextToImageGenerator

    torch.manual_seed(0)
    generator = TextToImageGenerator(size=8, z_dim=8, style_dim=16, n_mlp=2, channel_base=64, channel_max=16)
    TextToImageGANPipeline(generator=generator.half()).save_pretrained(folder)  # .half(): no diffusers dtype warning
    return str(folder)


@pytest.fixture(scope="session")
def text2image_model_dir(tmp_path_factory) -> str:
    """Path (str) of a tiny saved TextToImageGANPipeline: 8 px, z 8, style_dim 16, 2 mapping layers, widths 16."""
    return save_tiny_text2image_model(tmp_path_factory.mktemp("tiny-text2image"))
