"""Foreign CycleGAN generators: junyanz/pytorch-CycleGAN-and-pix2pix ResNet generators (``latest_net_G_A.pth``).

:func:`load_foreign_cyclegan` reads them into :class:`~gan_models.translation.ResnetGenerator`,
blocks and widths detected, without running pickled code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch

from ..errors import CheckpointFormatError
from ..translation import ResnetGenerator
from ._common import checkpoint_file, read_state_dict, shape_mismatches

__all__ = ["convert_cyclegan_state_dict", "load_foreign_cyclegan"]

_RESNET_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.")
# statistics old PyTorch (< 0.4) saved for InstanceNorm, which junyanz's networks do not use;
# junyanz's own loader (__patch_instance_norm_state_dict) deletes them the same way
_INSTANCE_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
_FIRST_RESNET_BLOCK = 10  # model.0-3: stem, model.4-9: two downsamplings, then the blocks


def _cyclegan_error(why: str) -> CheckpointFormatError:
    return CheckpointFormatError(
        f"{why} Supported: junyanz/pytorch-CycleGAN-and-pix2pix ResNet generators (--netG resnet_9blocks or "
        "resnet_6blocks, instance norm, no dropout: the CycleGAN defaults), e.g. latest_net_G_A.pth, "
        "latest_net_G_B.pth or the single-direction latest_net_G.pth."
    )


def convert_cyclegan_state_dict(sd: Mapping[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """Detect a junyanz ResNet generator's hyper-parameters from its state dict and clean it.

    Drops the ``module.`` prefix of DataParallel and the instance-norm running statistics old
    PyTorch saved; ``n_blocks`` from the ``model.<i>.conv_block`` keys, ``ngf`` and the channels
    from the first and last convolutions; then every tensor is checked against the model they describe.

    Returns ``(config_kwargs, state_dict)`` for :class:`~gan_models.translation.ResnetGenerator`
    (the same order as :func:`convert_stylegan2_state_dict`).

    Raises:
        CheckpointFormatError: a U-Net generator, a discriminator, batch norm, dropout, or any
            key or shape the detected ResNet generator does not have.

    Example:
        >>> from gan_models.translation import ResnetGenerator
        >>> sd = ResnetGenerator(ngf=8, n_blocks=6).state_dict()
        >>> sd["model.2.running_mean"] = torch.zeros(8)  # what PyTorch 0.3 wrote for InstanceNorm
        >>> config, clean = convert_cyclegan_state_dict(sd)
        >>> config, "model.2.running_mean" in clean
        ({'in_channels': 3, 'out_channels': 3, 'ngf': 8, 'n_blocks': 6}, False)
    """
    # 1. wrappers and leftovers: DataParallel's prefix, old instance-norm statistics
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if k.rsplit(".", 1)[-1] not in _INSTANCE_NORM_STATS}

    # 2. the other junyanz networks, named so the user knows which file to take instead
    if any(k.startswith("model.model.") for k in sd):
        raise _cyclegan_error(
            "This is a U-Net generator (--netG unet_256 / unet_128, pix2pix's default): not supported."
        )
    if "model.0.weight" in sd or any(k.startswith("net.") for k in sd):
        raise _cyclegan_error(
            "This looks like a PatchGAN / pixel discriminator (latest_net_D_A.pth), not a generator; convert "
            "the generator files latest_net_G_A.pth / latest_net_G_B.pth."
        )
    if "model.1.weight" not in sd:
        raise _cyclegan_error(f"Not a CycleGAN ResNet generator: no model.1.weight; first keys: {list(sd)[:6]}.")

    # 3. residual blocks model.10 ... model.<9 + n_blocks>, each with convs at conv_block.1 and .5
    blocks = sorted({int(m[1]) for k in sd if (m := _RESNET_BLOCK_KEY.match(k))})
    if blocks != list(range(_FIRST_RESNET_BLOCK, _FIRST_RESNET_BLOCK + len(blocks))):
        raise _cyclegan_error(f"The residual blocks should be model.10, model.11, ..., got model.{blocks}.")
    if any(k.endswith(".conv_block.6.weight") for k in sd):
        raise _cyclegan_error("The residual blocks have dropout (trained with --use_dropout): not supported.")
    norm_keys = [k for k in sd if k.startswith(("model.2.", "model.5.", "model.8."))]
    if norm_keys:
        raise _cyclegan_error(
            f"The normalisation layers have parameters {norm_keys[:2]} (--norm batch): not supported."
        )
    n_blocks = len(blocks)
    last = f"model.{_FIRST_RESNET_BLOCK + n_blocks + 7}.weight"  # 2 x (convT, norm, ReLU), pad, conv
    if last not in sd:
        raise _cyclegan_error(f"Detected {n_blocks} residual blocks, so the last conv should be {last}; it is missing.")
    first = sd["model.1.weight"]  # (ngf, in_channels, 7, 7)
    config = {
        "in_channels": first.shape[1],
        "out_channels": sd[last].shape[0],
        "ngf": first.shape[0],
        "n_blocks": n_blocks,
    }

    # 4. every tensor against the model this config builds
    if details := shape_mismatches(ResnetGenerator, config, sd):
        raise _cyclegan_error(f"Detected ResnetGenerator({config}) but the weights do not fit: {details}.")
    return config, sd


def load_foreign_cyclegan(path: str | os.PathLike):
    """Load a junyanz CycleGAN generator (``.pth`` or ``.safetensors``) into ours, size detected.

    junyanz saves each network as a bare state dict (``latest_net_G_A.pth`` maps A -> B,
    ``latest_net_G_B.pth`` B -> A); a ``state_dict`` or ``model`` wrapper is accepted too. Only
    tensors are unpickled (``weights_only``). Loading is strict.

    Returns:
        A float32 :class:`~gan_models.translation.ResnetGenerator` in eval mode.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or not a ResNet CycleGAN generator.

    Example:
        >>> import tempfile, os
        >>> from gan_models.translation import ResnetGenerator
        >>> p = os.path.join(tempfile.mkdtemp(), "latest_net_G_A.pth")
        >>> torch.save(ResnetGenerator(ngf=8, n_blocks=2).state_dict(), p)
        >>> load_foreign_cyclegan(p).config.n_blocks
        2
    """
    path = checkpoint_file(path)
    config, sd = convert_cyclegan_state_dict(read_state_dict(path, wrappers=("state_dict", "model")))
    model = ResnetGenerator(**config)
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as err:  # shapes were checked; this is a last line of defence
        raise _cyclegan_error(f"Detected ResnetGenerator({config}) but loading failed: {err}") from err
    return model.float().eval()
