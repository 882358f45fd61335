"""Recipe: StyleGAN2 face generator (non-saturating loss, lazy R1, style mixing, adaptive augmentation).

Run:
    accelerate launch training/train_faces.py --config training/configs/faces_celeba64.yaml
    accelerate launch training/train_faces.py --config ... --resume=latest      # after a crash
    python training/train_faces.py --data=/my/faces --size=128 --max_steps=100  # any image folder

The maths follows StyleGAN2 / StyleGAN2-ADA's loss (non-saturating logistic loss; R1 on reals
every ``r1_every`` steps, scaled by the interval; style mixing regularisation) and augments what
D sees with ``training.augment.AdaptiveAugment`` (its probability is checkpointed). Path-length
regularisation is left out: it costs a second G pass per 4 steps and matters little at 64 px.
Any config key can be overridden as ``--key=value`` (``--help`` lists them).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):  # `python training/train_faces.py` / `accelerate launch training/...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan_models.faces import StyleGAN2Discriminator, StyleGAN2Generator
from training.augment import AdaptiveAugment
from training.card import budget_line, dataset_names
from training.config import EngineConfig, parse_cli
from training.data import ImageBatchSampler, load_square_images, parse_crop_box
from training.engine import Engine, StepOutput
from training.evaluation.faces import face_metrics, sample_grid
from training.losses import lazy_r1, style_mixing_latent


@dataclass
class FacesConfig(EngineConfig):
    # data
    data: str = "../shared/data/celeba_10k/train"  # folders and/or hf:<dataset>[:split]
    crop_box: str = "0,10,89,99"  # left,top,right,bottom before resizing; "" = centred square
    val_data: str = "../shared/data/celeba_10k/test"  # FID/KID reference set; "" = samples only
    mirror: bool = True  # random horizontal flips of the training faces
    # networks (rosinality's channel_multiplier=2 is channel_base=32768, channel_max=512)
    size: int = 64
    style_dim: int = 256
    n_mlp: int = 8
    channel_base: int = 2048
    channel_max: int = 128
    # loss
    r1_gamma: float = 0.05
    r1_every: int = 16  # lazy regularisation interval (0 = no R1)
    style_mixing_prob: float = 0.9
    # augmentation: "ada" (adaptive p), "diffaugment" (p = 1 always), "none"
    augment: Literal["ada", "diffaugment", "none"] = "ada"
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 100  # thousand images for p to go from 0 to 1
    # validation metrics (see training/evaluation/faces.py)
    fid_num_samples: int = 1000  # 0 = sample grids only
    fid_feature: Literal["random", "inception"] = "random"  # offline, seeded random-network features | FID's
    inception_weights: str = ""  # local pt_inception-2015-12-05 weights for feature "inception"
    # model card
    model_name: str = "faces"

    # StyleGAN2's optimiser settings as this recipe's defaults
    g_lr: float = 0.002
    d_lr: float = 0.002
    adam_beta1: float = 0.0
    adam_beta2: float = 0.99
    ema_decay: float = 0.998


class StyleGAN2Loss:
    """Non-saturating logistic loss + lazy R1 + style mixing; D sees augmented images only."""

    def __init__(self, config: FacesConfig, augment: AdaptiveAugment):
        self.config = config
        self.augment = augment

    def _generate(self, G: nn.Module, batch_size: int, device: torch.device) -> torch.Tensor:
        cfg = self.config
        z = torch.randn(batch_size, cfg.style_dim, device=device)
        mix_z, mix_layer = style_mixing_latent(z, G_num_latents(G), cfg.style_mixing_prob)
        return G(z, mix_z=mix_z, mix_layer=mix_layer, noise_mode="random")

    def discriminator_step(self, G, D, batch: torch.Tensor, step: int) -> StepOutput:
        cfg = self.config
        with torch.no_grad():
            fake = self._generate(G, batch.shape[0], batch.device)
        do_r1 = cfg.r1_every > 0 and cfg.r1_gamma > 0 and step % cfg.r1_every == 0
        real = batch.detach().requires_grad_(do_r1)
        real_logits = D(self.augment(real))
        fake_logits = D(self.augment(fake))
        loss_real = F.softplus(-real_logits).mean()  # -log sigmoid(D(real))
        loss_fake = F.softplus(fake_logits).mean()  # -log(1 - sigmoid(D(fake)))
        loss = loss_real + loss_fake
        logs = {"Loss/D/real": loss_real.detach(), "Loss/D/fake": loss_fake.detach()}
        if do_r1:  # penalise D's gradient on real images; lazily, so scaled by the interval
            penalty, logs["Loss/D/r1"] = lazy_r1(real_logits, real, cfg.r1_gamma, cfg.r1_every)
            loss = loss + penalty
        self.augment.accumulate(real_logits)
        if cfg.augment == "ada" and (step + 1) % cfg.ada_interval == 0:
            r_t = self.augment.adjust(batch.shape[0] * cfg.ada_interval)
            if r_t is not None:
                logs["Augment/r_t"] = r_t
        logs["Augment/p"] = self.augment.p.detach()
        return StepOutput(loss, logs)

    def generator_step(self, G, D, batch: torch.Tensor, step: int) -> StepOutput:
        fake = self._generate(G, batch.shape[0], batch.device)
        loss = F.softplus(-D(self.augment(fake))).mean()  # non-saturating: -log sigmoid(D(G(z)))
        return StepOutput(loss, {"Loss/G/adv": loss.detach()})


def G_num_latents(G: nn.Module) -> int:
    return getattr(G, "module", G).num_latents  # through a DDP wrapper too


class FacesRecipe:
    """Data + networks + loss for the engine; validation (grids, FID/KID) and export."""

    def __init__(self, cfg: FacesConfig):
        if cfg.compile == "all" and cfg.r1_every > 0 and cfg.r1_gamma > 0:
            raise ValueError("compile=all cannot differentiate D twice for R1; use compile=generator (or r1_every=0).")
        self.config = cfg
        images = load_square_images(cfg.data, cfg.size, parse_crop_box(cfg.crop_box))
        self.sampler = ImageBatchSampler(images, seed=cfg.seed, mirror=cfg.mirror)
        self.generator = StyleGAN2Generator(
            size=cfg.size,
            style_dim=cfg.style_dim,
            n_mlp=cfg.n_mlp,
            channel_base=cfg.channel_base,
            channel_max=cfg.channel_max,
        )
        self.discriminator = StyleGAN2Discriminator(
            size=cfg.size, channel_base=cfg.channel_base, channel_max=cfg.channel_max
        )
        self.augment = AdaptiveAugment(
            p=1.0 if cfg.augment == "diffaugment" else 0.0,
            adaptive=cfg.augment == "ada",
            target=cfg.ada_target,
            interval=cfg.ada_interval,
            speed_kimg=cfg.ada_kimg,
        )
        self.loss = StyleGAN2Loss(cfg, self.augment)
        self._fid = None

    # -- engine hooks
    def sample_batch(self, step: int, batch_size: int, rank: int, device: torch.device) -> torch.Tensor:
        if self.augment.p.device != device:  # once: the images and the augmentation move to the device
            self.augment.to(device)
            self.sampler.to(device)
        images, _ = self.sampler.sample(step, batch_size, rank)
        return images.mul_(2).sub_(1)  # [-1, 1], as G produces

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Recipe state the engine checkpoints next to the networks (the augmentation probability)."""
        return {"augment_p": self.augment.p.detach().cpu().reshape(1)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.augment.p.copy_(state["augment_p"].reshape(()))

    def validate(self, generator: nn.Module) -> tuple[dict[str, float], list[Image.Image]]:
        cfg = self.config
        was_training = generator.training
        generator.eval()
        # the pipeline's seeds 0..63, so the grids of different steps (and the card's) compare
        grids = [sample_grid(generator, truncation=1.0), sample_grid(generator, truncation=0.7)]
        metrics: dict[str, float] = {"augment_p": float(self.augment.p)}
        if cfg.val_data and cfg.fid_num_samples > 0:
            metrics.update(self._fid_metrics(generator))
        generator.train(was_training)
        return metrics, grids

    def _fid_metrics(self, generator: nn.Module) -> dict[str, float]:
        """FID / KID of the EMA generator against the reference split (features cached once)."""
        from training.evaluation.fid import FIDEvaluator, make_feature_extractor

        cfg = self.config
        if self._fid is None:
            reference = load_square_images(cfg.val_data, cfg.size, parse_crop_box(cfg.crop_box))
            extractor = make_feature_extractor(cfg.fid_feature, cfg.inception_weights or None)
            self._fid = FIDEvaluator(reference, extractor, kid_subset_size=min(500, len(reference)))
        result = face_metrics(generator, self._fid, num_samples=cfg.fid_num_samples)
        return {f"{name}_{cfg.fid_feature}": result[name] for name in ("fid", "kid")}

    def export(self, generator: nn.Module, folder: Path, metrics: dict[str, float]) -> None:
        import copy

        from gan_models.cards import write_model_card
        from gan_models.pipelines.faces import FaceGANPipeline

        cfg = self.config
        G = copy.deepcopy(generator).cpu().float()
        folder.mkdir(parents=True, exist_ok=True)
        sample_grid(G, truncation=1.0).save(folder / "samples.png")
        FaceGANPipeline(stylegan=G.half()).save_pretrained(str(folder))
        widths = ", ".join(f"{r}px: {c}" for r, c in G.channels.items())
        training = "\n".join(
            [
                "- Recipe: `training/train_faces.py` (StyleGAN2: non-saturating logistic loss, lazy R1 "
                f"gamma {cfg.r1_gamma} every {cfg.r1_every} steps, style mixing p {cfg.style_mixing_prob}, "
                f"augmentation `{cfg.augment}` (final p {float(self.augment.p):.3f}), no path-length regulariser)",
                f"- Generator: StyleGAN2 {cfg.size}x{cfg.size}, w {cfg.style_dim}-d, {cfg.n_mlp}-layer mapping, "
                f"channels {widths}; weights are the EMA (decay {cfg.ema_decay}), stored in fp16",
                f"- Data: {cfg.data_note or cfg.data}; face crop `{cfg.crop_box or 'centre square'}` resized to "
                f"{cfg.size}px (Lanczos)" + (", random mirror flips" if cfg.mirror else ""),
                budget_line(cfg, f"{cfg.g_lr} / {cfg.d_lr}", shown="images shown"),
            ]
        )
        write_model_card(
            folder,
            title=cfg.model_name,
            base_model=None,
            datasets=dataset_names(cfg.data),
            license=cfg.license,
            metrics=metrics,
            protocol="validation during training; the full evaluation (`training/evaluation/faces.py`), when run, "
            "is below",
            training=training,
            sample_image="samples.png",
            tags=["stylegan2", "faces", "unconditional-image-generation"],
        )


def main(argv: list[str] | None = None) -> Path:
    cfg = parse_cli(FacesConfig, argv)
    return Engine(cfg, FacesRecipe).train()


if __name__ == "__main__":
    main()
