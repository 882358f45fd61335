"""Text family: a StyleGAN2 generator whose mapping network reads [z, sentence embedding], and a
projection discriminator that judges whether an image matches its text.

Why this design (and not DF-GAN's affine fusion): the conditions here are short descriptions of
global attributes (hair and eye colour), which is exactly what a StyleGAN2 style vector controls,
and the conditional mapping of StyleGAN2-ADA (Karras et al. 2020: embed the condition, normalise
it, concatenate it with the normalised z, map to w) lets us reuse the face family's synthesis
network, truncation and style mixing unchanged. Truncation becomes per prompt: the generator pulls
w towards the mean w *of that prompt*, which sharpens both image quality and text alignment.
DF-GAN's fusion blocks pay off for spatially detailed captions (birds, COCO scenes), not here.

The discriminator is a projection discriminator (Miyato & Koyama 2018) on the StyleGAN2 residual
trunk: logit = w_out . phi(x) + <embed(text), phi(x)>, so "does this image fit this text" is
part of D's answer; training also shows it real images with mismatched captions as fakes
(matching-aware loss, Reed et al. 2016), see ``training/train_text2image.py``.

Text enters as the frozen encoder's token states (``SentenceEncoder.encode_tokens``: (batch,
tokens, text_dim) plus a mask), pooled by a few learned attention queries (``AttentionPooling``)
in each network. We measured why not the encoder's own mean-pooled sentence vector: a linear
read-out of mean-pooled all-MiniLM-L6-v2 gets hair colour right for 67% and eye colour for 66% of
tag prompts (it barely tells "blue hair red eyes" from "red hair blue eyes"), while 4 learned
attention queries over the same frozen token states get 100% / 100% (93% / 90% on phrasings
never trained on). The encoder stays frozen and outside these modules, so any sentence encoder
or CLIP text model works as long as ``text_dim`` matches.

This file holds modules only: no training, no text encoding, no image I/O, no UI.
"""

from __future__ import annotations

import math

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from gan_models.faces import (
    EqualLinear,
    PixelNorm,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    channel_widths,
    stack_styles,
)

# exported from gan_models too: saved pipeline folders name these classes
__all__ = ["TextProjectionDiscriminator", "TextToImageGenerator"]


def _check_text(tokens: torch.Tensor, mask: torch.Tensor, text_dim: int, batch: int | None = None) -> None:
    if tokens.ndim != 3 or tokens.shape[2] != text_dim:
        raise ValueError(f"text token states must have shape (batch, tokens, {text_dim}), got {tuple(tokens.shape)}.")
    if mask.shape != tokens.shape[:2]:
        raise ValueError(f"the text mask must have shape {tuple(tokens.shape[:2])}, got {tuple(mask.shape)}.")
    if batch is not None and tokens.shape[0] != batch:
        raise ValueError(f"got {batch} images but {tokens.shape[0]} texts; pass one text per image.")


class AttentionPooling(nn.Module):
    """``num_queries`` learned queries attend over a text's token states: (B, T, D) -> (B, Q * D).

    Padding tokens (mask 0) get no attention. Each query learns to find one thing (the hair colour
    word, the eye colour word, ...) wherever the phrasing puts it.
    """

    def __init__(self, text_dim: int, num_queries: int = 4):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, text_dim) / math.sqrt(text_dim))
        self.keys = nn.Linear(text_dim, text_dim)
        self.out_dim = num_queries * text_dim

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = torch.einsum("qd,btd->bqt", self.queries.to(tokens.dtype), self.keys(tokens))
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, torch.finfo(scores.dtype).min)
        return torch.einsum("bqt,btd->bqd", scores.softmax(dim=-1), tokens).flatten(1)


class TextToImageGenerator(ModelMixin, ConfigMixin):
    """(z, text token states) -> image in [-1, 1], shape (batch, 3, size, size).

    ``embed_text(tokens, mask)`` pools the text (once per prompt); ``map(z, text)`` is the
    conditional mapping network; ``stylegan`` is a StyleGAN2 generator used for its synthesis
    network only (its own mapping has no layers: ``n_mlp=0``).

    Example:
        >>> G = TextToImageGenerator(size=8, text_dim=6, z_dim=4, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> G(torch.randn(2, 4), torch.randn(2, 5, 6), torch.ones(2, 5)).shape
        torch.Size([2, 3, 8, 8])
    """

    @register_to_config
    def __init__(
        self,
        size: int = 64,
        text_dim: int = 384,
        num_text_queries: int = 4,
        z_dim: int = 128,
        style_dim: int = 256,
        n_mlp: int = 4,
        channel_base: int = 2048,
        channel_max: int = 128,
        lr_mlp: float = 0.01,
    ):
        super().__init__()
        self.z_dim, self.text_dim, self.style_dim = z_dim, text_dim, style_dim
        self.text_pool = AttentionPooling(text_dim, num_text_queries)
        # the pooled text gets its own full-learning-rate layer (StyleGAN2-ADA's ``embed``)
        self.text_embed = EqualLinear(self.text_pool.out_dim, style_dim)
        self.normalise = PixelNorm()
        layers = [EqualLinear(z_dim + style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu")]
        layers += [EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu") for _ in range(n_mlp - 1)]
        self.mapping = nn.Sequential(*layers)
        self.stylegan = StyleGAN2Generator(
            size=size, style_dim=style_dim, n_mlp=0, channel_base=channel_base, channel_max=channel_max
        )

    @property
    def num_latents(self) -> int:
        return self.stylegan.num_latents

    @property
    def num_layers(self) -> int:
        return self.stylegan.num_layers

    @property
    def channels(self) -> dict[int, int]:
        return self.stylegan.channels

    def embed_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states (batch, tokens, text_dim) + mask -> text code (batch, style_dim), unit second moment."""
        _check_text(tokens, mask, self.text_dim)
        return self.normalise(self.text_embed(self.text_pool(tokens.to(self.dtype), mask)))

    def map(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """z (batch, z_dim) and a text code from ``embed_text`` (batch, style_dim) -> w (batch, style_dim)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (batch, {self.z_dim}), got {tuple(z.shape)}.")
        if text.shape != (z.shape[0], self.style_dim):
            raise ValueError(
                f"the text code must have shape ({z.shape[0]}, {self.style_dim}), got {tuple(text.shape)}."
            )
        # both halves at unit second moment, so neither drowns the other
        return self.mapping(torch.cat([self.normalise(z), text.to(z.dtype)], dim=1))

    @torch.no_grad()
    def mean_latent(self, text: torch.Tensor, num_samples: int = 512, seed: int = 0) -> torch.Tensor:
        """Per-prompt mean w (batch, style_dim) for text codes (batch, style_dim): where truncation pulls to."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(num_samples, self.z_dim, generator=gen).to(self.device, self.dtype)
        return torch.stack([self.map(z, code.expand(num_samples, -1)).mean(0) for code in text])

    def forward(
        self,
        z: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        truncation: float = 1.0,
        w_avg: torch.Tensor | None = None,
        mix_z: torch.Tensor | None = None,
        mix_layer: int | None = None,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
        noise: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Image for each (z, text). ``mix_z`` (same text) takes over from ``mix_layer`` on."""
        _check_text(tokens, mask, self.text_dim, z.shape[0])
        text = self.embed_text(tokens, mask)
        if truncation != 1 and w_avg is None:
            w_avg = self.mean_latent(text)
        w = self.stylegan.truncate(self.map(z, text), w_avg, truncation)
        mix_w = None if mix_z is None else self.stylegan.truncate(self.map(mix_z, text), w_avg, truncation)
        ws = stack_styles(w, self.num_latents, mix_w, mix_layer)
        return self.stylegan.synthesis(ws, noise_mode=noise_mode, generator=generator, noise=noise)


class TextProjectionDiscriminator(ModelMixin, ConfigMixin):
    """(image, text token states + mask) -> one logit: "real, and matching its text".

    ``mismatched`` (another text's tokens and mask) also returns the logit of each image under
    that text, reusing the image features: the matching-aware loss needs both.

    Example:
        >>> D = TextProjectionDiscriminator(size=8, text_dim=6, channel_base=128, channel_max=16)
        >>> D(torch.randn(4, 3, 8, 8), torch.randn(4, 5, 6), torch.ones(4, 5)).shape
        torch.Size([4, 1])
    """

    @register_to_config
    def __init__(
        self,
        size: int = 64,
        text_dim: int = 384,
        num_text_queries: int = 4,
        channel_base: int = 2048,
        channel_max: int = 128,
        stddev_group: int = 4,
    ):
        super().__init__()
        self.text_dim = text_dim
        self.image = StyleGAN2Discriminator(
            size=size, channel_base=channel_base, channel_max=channel_max, stddev_group=stddev_group
        )
        hidden = channel_widths(size, channel_base, channel_max)[4]
        self.text_pool = AttentionPooling(text_dim, num_text_queries)
        self.text_projection = nn.Sequential(
            EqualLinear(self.text_pool.out_dim, hidden, activation="fused_lrelu"), EqualLinear(hidden, hidden)
        )
        self.projection_scale = 1 / math.sqrt(hidden)

    def _match(self, features: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check_text(tokens, mask, self.text_dim, features.shape[0])
        text = self.text_projection(self.text_pool(tokens.to(features.dtype), mask))
        return (features * text).sum(dim=1, keepdim=True) * self.projection_scale

    def forward(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        mismatched: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        features = self.image.features(x)
        unconditional = self.image.final_linear[1](features)
        logits = unconditional + self._match(features, tokens, mask)
        if mismatched is None:
            return logits
        return logits, unconditional + self._match(features, *mismatched)
