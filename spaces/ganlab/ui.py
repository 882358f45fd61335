"""GAN Lab Space: watch a GAN learn a 2-D distribution, collapse onto a few modes, and get fixed.

``build()`` returns the whole Space as a ``gr.Blocks``; the hub (``app.py`` at the repository
root) calls ``render()`` inside a tab instead, and the named endpoint ``/train_toy_gan`` keeps its
name. Training happens in memory in the library's GAN Lab (``gan_models/lab/``: the same loop and
recipes as the benchmark CLI), and so do the pictures; this file only checks inputs and streams
what the library trains and draws.

API (``gradio_client``); every argument is optional (the UI's defaults or the preset's values).
The endpoint streams ``(picture, status)`` every few hundred steps (``gan_models.lab.loop.update_every``)::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    job = client.submit("grid25", "vanilla", 2000, 0, api_name="/train_toy_gan")
    for picture, status in job:  # one item per update; the last one has the final numbers
        print(status)
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import gradio as gr
import numpy as np

from gan_models.lab.loop import Snapshot, ToyGANTrainer, train_side_by_side
from gan_models.lab.picture import draw_runs, metrics_line, real_points
from gan_models.lab.recipes import BEST_RECIPE, COLLAPSE_RECIPE, COLLAPSE_STEPS, LOSSES, RECIPES, make_recipe
from gan_models.toy2d import MAX_POINTS, TOY_DATASETS, ToyDistribution, distribution_from_points, make_distribution

__all__ = [
    "BUNDLED_CHECKPOINTS",
    "ENDPOINTS",
    "TAB_LABEL",
    "build",
    "drawing_to_points",
    "parse_points",
    "recipe_fields",
    "render",
    "train_toy_gan",
]

# the Space's declaration, read by app.py (the tab) and spaces/deploy.py (what to upload)
TAB_LABEL = "GAN Lab"
ENDPOINTS = ("train_toy_gan",)
BUNDLED_CHECKPOINTS = ()  # it trains its toy GANs live, on the Space's CPU: no checkpoint

MAX_STEPS = 20_000  # one request must not hold a shared CPU Space for long (about a minute at 2 cores)
MAX_BATCH = 1024
COMPARE_CHOICES = ["none", *RECIPES]
SPECTRAL_NORM_CHOICES = ["recipe", "on", "off"]
DRAWN = "drawn"  # the dataset choice whose target is the points box (filled by the drawing pad)
DATASET_CHOICES = [*TOY_DATASETS, DRAWN]
DRAWN_POINTS = 1500  # stroke pixels kept from a drawing (evenly spread): plenty for a 2-D target
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")  # 3, -1.5, .5, 2e-3

HEADER = f"""
# GAN Lab: watch a GAN learn, collapse, and get fixed
Pick a 2-D target and a recipe and press **Train**. Every few hundred steps you see the real
points (white), the generated points (red), the discriminator's score as a heat map (yellow:
"looks real", purple: "looks fake"), the arrows along which the generator is being pushed
(orange), and both losses. **Mode collapse vs fix** shows the textbook failure on the grid of 25
Gaussians: a plain GAN against a strong discriminator (`{COLLAPSE_RECIPE}`) settles on a subset of the
modes and hops between them, while the `{BEST_RECIPE}` recipe (R1 penalty, decaying learning rates) covers
all 25. Or **draw your own target**. The numbers follow PacGAN: modes captured, the share of
high-quality samples (within 3 std of a mode) and the reverse KL between the generated mode
histogram and uniform (0 is perfect).
"""

FOOTER = """
Recipes combine a loss (non-saturating, WGAN-GP, hinge, LSGAN) with PacGAN packing (D judges
several samples at once), spectral normalisation, the R1 penalty and unrolled D steps. The same
loop runs from the command line as a benchmark: `python -m training.toy_benchmark --dataset grid25
--recipe vanilla --seeds 0-9`. Everything runs on this machine's CPU; nothing is stored.
"""


# --------------------------------------------------------------------------------------------
# input checks: API callers skip the widgets, so every value is checked again here
# --------------------------------------------------------------------------------------------


def _choice(value: Any, name: str, choices, default: str) -> str:
    key = str(value).strip().lower() if value not in (None, "") else default
    if key not in choices:
        raise gr.Error(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return key


def _number(value: Any, name: str, low: float, high: float, integer: bool = False) -> float | int | None:
    """None for an empty value (the preset's), else the number in [low, high] or a gr.Error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number from {low:g} to {high:g}; got {value!r}.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise gr.Error(f"{name} must be from {low:g} to {high:g}; got {value!r}.")
    if integer:
        if not number.is_integer():
            raise gr.Error(f"{name} must be a whole number from {low:g} to {high:g}; got {value!r}.")
        return int(number)
    return number


def recipe_fields(recipe: str | None) -> tuple:
    """The preset's values for the advanced controls (loss, pack, SN, R1, unroll, lr, β1, β2, batch, steps)."""
    r = make_recipe(_choice(recipe, "recipe", RECIPES, BEST_RECIPE))
    return (
        r.loss,
        r.pack,
        "on" if r.spectral_norm else "off",
        r.r1_gamma,
        r.unrolled_steps,
        r.d_lr,
        r.beta1,
        r.beta2,
        r.batch_size,
        r.steps,
    )


def parse_points(text: Any) -> np.ndarray:
    """``"x, y"`` per line (or any list of numbers in pairs, e.g. JSON ``[[x, y], ...]``) -> ``(N, 2)``.

    Raises:
        gr.Error: empty text, something that is not a number, an odd count of numbers.

    Example:
        >>> parse_points("0, 0; 1.5 -2").tolist()
        [[0.0, 0.0], [1.5, -2.0]]
    """
    text = "" if text is None else str(text)
    numbers = _NUMBER.findall(text)
    leftover = _NUMBER.sub(" ", text)
    if not numbers:
        raise gr.Error("The drawn target has no points: draw on the pad, or type x, y pairs (one per line).")
    if re.search(r"[^\s,;()\[\]]", leftover):
        bad = re.search(r"[^\s,;()\[\]]+", leftover).group(0)
        raise gr.Error(f"Points are numbers in x, y pairs (one pair per line); found {bad!r}.")
    if len(numbers) % 2:
        raise gr.Error(f"Points come in x, y pairs; got an odd count of numbers ({len(numbers)}).")
    if len(numbers) // 2 > MAX_POINTS:
        raise gr.Error(f"At most {MAX_POINTS} points, please; got {len(numbers) // 2}.")
    return np.asarray(numbers, dtype=np.float64).reshape(-1, 2)


def drawing_to_points(value: Any) -> str:
    """The drawing pad's picture -> the points box text: up to 1,500 stroke pixels as ``x, y`` (y up).

    A stroke is a pixel that is both visible (alpha) and dark: that holds for a pad with a
    transparent background and for one with a white background. An empty drawing gives "".
    """
    image = value.get("composite") if isinstance(value, dict) else value
    if image is None:
        return ""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rgb = pixels[..., :3].astype(np.float32)
    alpha = pixels[..., 3] if pixels.shape[-1] == 4 else np.full(pixels.shape[:2], 255)
    luma = rgb.mean(axis=-1) if rgb.shape[-1] == 3 else rgb[..., 0]
    rows, cols = np.nonzero((alpha > 32) & (luma < 160))
    if len(rows) == 0:
        return ""
    keep = np.linspace(0, len(rows) - 1, min(DRAWN_POINTS, len(rows))).astype(int)  # evenly, deterministic
    return "\n".join(f"{c}, {-r}" for r, c in zip(rows[keep], cols[keep]))


def _target(dataset: str, points: Any) -> ToyDistribution:
    if dataset != DRAWN:
        return make_distribution(dataset)
    try:
        return distribution_from_points(parse_points(points))
    except ValueError as err:
        raise gr.Error(f"The drawn target: {err}") from err


def _build_recipe(recipe, steps, loss, pack, spectral_norm, r1_gamma, unrolled_steps, lr, beta1, beta2, batch_size):
    name = _choice(recipe, "recipe", RECIPES, BEST_RECIPE)
    overrides: dict[str, Any] = {}
    if loss not in (None, ""):
        overrides["loss"] = _choice(loss, "loss", LOSSES, "nonsaturating")
    for key, value in (
        ("steps", _number(steps, "steps", 1, MAX_STEPS, integer=True)),
        ("pack", _number(pack, "pack", 1, 8, integer=True)),
        ("r1_gamma", _number(r1_gamma, "R1 γ", 0, 100)),
        ("unrolled_steps", _number(unrolled_steps, "unrolled steps", 0, 10, integer=True)),
        ("beta1", _number(beta1, "Adam β1", 0, 0.999)),
        ("beta2", _number(beta2, "Adam β2", 0, 0.9999)),
        ("batch_size", _number(batch_size, "batch size", 8, MAX_BATCH, integer=True)),
    ):
        if value is not None:
            overrides[key] = value
    learning_rate = _number(lr, "learning rate", 1e-6, 0.1)
    if learning_rate is not None:
        overrides["g_lr"] = overrides["d_lr"] = learning_rate
    sn = str(spectral_norm).strip().lower() if spectral_norm not in (None, "") else "recipe"
    if sn in ("on", "true", "off", "false"):
        overrides["spectral_norm"] = sn in ("on", "true")
    elif sn != "recipe":
        raise gr.Error(f"spectral_norm must be recipe, on or off; got {spectral_norm!r}.")
    preset = make_recipe(name)
    pack_size = overrides.get("pack", preset.pack)
    batch = overrides.get("batch_size", preset.batch_size)
    if batch % pack_size:  # D judges whole packs: round the batch down to a multiple of pack
        overrides["batch_size"] = max(pack_size, batch // pack_size * pack_size)
    try:
        return name, make_recipe(name, **overrides)
    except ValueError as err:
        raise gr.Error(str(err)) from err


def _status(runs: list[tuple[str, ToyGANTrainer, Snapshot]], done: bool) -> str:
    lines = []
    for name, trainer, snapshot in runs:
        modes_total = None if trainer.data.means is None else len(trainer.data.means)
        speed = f"{snapshot.step / snapshot.seconds:.0f} steps/s" if snapshot.seconds > 0 else "starting"
        lines.append(
            f"**{name}**: step {snapshot.step}/{snapshot.steps}, {speed}; {metrics_line(snapshot, modes_total)}"
        )
    head = "Done (final numbers on 2,500 samples)." if done else "Training…"
    return "  \n".join([head, *lines])  # two spaces: a markdown line break


# --------------------------------------------------------------------------------------------
# handler
# --------------------------------------------------------------------------------------------


def train_toy_gan(
    dataset: str | None,
    recipe: str | None,
    steps: int | None,
    seed: int | None,
    loss: str | None = None,
    pack: int | None = None,
    spectral_norm: str | bool | None = None,
    r1_gamma: float | None = None,
    unrolled_steps: int | None = None,
    lr: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    batch_size: int | None = None,
    compare: str | None = None,
    points: str | None = None,
):
    """Train a toy GAN and stream pictures; the ``/train_toy_gan`` endpoint (a generator).

    Args:
        dataset: grid25 (default), ring8, moons, spiral, or drawn (the target is ``points``).
        recipe: a preset (vanilla, pacgan4, nsgan, nsgan-big-d, wgan-gp, hinge-sn, lsgan, unrolled5,
            best; default best).
        steps: generator steps, 1 to 20,000 (empty: the preset's budget).
        seed: 0 to 2**31 - 1 (default 0); the same inputs give the same run.
        loss, pack, spectral_norm ("recipe", "on" or "off"), r1_gamma, unrolled_steps, lr (G and D),
            beta1, beta2, batch_size: override the preset (empty: the preset's value).
        compare: another preset trained side by side on the same data and seed with its own
            settings ("none" or empty: no comparison).
        points: for ``dataset="drawn"``: x, y pairs, one per line, any scale (centred and scaled
            to the view), at least 2 and at most 5,000. The drawing pad fills it in.

    Yields:
        ``(picture, status)`` after step 0 and every few hundred steps; the last one carries
        the final numbers (modes, % high quality, reverse KL on 2,500 samples).

    Raises:
        gr.Error: an unknown dataset or recipe, a value out of range, a drawn target without points.
    """
    # 1. check every input at the door
    dataset = _choice(dataset, "dataset", DATASET_CHOICES, "grid25")
    data = _target(dataset, points)
    seed_value = _number(seed, "seed", 0, 2**31 - 1, integer=True)
    seed_value = 0 if seed_value is None else seed_value
    name, main = _build_recipe(
        recipe, steps, loss, pack, spectral_norm, r1_gamma, unrolled_steps, lr, beta1, beta2, batch_size
    )
    preset = make_recipe(name)
    same = dataclasses.replace(main, steps=preset.steps) == preset  # another budget is still the preset
    runs = [(name if same else f"{name} (modified)", main)]
    other = _choice(compare, "compare", COMPARE_CHOICES, "none")
    if other != "none":
        other_recipe = make_recipe(other)
        if steps not in (None, ""):
            other_recipe = dataclasses.replace(other_recipe, steps=main.steps)
        runs.append((other, other_recipe))

    # 2. the library's streaming loop trains the runs in turns; after step 0 and every update, a
    #    picture of all of them over the same real points (Stop cancels between updates)
    real = real_points(data, seed_value)
    title = f"{dataset} · " if len(runs) == 1 else ""
    labels = [label for label, _ in runs]
    try:
        for trainers in train_side_by_side(data, [r for _, r in runs], seed_value):
            picture, shots = draw_runs(list(zip(labels, trainers)), real, title)
            yield picture, _status(shots, done=all(t.step >= t.recipe.steps for t in trainers))
    except FloatingPointError as err:  # the losses became NaN/inf: the message says what to change
        raise gr.Error(str(err)) from err


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def _recipe_settings() -> dict[str, gr.components.Component]:
    """The accordion of recipe settings; empty means "the preset's value", for API callers too.

    gradio_client sends the components' defaults for arguments it is not given, so every value
    starts as None; choosing a recipe fills them in.
    """
    with gr.Accordion("Recipe settings (empty: the recipe's value)", open=False):
        loss = gr.Dropdown(list(LOSSES), value=None, label="Loss", elem_id="ganlab-loss")
        pack = gr.Number(value=None, label="PacGAN packing (samples per D decision, 1 to 8)", precision=0)
        spectral_norm = gr.Dropdown(SPECTRAL_NORM_CHOICES, value="recipe", label="Spectral norm on D")
        r1_gamma = gr.Number(value=None, label="R1 γ (0 = off)", minimum=0)
        unrolled_steps = gr.Number(value=None, label="Unrolled D steps (0 to 10)", precision=0)
        lr = gr.Number(value=None, label="Learning rate (G and D)")
        with gr.Row():
            beta1 = gr.Number(value=None, label="Adam β1")
            beta2 = gr.Number(value=None, label="Adam β2")
        batch_size = gr.Number(value=None, label="Batch size (8 to 1024)", precision=0)
    return dict(
        loss=loss,
        pack=pack,
        spectral_norm=spectral_norm,
        r1_gamma=r1_gamma,
        unrolled_steps=unrolled_steps,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        batch_size=batch_size,
    )


def _drawing_pad() -> tuple[gr.Sketchpad, gr.Textbox]:
    """The "draw your own target" accordion: the pad and the points box it fills."""
    with gr.Accordion("Draw your own target", open=False, elem_id="ganlab-draw"):
        sketch = gr.Sketchpad(
            type="numpy",
            image_mode="RGBA",
            canvas_size=(400, 400),
            brush=gr.Brush(default_size=6, colors=["#000000"], color_mode="fixed"),
            label="Pick the brush (left), then draw: the target becomes 'drawn'",
            elem_id="ganlab-sketch",
        )
        points = gr.Textbox(
            label="Points of the drawn target (x, y per line; any scale)",
            lines=4,
            max_lines=8,
            elem_id="ganlab-points",
        )
    return sketch, points


def _controls() -> dict[str, gr.components.Component]:
    """The left column: target, recipe, comparison, steps and seed, settings, drawing pad, buttons."""
    c: dict[str, gr.components.Component] = {}
    c["dataset"] = gr.Dropdown(DATASET_CHOICES, value="grid25", label="Target distribution", elem_id="ganlab-dataset")
    c["recipe"] = gr.Dropdown(list(RECIPES), value=BEST_RECIPE, label="Recipe", elem_id="ganlab-recipe")
    c["compare"] = gr.Dropdown(
        COMPARE_CHOICES,
        value="none",
        label="Compare with",
        info="Train a second recipe side by side.",
        elem_id="ganlab-compare",
    )
    with gr.Row():
        c["steps"] = gr.Number(
            value=None,
            label="Steps (empty: the recipe's)",
            precision=0,
            minimum=1,
            maximum=MAX_STEPS,
            elem_id="ganlab-steps",
        )
        c["seed"] = gr.Number(value=0, label="Seed", precision=0, minimum=0, elem_id="ganlab-seed")
    c |= _recipe_settings()
    c["sketch"], c["points"] = _drawing_pad()
    with gr.Row():
        c["run"] = gr.Button("Train", variant="primary", elem_id="ganlab-run")
        c["stop"] = gr.Button("Stop", variant="stop", elem_id="ganlab-stop")
    c["collapse"] = gr.Button(
        f"Mode collapse vs fix (grid25: {COLLAPSE_RECIPE} next to {BEST_RECIPE})", elem_id="ganlab-collapse"
    )
    return c


# the endpoint's inputs in order (its API signature), and the settings a preset fills in
_INPUTS = ["dataset", "recipe", "steps", "seed", "loss", "pack", "spectral_norm", "r1_gamma", "unrolled_steps"]
_INPUTS += ["lr", "beta1", "beta2", "batch_size", "compare", "points"]
_ADVANCED = ["loss", "pack", "spectral_norm", "r1_gamma", "unrolled_steps", "lr", "beta1", "beta2", "batch_size"]
_ADVANCED += ["steps"]


def _collapse_preset() -> tuple:
    """The form of "mode collapse vs fix": grid25, the collapse recipe next to the best one, its budget."""
    return ("grid25", COLLAPSE_RECIPE, BEST_RECIPE, *recipe_fields(COLLAPSE_RECIPE)[:-1], COLLAPSE_STEPS)


def render() -> None:
    """Create the Space's components and its ``/train_toy_gan`` event inside the open gradio context.

    The hub calls this inside a ``gr.Tab`` (see the super-resolution ``render()`` for why not
    ``build()``). The event runs with ``preprocess=False`` so that out-of-range or non-numeric
    API inputs reach our checks, which explain, instead of gradio's generic bounds error.
    """
    gr.Markdown(HEADER)
    with gr.Row():
        with gr.Column(scale=1):
            c = _controls()
        with gr.Column(scale=2):
            picture = gr.Image(
                label="Training",
                show_label=False,
                type="pil",
                format="png",
                interactive=False,
                elem_id="ganlab-picture",
            )
            status = gr.Markdown(elem_id="ganlab-status")
    gr.Markdown(FOOTER)

    advanced = [c[name] for name in _ADVANCED]
    inputs = [c[name] for name in _INPUTS]
    # a drawing fills the points box and picks the drawn target (UI only; API callers pass points)
    c["sketch"].change(
        lambda value: (drawing_to_points(value), DRAWN),
        inputs=[c["sketch"]],
        outputs=[c["points"], c["dataset"]],
        api_visibility="private",
        show_progress="hidden",
    )
    # a preset fills the settings it stands for (kept out of the API: /train_toy_gan takes the names)
    c["recipe"].input(recipe_fields, inputs=[c["recipe"]], outputs=advanced, api_visibility="private")
    # the form opens with the default preset's values: an empty gr.Number shows and sends 0 (steps
    # 0 is an error, R1 0 silently another recipe). The components' own values stay None, so an
    # API caller who leaves a setting out still gets the preset's value.
    gr.on(triggers=None, fn=lambda: recipe_fields(BEST_RECIPE), outputs=advanced, api_visibility="private")
    train_event = c["run"].click(
        train_toy_gan, inputs=inputs, outputs=[picture, status], api_name="train_toy_gan", preprocess=False
    )
    collapse_event = (
        c["collapse"]
        .click(
            _collapse_preset,
            outputs=[c["dataset"], c["recipe"], c["compare"], *advanced],
            api_visibility="private",
        )
        .then(train_toy_gan, inputs=inputs, outputs=[picture, status], preprocess=False, api_visibility="private")
    )
    c["stop"].click(None, cancels=[train_event, collapse_event], api_visibility="private")


def build() -> gr.Blocks:
    """The GAN Lab as a standalone ``gr.Blocks``; ``build().launch()`` serves it."""
    with gr.Blocks(title="GAN Lab · GAN demo hub") as demo:
        render()
    demo.queue(default_concurrency_limit=1)  # one training at a time: the CPU is the bottleneck
    return demo
