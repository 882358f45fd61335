"""Diffusers-style inference pipelines, one module per family (listed in :mod:`gan_models.families`).

The names exported here are those of the families' ``gan_models.pipelines.*`` modules' ``__all__``.
"""

from ..families import exports as _exports

_names = _exports(under=__name__)
globals().update(_names)
__all__ = sorted(_names)
del _exports, _names
