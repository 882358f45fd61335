"""Loss functions shared by the families: adversarial objectives and a VGG perceptual loss."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ADVERSARIAL_KINDS = ("vanilla", "lsgan", "hinge")


def adversarial_loss(logits: torch.Tensor, target_is_real: bool, kind: str = "vanilla", for_discriminator: bool = True):
    """Mean adversarial loss of D's logits against a real/fake target.

    vanilla: BCE with logits (the non-saturating generator loss when used with target real).
    lsgan:   (D(x) - target)^2, target 1 real / 0 fake (CycleGAN).
    hinge:   D: relu(1 - D(x)) real, relu(1 + D(x)) fake; G: -D(x).

    Example:
        >>> round(adversarial_loss(torch.zeros(4), True).item(), 4)
        0.6931
    """
    if kind == "vanilla":
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    if kind == "lsgan":
        return (logits.float() - float(target_is_real)).pow(2).mean()
    if kind == "hinge":
        if not for_discriminator:
            return -logits.float().mean()
        return F.relu(1 - logits.float()).mean() if target_is_real else F.relu(1 + logits.float()).mean()
    raise ValueError(f"Unknown adversarial loss {kind!r}; choose one of {ADVERSARIAL_KINDS}.")


def lazy_r1(
    real_logits: torch.Tensor, real: torch.Tensor, gamma: float, every: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's lazy R1: (penalty to add to D's loss, the raw R1 for logging, detached).

    R1 = E ||grad_x D(x)||^2 on reals (``real`` must require grad and have produced
    ``real_logits``), weighted gamma / 2 and multiplied by the interval it runs at, so running it
    every ``every`` steps costs 1/every as much for the same effective strength.

    Example:
        >>> x = torch.ones(2, 3, requires_grad=True)
        >>> penalty, r1 = lazy_r1((2 * x).sum(dim=1), x, gamma=1.0, every=4)
        >>> r1.item(), penalty.item()
        (12.0, 24.0)
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    r1 = grad.float().square().flatten(1).sum(dim=1).mean()
    return r1 * (gamma / 2) * every, r1.detach()


def style_mixing_latent(z: torch.Tensor, num_latents: int, prob: float) -> tuple[torch.Tensor | None, int | None]:
    """With probability ``prob`` a second z and a random cut layer in 1..num_latents-1, else (None, None).

    StyleGAN2's style-mixing regulariser: two w's cut at a random layer keep styles separable.
    """
    if prob > 0 and torch.rand(()) < prob:
        return torch.randn_like(z), int(torch.randint(1, num_latents, ()))
    return None, None


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
