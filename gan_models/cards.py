"""Model cards: the ``README.md`` (Hub card with YAML front matter) of a saved pipeline folder.

What differs between families (Hub pipeline tag, tags, description, usage snippet, limitations)
is the pipeline class's ``card_facts``. :func:`write_model_card` finds the class from the folder's
``model_index.json`` (``_class_name``) among :func:`gan_models.families.pipeline_classes`, or takes
it as ``pipeline_class=``; an unknown or missing class is an error, never another family's card.

Example:
    >>> import tempfile
    >>> from gan_models import SRVGGNetCompact, SuperResolutionPipeline
    >>> folder = tempfile.mkdtemp()
    >>> SuperResolutionPipeline(SRVGGNetCompact(num_feat=4, num_conv=1)).save_pretrained(folder)
    >>> p = write_model_card(folder, title="Tiny SR", datasets=["div2k"], license="mit",
    ...                      metrics={"psnr": 20.0}, protocol="Set5 Y channel", training="none")
    >>> "pipeline_tag: image-to-image" in p.read_text()
    True
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .families import pipeline_classes
from .pipelines._facts import CardFacts

__all__ = ["card_facts", "update_model_card", "write_model_card"]


def card_facts(folder: str | os.PathLike, pipeline_class: type | str | None = None) -> CardFacts:
    """The card facts of ``pipeline_class`` (a class or its name), else of the folder's saved pipeline.

    Raises:
        ValueError: no ``model_index.json`` (and no ``pipeline_class``), or a class that is not one
            of the families' pipelines; the message lists the known ones.

    Example:
        >>> from gan_models import FaceGANPipeline
        >>> card_facts("unused", FaceGANPipeline).pipeline_tag
        'unconditional-image-generation'
    """
    known = pipeline_classes()
    if pipeline_class is None:
        index = Path(folder) / "model_index.json"
        try:
            pipeline_class = json.loads(index.read_text()).get("_class_name")
        except OSError as err:
            raise ValueError(
                f"{str(index)!r} is missing, so the card cannot tell which family this is: save the pipeline "
                "first (save_pretrained), or pass pipeline_class= (e.g. SuperResolutionPipeline)."
            ) from err
        except ValueError as err:  # JSONDecodeError, or not an object
            raise ValueError(f"{str(index)!r} is not valid JSON ({err}); save the pipeline again.") from err
    name = pipeline_class if isinstance(pipeline_class, str) else getattr(pipeline_class, "__name__", None)
    facts = getattr(known.get(name), "card_facts", None)
    if not isinstance(facts, CardFacts):
        raise ValueError(
            f"No model card facts for the pipeline class {pipeline_class!r}: it is not one of the families' "
            f"pipelines ({', '.join(sorted(known))}). Add its family to gan_models/families.py and give the "
            "class a card_facts."
        )
    return facts


def _eval_results(rows: Iterable[tuple[str, str, float]], task_type: str = "image-to-image") -> list[EvalResult]:
    """(dataset, metric, value) rows as the card's machine-readable ``model-index`` entries."""
    return [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset,
            dataset_name=dataset,
            metric_type=metric.lower(),
            metric_value=float(value),
        )
        for dataset, metric, value in rows
    ]


def _sample_markdown(folder: Path, sample_image: str | os.PathLike | None) -> str:
    """The card's sample line; the PNG is copied into the folder if it lives elsewhere."""
    if sample_image is None:
        return ""
    sample = Path(sample_image)
    if not sample.is_absolute() and not sample.exists():
        sample = folder / sample  # a name relative to the model folder
    if not sample.is_file():
        raise ValueError(f"sample_image {str(sample_image)!r} does not exist; save the PNG first.")
    if sample.resolve().parent != folder.resolve():
        shutil.copyfile(sample, folder / sample.name)
    return f"![sample]({sample.name})\n\n"


def _card_body(
    facts: CardFacts, title: str, sample_md: str, training: str, metrics: Mapping[str, float], protocol: str
) -> str:
    rows = "\n".join(f"| {name} | {value:.4g} |" for name, value in metrics.items()) or "| (none) | |"
    return f"""# {title}

{sample_md}{facts.description} packaged by the GAN demo hub as a diffusers-format pipeline.

## Use

```python
{facts.usage}
```

## Training

{training}

## Evaluation

| metric | value |
|---|---|
{rows}

Protocol: {protocol}

## Limitations and disclosure

{facts.limitations}
"""


def write_model_card(
    folder: str | os.PathLike,
    *,
    title: str,
    base_model: str | None = None,
    datasets: list[str],
    license: str,
    metrics: Mapping[str, float],
    protocol: str,
    training: str,
    sample_image: str | os.PathLike | None = None,
    tags: list[str] | None = None,
    eval_dataset: str | None = None,
    pipeline_class: type | str | None = None,
) -> Path:
    """Write ``README.md`` (Hub model card with YAML front matter) into a saved pipeline folder.

    ``library_name`` is deliberately left unset: the folder is in diffusers format but needs
    ``gan_models`` to load (``DiffusionPipeline.from_pretrained`` cannot resolve the class), so a
    "diffusers" label would make the Hub show a snippet that fails. The card gives the right one.

    Args:
        folder: the ``save_pretrained`` folder.
        title: heading of the card.
        base_model: Hub id this was fine-tuned / converted from, if any.
        datasets: training data (Hub dataset ids or names).
        license: an SPDX-style Hub license id (``"apache-2.0"``, ``"bsd-3-clause"``, ``"other"``).
        metrics: name -> value, e.g. ``{"psnr": 27.1, "lpips": 0.21}``.
        protocol: how the metrics were measured (data, crop, colour space, ...).
        training: how the weights were made (recipe, steps, hardware) or where they came from.
        sample_image: a PNG shown in the card; copied into the folder if it lives elsewhere.
        tags: extra tags; ``gan-demo-hub``, ``gan`` and the family's tags are always present.
        eval_dataset: if given, ``metrics`` also go to the machine-readable ``model-index``.
        pipeline_class: the pipeline class (or its name) whose ``card_facts`` to use; by default the
            class named in the folder's ``model_index.json``.

    Raises:
        ValueError: see :func:`card_facts`; a missing ``sample_image``.
    """
    folder = Path(folder)
    facts = card_facts(folder, pipeline_class)
    folder.mkdir(parents=True, exist_ok=True)
    eval_results = None
    if eval_dataset and metrics:
        eval_results = _eval_results(
            ((eval_dataset, name, value) for name, value in metrics.items()), facts.pipeline_tag
        )
    data = ModelCardData(
        license=license,
        base_model=base_model,
        datasets=list(datasets) or None,
        pipeline_tag=facts.pipeline_tag,
        tags=list(dict.fromkeys(["gan-demo-hub", "gan", *facts.tags, *(tags or [])])),
        model_name=title,
        eval_results=eval_results,
    )
    body = _card_body(facts, title, _sample_markdown(folder, sample_image), training, metrics, protocol)
    path = folder / "README.md"
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}").save(path)
    return path


def update_model_card(
    folder: str | os.PathLike, *, section: str, markdown: str, metrics: Mapping[str, float] | None = None
) -> Path:
    """Replace (or append) the ``## <section>`` of a folder's model card; metrics go to the card too.

    ``metrics`` names look like ``"<dataset> <metric>"`` (``"Set5 psnr"``); they become the card's
    machine-readable ``model-index`` entries, so the Hub shows them beside the model.

    Example:
        >>> import tempfile
        >>> from gan_models import SRVGGNetCompact, SuperResolutionPipeline
        >>> folder = tempfile.mkdtemp()
        >>> SuperResolutionPipeline(SRVGGNetCompact(num_feat=4, num_conv=1)).save_pretrained(folder)
        >>> _ = write_model_card(folder, title="T", datasets=["d"], license="mit", metrics={}, protocol="-", training="-")
        >>> p = update_model_card(folder, section="Evaluation", markdown="PSNR 30", metrics={"Set5 psnr": 30.0})
        >>> "PSNR 30" in p.read_text() and "model-index" in p.read_text()
        True
    """
    path = Path(folder) / "README.md"
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist; write the card first (write_model_card).")
    card = ModelCard.load(path)
    heading = f"## {section}"
    text = card.text
    start = text.find(f"\n{heading}\n")
    if start == -1:
        text = text.rstrip() + f"\n\n{heading}\n\n{markdown.strip()}\n"
    else:
        end = text.find("\n## ", start + len(heading) + 2)
        text = text[: start + 1] + f"{heading}\n\n{markdown.strip()}\n" + (text[end:] if end != -1 else "")
    if metrics:
        task_type = card.data.pipeline_tag or "image-to-image"
        card.data.eval_results = _eval_results(
            ((*name.split(" ", 1), value) for name, value in metrics.items()), task_type
        )
        card.data.model_name = card.data.model_name or Path(folder).resolve().name
    ModelCard(f"---\n{card.data.to_yaml()}\n---\n{text}").save(path)
    return path
