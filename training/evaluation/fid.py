"""FID / KID of generated images with a pluggable feature network: the random-net and Inception extractors.

FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) compare the feature statistics of generated
and real images; the maths is torchmetrics' (``FrechetInceptionDistance``, ``KernelInceptionDistance``).
Only the feature network is ours to choose:

* ``"inception"``: the standard FID Inception-v3 (torch-fidelity's port of the 2015 TF graph, 2048-d
  pool features, images resized to 299 px inside the network). Numbers are comparable with published
  FIDs *at the same resolution, sample count and reference set*. It needs ``pip install torch-fidelity``
  and the weights file ``pt_inception-2015-12-05-6726825d.pth``, passed as a local path.
* ``"random"``: a fixed, seeded, randomly initialised conv net (no download, fast on a CPU). Naeem et al.
  2020 ("Reliable Fidelity and Diversity Metrics for Generative Models") show that random-network
  embeddings rank generators sensibly; the values only compare runs scored with the same network
  (same seed, same architecture) and are NOT comparable with any published FID.

Every feature network takes uint8 images (N, 3, H, W) in [0, 255] of any size, the torchmetrics
convention for custom ``feature=`` modules (they receive the images untouched; ``normalize`` is ignored
for custom modules), and has a ``num_features`` attribute so torchmetrics need not probe it with a
dummy 299x299 image. Build one with :func:`make_feature_extractor`, the reference set's
:class:`FIDEvaluator` once, then :meth:`FIDEvaluator.score` each set of fakes.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from training.evaluation.images import check_uint8_images

#: torch-fidelity's file name for the FID Inception weights (its release v0.2.0 asset).
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_WEIGHTS_FILE}"
FEATURE_KINDS = ("random", "inception")


class RandomFeatureExtractor(torch.nn.Module):
    """Random-network features: a seeded, never-trained conv net, uint8 (N, 3, H, W) -> (N, 512).

    A small VGG-like stack, as the random VGG16 of Naeem et al. 2020: images are resized to
    ``input_size`` (bilinear, antialiased; a no-op for 64-px faces) and mapped to [-1, 1], then pass
    five 3x3 conv + ReLU stages (widths 32, 64, 128, 256, 512) with 2x max pooling between them
    (64 -> 4 px), and a global average pool. Weights are He-normal, drawn from a CPU ``torch.Generator``
    seeded with ``seed``, so every machine builds the same network; biases are zero.

    Max pooling (not average) is deliberate: measured on CelebA 64 px (1,000 train vs 900 test faces),
    it makes FID rise about 20x for a 3x3 box blur and 9x for noise of sigma 15 grey levels, where
    average pooling gave 2.2x and 1.3x: GAN artefacts are mostly such texture errors. Mode collapse
    (50 distinct faces) still gives 8x, a colour cast 3x.

    The values only compare runs scored with the same network (seed, architecture, resolution):
    they are not Inception features, and the FID is not comparable with published ones.

    Example:
        >>> net = RandomFeatureExtractor()
        >>> net(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape
        torch.Size([2, 512])
    """

    kind = "random"

    def __init__(self, seed: int = 0, input_size: int = 64, widths: tuple[int, ...] = (32, 64, 128, 256, 512)):
        super().__init__()
        if input_size < 2 ** (len(widths) - 1):
            raise ValueError(f"input_size {input_size} is too small for {len(widths)} stages of 2x pooling.")
        self.seed, self.input_size, self.num_features = seed, input_size, widths[-1]
        gen = torch.Generator().manual_seed(seed)
        convs, in_ch = [], 3
        for out_ch in widths:
            conv = torch.nn.Conv2d(in_ch, out_ch, 3, padding=1)
            # He-normal from our own generator: torch's default init draws from the global RNG, which
            # would make the "fixed" network depend on whatever ran before.
            std = math.sqrt(2.0 / (in_ch * 9))
            conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * std
            conv.bias.data.zero_()
            convs.append(conv)
            in_ch = out_ch
        self.convs = torch.nn.ModuleList(convs)
        self.requires_grad_(False)
        self.eval()
        self.description = (
            f"random-network features (seeded random conv net, seed {seed}, {self.num_features}-d, "
            f"input resized to {input_size} px; Naeem et al. 2020), not comparable with published Inception FID"
        )

    def train(self, mode: bool = True) -> RandomFeatureExtractor:
        return super().train(False)  # no batch norm or dropout, but keep the contract: never trains

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_uint8_images(images, "images")
        # 1. uint8 -> [-1, 1] at the network's input size
        x = images.to(self.convs[0].weight.dtype).div(127.5).sub(1.0)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True)
        # 2. conv stages, 2x max pooling between them: (N, 32, 64, 64) ... (N, 512, 4, 4)
        for i, conv in enumerate(self.convs):
            if i:
                x = F.max_pool2d(x, 2)
            x = F.relu(conv(x))
        # 3. global average pool: (N, 512)
        return x.mean(dim=(-2, -1))


class InceptionFeatureExtractor(torch.nn.Module):
    """The standard FID Inception-v3 (2048-d pool3 features) through torchmetrics / torch-fidelity.

    Takes uint8 (N, 3, H, W) of any size; the network resizes to 299 px itself (bilinear, antialiased,
    torchmetrics' default). Build it with :func:`make_feature_extractor`.
    """

    kind = "inception"
    num_features = 2048

    def __init__(self, weights_path: str | Path):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(
            name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(weights_path)
        )
        self.requires_grad_(False)
        self.description = "Inception-v3 pool3 features (torch-fidelity's FID network, images resized to 299 px)"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_uint8_images(images, "images")
        return self.net(images)


def make_feature_extractor(kind: str = "random", weights_path: str | Path | None = None, seed: int = 0):
    """The feature network for FID / KID: ``"random"`` (default, offline) or ``"inception"``.

    Args:
        kind: ``"random"`` for :class:`RandomFeatureExtractor` (seeded, no download, not comparable with
            published FIDs) or ``"inception"`` for the standard FID Inception-v3.
        weights_path: for ``"inception"``, a local copy of ``pt_inception-2015-12-05-6726825d.pth``
            (nothing is downloaded). Ignored for ``"random"``.
        seed: for ``"random"``, which random network; keep it fixed to compare runs.

    Returns:
        An ``nn.Module`` in eval mode mapping uint8 (N, 3, H, W) to (N, num_features), with
        ``num_features``, ``kind`` and ``description`` attributes.

    Raises:
        ValueError: unknown kind, or ``"inception"`` without a readable weights file.
        ModuleNotFoundError: ``"inception"`` without torch-fidelity installed.

    Example:
        >>> make_feature_extractor("random").num_features
        512
    """
    if kind == "random":
        return RandomFeatureExtractor(seed=seed)
    if kind != "inception":
        raise ValueError(f"Unknown feature extractor {kind!r}; choose one of {FEATURE_KINDS}.")
    if weights_path is None:
        raise ValueError(
            f"The FID Inception network needs its weights file {INCEPTION_WEIGHTS_FILE}, and nothing is "
            f"downloaded here. Fetch it on a machine with internet ({INCEPTION_WEIGHTS_URL}) and pass its "
            "path (CLI: --inception-weights PATH; Python: weights_path=...), or use --feature random."
        )
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise ValueError(f"--inception-weights {str(weights_path)!r} is not a file; expected {INCEPTION_WEIGHTS_FILE}.")
    _torchmetrics_fid_kid()  # fails early, with advice, if torch-fidelity / torchvision are broken
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    if not _TORCH_FIDELITY_AVAILABLE:
        raise ModuleNotFoundError(
            "--feature inception needs torch-fidelity (the FID Inception port torchmetrics uses): "
            f"`pip install torch-fidelity`. {_TORCHVISION_ADVICE} Or use --feature random."
        )
    # torch-fidelity reads the file with torch.load(weights_only=False), which would run any code
    # pickled into it; refuse anything but a plain state dict of tensors first.
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path.name!r} is not a plain tensor state dict ({type(err).__name__}); expected torch-fidelity's "
            f"{INCEPTION_WEIGHTS_FILE}."
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path.name!r} does not hold a state dict of tensors; expected {INCEPTION_WEIGHTS_FILE}.")
    return InceptionFeatureExtractor(path)


_TORCHVISION_ADVICE = (
    "torch-fidelity imports torchvision, which must be the build matching your torch: with a CPU-only torch, "
    "install torchvision from the same PyTorch index as torch (PyPI's Linux torchvision is a CUDA build and "
    "fails with 'operator torchvision::nms does not exist')."
)


def _torchmetrics_fid_kid():
    """torchmetrics' FID and KID classes, imported on first use (the PSNR / SSIM metrics do not need them).

    torchmetrics imports torch-fidelity, and through it torchvision, whenever they are installed, so a
    torchvision that does not match torch breaks even the random-feature path: say so, and how to fix it.
    """
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ModuleNotFoundError as err:
        if err.name == "torchmetrics":
            raise ModuleNotFoundError("FID / KID need torchmetrics: `pip install torchmetrics`.") from err
        raise ImportError(f"torchmetrics could not import {err.name!r}. {_TORCHVISION_ADVICE}") from err
    except (ImportError, RuntimeError) as err:
        raise ImportError(
            f"torchmetrics failed to import ({type(err).__name__}: {err}). {_TORCHVISION_ADVICE} "
            "Fix torchvision, or `pip uninstall torch-fidelity` to use --feature random only."
        ) from err
    return FrechetInceptionDistance, KernelInceptionDistance


class _Precomputed(torch.nn.Module):
    """Identity "feature network": lets :class:`FIDEvaluator` hand torchmetrics features it already has."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FIDEvaluator:
    """FID and KID of generated images against a fixed reference set whose features are computed once.

    The reference images go through ``extractor`` at construction; each :meth:`score` runs only the
    fakes through it (once, shared by FID and KID) and lets torchmetrics do the statistics: FID from
    float64 means and covariances, KID as the unbiased polynomial-kernel MMD (degree 3) averaged over
    ``kid_subsets`` random subsets of ``min(kid_subset_size, n_real, n_fake)`` images each, drawn from a
    fixed seed so the same fakes always give the same KID.

    Args:
        reference_images: uint8 (N, 3, H, W) real images, N >= 2 (e.g. the test split).
        extractor: a feature network from :func:`make_feature_extractor` (or any module mapping uint8
            images to (N, d) with a ``num_features`` attribute).
        kid_subset_size: images per KID subset (clipped to the smaller set).
        kid_subsets: number of KID subsets.
        batch_size: images per forward pass of the feature network (bounds memory).
        seed: the seed of the KID subset draws.

    Example:
        >>> reals = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
        >>> evaluator = FIDEvaluator(reals, make_feature_extractor("random"), kid_subset_size=32)
        >>> scores = evaluator.score(reals)
        >>> abs(scores["fid"]) < 1e-3, sorted(scores)
        (True, ['fid', 'kid', 'kid_std'])
    """

    def __init__(
        self,
        reference_images: torch.Tensor,
        extractor: torch.nn.Module,
        kid_subset_size: int = 500,
        kid_subsets: int = 100,
        batch_size: int = 250,
        seed: int = 0,
    ):
        import warnings

        FrechetInceptionDistance, KernelInceptionDistance = _torchmetrics_fid_kid()

        check_uint8_images(reference_images, "reference_images", min_count=2)
        for name, value in (
            ("kid_subset_size", kid_subset_size),
            ("kid_subsets", kid_subsets),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        self.extractor = extractor.eval()
        self.kid_subset_size, self.kid_subsets = kid_subset_size, kid_subsets
        self.batch_size, self.seed = batch_size, seed
        self.reference_features = self.features(reference_images)  # (N, d), cached for every score()
        num_features = self.reference_features.shape[1]
        # torchmetrics gets the features, not the images (the identity module): the network then runs
        # once per image for both metrics, and the reference side never runs again.
        self._fid = FrechetInceptionDistance(feature=_Precomputed(num_features), reset_real_features=False)
        with warnings.catch_warnings():  # "KID keeps all features in memory": a few MB here, by design
            warnings.simplefilter("ignore", UserWarning)
            self._kid = KernelInceptionDistance(
                feature=_Precomputed(num_features), subsets=kid_subsets, subset_size=kid_subset_size,
                reset_real_features=False,
            )  # fmt: skip
        self._fid.update(self.reference_features, real=True)
        self._kid.update(self.reference_features, real=True)

    @property
    def num_reference(self) -> int:
        return self.reference_features.shape[0]

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``extractor`` features of uint8 images, batch by batch, as float64 on the CPU: (N, d)."""
        check_uint8_images(images, "images")
        param = next(self.extractor.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        chunks = [
            self.extractor(images[i : i + self.batch_size].to(device)).double().cpu()
            for i in range(0, len(images), self.batch_size)
        ]
        features = torch.cat(chunks)
        if features.ndim != 2 or features.shape[0] != len(images):
            raise ValueError(f"The feature extractor returned shape {tuple(features.shape)}; expected (N, d).")
        return features

    def score(self, fake_images: torch.Tensor) -> dict[str, float]:
        """FID, KID (mean over subsets) and KID's standard deviation of ``fake_images`` vs the references.

        Args:
            fake_images: uint8 (M, 3, H, W), M >= 2, at the references' resolution (the feature network
                resizes, but comparing different resolutions measures the resize, not the model).

        Returns:
            ``{"fid": float, "kid": float, "kid_std": float}``; lower is better, 0 for identical sets.
        """
        check_uint8_images(fake_images, "fake_images", min_count=2)
        return self.score_features(self.features(fake_images))

    def score_features(self, fake_features: torch.Tensor) -> dict[str, float]:
        """:meth:`score` from features already computed with :meth:`features`."""
        self._fid.reset()  # drops the fake statistics; the reference ones stay (reset_real_features=False)
        self._kid.reset()
        self._fid.update(fake_features, real=False)
        self._kid.update(fake_features, real=False)
        fid = float(self._fid.compute())
        self._kid.subset_size = min(self.kid_subset_size, self.num_reference, len(fake_features))
        # KID draws its subsets with torch.randperm on the global RNG: fork it so the score is repeatable
        # and the caller's random stream (e.g. training) is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            kid, kid_std = self._kid.compute()
        return {"fid": fid, "kid": float(kid), "kid_std": float(kid_std)}


__all__ = [
    "FEATURE_KINDS",
    "INCEPTION_WEIGHTS_FILE",
    "FIDEvaluator",
    "InceptionFeatureExtractor",
    "RandomFeatureExtractor",
    "make_feature_extractor",
]
