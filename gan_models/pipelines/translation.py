"""Translation pipeline (CycleGAN): an image of domain A in, the same image in domain B out, same size.

Inference only. The steps (see ``__call__``) are: check every argument and decode every image,
split off alpha, choose the working size (the model's training scale, or the full input), pad to
a multiple of 4, run the generator (``gan_models.tiling``: device moves, fp16 fallback, typed
out-of-memory), crop the padding off, bring the result back to the input size (Lanczos, or a
super-resolution pipeline), put alpha back, and label the result as AI-generated.

Why a working size at all: a CycleGAN generator learns textures at the scale of its training
crops (256 px faces, horses, paintings). On a 4000 px photo the same network sees only tiny
patches of fur or brush strokes and changes little, and it needs gigabytes of activations. So by
default the image is translated with its shorter side at ``train_size`` and resized back.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..checks import OUTPUT_TYPES, Range, check_choice, check_int
from ..errors import GanModelsError, ImageTooLargeError, InferenceOutOfMemoryError
from ..hub import model_label
from ..imaging import ImageSource, load_image, mark_ai_generated, merge_alpha, pil_to_tensor, split_alpha, tensor_to_pil
from ..tiling import tiled_upscale
from ..translation import SIZE_MULTIPLE, ResnetGenerator
from ._facts import CardFacts
from ._float_copy import cached_float_copy
from .superres import SuperResolutionPipeline

__all__ = [
    "DIRECTIONS",
    "MAX_WORK_PIXELS",
    "MIN_WORK_SIDE",
    "RESOLUTIONS",
    "CycleGANPipeline",
    "CycleGANPipelineOutput",
]

PipelineImageInput = ImageSource | Sequence[ImageSource]

#: ``"AtoB"`` runs the A -> B generator (junyanz's ``netG_A``), ``"BtoA"`` the other one (``netG_B``).
DIRECTIONS = ("AtoB", "BtoA")
#: ``"native"``: shorter side at most ``train_size`` while translating (default); ``"input"``: full size.
RESOLUTIONS = ("native", "input")
#: Default cap on the pixels the generator sees at once (2048 x 2048): a 9-block, ngf 64 generator
#: holds about 1 KB of activations per pixel, so this is ~4 GB, and minutes of CPU time.
MAX_WORK_PIXELS = 2048 * 2048
#: Smaller working images are padded up to this side: the generator halves the size twice and its
#: residual blocks reflect-pad by 1, so the bottleneck must be >= 2 px; 4 px gives instance norm
#: a few pixels of statistics.
MIN_WORK_SIDE = 16
_WORK_PIXELS = Range("max_work_pixels", 1)


@dataclass
class CycleGANPipelineOutput(BaseOutput):
    """Output of :class:`CycleGANPipeline`.

    Args:
        images: one entry per input image, each exactly the input's size: PIL images
            (``output_type="pil"``; RGB, or RGBA when the input had alpha), or float ``[0, 1]``
            arrays ``(H, W, C)`` (``"np"``) / tensors ``(C, H, W)`` (``"pt"``). A list, because
            inputs of different sizes cannot be stacked.
    """

    images: list[PIL.Image.Image] | list[np.ndarray] | list[torch.Tensor]


def _pad_for_network(x: torch.Tensor) -> torch.Tensor:
    """Pad (1, C, H, W) bottom/right to a multiple of SIZE_MULTIPLE and at least MIN_WORK_SIDE.

    Reflection, like the generator's own padding, so the border looks like more of the image;
    replication where the image is too small to reflect (a pad must be shorter than the side).
    """
    height, width = x.shape[-2:]
    target_h = max(MIN_WORK_SIDE, -(-height // SIZE_MULTIPLE) * SIZE_MULTIPLE)
    target_w = max(MIN_WORK_SIDE, -(-width // SIZE_MULTIPLE) * SIZE_MULTIPLE)
    pad_h, pad_w = target_h - height, target_w - width
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class CycleGANPipeline(DiffusionPipeline):
    """Translate images between two domains with CycleGAN ResNet generators (either or both directions).

    ``a_to_b`` maps domain A to B (junyanz's ``netG_A``), ``b_to_a`` maps B to A (``netG_B``). One
    of them may be ``None``: junyanz's single-generator releases (``style_monet``, ``style_vangogh``)
    translate one way only. ``domain_a`` / ``domain_b`` name the domains for UIs and labels;
    ``train_size`` is the crop size the generators were trained at (the default working scale).

    Save / load like any diffusers pipeline; store fp16, compute in fp32 on the CPU::

        pipe.a_to_b.half(); pipe.b_to_a.half(); pipe.save_pretrained("out")   # fp16 safetensors
        pipe = CycleGANPipeline.from_pretrained("out", dtype=torch.float32)     # CPU-ready

    (Even without ``dtype=``, a half-precision pipeline on the CPU computes in float32.)

    Example:
        >>> import torch
        >>> from PIL import Image
        >>> from gan_models import CycleGANPipeline, ResnetGenerator
        >>> _ = torch.manual_seed(0)
        >>> pipe = CycleGANPipeline(ResnetGenerator(ngf=4, n_blocks=1), None, "photo", "Monet", train_size=32)
        >>> pipe.set_progress_bar_config(disable=True)
        >>> pipe.directions
        ('AtoB',)
        >>> out = pipe(Image.new("RGBA", (37, 251)), direction="AtoB").images[0]
        >>> out.size, out.mode, out.info["translation"]
        ((37, 251), 'RGBA', 'photo -> Monet')
    """

    a_to_b: ResnetGenerator | None
    b_to_a: ResnetGenerator | None
    model_cpu_offload_seq = "a_to_b->b_to_a"
    _optional_components: ClassVar[list[str]] = ["a_to_b", "b_to_a"]  # one direction may be missing
    card_facts: ClassVar[CardFacts] = CardFacts(
        pipeline_tag="image-to-image",
        tags=("cyclegan", "unpaired-image-to-image", "image-to-image"),
        description="A CycleGAN image-to-image translator",
        usage="""import torch
from PIL import Image
from gan_models import CycleGANPipeline

pipe = CycleGANPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
print(pipe.domain_a, "<->", pipe.domain_b, pipe.directions)   # what A and B are, which ways it goes
image = pipe(image=Image.open("photo.png"), direction="AtoB").images[0]   # same size as the input""",
        limitations="""CycleGAN changes colours and textures much more readily than shapes, and works only on images
like its training data (subject, framing, scale); elsewhere it fails quietly, returning a
recoloured or barely changed image. It reproduces the biases of its two datasets. Do not use the
output as evidence or to pass off a person's photo as something it is not. Every PIL output carries
`ai_generated=true` and `DigitalSourceType=trainedAlgorithmicMedia` text metadata (kept when
saved as PNG).""",
    )

    def __init__(
        self,
        a_to_b: ResnetGenerator | None,
        b_to_a: ResnetGenerator | None,
        domain_a: str = "A",
        domain_b: str = "B",
        train_size: int = 256,
    ):
        super().__init__()
        # 1. the generators: at least one, each a ResnetGenerator taking and giving RGB or gray
        for name, module in (("a_to_b", a_to_b), ("b_to_a", b_to_a)):
            if module is None:
                continue
            if not isinstance(module, ResnetGenerator):
                raise TypeError(f"{name} must be a ResnetGenerator or None, got {type(module).__name__}.")
            channels = (module.config.in_channels, module.config.out_channels)
            if any(c not in (1, 3) for c in channels):
                raise GanModelsError(f"{name} must take and give 1 or 3 channels, got in/out {channels}.")
        if a_to_b is None and b_to_a is None:
            raise GanModelsError("A CycleGANPipeline needs at least one generator (a_to_b or b_to_a).")
        # 2. the names and the working scale, saved in model_index.json and given back by from_pretrained
        for name, value in (("domain_a", domain_a), ("domain_b", domain_b)):
            if not isinstance(value, str) or not value.strip():
                raise GanModelsError(f"{name} must be a non-empty string, got {value!r}.")
        if isinstance(train_size, bool) or not isinstance(train_size, numbers.Integral) or train_size < MIN_WORK_SIDE:
            raise GanModelsError(f"train_size must be an integer >= {MIN_WORK_SIDE}, got {train_size!r}.")
        self.register_modules(a_to_b=a_to_b, b_to_a=b_to_a)
        self.register_to_config(domain_a=domain_a.strip(), domain_b=domain_b.strip(), train_size=int(train_size))
        # direction -> (key, float32 copy) of a half-precision generator on the CPU; see _runner
        self._fp32_cache: dict[str, tuple] = {}

    # -- facts a UI needs -------------------------------------------------------------------------

    @property
    def domain_a(self) -> str:
        return self.config.domain_a

    @property
    def domain_b(self) -> str:
        return self.config.domain_b

    @property
    def train_size(self) -> int:
        """Side of the training crops: the default working scale of :meth:`__call__`."""
        return int(self.config.train_size)

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions this pipeline can translate: ``("AtoB", "BtoA")`` or one of them."""
        return tuple(d for d, g in zip(DIRECTIONS, (self.a_to_b, self.b_to_a)) if g is not None)

    def domains(self, direction: str) -> tuple[str, str]:
        """``(source, target)`` domain names of a direction, e.g. ``("real face", "anime face")``."""
        check_choice(direction, DIRECTIONS, "direction")
        return (self.domain_a, self.domain_b) if direction == "AtoB" else (self.domain_b, self.domain_a)

    # -- helpers ----------------------------------------------------------------------------------

    def _model_label(self) -> str:
        return model_label(self.name_or_path, fallback="CycleGAN")

    def _generator(self, direction: str) -> ResnetGenerator:
        generator = self.a_to_b if direction == "AtoB" else self.b_to_a
        if generator is None:
            source, target = self.domains(direction)
            raise GanModelsError(
                f"This pipeline has no {direction} generator ({source} -> {target}); it translates "
                f"{' and '.join(repr(d) for d in self.directions)} only."
            )
        return generator

    def _fp32(self, direction: str, generator: ResnetGenerator) -> ResnetGenerator:
        """A float32 copy of a half generator, cached until the module or its weights change."""
        return cached_float_copy(generator, self._fp32_cache, direction)

    def _work_size(self, width: int, height: int, resolution: str) -> tuple[int, int]:
        """The size the generator sees: the input's, or shrunk so the shorter side is train_size."""
        short = min(width, height)
        if resolution == "input" or short <= self.train_size:
            return width, height  # small images are never enlarged: that would only blur them
        ratio = self.train_size / short
        return max(1, round(width * ratio)), max(1, round(height * ratio))

    def _check_work_size(self, width: int, height: int, resolution: str, max_work_pixels: int) -> tuple[int, int]:
        work_w, work_h = self._work_size(width, height, resolution)
        if work_w * work_h > max_work_pixels:
            if resolution == "input":
                hint = f"Use resolution='native' (shorter side {self.train_size} px) or a smaller image."
            else:
                hint = "The image is very long and thin; crop it into parts."
            raise ImageTooLargeError(
                work_w,
                work_h,
                max_work_pixels,
                message=f"Translating at {work_w}x{work_h} = {work_w * work_h:,} pixels is over the limit of "
                f"{max_work_pixels:,} pixels. {hint}",
            )
        return work_w, work_h

    def _translate(self, rgb: PIL.Image.Image, direction: str) -> PIL.Image.Image:
        """One RGB image at its own size -> the translated image (RGB, or L for a 1-channel model)."""
        # 1. where and in which precision: the generator's device; half precision only off the CPU
        #    (CPU fp16 convolutions are slow or missing), with a float32 retry of a non-finite result
        generator = self._generator(direction)
        device, model_dtype = generator.device, generator.dtype
        half = model_dtype in (torch.float16, torch.bfloat16)

        def fp32_fn(x: torch.Tensor) -> torch.Tensor:  # [0, 1] -> [-1, 1] -> network -> [0, 1]
            # a half model's float32 copy is made only when needed: on the CPU, or for an overflow
            fp32_model = self._fp32(direction, generator) if half else generator
            return fp32_model(x.float().mul(2).sub(1)).add(1).div(2)

        if device.type == "cpu" or not half:
            run_dtype, fn = torch.float32, fp32_fn
        else:
            run_dtype, fn = model_dtype, lambda x: generator(x.mul(2).sub(1)).add(1).div(2)

        # 2. (1, C, H, W) in [0, 1], padded so the two down- and up-samplings give back the same size
        x = pil_to_tensor(rgb if generator.config.in_channels == 3 else rgb.convert("L"))
        height, width = x.shape[-2:]
        x = _pad_for_network(x)

        # 3. the whole image as one tile (instance norm takes statistics over the whole image, so
        #    tiles would each get their own colours and show seams): no smaller-tile retry on OOM
        whole = max(x.shape[-2:])
        try:
            y = tiled_upscale(
                fn, x, 1, tile_size=None, device=device, dtype=run_dtype, min_tile_size=whole, fp32_fn=fp32_fn
            )
        except InferenceOutOfMemoryError as err:
            raise InferenceOutOfMemoryError(
                f"Out of memory on {device} translating a {width}x{height} image. Use resolution='native', "
                "a smaller image, or run on the CPU."
            ) from err
        return tensor_to_pil(y[:, :, :height, :width])  # crop the padding off

    def _check_call(
        self,
        direction: object,
        resolution: object,
        output_type: object,
        upscaler: object,
        max_work_pixels: object,
    ) -> tuple[str, str, str, int]:
        """The arguments of :meth:`__call__` other than the images, checked (and a direction this pipeline has)."""
        direction = check_choice(direction, DIRECTIONS, "direction")
        resolution = check_choice(resolution, RESOLUTIONS, "resolution")
        output_type = check_choice(output_type, OUTPUT_TYPES, "output_type")
        self._generator(direction)  # a single-direction pipeline asked the other way
        if upscaler is not None:
            if not isinstance(upscaler, SuperResolutionPipeline):
                raise GanModelsError(f"upscaler must be a SuperResolutionPipeline, got {type(upscaler).__name__}.")
            if resolution != "native":
                raise GanModelsError("upscaler only applies to resolution='native' (nothing is shrunk otherwise).")
        return direction, resolution, output_type, check_int(max_work_pixels, _WORK_PIXELS)

    def _translate_one(
        self,
        img: PIL.Image.Image,
        work_size: tuple[int, int],
        direction: str,
        resolution: str,
        upscaler: SuperResolutionPipeline | None,
    ) -> PIL.Image.Image:
        """One decoded image -> its labelled translation at the input's size."""
        # 1. normalise the mode: RGB for the network, alpha aside (re-attached at the input size)
        rgb, alpha, _ = split_alpha(img)
        size = rgb.size

        # 2. to the working scale (Lanczos antialiases the shrink), translate, back to the input size
        small = rgb if work_size == size else rgb.resize(work_size, PIL.Image.Resampling.LANCZOS)
        out = self._translate(small, direction)
        if out.size != size:
            if upscaler is not None:  # learned detail instead of interpolation, then the exact size
                out = upscaler(out, output_type="pil").images[0]
            out = out.resize(size, PIL.Image.Resampling.LANCZOS)

        # 3. alpha back as it was (same size: no resampling); a 1-channel model's output stays gray
        out = merge_alpha(out, alpha, was_gray=out.mode == "L")
        source, target = self.domains(direction)
        return mark_ai_generated(
            out,
            model=self._model_label(),
            direction=direction,
            translation=f"{source} -> {target}",
            resolution=resolution if work_size == size else f"{resolution} ({work_size[0]}x{work_size[1]})",
            upscaler=upscaler._model_label() if upscaler is not None and work_size != size else None,
        )

    # -- translation ------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        image: PipelineImageInput,
        direction: str = "AtoB",
        resolution: str = "native",
        upscaler: SuperResolutionPipeline | None = None,
        max_pixels: int | None = None,
        max_work_pixels: int = MAX_WORK_PIXELS,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> CycleGANPipelineOutput | tuple:
        """Translate one image or a list of images; every output has its input's exact size.

        The generators are deterministic (no dropout, no noise), so there is no seed: the same
        image always gives the same result.

        Args:
            image: a path, encoded bytes, binary file object, ``PIL.Image``, uint8 array, or a list.
                Gray inputs are translated as RGB and come back in colour (the target domain may
                have colour); alpha is kept as it is.
            direction: ``"AtoB"`` (``domain_a`` -> ``domain_b``) or ``"BtoA"``; see :attr:`directions`.
            resolution: ``"native"`` (default): images whose shorter side is over ``train_size`` are
                translated at that scale and resized back, the scale the model learned its textures
                at; ``"input"``: translate every pixel (slower, and the style looks finer-grained).
            upscaler: with ``"native"``, bring shrunk results back with this super-resolution
                pipeline (one pass at its native scale, then Lanczos to the exact input size)
                instead of plain Lanczos: sharper, but the upscaler invents detail too.
            max_pixels: refuse inputs with more pixels than this (checked before decoding).
            max_work_pixels: refuse images whose working size (after ``resolution``) has more
                pixels than this; the default :data:`MAX_WORK_PIXELS` is 2048 x 2048.
            output_type: ``"pil"``, ``"np"`` or ``"pt"``.
            return_dict: return a :class:`CycleGANPipelineOutput` (else a 1-tuple).

        Returns:
            :class:`CycleGANPipelineOutput` with ``.images``, one per input.

        Raises:
            InvalidImageError, ImageTooLargeError, GanModelsError: bad inputs, a direction this
                pipeline lacks (all ``ValueError``).
            InferenceOutOfMemoryError: the accelerator ran out of memory.

        Example:
            >>> import torch
            >>> from PIL import Image
            >>> from gan_models import CycleGANPipeline, ResnetGenerator
            >>> G_ab, G_ba = ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1)
            >>> pipe = CycleGANPipeline(G_ab, G_ba, "horse", "zebra", train_size=16)
            >>> pipe.set_progress_bar_config(disable=True)
            >>> [im.size for im in pipe([Image.new("L", (64, 40)), Image.new("RGB", (5, 3))], "BtoA").images]
            [(64, 40), (5, 3)]
        """
        # 1. check everything at the door, before any work: arguments, then decode every image
        direction, resolution, output_type, max_work_pixels = self._check_call(
            direction, resolution, output_type, upscaler, max_work_pixels
        )
        sources = list(image) if isinstance(image, (list, tuple)) else [image]
        if not sources:
            raise GanModelsError("image is an empty list; pass at least one image.")
        decoded = [load_image(src, max_pixels=max_pixels) for src in sources]
        work_sizes = [self._check_work_size(*img.size, resolution, max_work_pixels) for img in decoded]

        # 2. every image: mode, working scale, network, size, alpha, label (see _translate_one)
        outputs = []
        with self.progress_bar(total=len(decoded)) as bar:  # gradio's track_tqdm follows this
            for img, work_size in zip(decoded, work_sizes):
                outputs.append(self._translate_one(img, work_size, direction, resolution, upscaler))
                bar.update()

        # 3. output format
        if output_type == "np":
            outputs = [np.asarray(o, dtype=np.float32).reshape(o.height, o.width, -1) / 255.0 for o in outputs]
        elif output_type == "pt":
            outputs = [pil_to_tensor(o)[0] for o in outputs]
        if not return_dict:
            return (outputs,)
        return CycleGANPipelineOutput(images=outputs)
