"""Face pipeline: seeds in, StyleGAN2 faces out; plus latent walks and style-mixing grids.

Inference only. The steps (see ``__call__``) are: check every argument, draw one z per seed (on the
CPU, so a seed means the same face everywhere), map z to w, pull w towards the mean w
(truncation), synthesise in batches, and label every image as AI-generated (``gan_models.imaging``).

A face depends only on its seed, the truncation and the noise mode: image ``i`` of a call comes
from seed ``seed + i``, so asking for more images never changes the first ones. Frames of a walk
are saved with :func:`~gan_models.imaging.save_animation` (exported here too, for the faces family).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import PIL.Image
import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..checks import (
    NOISE_MODES,
    NUM_FRAMES,
    NUM_IMAGES,
    OUTPUT_TYPES,
    check_choice,
    check_int,
    check_seed,
    check_seed_list,
    check_seed_or_generator,
    check_truncation,
)
from ..errors import GanModelsError
from ..faces import StyleGAN2Generator
from ..hub import model_label
from ..imaging import mark_ai_generated, save_animation
from ._facts import CardFacts
from ._float_copy import cached_float_copy, weights_key

__all__ = ["STYLE_MIX_LEVELS", "FaceGANPipeline", "FaceGANPipelineOutput", "save_animation", "style_mix_layers"]

#: Which styles a style-mixing grid copies from the column faces (see :func:`style_mix_layers`).
STYLE_MIX_LEVELS = ("coarse", "middle", "fine")
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
        seeds: the seed of each image (``seed, seed + 1, ...``), to regenerate or share one face;
            ``None`` for each image drawn from ``generator=``.
    """

    images: list[PIL.Image.Image] | list[np.ndarray] | list[torch.Tensor]
    seeds: list[int | None]


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
    check_choice(level, STYLE_MIX_LEVELS, "level")
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
    card_facts: ClassVar[CardFacts] = CardFacts(
        pipeline_tag="unconditional-image-generation",
        tags=("stylegan2", "faces", "unconditional-image-generation"),
        description="A StyleGAN2 face generator",
        usage="""import torch
from gan_models import FaceGANPipeline, save_animation

pipe = FaceGANPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
faces = pipe(num_images=4, seed=42, truncation=0.7).images   # image i comes from seed 42 + i
save_animation(pipe.interpolate(1, 2, num_frames=24, truncation=0.7), "walk.gif")
grid = pipe.style_mix([1, 2, 3], [4, 5], level="coarse", truncation=0.7)""",
        limitations="""These people do not exist. Do not present the images as photographs of real people, use them to
impersonate anyone or to build fake profiles. A face GAN reproduces the biases of its training data
(face datasets over-represent some ages, skin tones and celebrity looks) and can leak near-copies of
training faces. Every PIL output carries `ai_generated=true` and
`DigitalSourceType=trainedAlgorithmicMedia` text metadata (kept when saved as PNG).""",
    )

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
    def _z_and_noise(
        model: StyleGAN2Generator, gen: torch.Generator, with_noise: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """z (1, style_dim) drawn from ``gen`` (on its device); for noise_mode="random" the per-layer noise too.

        The noise continues the same generator, so with a fresh CPU generator per seed it is a
        function of the seed alone (the same face on every device).
        """
        z = torch.randn(1, model.style_dim, generator=gen, device=gen.device).cpu()
        noise = []
        if with_noise:
            for i in range(model.num_layers):
                shape = getattr(model.noises, f"noise_{i}").shape
                noise.append(torch.randn(shape, generator=gen, device=gen.device).cpu())
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

    def _outputs(self, images: torch.Tensor, output_type: str, **label: object) -> list:
        """(N, 3, H, W) float [0, 1] -> the requested output type; PIL images carry the AI label.

        ``label`` values that are lists hold one entry per image (e.g. ``seed``), others apply to all.
        """
        if output_type == "np":
            return [img.permute(1, 2, 0).cpu().numpy() for img in images]  # (H, W, 3)
        if output_type == "pt":
            return list(images)
        name = self._model_label()
        per_image = [{k: v[i] if isinstance(v, list) else v for k, v in label.items()} for i in range(len(images))]
        return [mark_ai_generated(self._to_pil(img), model=name, **meta) for img, meta in zip(images, per_image)]

    # -- generation -------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        num_images: int = 1,
        seed: int | None = None,
        truncation: float = 1.0,
        noise_mode: str = "const",
        output_type: str = "pil",
        return_dict: bool = True,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> FaceGANPipelineOutput | tuple:
        """Generate ``num_images`` faces from seeds ``seed, seed + 1, ...`` (or from ``generator``).

        Args:
            num_images: how many faces, 1 to ``checks.NUM_IMAGES.high`` (64).
            seed: seed of the first face, 0 to 2**32 - 1 (so is ``seed + num_images - 1``); default 0.
            truncation: psi in [-1, 2]: 1 = full variety, 0.5-0.8 = typical, better-looking faces,
                0 = the mean face for every seed, negative = the "anti-face".
            noise_mode: ``"const"`` (the stored noise maps; the default, deterministic), ``"random"``
                (per-layer noise drawn from the seed too, so still reproducible) or ``"none"``.
            output_type: ``"pil"``, ``"np"`` or ``"pt"`` (see :class:`FaceGANPipelineOutput`).
            return_dict: return a :class:`FaceGANPipelineOutput` (else ``(images, seeds)``).
            generator: instead of ``seed``, the ``torch.Generator`` every face's z (and, for
                ``noise_mode="random"``, its noise) is drawn from, one face after the other; or a
                list of generators, one per face. ``torch.Generator().manual_seed(s)`` gives the
                ``seed=s`` face; ``[manual_seed(s + i) for i ...]`` the whole ``seed=s`` call.
                The output's ``seeds`` are then ``None``.

        Raises:
            GanModelsError: a bad argument, or both ``seed`` and ``generator`` (a ``ValueError``;
                the message says what is allowed).

        Example:
            >>> import torch
            >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
            >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
            >>> pipe = FaceGANPipeline(G); pipe.set_progress_bar_config(disable=True)
            >>> a, b = pipe(num_images=2, seed=1, truncation=0, output_type="np").images
            >>> bool(abs(a - b).max() < 1e-5)  # truncation 0: every seed gives the mean face
            True
            >>> c = pipe(generator=torch.Generator().manual_seed(1), truncation=0, output_type="np").images[0]
            >>> bool(abs(a - c).max() < 1e-5)  # a generator seeded 1 gives the seed=1 face
            True
        """
        # 1. check everything at the door
        num_images = check_int(num_images, NUM_IMAGES)
        seeds, generators = check_seed_or_generator(seed, generator, num_images)
        truncation = check_truncation(truncation)
        noise_mode = check_choice(noise_mode, NOISE_MODES, "noise_mode")
        output_type = check_choice(output_type, OUTPUT_TYPES, "output_type")

        # 2. the computing module and the truncation centre (cached per device / dtype)
        model, w_avg = self._runner()

        # 3. one z per face from its generator (a fresh CPU one per seed: the same face on every
        #    device), then z -> w -> truncated w
        drawn = [self._z_and_noise(model, gen, noise_mode == "random") for gen in generators]
        z = torch.cat([d[0] for d in drawn])  # (num_images, style_dim)
        w = self._ws(model, w_avg, z, truncation)
        ws = w.unsqueeze(1).expand(-1, model.num_latents, -1)  # (num_images, num_latents, style_dim)

        # 4. synthesis, in chunks
        noise = [d[1] for d in drawn] if noise_mode == "random" else None
        images = self._synthesise(model, ws, noise_mode, noise)  # (num_images, 3, H, W) float32 in [0, 1]

        # 5. output format; PIL images carry the AI-generation label
        outputs = self._outputs(images, output_type, seed=seeds, truncation=truncation)
        if not return_dict:
            return (outputs, seeds)
        return FaceGANPipelineOutput(images=outputs, seeds=seeds)

    @torch.no_grad()
    def interpolate(
        self,
        seed_a: int | None = None,
        seed_b: int | None = None,
        num_frames: int = 16,
        truncation: float = 1.0,
        space: str = "w",
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> list[PIL.Image.Image]:
        """Frames of a walk from the face of ``seed_a`` to the face of ``seed_b`` (both included).

        ``space="w"`` interpolates linearly between the truncated w's (the smooth, disentangled
        space StyleGAN was designed for); ``space="z"`` interpolates spherically between the z's
        (Gaussian samples live near a sphere, so a straight line would pass through unlikely z's)
        and maps and truncates every frame. Frame 0 is the ``pipe(seed=seed_a)`` face, the last the
        ``pipe(seed=seed_b)`` face (const noise).

        ``generator`` (instead of the two seeds): one ``torch.Generator`` both end faces are drawn
        from in turn (the two faces of ``pipe(num_images=2, generator=...)``), or a list of two.

        Example:
            >>> from gan_models import FaceGANPipeline, StyleGAN2Generator
            >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
            >>> frames = FaceGANPipeline(G).interpolate(0, 1, num_frames=5)
            >>> len(frames), frames[0].size
            (5, (16, 16))
        """
        # 1. checks
        if generator is None:
            seed_a, seed_b = check_seed(seed_a, "seed_a"), check_seed(seed_b, "seed_b")
            generators = [torch.Generator().manual_seed(s) for s in (seed_a, seed_b)]
        elif seed_a is not None or seed_b is not None:
            raise GanModelsError("Pass seed_a and seed_b, or generator, not both.")
        else:
            generators = check_seed_or_generator(None, generator, 2)[1]
        num_frames = check_int(num_frames, NUM_FRAMES)
        truncation = check_truncation(truncation)
        space = check_choice(space, _SPACES, "space")
        model, w_avg = self._runner()
        z_a, _ = self._z_and_noise(model, generators[0], False)
        z_b, _ = self._z_and_noise(model, generators[1], False)
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
        rows = check_seed_list(row_seeds, "row_seeds")
        cols = check_seed_list(col_seeds, "col_seeds")
        level = check_choice(level, STYLE_MIX_LEVELS, "level")
        truncation = check_truncation(truncation)
        model, w_avg = self._runner()
        layers = style_mix_layers(model.num_latents, level)

        # 2. one truncated w per distinct seed
        z = torch.cat([self._z_and_noise(model, torch.Generator().manual_seed(s), False)[0] for s in rows + cols])
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
