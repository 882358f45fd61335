"""The GAN demo hub: every family's Space in one app, one tab each. Run ``python app.py``.

The tabs are the families of ``gan_models.families.FAMILIES`` (the one family list), in its order;
each family's Space folder ``spaces/<space>/`` declares its tab label, endpoints and bundled
checkpoints in its ``ui.py`` and deploys alone too. We load those files by path, not with
``import spaces.<space>.ui``: the folder name ``spaces`` is also the name of Hugging Face's ZeroGPU
package, and whichever one Python finds first would shadow the other.
Host and port come from gradio's usual ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import gradio as gr

from gan_models import families

REPO_ROOT = Path(__file__).resolve().parent
# what every spaces/<space>/ui.py declares (module-level constants) besides build() and render()
DECLARATION = ("TAB_LABEL", "ENDPOINTS", "BUNDLED_CHECKPOINTS")


def load_family_ui(space: str) -> ModuleType:
    """Import ``spaces/<space>/ui.py`` (``space``: a family's Space folder) as the module ``gan_hub_ui_<space>``.

    Raises:
        ValueError: ``space`` is not the Space folder of a family in the family list; the message
            lists the valid ones.
        ImportError: the file is missing, or does not declare ``TAB_LABEL``, ``ENDPOINTS`` and
            ``BUNDLED_CHECKPOINTS``.
    """
    spaces = [family.space for family in families.FAMILIES]
    if space not in spaces:
        raise ValueError(f"Unknown family Space {space!r}; choose one of {', '.join(spaces)}.")
    path = REPO_ROOT / "spaces" / space / "ui.py"
    spec = importlib.util.spec_from_file_location(f"gan_hub_ui_{space}", path) if path.is_file() else None
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load the {space!r} Space UI from {path}; is the file there?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as the importlib recipe does: pickling and dataclasses look it up
    spec.loader.exec_module(module)
    missing = [name for name in DECLARATION if not hasattr(module, name)]
    if missing:
        raise ImportError(f"{path} must declare {', '.join(missing)} (see spaces/superres/ui.py).")
    return module


def build_hub() -> gr.Blocks:
    """The hub as a ``gr.Blocks``; each family's named endpoints (e.g. ``/upscale``) keep their names."""
    with gr.Blocks(title="GAN demo hub") as hub:
        gr.Markdown("# GAN demo hub\nOne tab per GAN family; each also runs alone as a Hugging Face Space.")
        for family in families.FAMILIES:
            ui = load_family_ui(family.space)
            with gr.Tab(ui.TAB_LABEL):
                ui.render()  # not build(): see render()'s docstring
    hub.queue(default_concurrency_limit=1)  # the families share this machine's CPU or GPU
    return hub


if __name__ == "__main__":
    build_hub().launch()
