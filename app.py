"""The GAN demo hub: every family's Space in one app, one tab each. Run ``python app.py``.

Each family's UI lives in ``spaces/<family>/ui.py`` and deploys alone too. We load those files by
path, not with ``import spaces.<family>.ui``: the folder name ``spaces`` is also the name of
Hugging Face's ZeroGPU package, and whichever one Python finds first would shadow the other.
Host and port come from gradio's usual ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import gradio as gr

REPO_ROOT = Path(__file__).resolve().parent
# (tab label, folder under spaces/): one line per family, in tab order. A new family adds a line.
FAMILIES = [
    ("Super-resolution", "superres"),
    ("Faces", "faces"),
    ("Translation", "translate"),
    ("Text to image", "text2image"),
    ("GAN Lab", "ganlab"),
]


def load_family_ui(family: str) -> ModuleType:
    """Import ``spaces/<family>/ui.py`` as the module ``gan_hub_ui_<family>``."""
    path = REPO_ROOT / "spaces" / family / "ui.py"
    spec = importlib.util.spec_from_file_location(f"gan_hub_ui_{family}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load the {family!r} Space UI from {path}; is the file there?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as the importlib recipe does: pickling and dataclasses look it up
    spec.loader.exec_module(module)
    return module


def build_hub() -> gr.Blocks:
    """The hub as a ``gr.Blocks``; each family's named endpoints (e.g. ``/upscale``) keep their names."""
    with gr.Blocks(title="GAN demo hub") as hub:
        gr.Markdown("# GAN demo hub\nOne tab per GAN family; each also runs alone as a Hugging Face Space.")
        for label, family in FAMILIES:
            with gr.Tab(label):
                load_family_ui(family).render()  # not build(): see render()'s docstring
    hub.queue(default_concurrency_limit=1)  # the families share this machine's CPU or GPU
    return hub


if __name__ == "__main__":
    build_hub().launch()
