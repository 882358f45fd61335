"""Translation Space (CycleGAN): the UI and its event handlers. The model code lives in ``gan_models``.

``build()`` returns the whole Space as a ``gr.Blocks``; the hub (``app.py`` at the repository
root) calls ``render()`` inside a tab instead, and the named endpoint ``/translate`` keeps its name.
Nothing is loaded while the UI is built: the model list is the bundled ``CycleGANPipeline``
folders found under ``checkpoints/`` (none at all is fine: type a Hub id or a folder), and the
model named in a request is loaded (and cached) on first use.

API (``gradio_client``); ``direction`` is ``"AtoB"`` or ``"BtoA"`` (empty: the model's first),
``model`` a bundled name, Hub id or folder, ``sharpen`` optional::

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    (before, after), png, status = client.predict(
        handle_file("face.jpg"), "AtoB", "face2anime", False, api_name="/translate"
    )
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import gradio as gr
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from PIL import Image

from gan_models import CycleGANPipeline
from gan_models.hub import CHECKPOINTS_DIR, bundled_models, resolve_model
from gan_models.imaging import load_image, merge_alpha, save_png, split_alpha
from gan_models.pipelines.translation import DIRECTIONS
from gan_models.checks import flag
from gan_models.serving import default_max_pixels, download_folder, gpu, load_pipeline, model_label

__all__ = [
    "BUNDLED_CHECKPOINTS",
    "ENDPOINTS",
    "TAB_LABEL",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "SHARPEN_MODEL",
    "build",
    "bundled_translation_models",
    "render",
    "translate",
]

PIPELINE_CLASS = CycleGANPipeline.__name__
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
# the super-resolution model behind "sharpen large results"; read per request (tests point it elsewhere)
SHARPEN_MODEL = "superres-x4-gan"
# the Space's declaration, read by app.py (the tab) and spaces/deploy.py (what to upload)
TAB_LABEL = "Translation"
ENDPOINTS = ("translate",)
BUNDLED_CHECKPOINTS = ("face2anime", SHARPEN_MODEL)  # the SR model backs "sharpen large results"
# metadata of the pipeline's result that the downloaded PNG repeats (next to the AI-generated fields)
_PNG_FIELDS = ("direction", "translation", "resolution", "upscaler")

HEADER = """
# Image-to-image translation (CycleGAN)
Upload a picture of one domain and get the same picture in the other: the bundled *face2anime*
model turns a real face into an anime face and back. Drag the slider to compare. CycleGAN learned
from unpaired pictures at 64 px, so the result keeps the pose and layout, not the identity; large
pictures are translated at that scale and resized back (tick *sharpen* to resize them with the
super-resolution model instead). Any `owner/name` Hub repository or local folder saved by
`CycleGANPipeline` also works.
"""

DISCLOSURE = """
**AI-generated output.** The result is made by a neural network; do not present it as a photo or
a drawing by a person. Only upload pictures of people who agreed to it. The downloaded PNG carries
`ai_generated=true`, `DigitalSourceType=trainedAlgorithmicMedia`, the model name and the direction
as text metadata. Code under the MIT licence. The bundled model `face2anime` was trained on CelebA
faces (terms: **non-commercial research use only**) and crawled anime faces of unstated licence,
so it is offered for non-commercial research only; CelebA is mostly young, light-skinned
celebrities, and the translations reflect that.
"""


# --------------------------------------------------------------------------------------------
# the models on offer and what each translates, read from model_index.json (no weights loaded)
# --------------------------------------------------------------------------------------------


def _read_index(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def bundled_translation_models(checkpoints_dir: str | Path | None = None) -> list[str]:
    """The bundled checkpoints that hold a ``CycleGANPipeline`` (maybe none), sorted by name."""
    root = Path(checkpoints_dir) if checkpoints_dir is not None else CHECKPOINTS_DIR
    return [
        name for name in bundled_models(root) if (_read_index(root / name) or {}).get("_class_name") == PIPELINE_CLASS
    ]


BUNDLED_MODELS = bundled_translation_models()
# face2anime when it is there; else any bundled translator; else the name a trained face2anime
# will have, so an empty model box fails with "Unknown model 'face2anime' ... Bundled models: ..."
DEFAULT_MODEL = "face2anime" if "face2anime" in BUNDLED_MODELS or not BUNDLED_MODELS else BUNDLED_MODELS[0]


def _hub_index(repo_id: str) -> dict[str, Any] | None:
    """A Hub repo's model_index.json: one small file, not the weights; None when it cannot be had."""
    try:
        return _read_index(Path(hf_hub_download(repo_id, "model_index.json")).parent)
    # offline (LocalEntryNotFoundError), no such or a gated repo (HTTP errors): all OSErrors; no such
    # file; bad JSON. The labels are only cosmetic: the translate call reports the real problem
    except (OSError, ValueError, EntryNotFoundError):
        return None


def _model_facts(model: str | None) -> tuple[str, str, tuple[str, ...]] | None:
    """``(domain_a, domain_b, directions)`` of a model, from its model_index.json (no weights loaded).

    None when that file cannot be read or is not a CycleGAN pipeline's (a typo, offline): the
    dropdown then shows generic labels and the translate call gives the real answer.
    """
    try:
        location = resolve_model(_model_name(model))
    except ValueError:
        return None
    index = _read_index(Path(location)) if Path(location).is_dir() else _hub_index(location)
    if not index or index.get("_class_name") != PIPELINE_CLASS:
        return None
    present = tuple(d for d, key in zip(DIRECTIONS, ("a_to_b", "b_to_a")) if (index.get(key) or [None])[0])
    return str(index.get("domain_a", "A")), str(index.get("domain_b", "B")), present or DIRECTIONS


def _direction_choices(facts: tuple[str, str, tuple[str, ...]] | None) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, value)``: "real face → anime face" shown, "AtoB" sent."""
    domain_a, domain_b, present = facts or ("A", "B", DIRECTIONS)
    labels = {"AtoB": f"{domain_a} → {domain_b}", "BtoA": f"{domain_b} → {domain_a}"}
    return [(labels[d], d) for d in DIRECTIONS if d in present]


def _update_directions(model: str | None, direction: str | None) -> gr.Dropdown:
    """The direction dropdown for a newly picked model; keeps the direction when the model has it."""
    choices = _direction_choices(_model_facts(model))
    values = [value for _, value in choices]
    return gr.Dropdown(choices=choices, value=direction if direction in values else values[0])


# --------------------------------------------------------------------------------------------
# input checks: API callers skip the widgets (and the event runs with preprocess=False)
# --------------------------------------------------------------------------------------------


def _upload_path(image: str | dict[str, Any] | None) -> str | None:
    """The uploaded file's path: gradio's payload as it is (see the super-resolution Space for why)."""
    if isinstance(image, dict):
        return image.get("path")
    return image


def _model_name(model: Any) -> str:
    return str(model or "").strip() or DEFAULT_MODEL


def _check_direction(direction: Any, pipe: CycleGANPipeline, model: str) -> str:
    """``"AtoB"`` or ``"BtoA"`` (any case; empty: the model's first), and one the model has."""
    text = str(direction or "").strip()
    if not text:
        return pipe.directions[0]
    matches = [d for d in DIRECTIONS if d.lower() == text.lower()]
    labels = {d: "{} → {}".format(*pipe.domains(d)) for d in DIRECTIONS}
    if not matches:
        allowed = " or ".join(f"{d} ({labels[d]})" for d in DIRECTIONS)
        raise gr.Error(f"direction must be {allowed}, got {direction!r}.")
    if matches[0] not in pipe.directions:
        only = pipe.directions[0]
        raise gr.Error(
            f"The model {model_label(model)} translates only {labels[only]} ({only}); it has no "
            f"{matches[0]} generator. Pick {only}, or a model with both directions."
        )
    return matches[0]


def _load(model: str) -> CycleGANPipeline:
    """The cached pipeline; unknown names become a gr.Error. On ZeroGPU this runs outside the GPU slot."""
    try:
        return load_pipeline(model, CycleGANPipeline)
    except ValueError as err:  # every gan_models input error is a ValueError with a clear message
        raise gr.Error(str(err)) from err


def _sharpen_model(notes: list[str]) -> str | None:
    """The super-resolution model to sharpen with, loaded now (outside the GPU slot); None if unavailable."""
    try:
        load_pipeline(SHARPEN_MODEL)
    except ValueError:
        note = f"Sharpening needs the super-resolution model {SHARPEN_MODEL}, which is not installed: resized plainly."
        gr.Warning(note)
        notes.append(note)
        return None
    return SHARPEN_MODEL


# --------------------------------------------------------------------------------------------
# handler
# --------------------------------------------------------------------------------------------


@gpu
def _run_pipeline(image: Image.Image, direction: str, model: str, sharpen_model: str | None) -> Image.Image:
    """The only step that needs the accelerator (on ZeroGPU a GPU is attached just for this call)."""
    pipe = load_pipeline(model, CycleGANPipeline)  # cache hits: ``translate`` loaded both before
    upscaler = load_pipeline(sharpen_model) if sharpen_model else None
    return pipe(image=image, direction=direction, upscaler=upscaler).images[0]


def _download_file(result: Image.Image, upload: str, model: str, direction: str) -> Path:
    """Write the PNG offered for download, with the AI-generated metadata and the translation's details."""
    folder = download_folder("translate")
    extra = {key: result.info[key] for key in _PNG_FIELDS if isinstance(result.info.get(key), str)}
    return save_png(result, folder / f"{Path(upload).stem or 'image'}_{direction}.png", model_label(model), **extra)


def translate(
    image: str | dict[str, Any] | None,
    direction: str | None,
    model: str | None,
    sharpen: bool | None = False,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio finds the tracker by this default)
) -> tuple[tuple[Image.Image, Image.Image], str, str]:
    """Translate one uploaded image to the other domain; the ``/translate`` endpoint.

    Args:
        image: the upload (a file path, or gradio's file payload).
        direction: ``"AtoB"`` (e.g. real face → anime face) or ``"BtoA"``; empty: the model's first.
        model: a bundled name, a Hub repo id ``owner/name`` or a local pipeline folder (empty: the default).
        sharpen: bring large results back to size with the super-resolution model instead of
            plain resizing (pictures whose shorter side is over the model's training size only).
        progress: filled by gradio; follows the pipeline's progress bar.

    Returns:
        ``((before, after), png_path, status)``: the input and the result (same size) for the
        slider, the PNG to download (with the AI-generated metadata) and one status line.

    Raises:
        gr.Error: no image, an unreadable or oversized image, an unknown model, a direction the
            model does not have, with a message that says what to do.
    """
    # 1. check every input at the door, before the model runs
    notes: list[str] = []
    upload = _upload_path(image)
    if not upload:
        raise gr.Error("Upload an image first.")
    model = _model_name(model)
    sharpen = flag(sharpen, "sharpen", gr.Error)
    try:
        source = load_image(upload, max_pixels=default_max_pixels())
    except ValueError as err:  # InvalidImageError / ImageTooLargeError, with what to do
        raise gr.Error(str(err)) from err
    pipe = _load(model)
    direction = _check_direction(direction, pipe, model)
    sharpen_model = _sharpen_model(notes) if sharpen else None

    # 2. the network (its own checks, e.g. a very long thin image, come back as gr.Error)
    try:
        result = _run_pipeline(source, direction, model, sharpen_model)
    except ValueError as err:
        raise gr.Error(str(err)) from err

    # 3. the slider shows the input as the pipeline saw it (RGB or RGBA) beside the result; the
    #    result carries the AI-generated label in img.info, which the slider's format="png" keeps
    before = merge_alpha(*split_alpha(source))
    png = _download_file(result, upload, model, direction)
    source_name, target_name = pipe.domains(direction)
    shrunk = re.search(r"\((\d+x\d+)\)", str(result.info.get("resolution", "")))  # "native (85x64)"
    how = f", translated at {shrunk[1]} and resized back" if shrunk else ""
    if result.info.get("upscaler"):
        how += f" with {result.info['upscaler']}"
    elif sharpen and not shrunk and not notes:
        how += " (small enough: nothing to sharpen)"
    text = f"{source_name} → {target_name}, {result.width}×{result.height}{how}, model {model_label(model)}."
    return (before, result), str(png), " ".join([text, *(f"⚠️ {note}" for note in notes)])


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def _example_images() -> list[list[str]]:
    """(image, direction) pairs: two faces to turn into anime, one anime face to turn real.

    All three are made by this project's own models (faces-celeba64, then face2anime for the anime
    one), not copied from a dataset; see README.md.
    """
    pairs = [
        ("generated_face_seed101.png", "AtoB"),
        ("generated_face_seed107.png", "AtoB"),
        ("generated_anime_face_seed104.png", "BtoA"),
    ]
    return [[str(EXAMPLES_DIR / name), direction] for name, direction in pairs if (EXAMPLES_DIR / name).is_file()]


# The faces are 64 px: shown at their own size (gradio's scale-down) they would be stamps;
# "contain" lets the browser enlarge them to the component's height. The downloads keep the size.
_CSS = """
<style>
#translate-image img { object-fit: contain; }
</style>
"""


def render() -> None:
    """Create the Space's components and its ``/translate`` event inside the open gradio context.

    The hub calls this inside a ``gr.Tab`` (see the super-resolution ``render()`` for why not
    ``build()``). The event runs with ``preprocess=False``: we decode and validate the upload
    ourselves, and API callers' directions reach our checks, which explain, instead of gradio's
    generic "not in the list of choices".
    """
    gr.HTML(_CSS, padding=False)
    gr.Markdown(HEADER)
    default = DEFAULT_MODEL if BUNDLED_MODELS else None  # an empty box, not a name that fails, when none is bundled
    choices = _direction_choices(_model_facts(default))
    with gr.Row():
        with gr.Column():
            image_in = gr.Image(
                label="Image to translate",
                type="filepath",
                sources=["upload", "clipboard"],
                height=320,
                elem_id="translate-image",
            )
            direction = gr.Dropdown(
                choices=choices, value=choices[0][1], label="Direction", elem_id="translate-direction"
            )
            model = gr.Dropdown(
                choices=BUNDLED_MODELS,
                value=default,
                allow_custom_value=True,  # any Hub id or local pipeline folder
                label="Model",
                info="A bundled model, a Hub repo id (owner/name) or a local folder."
                if BUNDLED_MODELS
                else "No bundled model yet: type a Hub repo id (owner/name) or a local folder.",
                elem_id="translate-model",
            )
            sharpen = gr.Checkbox(
                value=False,
                label="Sharpen large results with super-resolution",
                info=f"Pictures larger than the model's training size come back through {SHARPEN_MODEL} "
                "instead of plain resizing: crisper, but it invents detail too.",
                elem_id="translate-sharpen",
            )
            run = gr.Button("Translate", variant="primary", elem_id="translate-run")
        with gr.Column():
            # PNG, not gradio's default WebP: WebP would drop the AI-generated text metadata
            slider = gr.ImageSlider(
                label="Before / after",
                format="png",
                type="pil",
                interactive=False,
                elem_id="translate-slider",
            )
            download = gr.File(label="Download PNG (with AI-generated metadata)", elem_id="translate-download")
            status = gr.Markdown(elem_id="translate-status")
    examples = _example_images()
    if examples:
        gr.Examples(examples=examples, inputs=[image_in, direction], label="Examples")
    gr.Markdown(DISCLOSURE)

    run.click(
        translate,
        inputs=[image_in, direction, model, sharpen],
        outputs=[slider, download, status],
        api_name="translate",
        preprocess=False,  # see _upload_path and the docstring
    )
    # a new model: its own domain names (and only the directions it has) in the direction box
    model.change(
        _update_directions, inputs=[model, direction], outputs=[direction], api_visibility="private", queue=False
    )


def build() -> gr.Blocks:
    """The translation Space as a standalone ``gr.Blocks``; ``build().launch()`` serves it."""
    with gr.Blocks(title="Image-to-image translation (CycleGAN) · GAN demo hub") as demo:
        render()
    demo.queue(default_concurrency_limit=1)  # one image at a time: the model is the bottleneck
    return demo
