"""Recipe: CycleGAN, unpaired translation between two image domains A and B.

Run:
    accelerate launch training/train_cyclegan.py --config training/configs/face2anime.yaml
    accelerate launch training/train_cyclegan.py --config ... --resume=latest      # after a crash
    python training/train_cyclegan.py --data_a=horse2zebra/trainA --data_b=horse2zebra/trainB \
        --size=256 --n_blocks=9 --ngf=64 --batch_size=1 --max_steps=266800 --lr_decay_start=133400

The maths is Zhu et al. 2017 as junyanz/pytorch-CycleGAN-and-pix2pix trains it: least-squares
GAN loss, cycle loss lambda 10 both ways, identity loss 0.5 x lambda, a pool of the last 50
generated images per domain for the discriminators, Adam 2e-4 with beta1 0.5, constant then
linear decay to zero. Data is a CycleGAN folder pair (``trainA``/``trainB``) or two HF datasets
(``hf:<name>[:split]``); images are resized to ``size`` squares and randomly mirrored.

The engine trains one generator and one discriminator, so both translators form one module
(``CycleGenerators``) and both judges another (``CycleDiscriminators``); their optimisers and
schedules are therefore the engine's, and the pools live in the recipe's checkpointed state.

Order: the engine runs the D step before the G step. The generator step stores the fakes it made
(through the pool); the next discriminator step trains on them, which is junyanz's order
(forward, G step, D step on those fakes) shifted by one. The very first D step, with nothing
stored, translates its own batch.

``ema_decay`` > 0 exports an exponential moving average of both translators; 0 exports the
last weights (CycleGAN's own practice).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python training/train_cyclegan.py` / `accelerate launch training/...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan_models.translation import CycleDiscriminators, CycleGenerators, PatchDiscriminator, ResnetGenerator
from training.card import budget_line, dataset_names
from training.config import EngineConfig, LRSchedule, parse_cli
from training.data import ImageBatchSampler, load_square_images, parse_crop_box
from training.engine import Engine, StepOutput
from training.evaluation.translation_metrics import cycle_metrics, translation_grid


@dataclass
class CycleGANConfig(EngineConfig):
    # data: folders and/or hf:<dataset>[:split], one spec per domain
    data_a: str = "../shared/data/face2anime/trainA"
    data_b: str = "../shared/data/face2anime/trainB"
    val_a: str = "../shared/data/face2anime/testA"  # "" = no validation metrics
    val_b: str = "../shared/data/face2anime/testB"
    domain_a: str = "A"
    domain_b: str = "B"
    crop_box: str = ""  # left,top,right,bottom applied to both domains before resizing; "" = centre square
    size: int = 256
    mirror: bool = True
    # networks (junyanz defaults: ngf 64, 9 blocks at 256 px, 6 at 128 px; 70x70 PatchGAN ndf 64)
    ngf: int = 64
    n_blocks: int = 9
    ndf: int = 64
    n_layers_d: int = 3
    # loss
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle; 0 turns the identity loss off
    pool_size: int = 50  # 0 = D sees only the newest fakes
    val_count: int = 270  # test images per side for validation metrics
    # model card
    model_name: str = "cyclegan"

    # CycleGAN's optimiser and schedule as this recipe's defaults
    batch_size: int = 1
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    adam_beta1: float = 0.5
    adam_beta2: float = 0.999
    lr_schedule: LRSchedule = "linear"
    lr_decay_start: int = 5000
    ema_decay: float = 0.0


class ImagePool:
    """The last ``capacity`` generated images; the discriminator sees a mix of new and old fakes.

    Shrivastava et al. 2017: for each new image, while the pool is filling it is stored and used;
    afterwards, with probability 0.5 a random stored image is used instead and replaced by the new
    one. Randomness comes from the caller's (CPU) generator, so training resumes exactly, and the
    images stay on their device: only the draws are made on the host, nothing waits for the GPU.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.images: torch.Tensor | None = None  # (n <= capacity, C, H, W), float32, on the fakes' device

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.capacity <= 0:
            return images
        new = images.detach().float()
        if self.images is not None and self.images.device != new.device:  # restored from a checkpoint
            self.images = self.images.to(new.device)
        out = []
        for image in new:
            draw = float(torch.rand((), generator=generator))
            slot = int(torch.randint(self.capacity, (), generator=generator))
            if len(self) < self.capacity:
                self.images = image[None].clone() if self.images is None else torch.cat([self.images, image[None]])
                out.append(image)
            elif draw > 0.5:
                slot = slot % len(self)
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        return torch.stack(out).to(images.dtype)

    def state(self, like: torch.Tensor) -> torch.Tensor:
        if self.images is None:
            return like.new_zeros((0, *like.shape[1:]))
        return self.images.detach().cpu().contiguous()

    def load(self, images: torch.Tensor) -> None:
        self.images = images.float().clone() if len(images) else None


class CycleGANLoss:
    """LSGAN + cycle + identity losses (junyanz ``cycle_gan_model.py``), D on pooled fakes."""

    def __init__(self, config: CycleGANConfig, recipe: CycleGANRecipe):
        self.config = config
        self.recipe = recipe

    def discriminator_step(self, G, D, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        real_a, real_b = batch["a"], batch["b"]
        fake_a, fake_b = self.recipe.pending_fake_a, self.recipe.pending_fake_b
        if fake_a is None or fake_b is None:  # first step: nothing stored yet, translate this batch
            with torch.no_grad():
                out = G(real_a, real_b, identity=False)
            fake_a, fake_b = self.recipe.pool_query(out["fake_a"], out["fake_b"], step)
        fake_a, fake_b = fake_a.to(real_a), fake_b.to(real_b)
        pred_a, pred_b = D(torch.cat([real_a, fake_a]), torch.cat([real_b, fake_b]))
        n = len(real_a)
        # least squares: real -> 1, fake -> 0; each judge's loss halved as in the paper
        loss_a = 0.5 * (
            F.mse_loss(pred_a[:n].float(), torch.ones_like(pred_a[:n], dtype=torch.float32))
            + F.mse_loss(pred_a[n:].float(), torch.zeros_like(pred_a[n:], dtype=torch.float32))
        )
        loss_b = 0.5 * (
            F.mse_loss(pred_b[:n].float(), torch.ones_like(pred_b[:n], dtype=torch.float32))
            + F.mse_loss(pred_b[n:].float(), torch.zeros_like(pred_b[n:], dtype=torch.float32))
        )
        return StepOutput(loss_a + loss_b, {"Loss/D/a": loss_a.detach(), "Loss/D/b": loss_b.detach()})

    def generator_step(self, G, D, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        cfg = self.config
        real_a, real_b = batch["a"], batch["b"]
        use_identity = cfg.lambda_identity > 0
        out = G(real_a, real_b, identity=use_identity)
        pred_a, pred_b = D(out["fake_a"], out["fake_b"])
        adv_a = F.mse_loss(pred_a.float(), torch.ones_like(pred_a, dtype=torch.float32))  # B->A fools judge A
        adv_b = F.mse_loss(pred_b.float(), torch.ones_like(pred_b, dtype=torch.float32))
        cycle_a = F.l1_loss(out["rec_a"].float(), real_a.float())
        cycle_b = F.l1_loss(out["rec_b"].float(), real_b.float())
        loss = adv_a + adv_b + cfg.lambda_cycle * (cycle_a + cycle_b)
        logs = {
            "Loss/G/adv_a": adv_a.detach(),
            "Loss/G/adv_b": adv_b.detach(),
            "Loss/G/cycle_a": cycle_a.detach(),
            "Loss/G/cycle_b": cycle_b.detach(),
        }
        if use_identity:
            idt_a = F.l1_loss(out["idt_a"].float(), real_a.float())
            idt_b = F.l1_loss(out["idt_b"].float(), real_b.float())
            loss = loss + cfg.lambda_cycle * cfg.lambda_identity * (idt_a + idt_b)
            logs.update({"Loss/G/identity_a": idt_a.detach(), "Loss/G/identity_b": idt_b.detach()})
        # the next discriminator step trains on these (through the pools)
        self.recipe.pending_fake_a, self.recipe.pending_fake_b = self.recipe.pool_query(
            out["fake_a"], out["fake_b"], step + 1
        )
        return StepOutput(loss, logs)


class CycleGANRecipe:
    """Data + both translators + both judges + pools for the engine; validation and export."""

    def __init__(self, cfg: CycleGANConfig):
        if cfg.pool_size < 0 or cfg.lambda_cycle < 0 or cfg.lambda_identity < 0:
            raise ValueError("pool_size, lambda_cycle and lambda_identity must be >= 0.")
        if cfg.size < 2 ** (cfg.n_layers_d + 2) or cfg.size % 4:
            # smaller inputs leave the PatchGAN's last instance norm a single pixel to normalise
            raise ValueError(
                f"size must be a multiple of 4 and at least {2 ** (cfg.n_layers_d + 2)} for a "
                f"{cfg.n_layers_d}-layer PatchGAN, got {cfg.size}."
            )
        self.config = cfg
        crop = parse_crop_box(cfg.crop_box)
        self.sampler_a = ImageBatchSampler(load_square_images(cfg.data_a, cfg.size, crop), cfg.seed, cfg.mirror)
        self.sampler_b = ImageBatchSampler(load_square_images(cfg.data_b, cfg.size, crop), cfg.seed + 1, cfg.mirror)

        def translator() -> ResnetGenerator:
            return ResnetGenerator(ngf=cfg.ngf, n_blocks=cfg.n_blocks)

        def judge() -> PatchDiscriminator:
            return PatchDiscriminator(ndf=cfg.ndf, n_layers=cfg.n_layers_d)

        self.generator = CycleGenerators(translator(), translator())
        self.discriminator = CycleDiscriminators(judge(), judge())
        for net in (self.generator, self.discriminator):
            net.apply(_init_normal)  # junyanz init_type "normal", gain 0.02
        self.pool_a, self.pool_b = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)
        self.pending_fake_a: torch.Tensor | None = None
        self.pending_fake_b: torch.Tensor | None = None
        self.loss = CycleGANLoss(cfg, self)
        self._val: tuple[torch.Tensor, torch.Tensor] | None = None

    def pool_query(self, fake_a: torch.Tensor, fake_b: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + step * 7919 + 17)
        return self.pool_a.query(fake_a, generator), self.pool_b.query(fake_b, generator)

    # -- engine hooks
    def sample_batch(self, step: int, batch_size: int, rank: int, device: torch.device) -> dict[str, torch.Tensor]:
        if self.sampler_a.images.device != device:  # once: both domains' images move to the device
            self.sampler_a.to(device)
            self.sampler_b.to(device)
        a, _ = self.sampler_a.sample(step, batch_size, rank)
        b, _ = self.sampler_b.sample(step, batch_size, rank)
        return {"a": a.mul_(2).sub_(1), "b": b.mul_(2).sub_(1)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Pools and the fakes waiting for the next D step, checkpointed beside the networks."""
        like = torch.zeros(1, 3, self.config.size, self.config.size)
        state = {"pool_a": self.pool_a.state(like), "pool_b": self.pool_b.state(like)}
        if self.pending_fake_a is not None and self.pending_fake_b is not None:
            state["pending_fake_a"] = self.pending_fake_a.detach().float().cpu().contiguous()
            state["pending_fake_b"] = self.pending_fake_b.detach().float().cpu().contiguous()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.pool_a.load(state["pool_a"])
        self.pool_b.load(state["pool_b"])
        self.pending_fake_a = state.get("pending_fake_a")
        self.pending_fake_b = state.get("pending_fake_b")

    def _validation_images(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._val is None:
            cfg, crop = self.config, parse_crop_box(self.config.crop_box)
            self._val = (
                load_square_images(cfg.val_a, cfg.size, crop)[: cfg.val_count],
                load_square_images(cfg.val_b, cfg.size, crop)[: cfg.val_count],
            )
        return self._val

    def validate(self, generator: nn.Module) -> tuple[dict[str, float], list[Image.Image]]:
        cfg = self.config
        if not (cfg.val_a and cfg.val_b):
            return {}, []
        was_training = generator.training
        generator.eval()
        images_a, images_b = self._validation_images()
        metrics = cycle_metrics(generator.a_to_b, generator.b_to_a, images_a, images_b)
        grid = translation_grid(generator.a_to_b, generator.b_to_a, images_a, images_b)
        generator.train(was_training)
        return metrics, [grid]

    def export(self, generator: nn.Module, folder: Path, metrics: dict[str, float]) -> None:
        import copy

        from gan_models.cards import write_model_card
        from gan_models.pipelines.translation import CycleGANPipeline

        cfg = self.config
        G = copy.deepcopy(generator).cpu().float().eval()
        folder.mkdir(parents=True, exist_ok=True)
        if cfg.val_a and cfg.val_b:
            images_a, images_b = self._validation_images()
        else:  # no test split given (a GPU campaign evaluates later): the grid shows training images
            images_a, images_b = self.sampler_a.images[:8].cpu(), self.sampler_b.images[:8].cpu()
        translation_grid(G.a_to_b, G.b_to_a, images_a, images_b).save(folder / "samples.png")
        CycleGANPipeline(
            a_to_b=G.a_to_b.half(),
            b_to_a=G.b_to_a.half(),
            domain_a=cfg.domain_a,
            domain_b=cfg.domain_b,
            train_size=cfg.size,
        ).save_pretrained(str(folder))
        weights = f"an EMA (decay {cfg.ema_decay})" if cfg.ema_decay > 0 else "the last step's weights"
        training = "\n".join(
            [
                "- Recipe: `training/train_cyclegan.py` (CycleGAN: LSGAN loss, cycle lambda "
                f"{cfg.lambda_cycle}, identity {cfg.lambda_identity} x lambda, image pool {cfg.pool_size})",
                f"- Generators: ResNet, ngf {cfg.ngf}, {cfg.n_blocks} blocks, instance norm, reflection padding; "
                f"judges: {cfg.n_layers_d}-layer PatchGAN, ndf {cfg.ndf}; exported weights are {weights}, in fp16",
                f"- Data: {cfg.data_note or f'A = {cfg.data_a}, B = {cfg.data_b}'}; resized to {cfg.size}px"
                + (", random mirror flips" if cfg.mirror else ""),
                budget_line(
                    cfg,
                    f"{cfg.g_lr} / {cfg.d_lr}",
                    shown="image pairs",
                    schedule=f"constant then linear decay from step {cfg.lr_decay_start}",
                ),
            ]
        )
        write_model_card(
            folder,
            title=cfg.model_name,
            base_model=None,
            datasets=dataset_names(cfg.data_a, cfg.data_b),
            license=cfg.license,
            metrics=metrics,
            protocol="validation during training (cycle-consistency PSNR on the test split); the full evaluation "
            "(`training/evaluation/translation.py`), when run, is below",
            training=training,
            sample_image="samples.png",
            tags=["cyclegan", "image-to-image", "unpaired-translation"],
        )


def _init_normal(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def main(argv: list[str] | None = None) -> Path:
    cfg = parse_cli(CycleGANConfig, argv)
    return Engine(cfg, CycleGANRecipe).train()


if __name__ == "__main__":
    main()
