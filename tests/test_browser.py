"""The hub in a real browser: upload, pick a model, upscale, see the before/after slider.

Uses Debian's chromium through playwright's sync API (no ``playwright install``, no network).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the test server

import shutil

import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")
if not (os.path.isfile(CHROMIUM) or shutil.which("chromium")):
    pytest.skip(f"no chromium at {CHROMIUM}; install Debian's chromium package", allow_module_level=True)


@pytest.fixture(scope="module")
def page(hub_url):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # generous: only a hang should trip it, never a busy machine (the suite runs two workers)
        page.set_default_timeout(180_000)
        page.goto(hub_url)
        yield page
        browser.close()


def decoded_image_sizes(page, container: str, at_least: int) -> list[list[int]]:
    """[width, height] of every <img> in ``container`` once at least ``at_least`` are there and all have decoded.

    Images decode one by one (gallery thumbnails, the slider's two sides): read too early, a slow
    one reads as 0x0.
    """
    page.wait_for_function(
        "([container, atLeast]) => { const imgs = [...document.querySelectorAll(container + ' img')];"
        " return imgs.length >= atLeast && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=[container, at_least],
    )
    return page.locator(f"{container} img").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")


def test_upscale_in_the_browser(page, tiny_model, tmp_path):
    upload = tmp_path / "small.png"
    Image.radial_gradient("L").resize((16, 12)).convert("RGB").save(upload)

    # 1. the super-resolution tab is there, selected, and shows the Space once (not twice)
    page.locator("#superres-run").first.wait_for(state="visible")
    tab = page.get_by_role("tab", name="Super-resolution")
    assert tab.get_attribute("aria-selected") == "true"
    assert page.locator("#superres-run").count() == 1

    # 2. upload into the image input (the first of its hidden <input type=file>)
    page.locator("#superres-image input[type=file]").first.set_input_files(str(upload))
    page.locator("#superres-image img").first.wait_for(state="visible")

    # 3. type the tmp model folder into the dropdown (allow_custom_value) and commit it
    model = page.locator("#superres-model input")
    model.fill(tiny_model)
    model.press("Enter")
    assert model.input_value() == tiny_model

    # 4. run, then the slider shows before and after, and the download appears
    page.locator("#superres-run").click()
    page.locator("#superres-download a[download], #superres-download a").first.wait_for(state="visible")
    sizes = decoded_image_sizes(page, "#superres-slider", at_least=2)
    assert len(sizes) == 2 and sorted(sizes) == [[16, 12], [64, 48]]
    assert page.locator(".toast-body.error").count() == 0  # no gr.Error toast
    if os.environ.get("GAN_HUB_SCREENSHOT"):
        page.screenshot(path=os.environ["GAN_HUB_SCREENSHOT"], full_page=True)


def test_generate_faces_in_the_browser(page, faces_model_dir):
    # 1. open the Faces tab (its Generate sub-tab is the first, so it is already shown)
    page.get_by_role("tab", name="Faces").click()
    page.locator("#faces-run").wait_for(state="visible")

    # 2. point the model box at the tiny model, as a user would type a folder or Hub id
    model = page.locator("#faces-model input")
    model.fill(faces_model_dir)
    model.press("Enter")

    # 3. generate with the defaults (4 faces, seed 42): the gallery fills, the status line says so
    page.locator("#faces-run").click()
    page.get_by_text("4 faces from seeds 42 to 45").wait_for(state="visible")
    sizes = decoded_image_sizes(page, "#faces-gallery", at_least=4)
    assert len(sizes) >= 4 and all(size == [16, 16] for size in sizes)
    assert page.locator(".toast-body.error").count() == 0  # no gr.Error toast


def test_translate_in_the_browser(page, translation_model_dir, tmp_path):
    upload = tmp_path / "face.png"
    Image.radial_gradient("L").resize((30, 26)).convert("RGB").save(upload)

    # 1. open the Translation tab
    page.get_by_role("tab", name="Translation").click()
    page.locator("#translate-run").wait_for(state="visible")
    assert page.locator("#translate-run").count() == 1

    # 2. point the model box at the tiny model: the direction box takes its domain names
    model = page.locator("#translate-model input")
    model.fill(translation_model_dir)
    model.press("Enter")
    direction = page.locator("#translate-direction input")
    page.wait_for_function(
        "() => document.querySelector('#translate-direction input').value === 'real face → anime face'"
    )

    # 3. pick the other direction from the dropdown's list
    direction.click()
    page.get_by_role("option", name="anime face → real face").click()
    assert direction.input_value() == "anime face → real face"

    # 4. upload, translate: the slider shows before and after at the same size, the status line says what ran
    page.locator("#translate-image input[type=file]").first.set_input_files(str(upload))
    page.locator("#translate-image img").first.wait_for(state="visible")
    page.locator("#translate-run").click()
    page.get_by_text("anime face → real face, 30×26").wait_for(state="visible")
    page.locator("#translate-download a").first.wait_for(state="visible")
    sizes = decoded_image_sizes(page, "#translate-slider", at_least=2)
    assert sizes == [[30, 26], [30, 26]]
    assert page.locator(".toast-body.error").count() == 0  # no gr.Error toast
    if os.environ.get("GAN_HUB_SCREENSHOT_TRANSLATE"):
        page.screenshot(path=os.environ["GAN_HUB_SCREENSHOT_TRANSLATE"], full_page=True)


def test_text_to_image_in_the_browser(page, text2image_model_dir):
    # 1. open the Text to image tab
    page.get_by_role("tab", name="Text to image").click()
    page.locator("#text2image-run").wait_for(state="visible")
    assert page.locator("#text2image-run").count() == 1

    # 2. point the model box at the tiny model, as a user would type a folder or Hub id
    model = page.locator("#text2image-model input")
    model.fill(text2image_model_dir)
    model.press("Enter")

    # 3. type a prompt, ask for 3 images, generate: the gallery fills, the status line says so
    prompt = page.locator("#text2image-prompt textarea")
    prompt.fill("blonde hair, blue eyes")
    count = page.locator("#text2image-num-images input[type=number]")
    count.fill("3")
    count.press("Enter")
    page.locator("#text2image-run").click()
    page.get_by_text("3 images of “blonde hair, blue eyes” from seeds 42 to 44").wait_for(state="visible")
    sizes = decoded_image_sizes(page, "#text2image-gallery", at_least=3)
    assert len(sizes) >= 3 and all(size == [8, 8] for size in sizes)
    assert page.locator(".toast-body.error").count() == 0  # no gr.Error toast

    # 4. an empty prompt is a clear error toast, not a crash or a hang
    prompt.fill("")
    page.locator("#text2image-run").click()
    page.locator(".toast-body.error").first.wait_for(state="visible")
    assert "The prompt is empty" in page.locator(".toast-body.error").first.inner_text()
    page.locator(".toast-close").first.click()  # leave no error toast behind for a later test
    page.wait_for_function("() => document.querySelectorAll('.toast-body.error').length === 0")


def test_ganlab_trains_and_streams_in_the_browser(page):
    # 1. open the GAN Lab tab: the best recipe is preselected and its settings are filled in
    page.get_by_role("tab", name="GAN Lab").click()
    page.locator("#ganlab-run").wait_for(state="visible")
    assert page.locator("#ganlab-run").count() == 1
    # (an empty number box would show and send 0: the form must open with the preset's values)
    page.wait_for_function("() => document.querySelector('#ganlab-steps input').value === '16000'")

    # 2. a short run on the ring: type the steps, press Train
    page.locator("#ganlab-dataset input").click()
    page.get_by_role("option", name="ring8").click()
    steps = page.locator("#ganlab-steps input[type=number]")
    steps.fill("500")
    steps.press("Enter")
    page.locator("#ganlab-run").click()

    # 3. the picture streams in and the status line ends with the final numbers
    page.get_by_text("Done (final numbers on 2,500 samples).").wait_for(state="visible")
    assert "step 500/500" in page.locator("#ganlab-status").inner_text()
    sizes = decoded_image_sizes(page, "#ganlab-picture", at_least=1)
    assert sizes[0][0] > 300 and sizes[0][1] > 300
    assert page.locator(".toast-body.error").count() == 0  # no gr.Error toast
    if os.environ.get("GAN_HUB_SCREENSHOT_GANLAB"):
        page.screenshot(path=os.environ["GAN_HUB_SCREENSHOT_GANLAB"], full_page=True)


def test_ganlab_drawn_target_and_the_collapse_preset_in_the_browser(page):
    page.get_by_role("tab", name="GAN Lab").click()
    page.locator("#ganlab-run").wait_for(state="visible")

    # 1. draw a stroke on the pad: the points box fills in and the target becomes "drawn"
    page.locator("#ganlab-draw").get_by_text("Draw your own target").click()
    page.locator("#ganlab-sketch button[aria-label=Brush]").click()
    canvas = page.locator("#ganlab-sketch canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.03 * i), box["y"] + box["height"] * (0.3 + 0.02 * i))
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#ganlab-points textarea').value.split('\\n').length > 20")
    assert page.locator("#ganlab-dataset input").input_value() == "drawn"

    # 2. train on it for a few hundred steps
    steps = page.locator("#ganlab-steps input[type=number]")
    steps.fill("250")
    steps.press("Enter")
    page.locator("#ganlab-run").click()
    page.get_by_text("no modes to count on this target").first.wait_for(state="visible")
    page.get_by_text("Done (final numbers on 2,500 samples).").wait_for(state="visible")

    # 3. "mode collapse vs fix" picks grid25, nsgan-big-d next to best, and streams both; Stop ends it
    page.locator("#ganlab-collapse").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#ganlab-status').innerText;"
        " return t.includes('nsgan-big-d: step') && t.includes('best: step') && t.startsWith('Training'); }"
    )
    assert page.locator("#ganlab-dataset input").input_value() == "grid25"
    assert page.locator("#ganlab-compare input").input_value() == "best"
    assert page.locator("#ganlab-recipe input").input_value() == "nsgan-big-d"
    page.locator("#ganlab-stop").click()
    decoded_image_sizes(page, "#ganlab-picture", at_least=1)
    assert page.locator(".toast-body.error").count() == 0
    if os.environ.get("GAN_HUB_SCREENSHOT_GANLAB_COLLAPSE"):
        page.screenshot(path=os.environ["GAN_HUB_SCREENSHOT_GANLAB_COLLAPSE"], full_page=True)
