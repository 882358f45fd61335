"""Faces Space: the UI and its event handlers. The model code lives in ``gan_models``.

``build()`` returns the whole Space as a ``gr.Blocks``; the hub (``app.py`` at the repository
root) calls ``render()`` inside a tab instead, and the named endpoints keep their names. Nothing is
loaded while the UI is built: the model named in the request is loaded (and cached) on first use,
so the hub starts even before ``checkpoints/faces-celeba64`` exists, and tests pass a tiny model.

API (``gradio_client``); every argument is optional (the UI's defaults), ``model`` last::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    gallery, status = client.predict(42, 4, 0.7, "faces-celeba64", api_name="/generate_faces")
    gif, downloads, status = client.predict(1, 2, 16, 0.7, "faces-celeba64", api_name="/interpolate_faces")
    grid, status = client.predict("1, 2, 3", "4, 5", "coarse", 0.7, "faces-celeba64", api_name="/style_mix_faces")
"""

from __future__ import annotations

import re
from typing import Any

import gradio as gr
from PIL import Image

from gan_models import FaceGANPipeline, save_animation
from gan_models.checks import (
    NUM_FRAMES,
    NUM_IMAGES,
    SEED,
    STYLE_MIX_SEEDS,
    TRUNCATION,
    Range,
    clamped_count,
    number_in_range,
    seed_or_random,
)
from gan_models.pipelines.faces import STYLE_MIX_LEVELS
from gan_models.serving import download_folder, gpu, load_pipeline, model_label

__all__ = [
    "BUNDLED_CHECKPOINTS",
    "ENDPOINTS",
    "TAB_LABEL",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "build",
    "generate_faces",
    "interpolate_faces",
    "render",
    "style_mix_faces",
]

# the Space's declaration, read by app.py (the tab) and spaces/deploy.py (what to upload)
TAB_LABEL = "Faces"
ENDPOINTS = ("generate_faces", "interpolate_faces", "style_mix_faces")
BUNDLED_CHECKPOINTS = ("faces-celeba64",)

BUNDLED_MODELS = list(BUNDLED_CHECKPOINTS)
DEFAULT_MODEL = "faces-celeba64"
# The library's ranges (gan_models.checks), capped lower per click (64 images, 240 frames, 16 seeds
# per axis in the library): one request must not hold a shared CPU Space for long. Seeds and the
# truncation take the library's full range; the sliders show the useful 0 to 1.5.
IMAGES = NUM_IMAGES.capped(16)  # 16 faces of 64 px take well under a second on a CPU and fill a 4x4 gallery
FRAMES = NUM_FRAMES.capped(96)  # 12 s at 8 fps
MIX_SEEDS = STYLE_MIX_SEEDS.capped(6)  # per axis: a 7x7 grid (sources on the edges) stays readable at 64 px per face
MAX_SEED = SEED.high
DEFAULT_TRUNCATION = 0.7  # the usual StyleGAN trade: clearly better faces, still varied
LEVELS = list(STYLE_MIX_LEVELS)
FPS = 8

HEADER = """
# Faces (StyleGAN2)
Every seed is a face that does not exist. **Generate** makes faces from consecutive seeds,
**Interpolate** morphs one seed into another, **Style mixing** takes the coarse (pose, face shape),
middle (features, hair) or fine (colours, skin) styles of the column faces into the row faces.
The truncation ψ pulls every face towards the average one: lower is cleaner but more alike.
Any `owner/name` Hub repository or local folder saved by `FaceGANPipeline` also works.
"""

DISCLOSURE = """
**AI-generated faces.** These people do not exist; do not present the images as photographs of
real people. Each PNG carries `ai_generated=true`, `DigitalSourceType=trainedAlgorithmicMedia`, the
model name and the seed as text metadata. Code under the MIT licence. The bundled model
`faces-celeba64` was trained on CelebA, whose terms allow **non-commercial research use only**, so
the model is offered for non-commercial research only. CelebA is mostly young, light-skinned
celebrities, and the faces reflect that.
"""


# --------------------------------------------------------------------------------------------
# input checks: API callers skip the sliders (and run with preprocess=False), so check again
# --------------------------------------------------------------------------------------------


def _check_seed(value: Any, name: str = "seed") -> int:
    return seed_or_random(value, name, gr.Error)


def _clamp_count(value: Any, allowed: Range, default: int, notes: list[str]) -> int:
    return clamped_count(value, allowed, default, notes, gr.Error, gr.Warning)


def _check_truncation(value: Any) -> float:
    return number_in_range(value, TRUNCATION, DEFAULT_TRUNCATION, gr.Error)


def _seed_list(value: Any, name: str, notes: list[str]) -> list[int]:
    """Seeds typed as "1, 2, 3" (commas, spaces or semicolons), at most MIX_SEEDS.high (extra ones dropped, visibly)."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,;\s]+", str(value or "").strip())
    items = [item for item in items if str(item).strip()]
    if not items:
        raise gr.Error(f"Enter at least one of the {name}, e.g. 1, 2, 3.")
    seeds = [_check_seed(item, f"each of the {name}") for item in items]
    if len(seeds) > MIX_SEEDS.high:
        note = f"{len(seeds)} {name} given: used the first {MIX_SEEDS.high}."
        gr.Warning(note)
        notes.append(note)
    return seeds[: MIX_SEEDS.high]


def _check_level(value: Any) -> str:
    level = str(value or "coarse").strip().lower()
    if level not in LEVELS:
        raise gr.Error(f"level must be one of {', '.join(LEVELS)}, got {value!r}.")
    return level


def _model_name(model: Any) -> str:
    return str(model or "").strip() or DEFAULT_MODEL


def _load(model: str) -> FaceGANPipeline:
    """The cached pipeline; unknown names become a gr.Error. On ZeroGPU this runs outside the GPU slot."""
    try:
        return load_pipeline(model, FaceGANPipeline)
    except ValueError as err:  # every gan_models input error is a ValueError with a clear message
        raise gr.Error(str(err)) from err


def _status(text: str, notes: list[str]) -> str:
    return " ".join([text, *(f"⚠️ {note}" for note in notes)])


# --------------------------------------------------------------------------------------------
# the steps that need the accelerator (on ZeroGPU a GPU is attached just for these calls)
# --------------------------------------------------------------------------------------------


@gpu
def _run_generate(model: str, seed: int, num_images: int, truncation: float):
    return load_pipeline(model, FaceGANPipeline)(num_images=num_images, seed=seed, truncation=truncation)


@gpu
def _run_interpolate(model: str, seed_a: int, seed_b: int, num_frames: int, truncation: float) -> list[Image.Image]:
    return load_pipeline(model, FaceGANPipeline).interpolate(
        seed_a, seed_b, num_frames=num_frames, truncation=truncation
    )


@gpu
def _run_style_mix(model: str, rows: list[int], cols: list[int], level: str, truncation: float) -> Image.Image:
    return load_pipeline(model, FaceGANPipeline).style_mix(rows, cols, level=level, truncation=truncation)


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------


def generate_faces(
    seed: int | None, num_images: int | None, truncation: float | None, model: str | None
) -> tuple[list[tuple[Image.Image, str]], str]:
    """Faces from seeds ``seed``, ``seed + 1``, ...; the ``/generate_faces`` endpoint.

    Args:
        seed: 0 to 2**32 - 1 (empty: a random seed).
        num_images: 1 to 16; other counts are clamped, with a warning.
        truncation: ψ from -1 to 2 (0.7 is the default; 1 is no truncation).
        model: a bundled name, a Hub repo id ``owner/name`` or a local pipeline folder (empty: the default).

    Returns:
        ``(gallery, status)``: ``(PNG, "seed N")`` pairs (the PNGs carry the AI-generated metadata)
        and one line saying what was made and what was clamped.

    Raises:
        gr.Error: a seed that is not a whole number in range, a bad truncation, an unknown model.
    """
    # 1. check every input at the door, before the model runs
    notes: list[str] = []
    seed = _check_seed(seed)
    num_images = _clamp_count(num_images, IMAGES, 4, notes)
    truncation = _check_truncation(truncation)
    model = _model_name(model)
    _load(model)

    # 2. the network; its own checks (e.g. seed + num_images - 1 past 2**32 - 1) come back as gr.Error
    try:
        out = _run_generate(model, seed, num_images, truncation)
    except ValueError as err:
        raise gr.Error(str(err)) from err

    # 3. the faces already carry the AI-generated label (model, seed, ψ) in img.info; the
    #    gallery's format="png" writes it as text chunks
    gallery = [(img, f"seed {s}") for img, s in zip(out.images, out.seeds)]
    seeds = f"seed {out.seeds[0]}" if len(out.seeds) == 1 else f"seeds {out.seeds[0]} to {out.seeds[-1]}"
    text = f"{len(gallery)} faces from {seeds}, ψ = {truncation:g}, model {model_label(model)}."
    return gallery, _status(text, notes)


def interpolate_faces(
    seed_a: int | None,
    seed_b: int | None,
    num_frames: int | None,
    truncation: float | None,
    model: str | None,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio finds the tracker by this default)
) -> tuple[str, list[str], str]:
    """A looping animation from the face of ``seed_a`` to that of ``seed_b``; the ``/interpolate_faces`` endpoint.

    Args:
        seed_a, seed_b: 0 to 2**32 - 1 (empty: random).
        num_frames: 2 to 96, both ends included; other counts are clamped, with a warning.
        truncation: ψ from -1 to 2.
        model: as for ``/generate_faces``.

    Returns:
        ``(gif, files, status)``: the GIF to show, every file written (the GIF, and an MP4 when
        imageio-ffmpeg is installed) to download, and a status line.
    """
    notes: list[str] = []
    seed_a, seed_b = _check_seed(seed_a, "seed_a"), _check_seed(seed_b, "seed_b")
    num_frames = _clamp_count(num_frames, FRAMES, 16, notes)
    truncation = _check_truncation(truncation)
    model = _model_name(model)
    _load(model)
    try:
        frames = _run_interpolate(model, seed_a, seed_b, num_frames, truncation)
    except ValueError as err:
        raise gr.Error(str(err)) from err

    # encoding needs no GPU, so it runs after the GPU slot is released; the GIF always works
    # (Pillow), the MP4 (smaller, for video players) only where imageio-ffmpeg is installed, and
    # as an extra it must never cost the user the GIF
    stem = download_folder("faces") / f"faces_{seed_a}_to_{seed_b}"
    files = [str(save_animation(frames, stem.with_suffix(".gif"), fps=FPS))]
    try:
        files.append(str(save_animation(frames, stem.with_suffix(".mp4"), fps=FPS)))
    except (ImportError, OSError, RuntimeError, ValueError):
        stem.with_suffix(".mp4").unlink(missing_ok=True)  # no half-written file in the download list
    label = model_label(model)
    text = f"{len(frames)} frames from seed {seed_a} to seed {seed_b} at {FPS} fps, ψ = {truncation:g}, model {label}."
    return files[0], files, _status(text, notes)


def style_mix_faces(
    row_seeds: str | None, col_seeds: str | None, level: str | None, truncation: float | None, model: str | None
) -> tuple[Image.Image, str]:
    """A grid: row faces with the ``level`` styles of the column faces; the ``/style_mix_faces`` endpoint.

    Args:
        row_seeds, col_seeds: seeds as text, "1, 2, 3" (at most 6 each; extra ones are dropped, with a warning).
        level: "coarse" (pose, face shape), "middle" (features, hair) or "fine" (colours, skin).
        truncation: ψ from -1 to 2.
        model: as for ``/generate_faces``.

    Returns:
        ``(grid, status)``: the grid as a PNG with the AI-generated metadata, and a status line.
    """
    notes: list[str] = []
    rows, cols = _seed_list(row_seeds, "row seeds", notes), _seed_list(col_seeds, "column seeds", notes)
    level = _check_level(level)
    truncation = _check_truncation(truncation)
    model = _model_name(model)
    _load(model)
    try:
        grid = _run_style_mix(model, rows, cols, level, truncation)
    except ValueError as err:
        raise gr.Error(str(err)) from err
    # the grid carries the AI-generated label (model, seeds, level, ψ); format="png" keeps it
    text = f"Rows {rows} take the {level} styles of columns {cols}, ψ = {truncation:g}, model {model_label(model)}."
    return grid, _status(text, notes)


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------

# Picks a seed in the browser: no server round trip and no API endpoint for a random number.
_RANDOM_SEED_JS = f"() => Math.floor(Math.random() * {MAX_SEED + 1})"


def _truncation_slider(elem_id: str) -> gr.Slider:
    return gr.Slider(
        0.0,
        1.5,
        value=DEFAULT_TRUNCATION,
        step=0.05,
        label="Truncation ψ",
        info="Lower: cleaner, more average faces. 1: no truncation.",
        elem_id=elem_id,
    )


def _seed_box(label: str, value: int, elem_id: str) -> gr.Number:
    return gr.Number(value=value, label=label, precision=0, minimum=0, maximum=MAX_SEED, elem_id=elem_id)


# gr.Image shows a picture at most at its own size (object-fit: scale-down), so a 64 px face or
# GIF would be a stamp; "contain" lets the browser enlarge it to the component's height instead.
# The downloads keep the model's resolution. A <style> in gr.HTML works in the hub and alone alike
# (gradio 6 takes css= only at launch(), which the hub owns).
_CSS = """
<style>
#faces-animation img, #faces-grid img { object-fit: contain; }
</style>
"""


def _generate_tab(model: gr.Dropdown) -> None:
    """The Generate sub-tab and its ``/generate_faces`` event (and the 🎲 button's private one)."""
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                seed = _seed_box("Seed", 42, "faces-seed")
                dice = gr.Button("🎲", scale=0, min_width=60, elem_id="faces-random-seed")
            num_images = gr.Slider(IMAGES.low, IMAGES.high, value=4, step=1, label="Faces", elem_id="faces-num-images")
            truncation = _truncation_slider("faces-truncation")
            run = gr.Button("Generate", variant="primary", elem_id="faces-run")
        with gr.Column(scale=2):
            # PNG, not gradio's default WebP: WebP would drop the AI-generated text metadata
            gallery = gr.Gallery(label="Faces", format="png", columns=4, object_fit="contain", elem_id="faces-gallery")
            status = gr.Markdown(elem_id="faces-status")
    gr.Examples(
        examples=[[42, 4, 0.7], [2024, 8, 0.5], [7, 1, 1.0]], inputs=[seed, num_images, truncation], label="Examples"
    )
    inputs = [seed, num_images, truncation, model]
    run.click(generate_faces, inputs=inputs, outputs=[gallery, status], api_name="generate_faces", preprocess=False)
    # 🎲: a new seed, then the faces for it (what people press it for); the second step is the
    # same handler as Generate, kept out of the API so /generate_faces stays the one way in
    dice.click(None, js=_RANDOM_SEED_JS, outputs=[seed]).then(
        generate_faces, inputs=inputs, outputs=[gallery, status], preprocess=False, api_visibility="private"
    )


def _interpolate_tab(model: gr.Dropdown) -> None:
    """The Interpolate sub-tab and its ``/interpolate_faces`` event."""
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                seed_a = _seed_box("From seed", 1, "faces-seed-a")
                seed_b = _seed_box("To seed", 2, "faces-seed-b")
            num_frames = gr.Slider(FRAMES.low, FRAMES.high, value=16, step=1, label="Frames", elem_id="faces-frames")
            truncation = _truncation_slider("faces-interp-truncation")
            run = gr.Button("Interpolate", variant="primary", elem_id="faces-interp-run")
        with gr.Column(scale=2):
            # a filepath keeps the GIF as written (animated); gr.Video would need an MP4 and ffmpeg
            animation = gr.Image(
                label="Animation (GIF)", type="filepath", interactive=False, height=320, elem_id="faces-animation"
            )
            files = gr.File(label="Download", file_count="multiple", elem_id="faces-animation-files")
            status = gr.Markdown(elem_id="faces-interp-status")
    gr.Examples(
        examples=[[1, 2, 16, 0.7], [42, 2024, 32, 0.5]],
        inputs=[seed_a, seed_b, num_frames, truncation],
        label="Examples",
    )
    run.click(
        interpolate_faces,
        inputs=[seed_a, seed_b, num_frames, truncation, model],
        outputs=[animation, files, status],
        api_name="interpolate_faces",
        preprocess=False,
    )


def _style_mix_tab(model: gr.Dropdown) -> None:
    """The Style mixing sub-tab and its ``/style_mix_faces`` event."""
    with gr.Row():
        with gr.Column(scale=1):
            row_seeds = gr.Textbox(
                value="1, 2, 3", label="Row seeds", info="Faces that keep the rest.", elem_id="faces-row-seeds"
            )
            col_seeds = gr.Textbox(
                value="10, 11, 12",
                label="Column seeds",
                info="Faces that give the chosen styles.",
                elem_id="faces-col-seeds",
            )
            level = gr.Radio(
                LEVELS,
                value="coarse",
                label="Styles taken from the columns",
                info="coarse: pose, face shape · middle: features, hair · fine: colours, skin",
                elem_id="faces-level",
            )
            truncation = _truncation_slider("faces-mix-truncation")
            run = gr.Button("Mix", variant="primary", elem_id="faces-mix-run")
        with gr.Column(scale=2):
            grid = gr.Image(
                label="Style mixing grid",
                type="pil",
                format="png",
                interactive=False,
                height=480,
                elem_id="faces-grid",
            )
            status = gr.Markdown(elem_id="faces-mix-status")
    gr.Examples(
        examples=[["1, 2, 3", "10, 11, 12", "coarse"], ["4, 5", "20, 21, 22", "fine"]],
        inputs=[row_seeds, col_seeds, level],
        label="Examples",
    )
    run.click(
        style_mix_faces,
        inputs=[row_seeds, col_seeds, level, truncation, model],
        outputs=[grid, status],
        api_name="style_mix_faces",
        preprocess=False,
    )


def render() -> None:
    """Create the Space's components and its three named events inside the open gradio context.

    The hub calls this inside a ``gr.Tab`` (see the super-resolution ``render()`` for why not
    ``build()``). Every event runs with ``preprocess=False`` so that out-of-range or non-numeric
    API inputs reach our checks, which clamp or explain, instead of gradio's generic bounds error.
    """
    gr.HTML(_CSS, padding=False)
    gr.Markdown(HEADER)
    model = gr.Dropdown(
        choices=BUNDLED_MODELS,
        value=DEFAULT_MODEL,
        allow_custom_value=True,  # any Hub id or local pipeline folder
        label="Model",
        info="A bundled model, a Hub repo id (owner/name) or a local folder.",
        elem_id="faces-model",
    )
    with gr.Tabs():
        with gr.Tab("Generate"):
            _generate_tab(model)
        with gr.Tab("Interpolate"):
            _interpolate_tab(model)
        with gr.Tab("Style mixing"):
            _style_mix_tab(model)
    gr.Markdown(DISCLOSURE)


def build() -> gr.Blocks:
    """The faces Space as a standalone ``gr.Blocks``; ``build().launch()`` serves it."""
    with gr.Blocks(title="Faces (StyleGAN2) · GAN demo hub") as demo:
        render()
    demo.queue(default_concurrency_limit=1)  # one request at a time: the model is the bottleneck
    return demo
