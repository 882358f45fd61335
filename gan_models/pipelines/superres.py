"""Super-resolution pipeline: any image in, a ``scale``-times larger image out, alpha and gray kept.

Inference only. The steps (see ``__call__``) are: decode and check every input, split off alpha,
run the generator tile by tile (``gan_models.tiling``), optionally resize to ``outscale``, put
alpha back, and label the result as AI-generated (``gan_models.imaging``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Union

import numpy as np
import PIL.Image
import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..checks import OUTPUT_TYPES, TILE_OVERLAP, TILE_SIZE, check_choice, check_int, check_outscale
from ..errors import GanModelsError
from ..hub import model_label
from ..imaging import ImageSource, load_image, mark_ai_generated, merge_alpha, pil_to_tensor, split_alpha, tensor_to_pil
from ..superres import RRDBNet, SRVGGNetCompact, upscale_factor
from ..tiling import TileFn, tiled_upscale
from ._facts import CardFacts
from ._float_copy import cached_float_copy

__all__ = ["SuperResolutionPipeline", "SuperResolutionPipelineOutput"]

PipelineImageInput = Union[ImageSource, Sequence[ImageSource]]


@dataclass
class SuperResolutionPipelineOutput(BaseOutput):
    """Output of :class:`SuperResolutionPipeline`.

    Args:
        images: one entry per input image: PIL images (``output_type="pil"``; mode L, LA, RGB or
            RGBA like the input), or float ``[0, 1]`` arrays ``(H, W, C)`` (``"np"``) / tensors
            ``(C, H, W)`` (``"pt"``). A list, because inputs of different sizes cannot be stacked.
    """

    images: list[PIL.Image.Image] | list[np.ndarray] | list[torch.Tensor]


class SuperResolutionPipeline(DiffusionPipeline):
    """Upscale images with an ESRGAN-family generator (``RRDBNet`` or ``SRVGGNetCompact``).

    Save / load like any diffusers pipeline. To keep the folder small, save in fp16 and load in
    fp32 for CPU inference::

        pipe.to(dtype=torch.float16).save_pretrained("out")          # fp16 safetensors on disk
        pipe = SuperResolutionPipeline.from_pretrained("out", dtype=torch.float32)  # CPU-ready

    (Even without ``dtype=``, a half-precision pipeline on the CPU computes in float32.)

    Example:
        >>> import torch
        >>> from PIL import Image
        >>> from gan_models import SRVGGNetCompact, SuperResolutionPipeline
        >>> _ = torch.manual_seed(0)
        >>> pipe = SuperResolutionPipeline(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2))
        >>> pipe.set_progress_bar_config(disable=True)
        >>> pipe(Image.new("RGBA", (10, 7))).images[0].size
        (20, 14)
    """

    upscaler: RRDBNet | SRVGGNetCompact
    model_cpu_offload_seq = "upscaler"
    card_facts: ClassVar[CardFacts] = CardFacts(
        pipeline_tag="image-to-image",
        tags=("super-resolution", "image-to-image"),
        description="A super-resolution GAN generator",
        usage="""import torch
from gan_models import SuperResolutionPipeline

pipe = SuperResolutionPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
image = pipe("photo.png").images[0]   # PNG text chunks mark it as AI-generated""",
        limitations="""A GAN invents plausible detail; it does not recover the true scene. Do not use the output as
evidence (faces, text, licence plates, medical or forensic images). Every output carries
`ai_generated=true` and `DigitalSourceType=trainedAlgorithmicMedia` PNG text metadata.""",
    )

    def __init__(self, upscaler: RRDBNet | SRVGGNetCompact):
        super().__init__()
        if not isinstance(upscaler, (RRDBNet, SRVGGNetCompact)):
            raise ValueError(f"upscaler must be an RRDBNet or SRVGGNetCompact, got {type(upscaler).__name__}.")
        self.register_modules(upscaler=upscaler)
        self._fp32_cache: dict = {}  # the float32 copy of a half upscaler (see _runner)

    @property
    def scale(self) -> int:
        """The generator's native integer scale (output side / input side)."""
        return upscale_factor(self.upscaler)

    def _model_label(self) -> str:
        return model_label(self.name_or_path, fallback=type(self.upscaler).__name__)

    def _runner(self) -> tuple[torch.device, torch.dtype, TileFn, TileFn]:
        """Where and in which precision the generator runs: ``(device, run_dtype, fn, fp32_fn)``.

        Its own device; half precision only off the CPU (CPU fp16 convs are slow or missing), with a
        per-tile float32 retry (``fp32_fn``). A half model's float32 copy is made only when needed
        (on the CPU, or for a tile that overflows) and cached until the weights change.
        """
        upscaler = self.upscaler
        device, model_dtype = upscaler.device, upscaler.dtype

        def fp32_fn(x: torch.Tensor) -> torch.Tensor:
            model = upscaler if model_dtype == torch.float32 else cached_float_copy(upscaler, self._fp32_cache)
            return model(x.float())

        if device.type == "cpu" or model_dtype not in (torch.float16, torch.bfloat16):
            return device, torch.float32, fp32_fn, fp32_fn
        return device, model_dtype, upscaler, fp32_fn

    def _upscale_one(
        self,
        index: int,
        img: PIL.Image.Image,
        outscale: float | None,
        upscale: Callable[..., torch.Tensor],
        tile_size: int | None,
        callback: Callable[[int, int, int], None] | None,
    ) -> PIL.Image.Image:
        """One decoded image -> its labelled result (PIL, the input's mode family).

        ``upscale(tensor, progress=...)`` is :func:`~gan_models.tiling.tiled_upscale` with this
        call's network, tiling and precision bound.
        """
        # 1. normalise the mode: RGB for the network, alpha and gray-ness kept aside
        rgb, alpha, was_gray = split_alpha(img)
        width, height = rgb.size

        # 2. the network, tile by tile, with a progress bar gradio's track_tqdm can follow
        expected = math.ceil(height / tile_size) * math.ceil(width / tile_size) if tile_size else 1
        bar = self.progress_bar(total=expected)

        def on_tile(done: int, total: int) -> None:
            if total != bar.total:  # an out-of-memory restart with smaller tiles
                bar.reset(total=total)
            bar.update(done - bar.n)
            if callback is not None:
                callback(index, done, total)

        try:
            sr = upscale(pil_to_tensor(rgb), progress=on_tile)
        finally:
            bar.close()
        out = tensor_to_pil(sr)  # uint8 (1, 3, H*s, W*s) -> RGB

        # 3. outscale: Lanczos from the native output to exactly round(input * outscale)
        size = (width * self.scale, height * self.scale)
        if outscale is not None and outscale != self.scale:
            size = (max(1, round(width * outscale)), max(1, round(height * outscale)))
            out = out.resize(size, PIL.Image.Resampling.LANCZOS)

        # 4. alpha is not worth a network pass: Lanczos-resize it and re-attach; gray stays gray
        if alpha is not None:
            alpha = alpha.resize(size, PIL.Image.Resampling.LANCZOS)
        out = merge_alpha(out, alpha, was_gray)
        return mark_ai_generated(out, model=self._model_label(), outscale=outscale or self.scale)

    @torch.no_grad()
    def __call__(
        self,
        image: PipelineImageInput,
        outscale: float | None = None,
        tile_size: int | None = 256,
        tile_overlap: int = 16,
        max_pixels: int | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback: Callable[[int, int, int], None] | None = None,
    ) -> SuperResolutionPipelineOutput | tuple:
        """Upscale one image or a list of images.

        Args:
            image: a path, encoded bytes, binary file object, ``PIL.Image``, uint8 array, or a list.
            outscale: final size factor; ``None`` (default) is exactly the native scale. Other
                values resize the network output with Lanczos to ``round(size * outscale)``.
            tile_size: tile side in input pixels (``0``/``None``: whole image at once).
            tile_overlap: context margin per tile; >= the network's receptive-field radius hides seams.
            max_pixels: refuse inputs with more pixels than this (checked before decoding).
            output_type: ``"pil"``, ``"np"`` or ``"pt"``.
            return_dict: return a :class:`SuperResolutionPipelineOutput` (else a 1-tuple).
            callback: ``callback(image_index, tiles_done, tiles_total)`` after every tile.

        Returns:
            :class:`SuperResolutionPipelineOutput` with ``.images``, one per input.

        Raises:
            InvalidImageError, ImageTooLargeError, ValueError: bad inputs (all ``ValueError``).
            InferenceOutOfMemoryError: out of memory even with the smallest tiles.

        Example:
            >>> import torch
            >>> from PIL import Image
            >>> from gan_models import RRDBNet, SuperResolutionPipeline
            >>> pipe = SuperResolutionPipeline(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4))
            >>> pipe.set_progress_bar_config(disable=True)
            >>> [im.size for im in pipe([Image.new("L", (9, 5)), Image.new("RGB", (4, 4))], outscale=2.5).images]
            [(22, 12), (10, 10)]
        """
        # 1. check everything at the door, before any work: arguments, then decode every image
        outscale = check_outscale(outscale, self.scale)
        tile_size = None if tile_size is None else check_int(tile_size, TILE_SIZE)
        tile_overlap = check_int(tile_overlap, TILE_OVERLAP)
        output_type = check_choice(output_type, OUTPUT_TYPES, "output_type")
        sources = list(image) if isinstance(image, (list, tuple)) else [image]
        if not sources:
            raise GanModelsError("image is an empty list; pass at least one image.")
        decoded = [load_image(src, max_pixels=max_pixels) for src in sources]

        # 2. where and in which precision the generator runs (see _runner); RRDBNet x2 / x1
        #    pixel-unshuffle their input, so tiles must align to 2 / 4 pixels
        device, run_dtype, fn, fp32_fn = self._runner()
        multiple = {4: 1, 2: 2, 1: 4}[self.scale] if isinstance(self.upscaler, RRDBNet) else 1
        upscale = functools.partial(
            tiled_upscale,
            fn,
            scale=self.scale,
            tile_size=tile_size,
            tile_overlap=tile_overlap,
            device=device,
            dtype=run_dtype,
            multiple=multiple,
            fp32_fn=fp32_fn,
        )

        # 3. every image: mode, network, outscale, alpha, label (see _upscale_one)
        outputs = [self._upscale_one(i, img, outscale, upscale, tile_size, callback) for i, img in enumerate(decoded)]

        # 4. output format
        if output_type == "np":
            outputs = [np.asarray(o, dtype=np.float32).reshape(o.height, o.width, -1) / 255.0 for o in outputs]
        elif output_type == "pt":
            outputs = [pil_to_tensor(o)[0] for o in outputs]
        if not return_dict:
            return (outputs,)
        return SuperResolutionPipelineOutput(images=outputs)
