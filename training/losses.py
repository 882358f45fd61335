"""Loss functions of the recipes: the shared adversarial maths (from ``gan_models.losses``) and a VGG perceptual loss."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_models.losses import ADVERSARIAL_KINDS, adversarial_loss, lazy_r1, style_mixing_latent

__all__ = ["ADVERSARIAL_KINDS", "VGGPerceptualLoss", "adversarial_loss", "lazy_r1", "style_mixing_latent"]


# VGG19 "features" layout (torchvision key names: features.<index>.weight), conv widths or "M" pools
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
# indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in that layout, and ESRGAN's layer weights
_VGG_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}


class VGGPerceptualLoss(nn.Module):
    """L1 between VGG19 features of output and target (ESRGAN-style, before/after ReLU choice: after).

    The weights are never downloaded: pass a local torchvision-layout ``vgg19`` state dict file
    (``.safetensors``, or ``.pth`` loaded with ``weights_only=True``). Without one the recipes
    simply skip the perceptual term.
    """

    def __init__(self, weights_path: str | Path, layer_weights: dict[str, float] | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in _VGG19:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(item), 3, 1, 1), nn.ReLU(inplace=False)]
                in_ch = int(item)
        self.features = nn.Sequential(*layers)
        path = Path(weights_path)
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        self.load_state_dict(state, strict=True)
        self.requires_grad_(False).eval()
        self.layer_weights = layer_weights or {
            "relu1_1": 0.1,
            "relu2_1": 0.1,
            "relu3_1": 1.0,
            "relu4_1": 1.0,
            "relu5_1": 1.0,
        }
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = {_VGG_LAYERS[name]: name for name in self.layer_weights}
        out = {}
        x = (x - self.mean) / self.std
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
            if len(out) == len(wanted):
                break
        return out

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fo, ft = self._features(output), self._features(target.detach())
        return sum(w * F.l1_loss(fo[name], ft[name]) for name, w in self.layer_weights.items())
