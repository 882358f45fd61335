"""GAN Lab speed on the CPU: a whole run as the tab streams it, and the engine vs the in-memory loop.

The first table times a GAN Lab run from its first to its last picture, through the two library
calls the tab's handler (``spaces/ganlab/ui.py: train_toy_gan``) streams: the streaming loop
(``gan_models.lab.loop.train_side_by_side``, at the tab's update cadence) and the picture of every
update (``gan_models.lab.picture.draw_runs``: decision surface, arrows, losses). Left out are the
handler's input checks (microseconds) and gradio's PNG encoding and transport, which the old
handler-level timing did not include either; no UI is imported. The issue's target is a full
grid-25 run of the best recipe in under a minute on a 2-core CPU. Rows: the best recipe at its
default budget on grid25 and ring8, and the "mode collapse vs fix" preset (``COLLAPSE_RECIPE``
and best, ``COLLAPSE_STEPS`` steps each, from ``gan_models/lab/recipes.py``).

The second table compares loops.

Both run the same step: the grid-25 target, ``ToyGenerator`` / ``ToyDiscriminator`` at the default
3 x 128 sizes, the non-saturating loss of ``gan_models/losses.py``, Adam (1e-3, betas 0.5 / 0.999),
256 samples per batch, one D and one G update per step, no penalty. The engine run has no
validation, logging or tracker and one checkpoint (its last step); its EMA is on, as always. The
time of each includes building the networks. This is why the GAN Lab keeps its own loop
(``gan_models/lab/loop.py``): see its docstring (speed is one reason; streaming, stopping and no
disk are the others).

Example (two markdown tables, seconds)::

    python benchmarks/bench_toy2d.py --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from gan_models.lab.loop import ToyGANTrainer, train_side_by_side
from gan_models.lab.picture import draw_runs, real_points
from gan_models.lab.recipes import BEST_RECIPE, COLLAPSE_RECIPE, COLLAPSE_STEPS, ToyRecipe, make_recipe
from gan_models.losses import adversarial_loss
from gan_models.toy2d import ToyDiscriminator, ToyGenerator, make_distribution
from training.config import EngineConfig
from training.engine import Engine, StepOutput


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


def time_lab(dataset: str, runs: list[tuple[str, ToyRecipe]], seed: int = 0) -> tuple[float, float, int]:
    """(wall seconds, of which training, pictures) of one GAN Lab run, streamed and drawn as the tab does it."""
    data = make_distribution(dataset)
    title = f"{dataset} · " if len(runs) == 1 else ""
    labels = [label for label, _ in runs]
    start = time.perf_counter()
    real = real_points(data, seed)
    frames = 0
    for trainers in train_side_by_side(data, [recipe for _, recipe in runs], seed):
        draw_runs(list(zip(labels, trainers)), real, title)
        frames += 1
    return time.perf_counter() - start, sum(t.seconds for t in trainers), frames


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps of the loop comparison")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-lab", action="store_true", help="only the loop comparison")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.skip_lab:
        best = make_recipe(BEST_RECIPE)
        collapse = [
            (COLLAPSE_RECIPE, make_recipe(COLLAPSE_RECIPE, steps=COLLAPSE_STEPS)),
            (BEST_RECIPE, make_recipe(BEST_RECIPE, steps=COLLAPSE_STEPS)),
        ]
        runs = [
            (f"grid25, best ({best.steps} steps)", "grid25", [(BEST_RECIPE, best)]),
            (f"ring8, best ({best.steps} steps)", "ring8", [(BEST_RECIPE, best)]),
            (f"collapse vs fix: {COLLAPSE_RECIPE} + best, {COLLAPSE_STEPS} steps each", "grid25", collapse),
        ]
        print(f"\nGAN Lab runs as streamed to the browser, seed 0, {args.threads} thread(s)\n")
        print("| run | wall s | training s | drawing s | pictures |\n|---|---|---|---|---|")
        for name, dataset, recipes in runs:
            wall, training, frames = time_lab(dataset, recipes, seed=0)
            print(f"| {name} | {wall:.1f} | {training:.1f} | {wall - training:.1f} | {frames} |")
    rows = [("engine (accelerate)", time_engine(args.steps)), ("in-memory loop", time_loop(args.steps))]
    print(f"\n{args.steps} steps, grid25, batch 256, {args.threads} thread(s)\n")
    print("| loop | seconds | steps/s |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {args.steps / seconds:.0f} |")


if __name__ == "__main__":
    main()
