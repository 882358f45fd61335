"""Mode-coverage metrics of 2-D mixture benchmarks (ring of 8, grid of 25), as the papers compute them (the GAN Lab).

Definitions (VEEGAN, Srivastava et al. 2017, Sec. 5.1; PacGAN, Lin et al. 2018, Sec. 5.1 and
Table 1, which score 2,500 generated samples per trial and report the mean over 10 trials):

* a generated sample is **high quality** if it lies within 3 standard deviations of its nearest
  mode. As in PacGAN's reference code (fjxmlzn/PacGAN, ``synthetic_data_experiments/PacGAN/
  pacgan/extensions.py``, ``MetricLogger``: ``sqrt(sum((x - mu)^2 / var)) < 3``), the distance is
  the standardised Euclidean one, ``||x - mu|| / std < 3``;
* **modes** captured: the number of mixture components that are the nearest mode of at least one
  high-quality sample;
* **% high quality**: the share of all samples that are high quality;
* **reverse KL**: ``KL(q || p) = sum_k q_k log(q_k / p_k)`` between q, the histogram of the
  high-quality samples over their nearest modes (normalised to sum to 1), and p, the true mode
  distribution (uniform, 1/K). 0 means every mode got the same share; a generator that puts every
  high-quality sample on one mode scores log K (2.08 for 8 modes, 3.22 for 25). "Reverse" because
  the generated distribution comes first, as in PacGAN's text (its released code logs a JSD next
  to it; the tables report this KL).

With no high-quality sample at all, q does not exist; we report modes 0, 0 % and KL = inf.

Example:
    >>> import torch
    >>> means = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    >>> m = mode_coverage(torch.tensor([[0.0, 0.0], [2.01, 0.0], [1.0, 0.0]]), means, std=0.05)
    >>> m.modes, round(m.high_quality, 3), round(m.reverse_kl, 3)
    (2, 0.667, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = ["ModeCoverage", "mean_and_standard_error", "mode_coverage"]

HIGH_QUALITY_STDS = 3.0  # "within three standard deviations of the nearest mode"


@dataclass
class ModeCoverage:
    """The three numbers of PacGAN's Table 1 for one set of samples, plus the per-mode counts."""

    modes: int  # components that are the nearest mode of >= 1 high-quality sample
    high_quality: float  # share of samples within 3 std of their nearest mode, in [0, 1]
    reverse_kl: float  # KL(high-quality mode histogram || uniform), nats
    counts: list[int]  # high-quality samples per mode, in the order of ``means``

    def as_dict(self) -> dict:
        return asdict(self)


def _as_points(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else x).double()
    if t.ndim != 2 or t.shape[1] != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, 2) array of points, got shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite values; the generator diverged.")
    return t


def mode_coverage(
    samples: torch.Tensor | np.ndarray,
    means: torch.Tensor | np.ndarray,
    std: float,
    threshold: float = HIGH_QUALITY_STDS,
) -> ModeCoverage:
    """Modes captured, share of high-quality samples and reverse KL to uniform (module docstring).

    Args:
        samples: ``(N, 2)`` generated points (PacGAN scores N = 2,500).
        means: ``(K, 2)`` mode centres of the target mixture (equal weights).
        std: the components' per-axis standard deviation.
        threshold: the high-quality radius in standard deviations (3 in the papers).

    Example:
        >>> import torch
        >>> means = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> mode_coverage(torch.zeros(10, 2), means, std=0.05).modes  # all on one mode: collapse
        1
    """
    x, mu = _as_points(samples, "samples"), _as_points(means, "means")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}.")
    # 1. nearest mode of every sample and its distance in standard deviations
    distance, nearest = torch.cdist(x, mu).min(dim=1)
    good = distance / std < threshold
    # 2. histogram of the high-quality samples over their nearest modes
    counts = torch.bincount(nearest[good], minlength=len(mu))
    total = int(counts.sum())
    if total == 0:
        return ModeCoverage(0, 0.0, math.inf, counts.tolist())
    # 3. reverse KL(q || uniform) = sum_k q_k log(q_k K), over the modes with q_k > 0
    q = counts[counts > 0].double() / total
    reverse_kl = float((q * torch.log(q * len(mu))).sum())
    return ModeCoverage(int((counts > 0).sum()), total / len(x), max(reverse_kl, 0.0), counts.tolist())


def mean_and_standard_error(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value).

    Example:
        >>> mean_and_standard_error([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)
    """
    if not values:
        raise ValueError("No values to average.")
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 1:
        return float(arr[0]), 0.0
    if not np.isfinite(arr).all():  # e.g. a KL of inf (a run with no high-quality sample)
        return float(arr.mean()), math.inf
    return float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(len(arr)))
