"""The GAN Lab's in-memory loop: train a toy GAN on a 2-D target, stream its states, stop on request.

:class:`ToyGANTrainer` is one run (networks of ``gan_models/toy2d.py``, a :class:`~gan_models.lab.recipes.ToyRecipe`,
a seeded stream of data and latents, nothing written to disk); :func:`train_side_by_side` trains
one or more runs in turns and yields them every few hundred steps, which is what the GAN Lab Space
draws and ``benchmarks/bench_toy2d.py`` times; :func:`train_toy` streams one run's snapshots. The
benchmark CLI (``python -m training.toy_benchmark``) trains here too and scores the final samples.

Why this loop does not run on ``training/engine.py`` (the house's one engine): the engine is the
right loop for checkpoints that take hours. Its step carries accelerate's ``accumulate`` and
``autocast`` contexts, a cross-process finiteness reduction per network, an LR scheduler and
tqdm; its ``train()`` runs to ``max_steps`` with no way to hand back intermediate states, and it
always writes a run folder (config, checkpoints, samples, an exported pipeline). A 2-D toy does
thousands of steps of a few-kilobyte MLP per minute, which the Space must stream to the browser
every few hundred steps and stop on request, with nothing written to disk; the benchmark needs
only the final samples. Bending the engine to that (a step-level callback API, no-disk mode,
several D steps per G step, unrolled D) would add branches to the loop every family relies on.
So the Lab keeps a small, plain loop, separate on purpose, in the library (a Space may import it;
it may not import ``training``), and reuses what is shared: the adversarial losses and R1 of
``gan_models/losses.py``, the engine's EMA warm-up (``gan_models/ema.py``) and the networks of
``gan_models/toy2d.py``. Speed is the smaller reason: ``benchmarks/bench_toy2d.py`` times the same
non-saturating step on both, and the engine ran at 240 steps/s against this loop's 384 (2
threads, 2,000 steps, idle 2-core machine).

Example:
    >>> from gan_models.lab.recipes import make_recipe
    >>> runs = list(train_toy("ring8", make_recipe("vanilla", steps=40, batch_size=32), every=20))
    >>> [snapshot.step for _, snapshot in runs]
    [0, 20, 40]
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from gan_models.ema import ema_weight
from gan_models.lab.mode_metrics import ModeCoverage, mode_coverage
from gan_models.lab.recipes import ToyRecipe
from gan_models.losses import adversarial_loss, lazy_r1
from gan_models.toy2d import ToyDiscriminator, ToyDistribution, ToyGenerator, make_distribution

__all__ = [
    "EVAL_SAMPLES",
    "MAX_UPDATES",
    "UPDATE_EVERY",
    "Snapshot",
    "ToyGANTrainer",
    "train_side_by_side",
    "train_toy",
    "update_every",
]

EVAL_SAMPLES = 2500  # PacGAN scores 2,500 generated samples per trial
UPDATE_EVERY = 250  # steps between streamed updates: a few per second at CPU speed, smooth enough to watch
MAX_UPDATES = 60  # longer runs update less often, so drawing stays a small share of the time


@dataclass
class Snapshot:
    """What the loop reports every few hundred steps (the Space draws it; the CLI keeps the last)."""

    step: int
    steps: int
    d_losses: list[float]  # one per G step so far
    g_losses: list[float]
    fake: np.ndarray  # (N, 2) generated points for display (the fixed evaluation latents' first N)
    arrows: np.ndarray  # (N, 2) minus G's loss gradient at each displayed point (where G pushes it)
    metrics: ModeCoverage | None  # on EVAL_SAMPLES points; None for distributions without modes
    seconds: float  # wall time of the training so far (rendering excluded)
    extra: dict = field(default_factory=dict)


class ToyGANTrainer:
    """One toy GAN run: networks, optimisers and a seeded stream of data and latents, all in memory.

    Deterministic for a (dataset, recipe, seed) on a given machine and thread count: every random
    draw comes from this object's own ``torch.Generator`` or from the seeded initialisation.

    Example:
        >>> trainer = ToyGANTrainer("ring8", ToyRecipe(steps=20, batch_size=32), seed=0)
        >>> trainer.train_steps(20); trainer.step
        20
        >>> trainer.samples(10).shape
        (10, 2)
    """

    def __init__(self, dataset: str | ToyDistribution, recipe: ToyRecipe, seed: int = 0):
        self.data = dataset if isinstance(dataset, ToyDistribution) else make_distribution(dataset)
        self.recipe = recipe.check()
        self.seed = int(seed)
        # 1. networks from a seeded initialisation (the global RNG is restored afterwards)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.G = ToyGenerator(recipe.z_dim, recipe.g_hidden, recipe.g_layers)
            self.D = ToyDiscriminator(recipe.d_hidden, recipe.d_layers, recipe.pack, recipe.spectral_norm)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if recipe.ema_decay > 0 else None
        # 2. optimisers
        # (fused: one kernel for all of a network's tensors; ~10% of a step at these sizes on a CPU)
        betas = (recipe.beta1, recipe.beta2)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=recipe.g_lr, betas=betas, fused=True)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=recipe.d_lr, betas=betas, fused=True)
        # 3. one stream of randomness for data, latents and penalties; fixed latents for evaluation
        self.rng = torch.Generator().manual_seed(self.seed + 1)
        self.eval_z = torch.randn(EVAL_SAMPLES, recipe.z_dim, generator=torch.Generator().manual_seed(self.seed + 2))
        self.step = 0
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []
        self.seconds = 0.0

    # ------------------------------------------------------------------ losses
    def _d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        kind = self.recipe.loss
        if kind == "wgan-gp":
            return fake_logits.mean() - real_logits.mean()  # the critic maximises E D(real) - E D(fake)
        base = "vanilla" if kind == "nonsaturating" else kind
        return adversarial_loss(real_logits, True, base) + adversarial_loss(fake_logits, False, base)

    def _g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        kind = self.recipe.loss
        if kind == "wgan-gp":
            return -fake_logits.mean()
        if kind == "hinge":
            return adversarial_loss(fake_logits, True, "hinge", for_discriminator=False)  # -E D(fake)
        # non-saturating: -log sigmoid(D(fake)); LSGAN: (D(fake) - 1)^2
        return adversarial_loss(fake_logits, True, "vanilla" if kind == "nonsaturating" else kind)

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP: (||grad D(x_hat)|| - 1)^2 at random points between real and fake (one t per pack)."""
        t = torch.rand(real.shape[0] // self.recipe.pack, 1, generator=self.rng).repeat_interleave(self.recipe.pack, 0)
        x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        # the gradient of one pack's logit is its 2 * pack coordinates
        norms = grad.reshape(-1, 2 * self.recipe.pack).norm(dim=1)
        return (norms - 1).square().mean()

    # ------------------------------------------------------------------ one step
    def _lr_factor(self) -> float:
        if not self.recipe.lr_decay:
            return 1.0
        half = self.recipe.steps // 2
        return 1.0 if self.step < half else max(0.0, 1 - (self.step - half) / max(1, self.recipe.steps - half))

    def _unrolled_g_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """G's loss against D after ``unrolled_steps`` differentiable SGD steps (Metz et al., 2017).

        The look-ahead steps are plain SGD at D's learning rate on a functional copy of D's
        weights (the real D is unchanged); gradients flow back through them into G. The fake
        batch inside the look-ahead is detached, a common simplification.
        """
        params = dict(self.D.named_parameters())
        buffers = dict(self.D.named_buffers())
        lr = self.recipe.d_lr * self._lr_factor()
        for _ in range(self.recipe.unrolled_steps):
            state = {**params, **buffers}
            loss = self._d_loss(
                functional_call(self.D, state, (real,)), functional_call(self.D, state, (fake.detach(),))
            )
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
        return self._g_loss(functional_call(self.D, {**params, **buffers}, (fake,)))

    def train_step(self) -> tuple[float, float]:
        """``d_steps`` D updates, then one G update; returns (D loss, G loss) of this step."""
        r, batch = self.recipe, self.recipe.batch_size
        factor = self._lr_factor()
        for opt, lr in ((self.opt_G, r.g_lr), (self.opt_D, r.d_lr)):
            for group in opt.param_groups:
                group["lr"] = lr * factor
        # 1. discriminator: real vs a fresh (detached) fake batch, plus R1 / gradient penalty
        self.D.requires_grad_(True)
        for d_step in range(r.d_steps):
            real = self.data.sample(batch, self.rng)
            with torch.no_grad():
                fake = self.G(torch.randn(batch, r.z_dim, generator=self.rng))
            with_r1 = r.r1_gamma > 0 and (self.step * r.d_steps + d_step) % r.r1_every == 0
            if with_r1:  # R1's double backward must not run through the fakes: two passes
                real.requires_grad_(True)
                real_logits, fake_logits = self.D(real), self.D(fake)
            else:  # one pass over both (fewer, larger matmuls; each half is whole packs)
                real_logits, fake_logits = self.D(torch.cat([real, fake])).split(batch // r.pack)
            d_loss = self._d_loss(real_logits, fake_logits)
            if with_r1:
                penalty, _ = lazy_r1(real_logits, real, r.r1_gamma, every=r.r1_every)
                d_loss = d_loss + penalty
            if r.loss == "wgan-gp" and r.gp_weight > 0:
                d_loss = d_loss + r.gp_weight * self._gradient_penalty(real.detach(), fake)
            self.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_D.step()
        # 2. generator: through a frozen D (or D unrolled k steps ahead)
        self.D.requires_grad_(False)
        fake = self.G(torch.randn(batch, r.z_dim, generator=self.rng))
        if r.unrolled_steps:
            self.D.requires_grad_(True)  # the look-ahead differentiates D's weights
            g_loss = self._unrolled_g_loss(self.data.sample(batch, self.rng), fake)
        else:
            g_loss = self._g_loss(self.D(fake))
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        self.D.zero_grad(set_to_none=True)  # the unrolled look-ahead leaves gradients on D
        # 3. EMA of G's weights
        if self.G_ema is not None:
            weight = ema_weight(r.ema_decay, self.step)  # the engine's warm-up rule (gan_models.ema)
            with torch.no_grad():
                torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), weight)
        self.step += 1
        d_value, g_value = d_loss.item(), g_loss.item()
        self.d_losses.append(d_value)
        self.g_losses.append(g_value)
        if not (math.isfinite(d_value) and math.isfinite(g_value)):
            raise FloatingPointError(
                f"The losses became NaN/inf at step {self.step} (D {d_value}, G {g_value}); "
                "lower the learning rates or add spectral norm / R1."
            )
        return d_value, g_value

    def train_steps(self, n: int) -> None:
        """Run ``n`` steps (fewer if the recipe's budget ends first)."""
        start = time.perf_counter()
        for _ in range(min(n, self.recipe.steps - self.step)):
            self.train_step()
        self.seconds += time.perf_counter() - start

    # ------------------------------------------------------------------ what to look at
    @property
    def final_generator(self) -> nn.Module:
        """The generator whose samples are scored: the EMA one if the recipe keeps one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def samples(self, n: int = EVAL_SAMPLES) -> np.ndarray:
        """``(n, 2)`` float32 points from the fixed evaluation latents (n <= 2,500)."""
        return self.final_generator(self.eval_z[:n]).numpy().astype(np.float32)

    def metrics(self, samples: np.ndarray | None = None) -> ModeCoverage | None:
        """PacGAN's numbers on 2,500 samples; None for distributions without modes (moons, spiral)."""
        if self.data.means is None:
            return None
        return mode_coverage(self.samples() if samples is None else samples, self.data.means, self.data.std)

    def arrows(self, points: np.ndarray) -> np.ndarray:
        """Minus the gradient of G's loss at each point: the direction D pushes that generated sample.

        With packing the points are judged in packs of consecutive points, as in training (the
        count is cut to a multiple of ``pack``; the remainder gets zero arrows).
        """
        pack = self.recipe.pack
        n = len(points) // pack * pack
        out = np.zeros_like(points, dtype=np.float32)
        if n == 0:
            return out
        x = torch.as_tensor(points[:n]).float().requires_grad_(True)
        (grad,) = torch.autograd.grad(self._g_loss(self.D(x)) * n, x)  # * n: per-sample, not averaged
        out[:n] = -grad.numpy()
        return out

    @torch.no_grad()
    def decision_surface(self, resolution: int = 64, context: np.ndarray | None = None) -> np.ndarray:
        """D's score on a ``resolution``² grid over the view ``[-extent, extent]²``, rows top (y high) down.

        Values are in [0, 1]: the probability "real" for the non-saturating loss, D clamped to
        [0, 1] for LSGAN, and min-max scaled over the frame for hinge and WGAN-GP (whose scores
        have no fixed scale). A packed D judges each grid point packed with ``pack - 1`` of the
        ``context`` points (generated samples), averaged over 4 such packs: how real a pack of
        generated points would look with one of them moved to that spot.
        """
        e = self.data.extent
        axis = torch.linspace(-e, e, resolution)
        gy, gx = torch.meshgrid(axis.flip(0), axis, indexing="ij")
        grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # (R*R, 2)
        pack = self.recipe.pack
        if pack == 1:
            scores = self.D(grid)
        else:
            ctx = torch.as_tensor(context if context is not None else self.samples(64)).float()
            total = torch.zeros(len(grid))
            for k in range(4):
                others = ctx[(torch.arange(pack - 1) + k * (pack - 1)) % len(ctx)]  # (pack-1, 2)
                packs = torch.cat([grid[:, None, :], others.expand(len(grid), -1, -1)], dim=1)
                total += self.D(packs.reshape(-1, 2))
            scores = total / 4
        if self.recipe.loss == "nonsaturating":
            scores = torch.sigmoid(scores)
        elif self.recipe.loss == "lsgan":
            scores = scores.clamp(0, 1)
        else:
            scores = (scores - scores.min()) / (scores.max() - scores.min()).clamp_min(1e-12)
        return scores.reshape(resolution, resolution).numpy()

    def snapshot(self, display: int = 512) -> Snapshot:
        """The current state for display: losses, ``display`` generated points and their arrows, metrics."""
        samples = self.samples()
        fake = samples[:display]
        return Snapshot(
            step=self.step,
            steps=self.recipe.steps,
            d_losses=list(self.d_losses),
            g_losses=list(self.g_losses),
            fake=fake,
            arrows=self.arrows(fake),
            metrics=self.metrics(samples),
            seconds=self.seconds,
        )


def update_every(steps: int) -> int:
    """Steps between streamed updates of a ``steps``-step run: :data:`UPDATE_EVERY`, more past :data:`MAX_UPDATES`.

    Example:
        >>> update_every(2000), update_every(16_000)
        (250, 300)
    """
    return max(UPDATE_EVERY, math.ceil(steps / MAX_UPDATES / 50) * 50)


def train_side_by_side(
    dataset: str | ToyDistribution, recipes: Sequence[ToyRecipe], seed: int = 0, every: int | None = None
) -> Iterator[list[ToyGANTrainer]]:
    """One run per recipe on the same target and seed, trained in turns; yields the runs after step 0 and every turn.

    A turn is ``every`` steps of each run (default: :func:`update_every` of the longest budget);
    it ends when every run has spent its budget. Stopping early is simply not asking for the next
    item. Each run raises ``FloatingPointError`` if its losses become NaN/inf.

    Example:
        >>> runs = train_side_by_side("ring8", [ToyRecipe(steps=30, batch_size=32)], every=20)
        >>> [trainers[0].step for trainers in runs]
        [0, 20, 30]
    """
    if not recipes:
        raise ValueError("Give at least one recipe to train.")
    every = update_every(max(r.steps for r in recipes)) if every is None else every
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}.")
    data = dataset if isinstance(dataset, ToyDistribution) else make_distribution(dataset)
    trainers = [ToyGANTrainer(data, recipe, seed) for recipe in recipes]
    yield trainers
    while any(t.step < t.recipe.steps for t in trainers):
        for trainer in trainers:
            trainer.train_steps(every)
        yield trainers


def train_toy(
    dataset: str | ToyDistribution, recipe: ToyRecipe, seed: int = 0, every: int = UPDATE_EVERY, display: int = 512
) -> Iterator[tuple[ToyGANTrainer, Snapshot]]:
    """Train one run and yield ``(trainer, snapshot)`` after step 0 and every ``every`` steps until the budget ends.

    Example:
        >>> runs = list(train_toy("ring8", ToyRecipe(steps=40, batch_size=32), every=20))
        >>> [snapshot.step for _, snapshot in runs]
        [0, 20, 40]
    """
    for (trainer,) in train_side_by_side(dataset, [recipe], seed, every):
        yield trainer, trainer.snapshot(display)
