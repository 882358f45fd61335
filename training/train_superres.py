"""Recipe: super-resolution GANs (Real-ESRGAN / ESRGAN style), two stages.

    stage "psnr": L1 only, no discriminator (the PSNR-oriented model)
    stage "gan":  start from a PSNR model; L1 + adversarial (U-Net D with spectral norm)
                  + VGG perceptual loss when local VGG19 weights are given

Run:
    accelerate launch training/train_superres.py --config training/configs/superres_psnr.yaml
    accelerate launch training/train_superres.py --config training/configs/superres_gan.yaml --resume=latest
    python training/train_superres.py --config ... --max_steps=100   # single process works too

Any config key can be overridden as ``--key=value`` (``--help`` lists them).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):  # `python training/train_superres.py` / `accelerate launch training/...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan_models.superres import RRDBNet, SRVGGNetCompact, UNetDiscriminatorSN, upscale_factor
from training.augment import degrade
from training.card import budget_line, dataset_names
from training.config import EngineConfig, parse_cli
from training.data import RandomPatchSampler, load_image_sources
from training.engine import Engine, StepOutput
from training.evaluation.superres import bicubic_upscaler, comparison_grid, evaluate
from training.losses import VGGPerceptualLoss, adversarial_loss


@dataclass
class SuperResConfig(EngineConfig):
    # data
    data: str = "../shared/data/T91,../shared/data/BSD200"  # folders and/or hf:<dataset>[:split]
    val_data: str = "../shared/data/Set5"  # a folder with HR/ and LR_bicubic/X<scale>/, or ""
    degradation: Literal["bicubic", "realistic"] = "bicubic"  # benchmark LR files | real photos
    patch_size: int = 128  # HR patch side; the LR patch is patch_size / scale
    # generator
    arch: Literal["compact", "rrdb"] = "compact"  # SRVGGNetCompact | RRDBNet
    scale: int = 4
    num_feat: int = 64
    num_conv: int = 32  # compact only
    num_block: int = 23  # rrdb only
    num_grow_ch: int = 32  # rrdb only
    pretrained: str = ""  # pipeline folder to start G from (the GAN stage starts from the PSNR model)
    # losses
    stage: Literal["psnr", "gan"] = "psnr"
    l1_weight: float = 1.0
    adv_weight: float = 0.1
    adv_loss: Literal["vanilla", "lsgan", "hinge"] = "vanilla"  # training.losses.ADVERSARIAL_KINDS
    perceptual_weight: float = 1.0
    vgg_weights: str = ""  # local torchvision vgg19 weights; empty or missing = no perceptual loss
    d_num_feat: int = 64
    # model card
    model_name: str = "superres"
    license: str = "mit"


@dataclass
class SRBatch:
    lr: torch.Tensor
    hr: torch.Tensor


class SuperResolutionLoss:
    """L1 (+ adversarial + perceptual). G runs once per step: the D step caches its output."""

    def __init__(self, config: SuperResConfig, perceptual: nn.Module | None):
        self.config = config
        self.perceptual = perceptual
        self._sr: torch.Tensor | None = None

    def discriminator_step(self, G, D, batch: SRBatch, step: int) -> StepOutput:
        kind = self.config.adv_loss
        self._sr = G(batch.lr)  # kept with its graph for the G step
        # D learns: real HR patches -> real, generated -> fake
        loss_real = adversarial_loss(D(batch.hr), True, kind)
        loss_fake = adversarial_loss(D(self._sr.detach()), False, kind)
        return StepOutput(loss_real + loss_fake, {"Loss/D/real": loss_real.detach(), "Loss/D/fake": loss_fake.detach()})

    def generator_step(self, G, D, batch: SRBatch, step: int) -> StepOutput:
        cfg = self.config
        sr, self._sr = (self._sr if self._sr is not None else G(batch.lr)), None
        l1 = F.l1_loss(sr, batch.hr)  # pixel fidelity: |SR - HR|
        loss = cfg.l1_weight * l1
        logs = {"Loss/G/l1": l1.detach()}
        if D is not None:
            adv = adversarial_loss(D(sr), True, cfg.adv_loss, for_discriminator=False)  # fool D
            loss = loss + cfg.adv_weight * adv
            logs["Loss/G/adv"] = adv.detach()
        if self.perceptual is not None:
            percep = self.perceptual(sr, batch.hr)  # match VGG features of HR
            loss = loss + cfg.perceptual_weight * percep
            logs["Loss/G/perceptual"] = percep.detach()
        return StepOutput(loss, logs)


def build_generator(cfg: SuperResConfig) -> nn.Module:
    if cfg.pretrained:
        folder = Path(cfg.pretrained)
        cls = _generator_class(folder / "upscaler")
        return cls.from_pretrained(str(folder), subfolder="upscaler", dtype=torch.float32)
    if cfg.arch == "compact":
        G = SRVGGNetCompact(num_feat=cfg.num_feat, num_conv=cfg.num_conv, upscale=cfg.scale)
        # a small last conv makes the untrained net start as the nearest-neighbour base and keeps
        # early updates gentle (deep compact nets otherwise stall at that base, seen at 32 convs)
        with torch.no_grad():
            G.body[-1].weight.mul_(0.1)
        return G
    # arch is "rrdb": a Literal, checked when the config is built
    return RRDBNet(scale=cfg.scale, num_feat=cfg.num_feat, num_block=cfg.num_block, num_grow_ch=cfg.num_grow_ch)


def _generator_class(folder: Path):
    import json

    name = json.loads((folder / "config.json").read_text())["_class_name"]
    classes = {"SRVGGNetCompact": SRVGGNetCompact, "RRDBNet": RRDBNet}
    if name not in classes:
        raise ValueError(f"{folder} holds a {name}, not one of {sorted(classes)}.")
    return classes[name]


class SuperResolutionRecipe:
    """Data + networks + loss for the engine; validation and export for the EMA generator."""

    def __init__(self, cfg: SuperResConfig):
        if cfg.patch_size % (cfg.scale * 8):
            raise ValueError(
                f"patch_size must be a multiple of 8*scale={8 * cfg.scale} (U-Net D), got {cfg.patch_size}."
            )
        self.config = cfg
        self.sampler = RandomPatchSampler(
            load_image_sources(cfg.data, min_size=cfg.patch_size), cfg.patch_size, seed=cfg.seed
        )
        self.generator = build_generator(cfg)
        if upscale_factor(self.generator) != cfg.scale:
            raise ValueError(f"pretrained model scale {upscale_factor(self.generator)} != scale={cfg.scale}.")
        self.discriminator = UNetDiscriminatorSN(num_feat=cfg.d_num_feat) if cfg.stage == "gan" else None
        perceptual = None
        if cfg.stage == "gan" and cfg.vgg_weights and Path(cfg.vgg_weights).exists():
            perceptual = VGGPerceptualLoss(cfg.vgg_weights)
        elif cfg.stage == "gan":
            print("No local VGG19 weights (vgg_weights): training without the perceptual loss.")
        self.loss = SuperResolutionLoss(cfg, perceptual)
        self._perceptual = perceptual

    def sample_batch(self, step: int, batch_size: int, rank: int, device: torch.device) -> SRBatch:
        if self.sampler.flat.device != device:  # once: the training images move to the device
            self.sampler.to(device)
            if self._perceptual is not None:
                self._perceptual.to(device)
        hr = self.sampler.sample(step, batch_size, rank)
        # the degradation has its own counter-seeded stream, so resume is exact here too
        lr = degrade(hr, self.config.scale, self.config.degradation, self.sampler.generator(step, rank + 1000))
        return SRBatch(lr=lr, hr=hr)

    def validate(self, generator: nn.Module) -> tuple[dict[str, float], list[Image.Image]]:
        """Set5-style scores of the EMA generator, and a bicubic | model | HR crop grid."""
        cfg = self.config
        if not cfg.val_data:
            return {}, []
        outputs: dict[str, Image.Image] = {}
        result = evaluate(generator, cfg.val_data, cfg.scale, outputs=outputs)
        grid = comparison_grid({"bicubic": bicubic_upscaler(cfg.scale), "model": outputs}, cfg.val_data, cfg.scale)
        return {"psnr_y": result["psnr"], "ssim_y": result["ssim"]}, [grid]

    def export(self, generator: nn.Module, folder: Path, metrics: dict[str, float]) -> None:
        import copy

        from gan_models.cards import write_model_card
        from gan_models.pipelines.superres import SuperResolutionPipeline

        cfg = self.config
        G = copy.deepcopy(generator).cpu().half()  # bundled weights are fp16
        SuperResolutionPipeline(upscaler=G).save_pretrained(str(folder))
        sizes = (
            f"num_feat {cfg.num_feat}, num_conv {cfg.num_conv}"
            if cfg.arch == "compact"
            else f"num_feat {cfg.num_feat}, num_block {cfg.num_block}, num_grow_ch {cfg.num_grow_ch}"
        )
        losses = (
            "L1" if cfg.stage == "psnr" else f"L1 x{cfg.l1_weight} + adversarial ({cfg.adv_loss}) x{cfg.adv_weight}"
        )
        if self._perceptual is not None:
            losses += f" + VGG19 perceptual x{cfg.perceptual_weight}"
        training = "\n".join(
            [
                f"- Recipe: `training/train_superres.py`, stage `{cfg.stage}` ({losses})"
                + (f", initialised from `{cfg.pretrained}`" if cfg.pretrained else ""),
                f"- Generator: {type(generator).__name__} x{cfg.scale} ({sizes}); weights are the EMA "
                f"(decay {cfg.ema_decay}), stored in fp16",
                f"- Data: {cfg.data_note or cfg.data}; random {cfg.patch_size}px HR patches with flips and "
                f"90-degree rotations; LR made on the fly by the `{cfg.degradation}` degradation",
                budget_line(cfg, f"{cfg.g_lr} ({cfg.lr_schedule}, {cfg.lr_warmup_steps} warm-up steps)"),
            ]
        )
        write_model_card(
            folder,
            title=cfg.model_name,
            base_model=None,
            datasets=dataset_names(cfg.data),
            license=cfg.license,
            metrics=metrics,
            protocol=f"validation on `{cfg.val_data}` during training (x{cfg.scale}, Y channel, {cfg.scale}px border, "
            "LR files of the set); the full Set5/Set14 evaluation, when run, is below",
            training=training,
            sample_image=None,
            tags=["super-resolution", cfg.stage],
        )


def main(argv: list[str] | None = None) -> Path:
    cfg = parse_cli(SuperResConfig, argv)
    return Engine(cfg, SuperResolutionRecipe).train()


if __name__ == "__main__":
    main()
