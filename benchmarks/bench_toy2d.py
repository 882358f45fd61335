"""GAN Lab training speed on the CPU: the toy GAN on ``training/engine.py`` vs the in-memory loop.

Both run the same step: the grid-25 target, ``ToyGenerator`` / ``ToyDiscriminator`` at the default
3 x 128 sizes, the non-saturating loss of ``training/losses.py``, Adam (1e-3, betas 0.5 / 0.999),
256 samples per batch, one D and one G update per step, no penalty. The engine run has no
validation, logging or tracker and one checkpoint (its last step); its EMA is on, as always. The
time of each includes building the networks. This is why ``training/toy_benchmark.py`` keeps its
own loop: see its docstring (speed is one reason; streaming, stopping and no disk are the others).

Example (one markdown table, seconds)::

    python benchmarks/bench_toy2d.py --steps 2000 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from gan_models.toy2d import ToyDiscriminator, ToyGenerator, make_distribution
from training.config import EngineConfig
from training.engine import Engine, StepOutput
from training.losses import adversarial_loss
from training.toy_benchmark import ToyGANTrainer, make_recipe


class _ToyLoss:
    """The non-saturating GAN as a ``GANLoss`` (what a toy recipe on the engine would hand it)."""

    def discriminator_step(self, G, D, batch, step):
        real, z = batch
        with torch.no_grad():
            fake = G(z)
        loss = adversarial_loss(D(real), True) + adversarial_loss(D(fake), False)
        return StepOutput(loss, {"Loss/D": loss.item()})

    def generator_step(self, G, D, batch, step):
        loss = adversarial_loss(D(G(batch[1])), True)
        return StepOutput(loss, {"Loss/G": loss.item()})


class _ToyRecipe:
    """A ``GANRecipe`` for grid25: fresh samples every step, no validation, nothing exported."""

    def __init__(self, config: EngineConfig):
        self.generator, self.discriminator, self.loss = ToyGenerator(), ToyDiscriminator(), _ToyLoss()
        self.data = make_distribution("grid25")
        self.rng = torch.Generator().manual_seed(config.seed + 1)

    def sample_batch(self, step, batch_size, rank, device):
        real = self.data.sample(batch_size, self.rng)
        return real.to(device), torch.randn(batch_size, 2, generator=self.rng).to(device)

    def validate(self, generator):
        return {}, []

    def export(self, generator, folder, metrics):
        pass


def time_engine(steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = EngineConfig(
            output_dir=tmp,
            max_steps=steps,
            batch_size=256,
            g_lr=1e-3,
            d_lr=1e-3,
            adam_beta1=0.5,
            adam_beta2=0.999,
            checkpoint_every=10**9,
            validate_every=10**9,
            log_every=10**9,
            report_to="none",
        )
        start = time.perf_counter()
        Engine(config, _ToyRecipe).train()
        return time.perf_counter() - start


def time_loop(steps: int) -> float:
    start = time.perf_counter()
    ToyGANTrainer("grid25", make_recipe("nsgan", steps=steps), seed=0).train_steps(steps)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [("engine (accelerate)", time_engine(args.steps)), ("in-memory loop", time_loop(args.steps))]
    print(f"\n{args.steps} steps, grid25, batch 256, {args.threads} thread(s)\n")
    print("| loop | seconds | steps/s |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {args.steps / seconds:.0f} |")


if __name__ == "__main__":
    main()
