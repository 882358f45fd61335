"""What recipes and evaluations write into a model card, the same way for every family.

Recipes name their datasets and their budget here; the ``evaluate_*`` scripts find the model folder
they write into, and put their ``## Evaluation`` section, their ``samples.png`` and their ``--json``
numbers there with these helpers. The card itself (front matter, usage, limitations) is
``gan_models.cards.write_model_card``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from training.config import EngineConfig

REPO_ROOT = Path(__file__).resolve().parents[1]

# CelebA's terms travel with every model and every number made from it
CELEBA_LICENCE_NOTE = "CelebA is for non-commercial research use only, and so are models trained on it."


def dataset_name(path: str | Path) -> str:
    """A data folder's dataset: a split folder (``train``, ``testA``, ...) is named by its parent.

    Example:
        >>> dataset_name("../shared/data/face2anime/trainA"), dataset_name("../shared/data/T91")
        ('face2anime', 'T91')
    """
    path = Path(path)
    return path.parent.name if path.name.lower().startswith(("train", "test")) and path.parent.name else path.name


def dataset_names(*data: str) -> list[str]:
    """The card's ``datasets``: each comma-separated data folder's dataset, once, in order.

    Example:
        >>> dataset_names("../shared/data/face2anime/trainA", "../shared/data/face2anime/trainB")
        ['face2anime']
        >>> dataset_names("../shared/data/T91,../shared/data/BSD200")
        ['T91', 'BSD200']
    """
    parts = (part.strip() for folders in data for part in folders.split(","))
    return list(dict.fromkeys(dataset_name(part) for part in parts if part))


def budget_line(cfg: EngineConfig, learning_rate: str, shown: str | None = None, schedule: str = "") -> str:
    """The card's ``- Budget:`` line: steps, batch, optimiser, precision and the run's hardware note.

    ``shown`` names what the steps add up to ("images shown"); without it the line says only
    "accumulation". ``schedule`` describes the learning-rate schedule after the betas, if given.

    Example:
        >>> print(budget_line(EngineConfig(max_steps=10, batch_size=4), "2e-4", "images shown"))
        - Budget: 10 steps of batch 4 x 1 (40 images shown), Adam lr 2e-4, betas (0.9, 0.99), mixed precision `no`
    """
    steps = f"{cfg.max_steps} steps of batch {cfg.batch_size} x {cfg.gradient_accumulation_steps}"
    total = cfg.max_steps * cfg.batch_size * cfg.gradient_accumulation_steps
    hardware_note = getattr(cfg, "hardware_note", "")  # a recipe's own field: where and how long it trained
    return (
        f"- Budget: {steps}" + (f" ({total:,} {shown})" if shown else " accumulation")
        + f", Adam lr {learning_rate}, betas ({cfg.adam_beta1}, {cfg.adam_beta2})"
        + (f", {schedule}" if schedule else "")
        + f", mixed precision `{cfg.mixed_precision}`"
        + (f"; {hardware_note}" if hardware_note else "")
    )  # fmt: skip


def evaluated_model_folder(model: str, card: bool, grid: bool) -> tuple[str, Path]:
    """Where ``model`` loads from, and its folder, checked before any slow work when ``--card``/``--grid`` write there.

    Raises ``ValueError`` with what to do: an unknown name, a model that is not a local folder, a
    folder without a card to update.
    """
    from gan_models.hub import resolve_model

    location = resolve_model(model)  # ValueError: the message lists the bundled models
    folder = Path(location)
    if (card or grid) and not folder.is_dir():
        raise ValueError(f"--card / --grid write into a local model folder; {model!r} is not one.")
    if card and not (folder / "README.md").is_file():
        raise ValueError(
            f"--card updates {folder / 'README.md'}, which does not exist; write the card first "
            "(gan_models.cards.write_model_card, as the training recipe does), or leave out --card."
        )
    return location, folder


def licence_note(*paths: Path | None) -> str:
    """CelebA's terms as a card paragraph when any data path is CelebA (face2anime's A side is), else "".

    Example:
        >>> licence_note(Path("../shared/data/celeba_10k/test"), None).strip() == CELEBA_LICENCE_NOTE
        True
    """
    names = " ".join(str(path).lower() for path in paths if path)
    return f"\n{CELEBA_LICENCE_NOTE}\n" if "celeba" in names or "face2anime" in names else ""


def save_sample_grid(grid: Image.Image, folder: Path, **labels: object) -> None:
    """The card's ``samples.png`` (``--grid``), labelled AI-generated with the model's name and ``labels``."""
    from gan_models.imaging import save_png

    save_png(grid, folder / "samples.png", model=folder.name, **labels)
    print(f"Sample grid: {folder / 'samples.png'}")


def write_json(path: Path, data: Mapping) -> None:
    """An evaluation's numbers and protocol as a JSON file (``--json``), its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def write_evaluation(folder: Path, markdown: str, metrics: Mapping[str, float]) -> None:
    """The evaluation into the card's ``## Evaluation`` section (and its model-index), then say where."""
    from gan_models.cards import update_model_card

    update_model_card(folder, section="Evaluation", markdown=markdown, metrics=metrics)
    print(f"Model card updated: {folder / 'README.md'}")


def display_path(path: str | Path) -> str:
    """A data path as a user would type it from the repo root (``../shared/data/...``), for cards and logs."""
    try:
        return Path("..", Path(path).resolve().relative_to(REPO_ROOT.parent)).as_posix()
    except ValueError:
        return str(path)
