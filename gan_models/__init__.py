"""gan_models: the networks and inference pipelines of the GAN demo hub.

No gradio and no accelerate here: Spaces and training import this package, never the reverse.

The top-level names are the errors and every name in the ``__all__`` of the families' modules
(:data:`gan_models.families.FAMILIES`, one explicit list): a saved pipeline's
``model_index.json`` names the library each component comes from, and loading imports it again,
so every class that can appear in a saved folder must be importable from here.

Example:
    >>> from gan_models import RRDBNet, SuperResolutionPipeline
    >>> pipe = SuperResolutionPipeline(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4))
    >>> pipe.scale
    4
"""

from . import errors as _errors
from .families import exports as _exports

_names = {name: getattr(_errors, name) for name in _errors.__all__} | _exports()
globals().update(_names)
__all__ = sorted(_names)
del _errors, _exports, _names
