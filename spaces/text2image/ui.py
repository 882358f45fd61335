"""Text-to-image Space: the UI and its event handler. The model code lives in ``gan_models``.

``build()`` returns the whole Space as a ``gr.Blocks``; the hub (``app.py`` at the repository
root) calls ``render()`` inside a tab instead, and the named endpoint ``/text_to_image`` keeps its
name. Nothing is loaded while the UI is built: the model named in the request (and the text
encoder it names) is loaded and cached on first use, so the hub starts even before
``checkpoints/anime-text2image`` exists, and tests pass a tiny model.

API (``gradio_client``); only ``prompt`` matters, every other input is optional (the UI's
defaults), ``upscale`` last::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    gallery, status = client.predict(
        "a girl with silver hair and red eyes", 42, 4, 0.7, "anime-text2image", False, api_name="/text_to_image"
    )
"""

from __future__ import annotations

import re
from typing import Any

import gradio as gr
from PIL import Image

from gan_models import TextToImageGANPipeline
from gan_models.checks import NUM_IMAGES, SEED, TRUNCATION, clamped_count, flag, number_in_range, seed_or_random
from gan_models.serving import gpu, load_pipeline, model_label
from gan_models.text_encoding import MAX_PROMPT_CHARS, check_prompt

__all__ = [
    "BUNDLED_CHECKPOINTS",
    "ENDPOINTS",
    "TAB_LABEL",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "EXAMPLE_PROMPTS",
    "UPSCALE_MODEL",
    "build",
    "render",
    "text_to_image",
]

BUNDLED_MODELS = ["anime-text2image"]
DEFAULT_MODEL = "anime-text2image"
# the super-resolution model behind "upscale ×4"; read per request (tests point it elsewhere)
UPSCALE_MODEL = "superres-x4-gan"
# the Space's declaration, read by app.py (the tab) and spaces/deploy.py (what to upload)
TAB_LABEL = "Text to image"
ENDPOINTS = ("text_to_image",)
BUNDLED_CHECKPOINTS = (*BUNDLED_MODELS, UPSCALE_MODEL)  # the SR model backs "upscale ×4"
# The library's ranges (gan_models.checks); images capped lower per click than the library's 64: one
# request must not hold a shared CPU Space for long. The truncation slider shows the useful 0 to 1.5.
IMAGES = NUM_IMAGES.capped(16)  # fills a 4x4 gallery
DEFAULT_IMAGES = 4
MAX_SEED = SEED.high
DEFAULT_TRUNCATION = 0.7  # the pipeline's default: typical faces that follow the prompt closely
# In users' own words, not the training tags: the encoder maps paraphrases close together. The
# colours are ones the bundled model saw (12 hair x 11 eye colours of anime_faces_tagged).
EXAMPLE_PROMPTS = [
    "a girl with silver hair and red eyes",
    "blonde hair, blue eyes",
    "pink-haired girl with green eyes",
    "she has black hair and purple eyes",
    "short orange hair and yellow eyes",
    "aqua hair, brown eyes",
]

HEADER = """
# Text to image (text-conditioned StyleGAN2)
Describe an anime face in your own words (hair and eye colours work best) and get one image per
seed: the same prompt and seed always give the same image, the next seed another take. The
truncation ψ pulls every image towards this prompt's average one: lower is cleaner and follows the
prompt more closely, but is less varied. Tick *upscale ×4* to enlarge the 64 px results with the
super-resolution model. Any `owner/name` Hub repository or local folder saved by
`TextToImageGANPipeline` also works.
"""

DISCLOSURE = """
**AI-generated images.** Made by a neural network from your text; do not present them as an
artist's drawing. Each PNG carries `ai_generated=true`, `DigitalSourceType=trainedAlgorithmicMedia`,
the model name, the prompt and the seed as text metadata. Code under the MIT licence. The bundled
model `anime-text2image` was trained on crawled anime faces whose licence is unstated, so it is
offered for non-commercial research only. It knows hair and eye colours, little else: other words
in the prompt are mostly ignored.
"""


# --------------------------------------------------------------------------------------------
# input checks: API callers skip the widgets (and the event runs with preprocess=False)
# --------------------------------------------------------------------------------------------


def _check_prompt(value: Any) -> str:
    """The normalised prompt, or gr.Error with the pipeline's own message (empty, too long, no letters)."""
    try:
        return check_prompt("" if value is None else value)
    except ValueError as err:  # InvalidPromptError, a GanModelsError
        raise gr.Error(str(err)) from err


def _check_seed(value: Any) -> int:
    return seed_or_random(value, "seed", gr.Error)


def _clamp_count(value: Any, notes: list[str]) -> int:
    return clamped_count(value, IMAGES, DEFAULT_IMAGES, notes, gr.Error, gr.Warning)


def _check_truncation(value: Any) -> float:
    return number_in_range(value, TRUNCATION, DEFAULT_TRUNCATION, gr.Error)


def _model_name(model: Any) -> str:
    return str(model or "").strip() or DEFAULT_MODEL


def _load(model: str) -> TextToImageGANPipeline:
    """The cached pipeline and its text encoder; errors become gr.Error. On ZeroGPU this runs outside the GPU slot."""
    try:
        pipe = load_pipeline(model, TextToImageGANPipeline)
        pipe.text_encoder  # noqa: B018 (loads the encoder now, and says so if it does not fit the generator)
    except ValueError as err:  # every gan_models input error is a ValueError with a clear message
        raise gr.Error(str(err)) from err
    return pipe


def _upscale_model(notes: list[str]) -> str | None:
    """The super-resolution model to upscale with, loaded now (outside the GPU slot); None if unavailable."""
    try:
        load_pipeline(UPSCALE_MODEL)
    except ValueError:
        note = f"Upscaling needs the super-resolution model {UPSCALE_MODEL}, which is not installed: shown at 1×."
        gr.Warning(note)
        notes.append(note)
        return None
    return UPSCALE_MODEL


# --------------------------------------------------------------------------------------------
# handler
# --------------------------------------------------------------------------------------------


@gpu
def _run_pipeline(
    model: str, prompt: str, seed: int, num_images: int, truncation: float, upscale_model: str | None
) -> tuple[list[Image.Image], list[int]]:
    """The only step that needs the accelerator (on ZeroGPU a GPU is attached just for this call)."""
    out = load_pipeline(model, TextToImageGANPipeline)(  # cache hit: ``text_to_image`` loaded it before
        prompt=prompt, num_images=num_images, seed=seed, truncation=truncation
    )
    images = out.images
    if upscale_model:
        upscaler = load_pipeline(upscale_model)
        large = upscaler(images, output_type="pil").images
        # the label stays the generator's (model, prompt, seed, ψ); the upscaler is added to it
        for small, big in zip(images, large):
            big.info.update({k: v for k, v in small.info.items() if isinstance(v, str)})
            big.info["upscaler"] = upscaler._model_label()
        images = large
    return images, out.seeds


def text_to_image(
    prompt: str | None,
    seed: int | None = None,
    num_images: int | None = DEFAULT_IMAGES,
    truncation: float | None = DEFAULT_TRUNCATION,
    model: str | None = DEFAULT_MODEL,
    upscale: bool | None = False,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio finds the tracker by this default)
) -> tuple[list[tuple[Image.Image, str]], str]:
    """Images of ``prompt`` from seeds ``seed``, ``seed + 1``, ...; the ``/text_to_image`` endpoint.

    Args:
        prompt: a description, e.g. "a girl with silver hair and red eyes" (1 to 300 characters, with letters).
        seed: 0 to 2**32 - 1 (empty: a random seed). Image i comes from seed + i.
        num_images: 1 to 16; other counts are clamped, with a warning.
        truncation: ψ from -1 to 2 (0.7 is the default; 1 is no truncation).
        model: a bundled name, a Hub repo id ``owner/name`` or a local pipeline folder (empty: the default).
        upscale: enlarge every image ×4 with the super-resolution model ``superres-x4-gan``.
        progress: filled by gradio; follows the pipeline's progress bar.

    Returns:
        ``(gallery, status)``: ``(PNG, "seed N")`` pairs (the PNGs carry the AI-generated metadata
        with the prompt and seed) and one line saying what was made and what was clamped.

    Raises:
        gr.Error: an empty, over-long or letter-less prompt, a bad seed or truncation, an unknown
            model, with the message that says what to do.
    """
    # 1. check every input at the door, before any model is loaded
    notes: list[str] = []
    prompt = _check_prompt(prompt)
    seed = _check_seed(seed)
    num_images = _clamp_count(num_images, notes)
    truncation = _check_truncation(truncation)
    upscale = flag(upscale, "upscale", gr.Error)
    model = _model_name(model)
    _load(model)
    upscale_model = _upscale_model(notes) if upscale else None

    # 2. the network; its own checks (e.g. seed + num_images - 1 past 2**32 - 1) come back as gr.Error
    try:
        images, seeds = _run_pipeline(model, prompt, seed, num_images, truncation, upscale_model)
    except ValueError as err:
        raise gr.Error(str(err)) from err

    # 3. the images carry the AI-generated label (model, prompt, seed, ψ) in img.info; the
    #    gallery's format="png" writes it as text chunks
    gallery = [(img, f"seed {s}") for img, s in zip(images, seeds)]
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]} to {seeds[-1]}"
    size = f"{images[0].width}×{images[0].height}"
    how = f", upscaled ×4 with {model_label(upscale_model)}" if upscale_model else ""
    # the status is Markdown: escape the prompt's markup characters so "*silver* hair" shows as typed
    shown = re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", prompt)
    text = (
        f"{len(gallery)} images of “{shown}” from {seed_text}, ψ = {truncation:g}, {size}{how}, "
        f"model {model_label(model)}."
    )
    return gallery, " ".join([text, *(f"⚠️ {note}" for note in notes)])


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------

# Picks a seed in the browser: no server round trip and no API endpoint for a random number.
_RANDOM_SEED_JS = f"() => Math.floor(Math.random() * {MAX_SEED + 1})"


def render() -> None:
    """Create the Space's components and its ``/text_to_image`` event inside the open gradio context.

    The hub calls this inside a ``gr.Tab`` (see the super-resolution ``render()`` for why not
    ``build()``). The event runs with ``preprocess=False`` so that empty, over-long or odd API
    inputs reach our checks, which explain, instead of gradio's generic errors.
    """
    gr.Markdown(HEADER)
    model = gr.Dropdown(
        choices=BUNDLED_MODELS,
        value=DEFAULT_MODEL,
        allow_custom_value=True,  # any Hub id or local pipeline folder
        label="Model",
        info="A bundled model, a Hub repo id (owner/name) or a local folder.",
        elem_id="text2image-model",
    )
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(
                value=EXAMPLE_PROMPTS[0],
                label="Prompt",
                info=f"Describe the face in your own words; up to {MAX_PROMPT_CHARS} characters.",
                lines=1,
                max_lines=3,
                placeholder="e.g. a girl with silver hair and red eyes",
                elem_id="text2image-prompt",
            )
            with gr.Row():
                seed = gr.Number(
                    value=42, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, elem_id="text2image-seed"
                )
                dice = gr.Button("🎲 random seed", scale=0, min_width=160, elem_id="text2image-random-seed")
            num_images = gr.Slider(
                IMAGES.low, IMAGES.high, value=DEFAULT_IMAGES, step=1, label="Images", elem_id="text2image-num-images"
            )
            upscale = gr.Checkbox(
                value=False,
                label="Upscale ×4 with super-resolution",
                info=f"Enlarge every image with {UPSCALE_MODEL}: crisper than zooming, but it invents detail too.",
                elem_id="text2image-upscale",
            )
            with gr.Accordion("Advanced", open=False):
                truncation = gr.Slider(
                    0.0,
                    1.5,
                    value=DEFAULT_TRUNCATION,
                    step=0.05,
                    label="Truncation ψ",
                    info="Lower: cleaner, closer to the prompt, less varied. 1: no truncation.",
                    elem_id="text2image-truncation",
                )
            run = gr.Button("Generate", variant="primary", elem_id="text2image-run")
        with gr.Column(scale=2):
            # PNG, not gradio's default WebP: WebP would drop the AI-generated text metadata
            gallery = gr.Gallery(
                label="Images", format="png", columns=4, object_fit="contain", elem_id="text2image-gallery"
            )
            status = gr.Markdown(elem_id="text2image-status")
    # one click puts an example in the prompt box (no pre-made images: nothing from the dataset is shipped)
    gr.Examples(examples=[[p] for p in EXAMPLE_PROMPTS], inputs=[prompt], label="Example prompts")
    gr.Markdown(DISCLOSURE)

    inputs = [prompt, seed, num_images, truncation, model, upscale]
    run.click(text_to_image, inputs=inputs, outputs=[gallery, status], api_name="text_to_image", preprocess=False)
    prompt.submit(  # Enter in the prompt box generates too; same handler, kept out of the API
        text_to_image, inputs=inputs, outputs=[gallery, status], preprocess=False, api_visibility="private"
    )
    # 🎲: a new seed, then the images for it (what people press it for); the second step is the
    # same handler as Generate, kept out of the API so /text_to_image stays the one way in
    dice.click(None, js=_RANDOM_SEED_JS, outputs=[seed]).then(
        text_to_image, inputs=inputs, outputs=[gallery, status], preprocess=False, api_visibility="private"
    )


def build() -> gr.Blocks:
    """The text-to-image Space as a standalone ``gr.Blocks``; ``build().launch()`` serves it."""
    with gr.Blocks(title="Text to image (StyleGAN2) · GAN demo hub") as demo:
        render()
    demo.queue(default_concurrency_limit=1)  # one request at a time: the model is the bottleneck
    return demo
