"""The GAN Lab's recipes: every knob of a toy GAN run and the named presets (the collapse demo's among them).

A recipe is a :class:`ToyRecipe` of combinable fields; :data:`RECIPES` names presets that override
only what differs from the defaults, and say why. The loop (``gan_models/lab/loop.py``), the GAN
Lab Space and the benchmark CLI (``python -m training.toy_benchmark``) all read them from here.

Example:
    >>> make_recipe("pacgan4", steps=10).pack
    4
    >>> make_recipe(COLLAPSE_RECIPE).d_hidden  # the demo's collapse: a plain GAN against a stronger D
    256
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = [
    "BEST_RECIPE",
    "COLLAPSE_RECIPE",
    "COLLAPSE_STEPS",
    "LOSSES",
    "RECIPES",
    "ToyRecipe",
    "make_recipe",
]

LOSSES = ("nonsaturating", "wgan-gp", "hinge", "lsgan")
MAX_PACK = 8
MAX_UNROLL = 10


@dataclass
class ToyRecipe:
    """Every knob of a toy GAN run; presets in :data:`RECIPES` override a few of these.

    The defaults are a plain non-saturating GAN (one D step per G step, no packing, no
    normalisation, no penalty) with optimiser settings that make it converge within a CPU-sized
    budget: Adam 1e-3, betas (0.5, 0.999), 256 samples per batch, 3 x 128 MLPs, 16,000 steps.
    """

    loss: str = "nonsaturating"  # "nonsaturating" | "wgan-gp" | "hinge" | "lsgan"
    pack: int = 1  # PacGAN: samples per discriminator decision (1 = ordinary GAN)
    spectral_norm: bool = False  # spectral normalisation on every D layer
    r1_gamma: float = 0.0  # R1 = gamma / 2 * E||grad D(real)||^2 (0 = off)
    r1_every: int = 1  # lazy R1 (StyleGAN2): the penalty every k-th D step, weighted k, for about 1/k its cost
    gp_weight: float = 10.0  # WGAN-GP's lambda (only for loss "wgan-gp")
    unrolled_steps: int = 0  # Metz et al.: G's loss looks at D after k more (differentiable SGD) steps
    d_steps: int = 1  # D updates per G update
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 256  # samples per network per step (a multiple of pack)
    steps: int = 16_000  # G updates (~35-55 s on a 2-core CPU at the default sizes)
    lr_decay: bool = False  # linear decay of both learning rates to 0 over the last half of the run
    ema_decay: float = 0.0  # EMA of G's weights used for the final samples (0 = off)
    z_dim: int = 2
    g_hidden: int = 128
    g_layers: int = 3
    d_hidden: int = 128
    d_layers: int = 3

    def check(self) -> ToyRecipe:
        """Raise a ``ValueError`` that says what to change if a field is out of range; returns self."""
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not 1 <= self.pack <= MAX_PACK:
            problems.append(f"pack must be 1 to {MAX_PACK}, got {self.pack}")
        if self.batch_size < self.pack or self.batch_size % self.pack:
            problems.append(f"batch_size ({self.batch_size}) must be a positive multiple of pack ({self.pack})")
        if not 0 <= self.unrolled_steps <= MAX_UNROLL:
            problems.append(f"unrolled_steps must be 0 to {MAX_UNROLL}, got {self.unrolled_steps}")
        if self.d_steps < 1 or self.steps < 1 or self.r1_every < 1:
            problems.append(
                f"d_steps, steps and r1_every must be >= 1, got {self.d_steps}, {self.steps} and {self.r1_every}"
            )
        for name in ("g_lr", "d_lr"):
            if not 0 < getattr(self, name) <= 0.1:
                problems.append(f"{name} must be in (0, 0.1], got {getattr(self, name)}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.r1_gamma < 0 or self.gp_weight < 0:
            problems.append("r1_gamma and gp_weight must be >= 0")
        if problems:
            raise ValueError("Bad toy GAN recipe: " + "; ".join(problems) + ".")
        return self


# Named presets: only what differs from ToyRecipe's defaults, and why. Measured numbers (10 seeds)
# are in spaces/ganlab/README.md.
RECIPES: dict[str, dict] = {
    # the baseline of PacGAN's Table 1: a plain non-saturating GAN with the paper's optimiser
    # settings (Adam 1e-4, beta1 0.8, 100 samples per batch, 2-D latent); at a CPU budget it drops
    # and hops between modes of the grid and scatters samples between them
    "vanilla": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.8, "batch_size": 100},
    # PacGAN4: the same GAN, D judges 4 samples at once (100 packs of 4 per batch, as in the paper)
    "pacgan4": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.8, "batch_size": 400, "pack": 4},
    # the same non-saturating GAN with this file's faster optimiser settings and nothing else
    "nsgan": {},
    # the textbook mode collapse, for the GAN Lab's "collapse vs fix": nsgan against a stronger D
    # (4 x 256) settles on a subset of the grid's modes and hops between them (grid25, 8,000
    # steps, seeds 0-2: 18 / 16 / 10 modes at 87-94 % high quality, like PacGAN's GAN row); the
    # same D with "best"'s R1 covered 25 / 25 / 25. (PacGAN's own settings, "vanilla", are
    # under-trained at this budget rather than collapsed: samples spread between modes.)
    "nsgan-big-d": {"d_hidden": 256, "d_layers": 4, "lr_decay": True},
    # Wasserstein loss with gradient penalty (Gulrajani et al.): 5 critic steps per G step, their
    # Adam settings; a smaller budget since each step costs about 5 of the others
    "wgan-gp": {"loss": "wgan-gp", "d_steps": 5, "beta2": 0.9, "g_lr": 1e-4, "d_lr": 1e-4, "steps": 4000},
    # hinge loss with a spectrally normalised D, with SNGAN's optimiser settings (Miyato et al.:
    # 5 D steps per G step, Adam 2e-4, betas (0, 0.9)). At this file's default optimiser settings
    # (Adam 1e-3, beta1 0.5, one D step) it collapsed to a single blob on grid25 (0 modes, 3 seeds)
    "hinge-sn": {
        "loss": "hinge",
        "spectral_norm": True,
        "d_steps": 5,
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "beta1": 0.0,
        "beta2": 0.9,
        "steps": 3000,
        "lr_decay": True,
    },
    # least squares (Mao et al.)
    "lsgan": {"loss": "lsgan"},
    # unrolled GAN (Metz et al.): G sees D 5 steps ahead; each step costs about 6 of the others
    "unrolled5": {"unrolled_steps": 5, "steps": 3000},
    # our best: R1 (Mescheder et al. 2018) keeps D smooth around the data so G settles on every
    # mode instead of orbiting; decaying both learning rates to 0 over the second half turns the
    # last jitter into tight clusters and thins the bridges between modes (most of the % high
    # quality). Lazy R1 (every 4th step) and 128 samples per batch make a step ~1.8x cheaper than
    # R1 every step at 256, so the default 16,000 steps fit the GAN Lab's one-minute target; at
    # that batch a weaker R1 (0.1) measured better than 1 (grid25, 3 seeds at 8,000 steps: 93.6
    # against 92.5 % high quality). Fewer steps cost quality: 8,000 / 10,000 / 16,000 steps of
    # the earlier batch-256 version scored about 92 / 94 / 96 %; an EMA generator, a larger batch,
    # an 8-d latent, twice the learning rate or an earlier decay did not help.
    "best": {"batch_size": 128, "r1_gamma": 0.1, "r1_every": 4, "lr_decay": True},
}
BEST_RECIPE = "best"
# "Mode collapse vs fix", the GAN Lab's demo: COLLAPSE_RECIPE next to BEST_RECIPE on grid25, both
# for COLLAPSE_STEPS steps (a plain GAN that collapses on the grid within the demo's budget; two
# runs of 5,000 steps take under a minute together on a 2-core CPU)
COLLAPSE_RECIPE = "nsgan-big-d"
COLLAPSE_STEPS = 5000


def make_recipe(name: str = BEST_RECIPE, **overrides) -> ToyRecipe:
    """The preset ``name`` with ``overrides`` applied, checked. Unknown names or keys raise ``ValueError``.

    Example:
        >>> make_recipe("pacgan4", steps=10).pack
        4
    """
    key = str(name).strip().lower()
    if key not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; choose one of {', '.join(RECIPES)}.")
    fields = {f.name for f in dataclasses.fields(ToyRecipe)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"Unknown recipe field(s) {unknown}; valid fields: {', '.join(sorted(fields))}.")
    return dataclasses.replace(ToyRecipe(**RECIPES[key]), **overrides).check()
