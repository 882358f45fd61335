"""What a family's model card says about it, kept on its pipeline class (``card_facts``).

Plain data, no card writing: :mod:`gan_models.cards` reads it from the class that a saved folder's
``model_index.json`` names, so a new family's card needs no edit outside its own pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CardFacts"]


@dataclass(frozen=True)
class CardFacts:
    """The parts of a model card that differ between families.

    Args:
        pipeline_tag: the Hub's task tag (``"image-to-image"``, ``"text-to-image"``, ...).
        tags: the family's default tags (``gan-demo-hub`` and ``gan`` are always added).
        description: one noun phrase, e.g. ``"A StyleGAN2 face generator"``.
        usage: a Python snippet that loads the folder and runs it (``<this repo or folder>``
            stands for the model's location).
        limitations: the "Limitations and disclosure" section (markdown).

    Example:
        >>> CardFacts("image-to-image", ("x",), "A thing", "pass", "None known.").tags
        ('x',)
    """

    pipeline_tag: str
    tags: tuple[str, ...]
    description: str
    usage: str
    limitations: str
