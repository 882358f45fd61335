"""The GAN Lab family: 2-D toy distributions and the small MLPs that learn them.

Everything here is a module or a seeded sampler; the in-memory loop, recipes and metrics live in
``gan_models/lab/`` and the UI in ``spaces/ganlab/``.

Targets (as in the mode-collapse literature: VEEGAN, PacGAN Sec. 5.1):

* ``ring8``: 8 Gaussians with means (cos, sin)(2πk/8) on the unit circle, std 0.01.
* ``grid25``: 25 Gaussians with means {-4, -2, 0, 2, 4}², std 0.05.
* ``moons``: scikit-learn's two moons (noise 0.05), scaled by 2 and centred.
* ``spiral``: a two-turn Archimedean spiral with Gaussian noise (std 0.05).

The first two are mixtures with known modes (``ToyDistribution.means``), which the mode-coverage
metrics of ``gan_models/lab/mode_metrics.py`` need; the last two have no modes and are for watching only.
:func:`distribution_from_points` turns any point set (the GAN Lab's drawing pad) into a target:
each sample is one of the points plus a little noise.

Example:
    >>> import torch
    >>> data = make_distribution("grid25")
    >>> data.sample(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 2])
    >>> G, D = ToyGenerator(z_dim=2, hidden=16), ToyDiscriminator(hidden=16, pack=4)
    >>> D(G(torch.zeros(8, 2))).shape  # 8 samples -> 2 packs of 4 -> 2 logits
    torch.Size([2])
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "TOY_DATASETS",
    "ToyDiscriminator",
    "ToyDistribution",
    "ToyGenerator",
    "distribution_from_points",
    "make_distribution",
]

TOY_DATASETS = ("grid25", "ring8", "moons", "spiral")
MAX_POINTS = 5000  # a drawn target needs no more; a bigger set only costs memory
POINTS_RADIUS = 3.0  # a point set is centred and scaled to fit this radius (the scale of the other targets)


@dataclass(frozen=True)
class ToyDistribution:
    """A 2-D target distribution that draws seeded samples.

    Attributes:
        name: one of ``TOY_DATASETS``, or "points" for :func:`distribution_from_points`.
        means: ``(K, 2)`` mode centres for mixtures of K equal-weight isotropic Gaussians, else None.
        std: the per-axis standard deviation of each mixture component (or the noise of the curve).
        extent: half-width of a square view that holds the distribution with a margin (for plots).
        points: ``(N, 2)`` anchors of a point-set target (sampled uniformly, plus noise), else None.
    """

    name: str
    means: torch.Tensor | None
    std: float
    extent: float
    points: torch.Tensor | None = None

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` float32 points ``(n, 2)``, a function of ``generator``'s state only (CPU)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}.")
        anchors = self.means if self.means is not None else self.points
        if anchors is not None:
            # 1. pick a component (or a drawn point) uniformly, 2. add isotropic noise around it
            index = torch.randint(len(anchors), (n,), generator=generator)
            return anchors[index] + self.std * torch.randn(n, 2, generator=generator)
        if self.name == "moons":
            # two half circles of radius 1, the second shifted by (1, -0.5) and flipped; scaled x2, centred
            t = math.pi * torch.rand(n, generator=generator)
            upper = torch.rand(n, generator=generator) < 0.5
            x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
            y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
            points = 2 * (torch.stack([x, y], dim=1) - torch.tensor([0.5, 0.25]))
            return points + self.std * torch.randn(n, 2, generator=generator)
        if self.name == "spiral":
            # r = theta / (4 pi) * 3 for theta in [0.5, 4 pi]: two turns out to radius 3; density uniform in theta
            theta = 0.5 + (4 * math.pi - 0.5) * torch.rand(n, generator=generator)
            r = 3 * theta / (4 * math.pi)
            points = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)
            return points + self.std * torch.randn(n, 2, generator=generator)
        raise ValueError(f"Unknown toy distribution {self.name!r}; choose one of {', '.join(TOY_DATASETS)}.")


def make_distribution(name: str) -> ToyDistribution:
    """The named toy distribution; an unknown name is a ``ValueError`` that lists the valid ones.

    Example:
        >>> make_distribution("ring8").means.shape
        torch.Size([8, 2])
    """
    key = str(name).strip().lower()
    if key == "ring8":
        angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
        means = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
        return ToyDistribution("ring8", means, 0.01, 1.5)
    if key == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        means = torch.cartesian_prod(axis, axis)  # (25, 2), row-major over (x, y)
        return ToyDistribution("grid25", means, 0.05, 5.5)
    if key == "moons":
        return ToyDistribution("moons", None, 0.05, 3.5)
    if key == "spiral":
        return ToyDistribution("spiral", None, 0.05, 4.0)
    raise ValueError(f"Unknown toy distribution {name!r}; choose one of {', '.join(TOY_DATASETS)}.")


def distribution_from_points(points, std: float = 0.05) -> ToyDistribution:
    """A target made of a 2-D point set: centred, scaled to fit a radius of 3, each sample a point + noise.

    Args:
        points: ``(N, 2)`` coordinates (any array-like, any scale; y up), 2 <= N <= 5,000 after
            dropping non-finite rows. Drawn strokes give points along the strokes.
        std: per-axis noise around each point, in the scaled units.

    Raises:
        ValueError: not (N, 2), fewer than 2 finite points, all points the same, too many points.

    Example:
        >>> data = distribution_from_points([[0, 0], [10, 0], [10, 10]])
        >>> float(data.points.abs().max())
        3.0
        >>> data.sample(5, torch.Generator().manual_seed(0)).shape
        torch.Size([5, 2])
    """
    try:
        xy = torch.as_tensor(points, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"Points must be numbers in N rows of (x, y); {err}") from None
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"Points must be N rows of (x, y), got shape {tuple(xy.shape)}.")
    xy = xy[torch.isfinite(xy).all(dim=1)]
    if len(xy) < 2:
        raise ValueError(f"A target needs at least 2 points, got {len(xy)}.")
    if len(xy) > MAX_POINTS:
        raise ValueError(f"A target takes at most {MAX_POINTS} points, got {len(xy)}.")
    centre = (xy.max(dim=0).values + xy.min(dim=0).values) / 2
    radius = float((xy - centre).abs().max())
    if radius == 0:
        raise ValueError("All points are at the same place; draw or give points that spread out.")
    if not math.isfinite(std) or std <= 0:
        raise ValueError(f"std must be > 0, got {std}.")
    scaled = (xy - centre) * (POINTS_RADIUS / radius)
    return ToyDistribution("points", None, float(std), POINTS_RADIUS + 1.0, scaled)


def _mlp(dims: list[int], spectral: bool = False, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of widths ``dims`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        linear = nn.Linear(d_in, d_out)
        layers.append(nn.utils.parametrizations.spectral_norm(linear) if spectral else linear)
        if i < len(dims) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class ToyGenerator(nn.Module):
    """An MLP from a ``z_dim`` standard-normal latent to a 2-D point.

    Args:
        z_dim: latent size (PacGAN's 2-D experiments use 2; a few more make many modes easier).
        hidden: width of each hidden layer.
        layers: number of hidden layers (ReLU after each).
    """

    def __init__(self, z_dim: int = 2, hidden: int = 128, layers: int = 3):
        super().__init__()
        if z_dim < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"z_dim, hidden and layers must be >= 1, got {z_dim}, {hidden}, {layers}.")
        self.z_dim = z_dim
        self.net = _mlp([z_dim] + [hidden] * layers + [2])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (B, z_dim) -> (B, 2), in data units (networks see raw coordinates: on the grid that
        # measured better than rescaling them to unit spread)
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """An MLP critic of 2-D points, optionally packed (PacGAN) and spectrally normalised.

    With ``pack = m`` the discriminator judges m samples at once: a batch of B points (B a multiple
    of m, all real or all generated) is cut into B / m packs, each pack's coordinates are
    concatenated into one 2m-vector, and one logit comes out per pack (Lin et al., "PacGAN: The
    power of two samples in generative adversarial networks", NeurIPS 2018). A collapsed generator
    makes packs whose members look alike, which a packed D can see and a single-sample D cannot.

    Args:
        hidden: width of each hidden layer.
        layers: number of hidden layers (LeakyReLU 0.2 after each).
        pack: samples per decision (1 = an ordinary discriminator).
        spectral_norm: wrap every linear layer in spectral normalisation (Miyato et al., 2018).
    """

    def __init__(self, hidden: int = 128, layers: int = 3, pack: int = 1, spectral_norm: bool = False):
        super().__init__()
        if hidden < 1 or layers < 1 or pack < 1:
            raise ValueError(f"hidden, layers and pack must be >= 1, got {hidden}, {layers}, {pack}.")
        self.pack = pack
        self.net = _mlp([2 * pack] + [hidden] * layers + [1], spectral_norm, lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 1. (B, 2) -> (B / pack, 2 * pack): consecutive samples form a pack
        if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] % self.pack:
            raise ValueError(f"Expected (B, 2) points with B a multiple of pack={self.pack}, got {tuple(x.shape)}.")
        packed = x.reshape(x.shape[0] // self.pack, 2 * self.pack)
        # 2. one logit per pack: (B / pack,)
        return self.net(packed).squeeze(1)
