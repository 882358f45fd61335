"""Foreign checkpoints into our modules, one file per family, never running pickled code.

* :func:`load_foreign_superres` reads ESRGAN / Real-ESRGAN ``.pth`` files (BasicSR ``params_ema`` /
  ``params``, bare state dicts, the 2018 and 2019 ESRGAN layouts).
* :func:`load_foreign_stylegan2` reads rosinality/stylegan2-pytorch ``.pt`` files (``g_ema``).
* :func:`load_foreign_cyclegan` reads junyanz/pytorch-CycleGAN-and-pix2pix ResNet generators
  (``latest_net_G_A.pth``).

``python -m gan_models.convert <family> ...`` turns them into pipeline folders.
"""

from .faces import convert_stylegan2_state_dict, load_foreign_stylegan2
from .superres import convert_superres_state_dict, load_foreign_superres
from .translation import convert_cyclegan_state_dict, load_foreign_cyclegan

__all__ = [
    "convert_cyclegan_state_dict",
    "convert_stylegan2_state_dict",
    "convert_superres_state_dict",
    "load_foreign_cyclegan",
    "load_foreign_stylegan2",
    "load_foreign_superres",
]
