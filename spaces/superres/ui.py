"""Super-resolution Space: the UI and its event handlers. The model code lives in ``gan_models``.

``build()`` returns the whole Space as a ``gr.Blocks``; the hub (``app.py`` at the repository
root) calls ``render()`` inside a tab instead, and the named endpoint ``/upscale`` keeps its name.

API (``gradio_client``)::

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    (before, after), png = client.predict(handle_file("photo.png"), 4, "superres-x4-gan", api_name="/upscale")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from gan_models.imaging import load_image, merge_alpha, save_png, split_alpha
from gan_models.checks import number_in_range, outscale_range
from gan_models.serving import default_max_pixels, download_folder, gpu, load_pipeline, model_label

__all__ = [
    "BUNDLED_CHECKPOINTS",
    "ENDPOINTS",
    "TAB_LABEL",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "build",
    "render",
    "upscale",
]

# the Space's declaration, read by app.py (the tab) and spaces/deploy.py (what to upload)
TAB_LABEL = "Super-resolution"
ENDPOINTS = ("upscale",)
BUNDLED_CHECKPOINTS = ("superres-x4-gan", "superres-x4-psnr")

BUNDLED_MODELS = list(BUNDLED_CHECKPOINTS)
DEFAULT_MODEL = "superres-x4-gan"  # sharper than the PSNR model, which is what people come to see
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
# Download PNGs are written here, then gradio copies them into its own cache; ours are swept
# after an hour so a long-running Space does not fill its disk.
# the library's outscale range of an x4 model, capped at x4: the bundled models are x4, larger would only resample
OUTSCALE = outscale_range(4).capped(4.0)
MIN_OUTSCALE, MAX_OUTSCALE = OUTSCALE.low, OUTSCALE.high

HEADER = """
# Super-resolution ×4
Upload a small or blurry picture and get it back up to four times larger. The *GAN* model invents
sharp, plausible texture; the *PSNR* model is faithful but softer. Drag the slider to compare.
Any `owner/name` Hub repository or local folder saved by `SuperResolutionPipeline` also works.
"""

DISCLOSURE = """
**AI-generated output.** The added detail is invented by a neural network, not recovered from the
scene: do not use the result as evidence (faces, text, licence plates, medical or forensic images).
The downloaded PNG carries `ai_generated=true`, `DigitalSourceType=trainedAlgorithmicMedia` and the
model name as text metadata. Code under the MIT licence; each model's licence and training data are
on its model card.
"""


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------


@gpu
def _run_pipeline(image: Image.Image, outscale: float, model: str) -> Image.Image:
    """The only step that needs the accelerator (on ZeroGPU a GPU is attached just for this call)."""
    pipe = load_pipeline(model)  # a cache hit: ``upscale`` loaded it before, outside the GPU slot
    return pipe(image=image, outscale=outscale).images[0]


def _upload_path(image: str | dict[str, Any] | None) -> str | None:
    """The uploaded file's path: the event runs with ``preprocess=False``, so gradio hands us its payload.

    We skip gradio's preprocessing on purpose: it opens the upload with PIL first, and a corrupt
    or empty file then fails there with a generic "error" the user cannot act on.
    """
    if isinstance(image, dict):
        return image.get("path")
    return image


def _download_file(result: Image.Image, upload: str, model: str, outscale: float) -> Path:
    """Write the PNG offered for download (with the AI-generated metadata)."""
    folder = download_folder("superres")
    name = f"{Path(upload).stem or 'image'}_x{outscale:g}.png"
    return save_png(result, folder / name, model=model_label(model), outscale=f"{outscale:g}")


def _check_outscale(outscale: Any) -> float:
    return number_in_range(outscale, OUTSCALE, OUTSCALE.high, error=gr.Error)


def upscale(
    image: str | dict[str, Any] | None,
    outscale: float | None,
    model: str | None,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> tuple[tuple[Image.Image, Image.Image], str]:
    """Upscale one uploaded image; the ``/upscale`` endpoint.

    Args:
        image: the upload (a file path, or gradio's file payload).
        outscale: output size / input size, 1 to 4 (``None``: 4).
        model: a bundled name, a Hub repo id ``owner/name`` or a local pipeline folder
            (empty: the default model).
        progress: filled by gradio; follows the pipeline's tile progress bar.

    Returns:
        ``((before, after), png_path)``: the input and the result for the slider, and the PNG to
        download.

    Raises:
        gr.Error: no image, an unreadable or oversized image, an unknown model or a bad outscale,
            with a message that says what to do.
    """
    # 1. check every input at the door, before the (slow) model runs
    upload = _upload_path(image)
    if not upload:
        raise gr.Error("Upload an image first.")
    outscale = _check_outscale(outscale)
    model = (model or "").strip() or DEFAULT_MODEL
    try:
        source = load_image(upload, max_pixels=default_max_pixels())
        load_pipeline(model)  # unknown names fail here; on ZeroGPU this loads outside the GPU slot
    except ValueError as err:  # every gan_models input error is a ValueError with a clear message
        raise gr.Error(str(err)) from err

    # 2. the network, tile by tile (progress comes from the pipeline's tqdm bar)
    try:
        result = _run_pipeline(source, outscale, model)
    except ValueError as err:  # e.g. out of memory even with the smallest tiles
        raise gr.Error(str(err)) from err

    # 3. the slider shows the input in the output's mode family (CMYK, 16-bit, palette inputs
    #    cannot all be written as PNG); its PNG of the result keeps the metadata (format="png")
    before = merge_alpha(*split_alpha(source))
    return (before, result), str(_download_file(result, upload, model, outscale))


# --------------------------------------------------------------------------------------------
# examples
# --------------------------------------------------------------------------------------------


def _draw_zone_plate(size: int = 96) -> Image.Image:
    """Concentric rings getting finer outwards: shows how each model handles aliasing and detail."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    rings = 0.5 + 0.5 * np.cos(math.pi * (xx**2 + yy**2) / (1.6 * size))
    rgb = np.stack([rings, rings * 0.6 + 0.2, 1.0 - rings * 0.7], axis=-1)
    return Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")


def _draw_house(size: tuple[int, int] = (128, 96)) -> Image.Image:
    """A tiny drawing with edges, flat colour and text: where blur and ringing are easy to see."""
    img = Image.new("RGB", size, (135, 190, 235))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 70, 127, 95], fill=(70, 150, 60))  # grass
    draw.ellipse([96, 6, 118, 28], fill=(250, 210, 60))  # sun
    draw.rectangle([30, 44, 78, 80], fill=(200, 90, 70), outline=(60, 30, 30))  # house
    draw.polygon([(24, 46), (54, 20), (84, 46)], fill=(120, 60, 50))  # roof
    draw.rectangle([48, 60, 58, 80], fill=(90, 60, 40))  # door
    draw.rectangle([36, 52, 44, 60], fill=(230, 240, 255), outline=(40, 40, 40))  # window
    draw.line([(100, 80), (100, 56)], fill=(90, 60, 30), width=3)  # tree trunk
    draw.ellipse([90, 40, 112, 62], fill=(40, 120, 40))  # tree crown
    draw.text((4, 4), "GAN hub", fill=(20, 20, 20))
    return img


def _example_images() -> list[str]:
    """Paths of the example inputs, drawn on first use (so the repo holds no binary samples of unknown origin)."""
    drawings = {"house.png": _draw_house, "rings.png": _draw_zone_plate}
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in drawings.items():
        path = EXAMPLES_DIR / name
        if not path.is_file():
            draw().save(path, format="PNG")
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def render() -> None:
    """Create the Space's components and its ``/upscale`` event inside the open gradio context.

    The hub calls this inside a ``gr.Tab``. It does not embed ``build()``'s Blocks instead because
    gradio 6 already renders a Blocks created inside another one, so a further ``.render()`` shows
    the whole Space twice; creating the components in place has no such surprise.
    """
    gr.Markdown(HEADER)
    with gr.Row():
        with gr.Column():
            image_in = gr.Image(
                label="Image to upscale", type="filepath", sources=["upload", "clipboard"], elem_id="superres-image"
            )
            model = gr.Dropdown(
                choices=BUNDLED_MODELS,
                value=DEFAULT_MODEL,
                allow_custom_value=True,  # any Hub id or local pipeline folder
                label="Model",
                info="A bundled model, a Hub repo id (owner/name) or a local folder.",
                elem_id="superres-model",
            )
            outscale = gr.Slider(
                MIN_OUTSCALE,
                MAX_OUTSCALE,
                value=MAX_OUTSCALE,
                step=0.5,
                label="Output scale (×)",
                elem_id="superres-outscale",
            )
            run = gr.Button("Upscale", variant="primary", elem_id="superres-run")
        with gr.Column():
            # PNG, not gradio's default WebP: WebP would drop the AI-generated text metadata
            slider = gr.ImageSlider(
                label="Before / after", format="png", type="pil", interactive=False, elem_id="superres-slider"
            )
            download = gr.File(label="Download PNG (with AI-generated metadata)", elem_id="superres-download")
    gr.Examples(examples=[[path] for path in _example_images()], inputs=[image_in], label="Examples")
    gr.Markdown(DISCLOSURE)

    run.click(
        upscale,
        inputs=[image_in, outscale, model],
        outputs=[slider, download],
        api_name="upscale",
        preprocess=False,  # see _upload_path: we decode and validate the upload ourselves
    )


def build() -> gr.Blocks:
    """The super-resolution Space as a standalone ``gr.Blocks``; ``build().launch()`` serves it."""
    with gr.Blocks(title="Super-resolution ×4 · GAN demo hub") as demo:
        render()
    demo.queue(default_concurrency_limit=1)  # one image at a time: the model is the bottleneck
    return demo
