"""Face pipeline: seeds in, StyleGAN2 faces out; plus latent walks and style-mixing grids.

Inference only. The steps (see ``__call__``) are: check every argument, draw one z per seed (on the
CPU, so a seed means the same face everywhere), map z to w, pull w towards the mean w
(truncation), synthesise in batches, and label every image as AI-generated (``gan_models.imaging``).

A face depends only on its seed, the truncation and the noise mode: image ``i`` of a call comes
from seed ``seed + i``, so asking for more images never changes the first ones.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..errors import GanModelsError
from ..faces import StyleGAN2Generator
from ..hub import model_label
from ..imaging import mark_ai_generated
from ._float_copy import cached_float_copy, weights_key

__all__ = [
    "MAX_FRAMES",
    "MAX_IMAGES",
    "MAX_SEED",
    "MAX_STYLE_MIX_SEEDS",
    "NOISE_MODES",
    "STYLE_MIX_LEVELS",
    "TRUNCATION_RANGE",
    "FaceGANPipeline",
    "FaceGANPipelineOutput",
    "save_animation",
    "style_mix_layers",
]

#: Most images one call may ask for (a shared server must not be held up by one request).
MAX_IMAGES = 64
#: Most frames one interpolation may have (10 s at 24 fps).
MAX_FRAMES = 240
#: Largest seed: seeds are unsigned 32-bit, like the official StyleGAN scripts.
MAX_SEED = 2**32 - 1
#: Most row (and column) seeds in a style-mixing grid.
MAX_STYLE_MIX_SEEDS = 16
#: Allowed truncation psi: 0 = the mean face, 1 = untouched, above 1 / below 0 = caricatures.
TRUNCATION_RANGE = (-1.0, 2.0)
NOISE_MODES = ("const", "random", "none")
STYLE_MIX_LEVELS = ("coarse", "middle", "fine")
_OUTPUT_TYPES = ("pil", "np", "pt")
_SPACES = ("w", "z")
_BATCH = 16  # images per synthesis pass: fast on a GPU, bounded memory on a CPU
_MEAN_LATENT_SAMPLES = 4096  # rosinality's and the official scripts' choice for the truncation centre


@dataclass
class FaceGANPipelineOutput(BaseOutput):
    """Output of :class:`FaceGANPipeline`.

    Args:
        images: one entry per seed: RGB PIL images (``output_type="pil"``), float32 ``[0, 1]`` arrays
            ``(H, W, 3)`` (``"np"``) or float32 ``[0, 1]`` tensors ``(3, H, W)`` on the generator's
            device (``"pt"``).
        seeds: the seed of each image (``seed, seed + 1, ...``), to regenerate or share one face.
    """

    images: list[PIL.Image.Image] | list[np.ndarray] | list[torch.Tensor]
    seeds: list[int]


# ------------------------------------------------------------------------------------------------
# argument checks: every public call validates here, before any work, with a message that says what to do
# ------------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> int:
    # bool is an int subclass: True as a seed is almost certainly a UI wiring bug, so refuse it
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GanModelsError(f"{name} must be an integer between {low} and {high}, got {value!r}.")
    value = int(value)
    if not low <= value <= high:
        raise GanModelsError(f"{name} must be between {low} and {high}, got {value}.")
    return value


def _check_seed(name: str, value: object) -> int:
    return _check_int(name, value, 0, MAX_SEED)


def _check_truncation(value: object) -> float:
    low, high = TRUNCATION_RANGE
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise GanModelsError(f"truncation must be a finite number between {low} and {high}, got {value!r}.")
    if not low <= value <= high:
        raise GanModelsError(
            f"truncation must be between {low} and {high}, got {value}. Use 0.5-0.8 for typical faces, "
            "1 for the full variety."
        )
    return float(value)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise GanModelsError(f"{name} must be one of {choices}, got {value!r}.")
    return value  # type: ignore[return-value]


def _check_seed_list(name: str, seeds: object) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise GanModelsError(f"{name} must be a list of integer seeds, got {seeds!r}.")
    if not 1 <= len(seeds) <= MAX_STYLE_MIX_SEEDS:
        raise GanModelsError(f"{name} must hold 1 to {MAX_STYLE_MIX_SEEDS} seeds, got {len(seeds)}.")
    return [_check_seed(f"{name}[{i}]", s) for i, s in enumerate(seeds)]


def style_mix_layers(num_latents: int, level: str) -> range:
    """Indices of the w's (``ws[:, i]``) that a style-mixing ``level`` copies from the column seed.

    As in the StyleGAN paper (Fig. 3): coarse = 4-8 px layers (pose, face shape), middle = 16-32 px
    (features, hair style), fine = 64 px and up (colours, micro-structure). Latent ``i`` drives
    resolution ``2 ** (i // 2 + 2)``. For models below 64 px the bands move down so each keeps at
    least one resolution (16 px: 4 / 8 / 16 px; 32 px: 4-8 / 16 / 32 px).

    Example:
        >>> [list(style_mix_layers(10, lv)) for lv in STYLE_MIX_LEVELS]  # 64 px
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        >>> [list(style_mix_layers(6, lv)) for lv in STYLE_MIX_LEVELS]  # 16 px
        [[0, 1], [2, 3], [4, 5]]
    """
    _check_choice("level", level, STYLE_MIX_LEVELS)
    log_size = (num_latents + 2) // 2  # num_latents = 2 * log2(size) - 2
    if num_latents != 2 * log_size - 2 or log_size < 4:
        raise GanModelsError(f"Style mixing needs a model of at least 16 px (>= 6 latents), got {num_latents} latents.")
    middle_end = min(5, log_size - 1)  # log2 of the last "middle" resolution: 32 px, or one below the top
    coarse_end = min(3, middle_end - 1)  # log2 of the last "coarse" resolution: 8 px, or one below middle
    # resolution 2**k owns latents up to index 2 * (k - 1) - 1
    bounds = {"coarse": (0, 2 * (coarse_end - 1)), "middle": (2 * (coarse_end - 1), 2 * (middle_end - 1))}
    bounds["fine"] = (2 * (middle_end - 1), num_latents)
    return range(*bounds[level])


# ------------------------------------------------------------------------------------------------
# the pipeline
# ------------------------------------------------------------------------------------------------


class FaceGANPipeline(DiffusionPipeline):
    """Generate faces with a StyleGAN2 generator: ``pipe(num_images, seed, truncation)``.

    Save / load like any diffusers pipeline; store fp16, compute in fp32 on the CPU::

        pipe.stylegan.half(); pipe.save_pretrained("out")                    # fp16 safetensors
        pipe = FaceGANPipeline.from_pretrained("out", dtype=torch.float32)    # CPU-ready

    (Even without ``dtype=``, a half-precision pipeline on the CPU computes in float32.)

    Example:
        >>> import torch
        >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
        >>> _ = torch.manual_seed(0)
        >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> pipe = FaceGANPipeline(stylegan=G)
        >>> pipe.set_progress_bar_config(disable=True)
        >>> out = pipe(num_images=2, seed=7, truncation=0.7)
        >>> out.seeds, out.images[0].size, out.images[0].info["ai_generated"]
        ([7, 8], (16, 16), 'true')
    """

    stylegan: StyleGAN2Generator
    model_cpu_offload_seq = "stylegan"

    def __init__(self, stylegan: StyleGAN2Generator):
        super().__init__()
        if not isinstance(stylegan, StyleGAN2Generator):
            raise TypeError(f"stylegan must be a StyleGAN2Generator, got {type(stylegan).__name__}.")
        self.register_modules(stylegan=stylegan)
        # (key, compute module, mean w): see _runner; one entry, rebuilt when the module changes
        self._runner_cache: tuple | None = None

    @property
    def resolution(self) -> int:
        """Side of the square output images in pixels."""
        return int(self.stylegan.size)

    # -- helpers ----------------------------------------------------------------------------------

    def _model_label(self) -> str:
        return model_label(self.name_or_path, fallback=type(self.stylegan).__name__)

    def _runner(self) -> tuple[StyleGAN2Generator, torch.Tensor]:
        """The module that computes (fp32 copy of a half model on the CPU) and its mean w.

        Both are cached; the key holds the device, the dtype and the tensors' in-place version
        counters, so ``.to()``, ``.half()`` or ``load_state_dict`` all invalidate it.
        """
        g = self.stylegan
        key = weights_key(g)
        if self._runner_cache is not None and self._runner_cache[0] == key:
            return self._runner_cache[1], self._runner_cache[2]
        model = cached_float_copy(g, {}) if g.device.type == "cpu" and g.dtype != torch.float32 else g
        w_avg = model.mean_latent(_MEAN_LATENT_SAMPLES, seed=0)
        self._runner_cache = (key, model, w_avg)
        return model, w_avg

    @staticmethod
    def _z_and_noise(model: StyleGAN2Generator, seed: int, with_noise: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """z (1, style_dim) from the seed on the CPU; for noise_mode="random" the per-layer noise too.

        The noise continues the same CPU generator, so it is a function of the seed alone.
        """
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(1, model.style_dim, generator=gen)
        noise = []
        if with_noise:
            for i in range(model.num_layers):
                shape = getattr(model.noises, f"noise_{i}").shape
                noise.append(torch.randn(shape, generator=gen))
        return z, noise

    def _ws(self, model: StyleGAN2Generator, w_avg: torch.Tensor, z: torch.Tensor, truncation: float) -> torch.Tensor:
        """z (batch, style_dim) on the CPU -> truncated w (batch, style_dim) on the model's device."""
        w = model.map(z.to(model.device, model.dtype))
        return model.truncate(w, w_avg, truncation)

    def _synthesise(
        self,
        model: StyleGAN2Generator,
        ws: torch.Tensor,
        noise_mode: str = "const",
        noise: list[list[torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """ws (batch, num_latents, style_dim) -> float32 images (batch, 3, H, W) in [0, 1].

        In chunks of ``_BATCH``, with a progress bar gradio's ``track_tqdm`` can follow. ``noise``:
        per image, its list of per-layer maps (``noise_mode="random"``).
        """
        out = []
        with self.progress_bar(total=math.ceil(ws.shape[0] / _BATCH)) as bar:
            for start in range(0, ws.shape[0], _BATCH):
                chunk_noise = None
                if noise is not None:  # per image [layer maps] -> per layer (chunk, 1, r, r)
                    chunk_noise = [torch.cat(maps) for maps in zip(*noise[start : start + _BATCH])]
                img = model.synthesis(ws[start : start + _BATCH], noise_mode=noise_mode, noise=chunk_noise)
                out.append(img.float().clamp(-1, 1).add(1).div(2))  # [-1, 1] -> [0, 1]
                bar.update()
        return torch.cat(out)

    @staticmethod
    def _to_pil(image: torch.Tensor) -> PIL.Image.Image:
        """(3, H, W) float [0, 1] -> RGB PIL."""
        arr = image.mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()  # (H, W, 3)
        return PIL.Image.fromarray(arr, mode="RGB")

    # -- generation -------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        num_images: int = 1,
        seed: int = 0,
        truncation: float = 1.0,
        noise_mode: str = "const",
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> FaceGANPipelineOutput | tuple:
        """Generate ``num_images`` faces from seeds ``seed, seed + 1, ...``.

        Args:
            num_images: how many faces, 1 to :data:`MAX_IMAGES`.
            seed: seed of the first face, 0 to 2**32 - 1 (so is ``seed + num_images - 1``).
            truncation: psi in [-1, 2]: 1 = full variety, 0.5-0.8 = typical, better-looking faces,
                0 = the mean face for every seed, negative = the "anti-face".
            noise_mode: ``"const"`` (the stored noise maps; the default, deterministic), ``"random"``
                (per-layer noise drawn from the seed too, so still reproducible) or ``"none"``.
            output_type: ``"pil"``, ``"np"`` or ``"pt"`` (see :class:`FaceGANPipelineOutput`).
            return_dict: return a :class:`FaceGANPipelineOutput` (else ``(images, seeds)``).

        Raises:
            GanModelsError: a bad argument (a ``ValueError``; the message says what is allowed).

        Example:
            >>> import torch
            >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
            >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
            >>> pipe = FaceGANPipeline(G); pipe.set_progress_bar_config(disable=True)
            >>> a, b = pipe(num_images=2, seed=1, truncation=0, output_type="np").images
            >>> bool(abs(a - b).max() < 1e-5)  # truncation 0: every seed gives the mean face
            True
        """
        # 1. check everything at the door
        num_images = _check_int("num_images", num_images, 1, MAX_IMAGES)
        seed = _check_seed("seed", seed)
        if seed + num_images - 1 > MAX_SEED:
            raise GanModelsError(
                f"seed + num_images - 1 = {seed + num_images - 1} is over the largest seed {MAX_SEED}; "
                f"use a seed up to {MAX_SEED - num_images + 1}."
            )
        truncation = _check_truncation(truncation)
        noise_mode = _check_choice("noise_mode", noise_mode, NOISE_MODES)
        output_type = _check_choice("output_type", output_type, _OUTPUT_TYPES)

        # 2. the computing module and the truncation centre (cached per device / dtype)
        model, w_avg = self._runner()
        seeds = [seed + i for i in range(num_images)]

        # 3. one z per seed on the CPU (the same face on every device), then z -> w -> truncated w
        drawn = [self._z_and_noise(model, s, noise_mode == "random") for s in seeds]
        z = torch.cat([d[0] for d in drawn])  # (num_images, style_dim)
        w = self._ws(model, w_avg, z, truncation)
        ws = w.unsqueeze(1).expand(-1, model.num_latents, -1)  # (num_images, num_latents, style_dim)

        # 4. synthesis, in chunks
        noise = [d[1] for d in drawn] if noise_mode == "random" else None
        images = self._synthesise(model, ws, noise_mode, noise)  # (num_images, 3, H, W) float32 in [0, 1]

        # 5. output format; PIL images carry the AI-generation label
        if output_type == "pil":
            label = self._model_label()
            outputs = [
                mark_ai_generated(self._to_pil(img), model=label, seed=s, truncation=truncation)
                for img, s in zip(images, seeds)
            ]
        elif output_type == "np":
            outputs = [img.permute(1, 2, 0).cpu().numpy() for img in images]  # (H, W, 3)
        else:
            outputs = list(images)
        if not return_dict:
            return (outputs, seeds)
        return FaceGANPipelineOutput(images=outputs, seeds=seeds)

    @torch.no_grad()
    def interpolate(
        self, seed_a: int, seed_b: int, num_frames: int = 16, truncation: float = 1.0, space: str = "w"
    ) -> list[PIL.Image.Image]:
        """Frames of a walk from the face of ``seed_a`` to the face of ``seed_b`` (both included).

        ``space="w"`` interpolates linearly between the truncated w's (the smooth, disentangled
        space StyleGAN was designed for); ``space="z"`` interpolates spherically between the z's
        (Gaussian samples live near a sphere, so a straight line would pass through unlikely z's)
        and maps and truncates every frame. Frame 0 is the ``pipe(seed=seed_a)`` face, the last the
        ``pipe(seed=seed_b)`` face (const noise).

        Example:
            >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
            >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
            >>> frames = FaceGANPipeline(G).interpolate(0, 1, num_frames=5)
            >>> len(frames), frames[0].size
            (5, (16, 16))
        """
        # 1. checks
        seed_a, seed_b = _check_seed("seed_a", seed_a), _check_seed("seed_b", seed_b)
        num_frames = _check_int("num_frames", num_frames, 2, MAX_FRAMES)
        truncation = _check_truncation(truncation)
        space = _check_choice("space", space, _SPACES)
        model, w_avg = self._runner()
        z_a, _ = self._z_and_noise(model, seed_a, False)
        z_b, _ = self._z_and_noise(model, seed_b, False)
        t = torch.linspace(0, 1, num_frames).unsqueeze(1)  # (num_frames, 1)

        # 2. the path: (num_frames, style_dim) w's
        if space == "w":
            w_a, w_b = self._ws(model, w_avg, torch.cat([z_a, z_b]), truncation)
            # torch.lerp is exact at both ends (t = 0 -> w_a, t = 1 -> w_b)
            w = torch.lerp(w_a.expand(num_frames, -1), w_b.expand(num_frames, -1), t.to(w_a.device, w_a.dtype))
        else:
            z = _slerp(z_a, z_b, t)
            z[0], z[-1] = z_a[0], z_b[0]  # exact endpoints, whatever the rounding of sin()
            w = self._ws(model, w_avg, z, truncation)

        # 3. synthesis and labels
        images = self._synthesise(model, w.unsqueeze(1).expand(-1, model.num_latents, -1), "const")
        label = self._model_label()
        return [
            mark_ai_generated(self._to_pil(img), model=label, seed_a=seed_a, seed_b=seed_b, truncation=truncation)
            for img in images
        ]

    @torch.no_grad()
    def style_mix(
        self, row_seeds: Sequence[int], col_seeds: Sequence[int], level: str = "coarse", truncation: float = 1.0
    ) -> PIL.Image.Image:
        """A style-mixing grid in the StyleGAN paper's layout (Karras et al. 2019, Fig. 3).

        Top row: the column-source faces; left column: the row-source faces; cell (r, c): the face
        of ``row_seeds[r]`` with the styles of :func:`style_mix_layers` (``level``) taken from
        ``col_seeds[c]``. The top-left cell is white. The grid is ``(len(col_seeds) + 1) * size``
        wide and ``(len(row_seeds) + 1) * size`` tall.

        Example:
            >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
            >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
            >>> FaceGANPipeline(G).style_mix([1, 2], [3, 4, 5], level="middle").size
            (64, 48)
        """
        # 1. checks
        rows = _check_seed_list("row_seeds", row_seeds)
        cols = _check_seed_list("col_seeds", col_seeds)
        level = _check_choice("level", level, STYLE_MIX_LEVELS)
        truncation = _check_truncation(truncation)
        model, w_avg = self._runner()
        layers = style_mix_layers(model.num_latents, level)

        # 2. one truncated w per distinct seed
        z = torch.cat([self._z_and_noise(model, s, False)[0] for s in rows + cols])
        w = self._ws(model, w_avg, z, truncation)  # (R + C, style_dim)
        w_rows, w_cols = w[: len(rows)], w[len(rows) :]

        # 3. ws for: column sources, row sources, then every mix (row-major)
        n = model.num_latents
        mixed = w_rows[:, None, None, :].expand(-1, len(cols), n, -1).clone()  # (R, C, n, style_dim)
        mixed[:, :, layers.start : layers.stop] = w_cols[None, :, None, :]
        ws = torch.cat(
            [
                w_cols.unsqueeze(1).expand(-1, n, -1),
                w_rows.unsqueeze(1).expand(-1, n, -1),
                mixed.reshape(-1, n, model.style_dim),
            ]
        )
        images = [self._to_pil(img) for img in self._synthesise(model, ws, "const")]

        # 4. paste into the grid
        size = self.resolution
        grid = PIL.Image.new("RGB", ((len(cols) + 1) * size, (len(rows) + 1) * size), "white")
        col_faces, row_faces, cells = (
            images[: len(cols)],
            images[len(cols) : len(cols) + len(rows)],
            images[-len(rows) * len(cols) :],
        )
        for c, face in enumerate(col_faces):
            grid.paste(face, ((c + 1) * size, 0))
        for r, face in enumerate(row_faces):
            grid.paste(face, (0, (r + 1) * size))
        for index, face in enumerate(cells):
            r, c = divmod(index, len(cols))
            grid.paste(face, ((c + 1) * size, (r + 1) * size))
        return mark_ai_generated(
            grid,
            model=self._model_label(),
            row_seeds=",".join(map(str, rows)),
            col_seeds=",".join(map(str, cols)),
            level=level,
            truncation=truncation,
        )


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of (1, D) vectors at times t (N, 1) -> (N, D); lerp when (anti)parallel."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1, 1))  # angle between them, (1, 1)
    so = torch.sin(omega)
    if so.abs().item() < 1e-6:
        return torch.lerp(a, b, t)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def save_animation(frames: Sequence[PIL.Image.Image], path: str | os.PathLike, fps: int = 8) -> Path:
    """Write frames (e.g. from :meth:`FaceGANPipeline.interpolate`) as a looping GIF or an MP4.

    ``.gif`` always works (Pillow). ``.mp4`` needs ``imageio`` and ``imageio-ffmpeg``
    (``pip install imageio imageio-ffmpeg``). The GIF's comment says the frames are AI-generated.

    Raises:
        GanModelsError: no frames, frames of different sizes, a bad fps or an unknown extension.
        ImportError: ``.mp4`` without imageio / imageio-ffmpeg (the message says what to install).

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> frames = [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(4)]
        >>> p = save_animation(frames, os.path.join(tempfile.mkdtemp(), "walk.gif"), fps=10)
        >>> Image.open(p).n_frames
        4
    """
    path = Path(path)
    frames = list(frames)
    if not frames or not all(isinstance(f, PIL.Image.Image) for f in frames):
        raise GanModelsError("frames must be a non-empty list of PIL images (e.g. from pipe.interpolate).")
    if len({f.size for f in frames}) != 1:
        raise GanModelsError(f"All frames must have the same size, got {sorted({f.size for f in frames})}.")
    fps = _check_int("fps", fps, 1, 60)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise GanModelsError(f"save_animation writes .gif or .mp4 files, got {path.name!r}.")
    rgb = [f.convert("RGB") for f in frames]
    if suffix == ".gif":
        model = frames[0].info.get("model")
        comment = f"AI-generated (trainedAlgorithmicMedia) by {model}" if model else "AI-generated"
        rgb[0].save(
            path,
            save_all=True,
            append_images=rgb[1:],
            duration=round(1000 / fps),  # ms per frame
            loop=0,  # loop forever
            disposal=2,
            comment=comment,
        )
        return path
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imported only to fail here, not inside mimwrite)
    except ImportError as err:
        raise ImportError(
            "Writing .mp4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg "
            "(or save a .gif, which needs nothing extra)."
        ) from err
    # macro_block_size=1: keep the exact size (imageio would otherwise pad to multiples of 16)
    imageio.mimwrite(path, [np.asarray(f) for f in rgb], fps=fps, macro_block_size=1)
    return path
