"""GAN losses shared by the recipes (training) and the GAN Lab's in-memory loop (``gan_models.lab``).

Plain maths on tensors: the adversarial objectives, StyleGAN2's lazy R1 and the style-mixing draw.
They live in the library, not in ``training/``, because the GAN Lab Space trains with them and a
Space never imports ``training``; ``training/losses.py`` re-exports them next to its VGG loss.

Example:
    >>> import torch
    >>> round(adversarial_loss(torch.zeros(4), True, "hinge").item(), 4)
    1.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ADVERSARIAL_KINDS", "adversarial_loss", "lazy_r1", "style_mixing_latent"]

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
