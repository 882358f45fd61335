"""The GAN Lab: 2-D toy GANs trained in memory, streamed while they learn, collapse and get fixed.

Rooms: ``recipes`` (every knob of a run and the named presets, the collapse demo's among them),
``loop`` (the in-memory loop that streams states and stops on request), ``mode_metrics`` (PacGAN's
modes / % high quality / reverse KL) and ``picture`` (Pillow pictures of runs). The networks and
targets are the family's model file, ``gan_models/toy2d.py``. The GAN Lab Space
(``spaces/ganlab/``) and the benchmark CLI (``python -m training.toy_benchmark``) both train here;
the Space deploys with ``gan_models`` alone. The names below are exported from ``gan_models`` too
(the family list names this package); presets and constants stay in their rooms
(``from gan_models.lab.recipes import RECIPES, make_recipe``).

Example:
    >>> from gan_models.lab import ToyRecipe, train_toy
    >>> [snapshot.step for _, snapshot in train_toy("ring8", ToyRecipe(steps=20, batch_size=32), every=10)]
    [0, 10, 20]
"""

from .loop import Snapshot, ToyGANTrainer, train_side_by_side, train_toy
from .mode_metrics import ModeCoverage, mode_coverage
from .recipes import ToyRecipe

__all__ = [
    "ModeCoverage",
    "Snapshot",
    "ToyGANTrainer",
    "ToyRecipe",
    "mode_coverage",
    "train_side_by_side",
    "train_toy",
]
