"""Foreign super-resolution checkpoints: ESRGAN (2018, 2019 layouts), BasicSR / Real-ESRGAN ``.pth``.

:func:`load_foreign_superres` reads BasicSR ``params_ema`` / ``params`` dicts, bare state dicts and
the 2018 and 2019 ESRGAN layouts into :class:`~gan_models.superres.RRDBNet` or
:class:`~gan_models.superres.SRVGGNetCompact`, without running pickled code.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import torch

from ..errors import CheckpointFormatError
from ..superres import RRDBNet, SRVGGNetCompact
from ._common import checkpoint_file, read_state_dict

__all__ = ["convert_superres_state_dict", "load_foreign_superres"]

# 2018 ESRGAN ("old arch", a flat nn.Sequential): index in `model.N` -> our name
_OLD_ESRGAN_TOP = {"0": "conv_first", "3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}
_OLD_ESRGAN_RDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_ESRGAN_TRUNK_END = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
# 2019 ESRGAN (RRDBNet_arch.py before BasicSR): renamed modules
_NEW_ESRGAN_RENAME = {"trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2", "HRconv": "conv_hr"}
_NEW_ESRGAN_RDB = re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)$")


def _from_old_esrgan(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        if m := _OLD_ESRGAN_RDB.match(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
        elif m := _OLD_ESRGAN_TRUNK_END.match(key):
            out[f"conv_body.{m[2]}"] = value  # model.1.sub.<num_block>: the conv closing the trunk
        elif (parts := key.split(".")) and len(parts) == 3 and parts[1] in _OLD_ESRGAN_TOP:
            out[f"{_OLD_ESRGAN_TOP[parts[1]]}.{parts[2]}"] = value
        else:
            raise CheckpointFormatError(f"Unexpected key {key!r} in an old-style (2018) ESRGAN checkpoint.")
    return out


def _from_new_esrgan(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        if m := _NEW_ESRGAN_RDB.match(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
        else:
            module, _, param = key.partition(".")
            out[f"{_NEW_ESRGAN_RENAME.get(module, module)}.{param}"] = value
    return out


def _layout_error(sd: Mapping[str, object], why: str) -> CheckpointFormatError:
    keys = list(sd)
    sample = ", ".join(keys[:6]) + (f", ... ({len(keys)} keys)" if len(keys) > 6 else "")
    return CheckpointFormatError(
        f"{why} First keys: {sample}. Supported: ESRGAN/Real-ESRGAN RRDBNet (x4plus, x2plus, 2018/2019 "
        "ESRGAN layouts) and SRVGGNetCompact (realesr-general / animevideo) weights."
    )


def convert_superres_state_dict(
    sd: Mapping[str, torch.Tensor], act_type: str | None = None
) -> tuple[type[RRDBNet | SRVGGNetCompact], dict, dict[str, torch.Tensor]]:
    """Detect architecture and hyper-parameters of a foreign SR state dict; rename its keys.

    Returns ``(model_class, config_kwargs, state_dict_in_our_names)``.

    Example:
        >>> net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
        >>> cls, cfg, _ = convert_superres_state_dict(net.state_dict())
        >>> cls.__name__, cfg["num_conv"], cfg["upscale"]
        ('SRVGGNetCompact', 2, 2)
    """
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel wrappers
    # 1. bring ESRGAN layouts to BasicSR names
    if "model.0.weight" in sd:
        sd = _from_old_esrgan(sd)
    elif any(k.startswith("RRDB_trunk.") for k in sd):
        sd = _from_new_esrgan(sd)

    # 2. RRDBNet: conv_first + body.<i>.rdb<j>.conv<k> + conv_body/up1/up2/hr/last
    if "conv_first.weight" in sd:
        needed = ("conv_last.weight", "body.0.rdb1.conv1.weight")
        if any(k not in sd for k in needed):
            raise _layout_error(sd, f"Looks like RRDBNet but lacks {[k for k in needed if k not in sd]}.")
        first = sd["conv_first.weight"]  # (num_feat, num_in_ch * r^2, 3, 3)
        num_out_ch = sd["conv_last.weight"].shape[0]
        ratio = first.shape[1] // num_out_ch  # pixel-unshuffle factor squared: 1, 4, 16
        scale = {1: 4, 4: 2, 16: 1}.get(ratio) if first.shape[1] % num_out_ch == 0 else None
        if scale is None:
            raise _layout_error(sd, f"conv_first takes {first.shape[1]} channels: not x4 / x2 / x1 of {num_out_ch}.")
        config = dict(
            num_in_ch=first.shape[1] // (4 // scale) ** 2,
            num_out_ch=num_out_ch,
            scale=scale,
            num_feat=first.shape[0],
            num_block=len({k.split(".")[1] for k in sd if k.startswith("body.")}),
            num_grow_ch=sd["body.0.rdb1.conv1.weight"].shape[0],
        )
        return RRDBNet, config, sd

    # 3. SRVGGNetCompact: body.0 (conv), body.1 (act), ..., body.<2n+2> (conv), nothing else
    if "body.0.weight" in sd and all(k.startswith("body.") for k in sd):
        convs = sorted(int(k.split(".")[1]) for k in sd if k.endswith(".weight") and sd[k].dim() == 4)
        if convs != list(range(0, 2 * len(convs) - 1, 2)) or len(convs) < 2:
            raise _layout_error(sd, "body.* looks like SRVGGNetCompact but the conv indices are not 0, 2, 4, ...")
        first, last = sd["body.0.weight"], sd[f"body.{convs[-1]}.weight"]
        num_in_ch = first.shape[1]
        upscale = math.isqrt(last.shape[0] // num_in_ch)
        if upscale * upscale * num_in_ch != last.shape[0]:
            raise _layout_error(sd, f"The last conv has {last.shape[0]} outputs: not {num_in_ch} x a square.")
        if "body.1.weight" in sd:
            act = "prelu"  # PReLU is the only activation with parameters
        elif act_type in ("relu", "leakyrelu"):
            act = act_type
        else:
            raise CheckpointFormatError(
                "This SRVGGNetCompact checkpoint has parameter-free activations, so ReLU and LeakyReLU "
                "cannot be told apart; pass act_type='relu' or act_type='leakyrelu' (CLI: --act-type)."
            )
        config = dict(
            num_in_ch=num_in_ch,
            num_out_ch=num_in_ch,
            num_feat=first.shape[0],
            num_conv=len(convs) - 2,
            upscale=upscale,
            act_type=act,
        )
        return SRVGGNetCompact, config, sd

    raise _layout_error(sd, "Unrecognised super-resolution checkpoint layout.")


def load_foreign_superres(path: str | os.PathLike, act_type: str | None = None) -> RRDBNet | SRVGGNetCompact:
    """Load an ESRGAN / Real-ESRGAN ``.pth`` (or ``.safetensors``) into our module, architecture detected.

    Accepts BasicSR dicts (``params_ema`` preferred over ``params``), bare state dicts, and the 2018
    (``model.N``) and 2019 (``RRDB_trunk``) ESRGAN layouts. Loading is strict: every tensor must
    find its place with the right shape.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or an unknown key layout (lists keys).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "net.pth")
        >>> torch.save({"params_ema": RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict()}, p)
        >>> net = load_foreign_superres(p)
        >>> type(net).__name__, net.config.num_block, net.config.scale
        ('RRDBNet', 2, 4)
    """
    path = checkpoint_file(path)
    cls, config, sd = convert_superres_state_dict(read_state_dict(path), act_type=act_type)
    model = cls(**config)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise _layout_error(sd, f"Detected {cls.__name__}({config}) but the weights do not fit: {err}") from err
    return model.float().eval()
