"""Foreign StyleGAN2 checkpoints: rosinality/stylegan2-pytorch ``.pt`` files (``g_ema``).

:func:`load_foreign_stylegan2` reads them into :class:`~gan_models.faces.StyleGAN2Generator`, size
and widths detected, without running pickled code (only ``argparse.Namespace`` is let through).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Mapping

import torch

from ..errors import CheckpointFormatError
from ..faces import StyleGAN2Generator, channel_widths
from ._common import checkpoint_file, read_state_dict, shape_mismatches

__all__ = ["convert_stylegan2_state_dict", "load_foreign_stylegan2"]

_STYLE_KEY = re.compile(r"^style\.(\d+)\.weight$")
_TO_RGBS_KEY = re.compile(r"^to_rgbs\.(\d+)\.")


def _stylegan2_error(why: str) -> CheckpointFormatError:
    return CheckpointFormatError(
        f"{why} Supported: generator weights of rosinality/stylegan2-pytorch (a .pt with 'g_ema' or 'g', "
        "as written by its train.py or convert_weight.py, or a bare Generator state dict)."
    )


def _stylegan2_widths(sd: Mapping[str, torch.Tensor], size: int) -> dict[int, int]:
    """Channels per resolution as stored: the 4x4 constant, then each ToRGB's input width."""
    widths = {4: sd["input.input"].shape[1]}
    for i in range(int(math.log2(size)) - 2):
        widths[2 ** (i + 3)] = sd[f"to_rgbs.{i}.conv.weight"].shape[2]  # (1, 3, in_channel, 1, 1)
    return widths


def convert_stylegan2_state_dict(
    sd: Mapping[str, torch.Tensor], lr_mlp: float = 0.01
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Detect a rosinality StyleGAN2 generator's hyper-parameters from its state dict.

    Size from the number of ``to_rgbs``, ``style_dim`` and ``n_mlp`` from ``style.<i>.weight``,
    ``channel_base`` / ``channel_max`` from the widths, checked layer by layer against the model
    they describe. ``lr_mlp`` is not stored in the weights (rosinality's default is 0.01).

    Returns ``(config_kwargs, state_dict)`` for :class:`~gan_models.faces.StyleGAN2Generator`.

    Raises:
        CheckpointFormatError: not a StyleGAN2 generator, or widths / shapes no config reproduces.

    Example:
        >>> from gan_models.faces import StyleGAN2Generator
        >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> cfg, _ = convert_stylegan2_state_dict(G.state_dict())
        >>> cfg["size"], cfg["style_dim"], cfg["n_mlp"], cfg["channel_base"], cfg["channel_max"]
        (16, 16, 2, 128, 16)
    """
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel / DDP wrappers
    # 1. the parts every StyleGAN2 generator has
    needed = ("input.input", "conv1.conv.weight", "to_rgb1.conv.weight", "style.1.weight")
    if any(k not in sd for k in needed):
        missing = [k for k in needed if k not in sd]
        raise _stylegan2_error(f"Not a StyleGAN2 generator: missing {missing}; first keys: {list(sd)[:6]}.")

    # 2. mapping network: style.1 ... style.<n_mlp> (style.0 is the parameter-free PixelNorm)
    mlp = sorted(int(m[1]) for k in sd if (m := _STYLE_KEY.match(k)))
    if mlp != list(range(1, len(mlp) + 1)):
        raise _stylegan2_error(f"Mapping layers style.<i> should be numbered 1, 2, ..., got {mlp}.")
    style_dim = sd["style.1.weight"].shape[1]

    # 3. resolution: one ToRGB per doubling above 4 px
    n_rgbs = len({int(m[1]) for k in sd if (m := _TO_RGBS_KEY.match(k))})
    if n_rgbs < 1:
        raise _stylegan2_error("No to_rgbs.<i> layers: a StyleGAN2 generator has at least one (8 px).")
    size = 2 ** (n_rgbs + 2)

    # 4. widths -> (channel_base, channel_max): try every base the widths allow, keep the first that
    #    reproduces all of them (rosinality's 16384 * channel_multiplier is always among them)
    try:
        widths = _stylegan2_widths(sd, size)
    except (KeyError, IndexError) as err:
        raise _stylegan2_error(f"The to_rgbs layers are incomplete for {size} px ({err}).") from err
    channel_max = max(widths.values())
    candidates = sorted({w * r for r, w in widths.items()} | {channel_max * size})
    channel_base = next((b for b in candidates if channel_widths(size, b, channel_max) == widths), None)
    if channel_base is None:
        raise _stylegan2_error(
            f"The layer widths {widths} do not follow min(channel_max, channel_base // resolution) for any "
            "channel_base; this is not a standard StyleGAN2 generator."
        )
    config = {
        "size": size,
        "style_dim": style_dim,
        "n_mlp": len(mlp),
        "channel_base": channel_base,
        "channel_max": channel_max,
        "lr_mlp": lr_mlp,
    }

    # 5. every tensor against the model this config builds
    if details := shape_mismatches(StyleGAN2Generator, config, sd):
        raise _stylegan2_error(f"Detected StyleGAN2Generator({config}) but the weights do not fit: {details}.")
    return config, sd


def load_foreign_stylegan2(path: str | os.PathLike, lr_mlp: float = 0.01):
    """Load a rosinality/stylegan2-pytorch generator (``.pt`` or ``.safetensors``) into ours, size detected.

    Takes ``g_ema`` (the EMA weights everyone samples from), else ``g``, else a bare state dict. The
    ``args`` entry of a training checkpoint is an ``argparse.Namespace``: exactly that class is
    allowed through the weights-only unpickler, nothing else. Loading is strict.

    Returns:
        A float32 :class:`~gan_models.faces.StyleGAN2Generator` in eval mode.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or not a StyleGAN2 generator.

    Example:
        >>> import argparse, tempfile, os
        >>> from gan_models.faces import StyleGAN2Generator
        >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> p = os.path.join(tempfile.mkdtemp(), "ffhq.pt")
        >>> torch.save({"g_ema": G.state_dict(), "args": argparse.Namespace(size=16)}, p)
        >>> load_foreign_stylegan2(p).config.size
        16
    """
    path = checkpoint_file(path)
    sd = read_state_dict(path, wrappers=("g_ema", "g", "state_dict"), allowed_globals=(argparse.Namespace,))
    config, sd = convert_stylegan2_state_dict(sd, lr_mlp=lr_mlp)
    model = StyleGAN2Generator(**config)
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as err:  # shapes were checked; this is a last line of defence
        raise _stylegan2_error(f"Detected StyleGAN2Generator({config}) but loading failed: {err}") from err
    return model.float().eval()
