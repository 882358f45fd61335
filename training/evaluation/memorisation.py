"""Does a generator copy its training images? The nearest-training-image check.

For each generated image, the pixel distance to its nearest training image, set beside the same
distance for real images that were never trained on (:class:`MemorisationCheck`); the search itself is
:func:`nearest_neighbour_indices`, blockwise in float32 with the winners re-measured in float64.
"""

from __future__ import annotations

import math

import torch

from training.evaluation.images import check_uint8_images, describe


def nearest_neighbour_distances(queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query image, the pixel distance to its nearest reference image (the memorisation check).

    The distance is the RMS difference per pixel value on the [0, 1] scale, ``||q - r||_2 / sqrt(3 H W)``,
    so it reads like an image difference (0 = identical, 1/255 ~ 0.004 = one grey level everywhere).
    Candidates are found with the ``|q|^2 + |r|^2 - 2 q.r`` expansion in float32, ``chunk`` queries by
    ``chunk`` references at a time (memory stays at a few ``chunk x 3HW`` float blocks, whatever the set
    sizes); the winner's distance is then recomputed exactly in float64.

    Args:
        queries: (M, 3, H, W) uint8, or float in [0, 1].
        references: (N, 3, H, W), same kind of values and the same H, W.
        chunk: images per block (bounds memory).

    Returns:
        float64 tensor (M,) of distances; use :func:`nearest_neighbour_indices` for the matches.

    Example:
        >>> refs = torch.zeros(3, 3, 4, 4, dtype=torch.uint8); refs[1] = 255
        >>> nearest_neighbour_distances(torch.full((1, 3, 4, 4), 204, dtype=torch.uint8), refs)
        tensor([0.2000], dtype=torch.float64)
    """
    return nearest_neighbour_indices(queries, references, chunk)[0]


@torch.no_grad()
def nearest_neighbour_indices(
    queries: torch.Tensor, references: torch.Tensor, chunk: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices): as :func:`nearest_neighbour_distances`, plus each query's nearest reference.

    Example:
        >>> refs = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2)])
        >>> nearest_neighbour_indices(torch.ones(1, 3, 2, 2), refs)[1]
        tensor([1])
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}.")
    for name, images in (("queries", queries), ("references", references)):
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
            raise ValueError(f"{name} must be a non-empty (N, C, H, W) tensor, got {describe(images)}.")
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(
            f"queries {tuple(queries.shape[1:])} and references {tuple(references.shape[1:])} must have the same "
            "(C, H, W); load the references at the generator's resolution."
        )

    def flat(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # (n, C*H*W) in [0, 1]
        x = images.reshape(len(images), -1).to(dtype)
        return x / 255 if images.dtype == torch.uint8 else x

    best_d2 = torch.full((len(queries),), math.inf)
    best_idx = torch.zeros(len(queries), dtype=torch.long)
    for r0 in range(0, len(references), chunk):
        r = flat(references[r0 : r0 + chunk], torch.float32)  # (cr, D)
        r_sq = r.square().sum(1)
        for q0 in range(0, len(queries), chunk):
            q = flat(queries[q0 : q0 + chunk], torch.float32)  # (cq, D)
            d2 = q.square().sum(1, keepdim=True) + r_sq - 2 * q @ r.T  # (cq, cr) squared distances
            value, index = d2.min(dim=1)
            better = value < best_d2[q0 : q0 + chunk]
            best_d2[q0 : q0 + chunk] = torch.where(better, value, best_d2[q0 : q0 + chunk])
            best_idx[q0 : q0 + chunk] = torch.where(better, index + r0, best_idx[q0 : q0 + chunk])
    # exact distances to the winners: the float32 expansion loses precision exactly where it matters
    # (near-copies, where |q|^2 + |r|^2 and 2 q.r almost cancel)
    distances = torch.cat(
        [
            (flat(queries[i : i + chunk], torch.float64) - flat(references[best_idx[i : i + chunk]], torch.float64))
            .square()
            .mean(1)
            .sqrt()
            for i in range(0, len(queries), chunk)
        ]
    )
    return distances, best_idx


class MemorisationCheck:
    """Does a generator copy its training images? Nearest-training-image distances, fakes vs real test faces.

    For every generated image, the pixel distance to its nearest training image
    (:func:`nearest_neighbour_distances`), compared with the same distance for real faces that were
    *not* trained on (the test split): a model that reproduces training images has generated faces
    much closer to the training set than real unseen faces are. A ratio ``generated / real`` near or
    above 1 means no sign of copying; the 5th percentiles look at the closest cases, where copies show.
    The test-side distances are computed once, here.

    Args:
        train_images: (N, 3, H, W) uint8, the training set at the generator's resolution.
        test_images: (M, 3, H, W) uint8, real held-out images, same preprocessing.
        chunk: block size for :func:`nearest_neighbour_distances`.

    Example:
        >>> train = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8)
        >>> check = MemorisationCheck(train, torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8))
        >>> check.score(train[:5])["nn_ratio_median"]  # exact copies of training images
        0.0
    """

    def __init__(self, train_images: torch.Tensor, test_images: torch.Tensor, chunk: int = 1024):
        check_uint8_images(train_images, "train_images")
        check_uint8_images(test_images, "test_images")
        self.train_images, self.chunk = train_images, chunk
        self.real_distances = nearest_neighbour_distances(test_images, train_images, chunk)  # (M,)

    def score(self, fake_images: torch.Tensor) -> dict[str, float]:
        """Medians and 5th percentiles of the nearest-training-image distances, and their ratios.

        Returns:
            ``nn_fake_median``, ``nn_fake_p05`` (generated), ``nn_real_median``, ``nn_real_p05`` (test
            faces), ``nn_ratio_median``, ``nn_ratio_p05`` (generated / real), ``nn_num_fake``, ``nn_num_real``.
        """
        check_uint8_images(fake_images, "fake_images")
        fake = nearest_neighbour_distances(fake_images, self.train_images, self.chunk)
        real = self.real_distances
        out = {
            "nn_fake_median": float(fake.median()),
            "nn_fake_p05": float(fake.quantile(0.05)),
            "nn_real_median": float(real.median()),
            "nn_real_p05": float(real.quantile(0.05)),
        }
        out["nn_ratio_median"] = out["nn_fake_median"] / out["nn_real_median"] if out["nn_real_median"] else math.inf
        out["nn_ratio_p05"] = out["nn_fake_p05"] / out["nn_real_p05"] if out["nn_real_p05"] else math.inf
        out.update(nn_num_fake=len(fake), nn_num_real=len(real))
        return out


__all__ = ["MemorisationCheck", "nearest_neighbour_distances", "nearest_neighbour_indices"]
