"""The one list of GAN families, in tab order: the hub's tabs, the Spaces, the cards and the exports read it.

A family is its models and pipeline (``modules``, each with an explicit ``__all__``) and its Space
folder (``spaces/<space>/``: tab label, endpoints, bundled checkpoints). Adding a family is one
line here; nothing scans file names. An unknown family is an error, never a fallback.

Example:
    >>> [f.name for f in FAMILIES]
    ['superres', 'faces', 'translation', 'text2image', 'ganlab']
    >>> family("translation").space
    'translate'
    >>> sorted(pipeline_classes())[:2]
    ['CycleGANPipeline', 'FaceGANPipeline']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

__all__ = ["FAMILIES", "Family", "exports", "family", "pipeline_classes"]


@dataclass(frozen=True)
class Family:
    """One GAN family.

    Args:
        name: the family's name (model files ``gan_models/<name>.py``, recipes, cards).
        space: its Space folder under ``spaces/``.
        modules: the ``gan_models`` modules of its networks and pipeline (the GAN Lab: its in-memory
            loop, ``gan_models.lab``); every name in their ``__all__`` is exported from ``gan_models``
            (saved folders are loaded by class name).
    """

    name: str
    space: str
    modules: tuple[str, ...]

    def load(self) -> list[ModuleType]:
        """The family's modules, imported."""
        return [importlib.import_module(module) for module in self.modules]


# one line per family, in tab order; a new family adds a line
FAMILIES: tuple[Family, ...] = (
    Family(name="superres", space="superres", modules=("gan_models.superres", "gan_models.pipelines.superres")),
    Family(name="faces", space="faces", modules=("gan_models.faces", "gan_models.pipelines.faces")),
    Family(
        name="translation", space="translate", modules=("gan_models.translation", "gan_models.pipelines.translation")
    ),
    Family(name="text2image", space="text2image", modules=("gan_models.text2image", "gan_models.pipelines.text2image")),
    Family(name="ganlab", space="ganlab", modules=("gan_models.toy2d", "gan_models.lab")),
)


def family(name: str) -> Family:
    """The family called ``name``.

    Raises:
        ValueError: an unknown name; the message lists the valid ones.

    Example:
        >>> family("faces").modules[0]
        'gan_models.faces'
    """
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise ValueError(f"Unknown family {name!r}; choose one of {', '.join(f.name for f in FAMILIES)}.")


def exports(under: str = "gan_models") -> dict[str, object]:
    """Every name in the ``__all__`` of the families' modules inside package ``under``, in family order.

    ``gan_models`` exports all of them; ``gan_models.pipelines`` those of the pipeline modules.

    Raises:
        ImportError: a module without ``__all__``, or two modules exporting different objects
            under one name (the top-level name would silently depend on the order).
    """
    names: dict[str, object] = {}
    for fam in FAMILIES:
        for module in fam.load():
            if not module.__name__.startswith(f"{under}."):
                continue
            public = getattr(module, "__all__", None)
            if public is None:
                raise ImportError(f"{module.__name__} (family {fam.name!r}) needs an explicit __all__.")
            for name in public:
                value = getattr(module, name)
                if names.get(name, value) is not value:
                    raise ImportError(f"{module.__name__}.{name} clashes with another family's export {name!r}.")
                names[name] = value
    return names


def pipeline_classes() -> dict[str, type]:
    """Class name -> pipeline class (``DiffusionPipeline`` subclasses) of every family.

    Example:
        >>> pipeline_classes()["FaceGANPipeline"].card_facts.pipeline_tag
        'unconditional-image-generation'
    """
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline

    return {
        name: value
        for name, value in exports().items()
        if isinstance(value, type) and issubclass(value, DiffusionPipeline)
    }
