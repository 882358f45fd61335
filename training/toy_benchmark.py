"""The mode-collapse benchmark CLI: train GAN Lab recipes on a 2-D toy target and score them over seeds.

    python -m training.toy_benchmark                                  # best recipe on grid25, default budget
    python -m training.toy_benchmark --dataset grid25 --recipe vanilla --seed 0 --steps 4000 --out runs/toy
    python -m training.toy_benchmark --dataset ring8 --recipe pacgan4 --seeds 0-9 --out runs/toy-ring

Writes ``DIR/samples.npy`` (2,500 x 2 float32 generated points; with ``--seeds``, one
``DIR/seed-S/samples.npy`` per seed), ``DIR/metrics.json`` and ``DIR/recipe.json``, and prints
PacGAN's numbers (``gan_models/lab/mode_metrics.py``): modes captured, % high quality and reverse KL,
as mean ± standard error over seeds.

The loop, the recipes and the metrics are the GAN Lab's (``gan_models/lab/``: the Space trains
with the same code, and a Space may not import ``training``); this file is the command line and
the files it writes. Why the Lab has its own loop rather than ``training/engine.py``: see
``gan_models/lab/loop.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from gan_models.lab.loop import ToyGANTrainer
from gan_models.lab.mode_metrics import mean_and_standard_error
from gan_models.lab.recipes import BEST_RECIPE, RECIPES, ToyRecipe, make_recipe
from gan_models.toy2d import TOY_DATASETS, make_distribution

__all__ = ["main", "parse_seeds", "run_benchmark"]


def parse_seeds(text: str) -> list[int]:
    """ "3" -> [3]; "0-9" -> [0..9]; "1,4,7" -> [1, 4, 7].

    Example:
        >>> parse_seeds("0-2,7")
        [0, 1, 2, 7]
    """
    seeds: list[int] = []
    try:
        for part in str(text).replace(" ", "").split(","):
            if "-" in part[1:]:
                low, high = part.split("-", 1) if not part.startswith("-") else (part, part)
                seeds.extend(range(int(low), int(high) + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"Seeds look like 3, 0-9 or 1,4,7; got {text!r}.") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"Give at least one seed >= 0, as 3, 0-9 or 1,4,7; got {text!r}.")
    return seeds


def run_benchmark(
    dataset: str, recipe: ToyRecipe, seeds: list[int], out: Path | None, per_seed_dirs: bool, log=print
) -> dict:
    """Train one run per seed, save samples, print and return the per-seed and aggregate numbers."""
    results = []
    for seed in seeds:
        trainer = ToyGANTrainer(dataset, recipe, seed)
        trainer.train_steps(recipe.steps)
        samples = trainer.samples()
        metrics = trainer.metrics(samples)
        row = {
            "seed": seed,
            "seconds": round(trainer.seconds, 2),
            "steps_per_s": round(recipe.steps / trainer.seconds, 1),
        }
        if metrics is not None:
            row.update(modes=metrics.modes, high_quality=metrics.high_quality, reverse_kl=metrics.reverse_kl)
        results.append(row)
        if out is not None:
            folder = out / f"seed-{seed}" if per_seed_dirs else out
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / "samples.npy", samples)
        text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        log(f"{dataset} seed {seed}: {text}")
    summary: dict = {"dataset": dataset, "seeds": seeds, "runs": results}
    means = make_distribution(dataset).means
    if means is not None:
        modes_total = len(means)
        for key in ("modes", "high_quality"):
            mean, se = mean_and_standard_error([row[key] for row in results])
            summary[key] = {"mean": mean, "se": se}
        # a seed with no high-quality sample has no mode histogram (KL = inf): average the KL over
        # the other seeds and count those apart, instead of a mean of inf
        finite = [row["reverse_kl"] for row in results if math.isfinite(row["reverse_kl"])]
        mean, se = mean_and_standard_error(finite) if finite else (math.inf, math.inf)
        summary["reverse_kl"] = {"mean": mean, "se": se, "seeds": len(finite)}
        m, q, kl = summary["modes"], summary["high_quality"], summary["reverse_kl"]
        kl_text = f"reverse KL {kl['mean']:.4f} ± {kl['se']:.4f}"
        if len(finite) < len(results):
            kl_text += f" over {len(finite)} seed(s) ({len(results) - len(finite)} with no high-quality sample)"
        log(
            f"{dataset}, {len(seeds)} seed(s): modes {m['mean']:.2f} ± {m['se']:.2f} / {modes_total}, "
            f"high quality {100 * q['mean']:.1f} ± {100 * q['se']:.1f} %, {kl_text}"
        )
    return summary


def _json_safe(value):
    """inf / nan -> None (strict JSON has no Infinity), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.toy_benchmark",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", default="grid25", choices=TOY_DATASETS)
    parser.add_argument("--recipe", default=None, help=f"a preset: {', '.join(RECIPES)} (default: {BEST_RECIPE})")
    parser.add_argument("--seed", type=int, default=None, help="one seed (default 0)")
    parser.add_argument("--seeds", default=None, help="several seeds, e.g. 0-9 or 1,4,7: mean ± standard error")
    parser.add_argument("--steps", type=int, default=None, help="G steps (default: the recipe's budget)")
    parser.add_argument("--out", type=Path, default=None, help="folder for samples.npy and metrics.json")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field, e.g. --set pack=2"
    )
    args = parser.parse_args(argv)
    try:
        if args.seed is not None and args.seeds is not None:
            raise ValueError("Give --seed or --seeds, not both.")
        seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.seed if args.seed is not None else 0]
        overrides = _parse_overrides(args.set)
        if args.steps is not None:
            overrides["steps"] = args.steps
        name = args.recipe or BEST_RECIPE
        recipe = make_recipe(name, **overrides)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.threads is not None:
        if args.threads < 1:
            print(f"error: --threads must be >= 1, got {args.threads}.", file=sys.stderr)
            return 2
        torch.set_num_threads(args.threads)
    print(f"recipe {name} on {torch.get_num_threads()} thread(s): {json.dumps(dataclasses.asdict(recipe))}")
    summary = run_benchmark(args.dataset, recipe, seeds, args.out, per_seed_dirs=args.seeds is not None)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        # a KL of inf (no high-quality sample) is written as null
        (args.out / "metrics.json").write_text(json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n")
        (args.out / "recipe.json").write_text(json.dumps({"name": name, **dataclasses.asdict(recipe)}, indent=2) + "\n")
    return 0


def _parse_overrides(items: list[str]) -> dict:
    fields = {f.name: f for f in dataclasses.fields(ToyRecipe)}
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ValueError(f"--set takes KEY=VALUE with KEY one of {', '.join(fields)}; got {item!r}.")
        default = fields[key].default
        if isinstance(default, bool):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(f"{key} is true or false, got {raw!r}.")
            out[key] = raw.lower() in ("1", "true", "yes")
        else:
            try:
                out[key] = type(default)(raw)
            except ValueError:
                raise ValueError(f"{key} expects a {type(default).__name__}, got {raw!r}.") from None
    return out


if __name__ == "__main__":
    sys.exit(main())
