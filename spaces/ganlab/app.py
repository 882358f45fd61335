"""Standalone entry of the GAN Lab Space: ``python spaces/ganlab/app.py``.

On Hugging Face Spaces ``gan_models`` (the networks and the in-memory loop, ``gan_models/lab/``)
is copied next to this file (see ``spaces/deploy.py``); run from this repository it is two folders
up, so we put the repository root on ``sys.path`` when needed.
"""

import sys
from pathlib import Path

try:
    import gan_models  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ui import build  # this file's folder is sys.path[0] when run as a script

demo = build()  # module level, so `gradio spaces/ganlab/app.py` (reload mode) finds it

if __name__ == "__main__":
    demo.launch()
