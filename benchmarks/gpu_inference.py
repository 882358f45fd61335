"""The inference half of ``bench_gpu.py``: output megapixels/s per subject, one function each, and the
driver :func:`bench_inference` that runs them in order, each guarded.

Imported as ``benchmarks.gpu_inference``: the script puts the repository root on ``sys.path`` first.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import common
from benchmarks.gpu_families import PRESETS, STYLE_SMOKE, TEXT_DIM, TEXT_TOKENS, report_error, restore_default_flags

SAMPLES_PER_CALL = 64  # the faces and text2image rows: one batch of this many per call


def median_seconds(run: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall seconds of ``run()``, the device synchronised before and after each call."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        common.synchronize(device.type)
        start = time.perf_counter()
        run()
        common.synchronize(device.type)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cast(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` on ``device`` in ``dtype``, in eval mode (``.half()``-style casts: no diffusers dtype warning)."""
    module = module.to(device)
    return {torch.float16: module.half, torch.bfloat16: module.bfloat16}.get(dtype, module.float)().eval()


def _preset(name: str, cls, smoke_overrides: list[str], smoke: bool):
    from training.config import load_config

    return load_config(cls, str(PRESETS / name), smoke_overrides if smoke else [])


@dataclass
class InferenceBench:
    """What every subject shares: the device, the timing counts, the sizes and where its rows go."""

    device: torch.device
    warmup: int
    repeats: int
    smoke: bool
    results: dict
    save: Callable[[], None]  # rewrites the JSON file

    @property
    def half(self) -> torch.dtype:
        """What the pipelines compute in on this device."""
        return torch.float16 if self.device.type == "cuda" else torch.float32

    @property
    def small(self) -> int:
        """Side of the SR input that the network rows and spandrel share."""
        return 32 if self.smoke else 512

    def seconds(self, run: Callable[[], object], warmup: int | None = None, repeats: int | None = None) -> float:
        warmup = self.warmup if warmup is None else warmup
        return median_seconds(run, self.device, warmup, self.repeats if repeats is None else repeats)

    def add(self, what: str, size: str, dtype: torch.dtype | str, layout: str, seconds: float, out_pixels: int) -> None:
        self.results["inference"].append(
            {
                "what": what,
                "size": size,
                "dtype": str(dtype).removeprefix("torch."),
                "layout": layout,
                "ms": seconds * 1000,
                "mp_per_s": out_pixels / 1e6 / seconds,
            }
        )

    def guarded(self, what: str, subject: Callable[[], None]) -> None:
        """Run one subject; a failure becomes its error row. The JSON is rewritten either way."""
        try:
            subject()
        except Exception as err:  # noqa: BLE001 - a benchmark reports and goes on
            self.results["inference"].append({"what": what, "error": report_error(what, err)})
        self.save()


# ------------------------------------------------------------------------------------------------
# super-resolution: the pipeline, the bare network, spandrel on the same weights
# ------------------------------------------------------------------------------------------------


@dataclass
class SRNetwork:
    net32: torch.nn.Module  # fp32, eval; every SR row starts from a copy of it
    label: str
    scale: int


def load_sr_network(sr_model: str, smoke: bool) -> SRNetwork:
    """The network of ``--sr-model``, or a random one of the preset's size."""
    from gan_models import SRVGGNetCompact, SuperResolutionPipeline, upscale_factor
    from training.train_superres import SuperResConfig

    sr_cfg = _preset("superres_psnr.yaml", SuperResConfig, ["--num_feat=8", "--num_conv=2"], smoke)
    if sr_model:
        net32 = SuperResolutionPipeline.from_pretrained(sr_model, dtype=torch.float32).upscaler
        label = f"SR {Path(sr_model).name}"
    else:
        torch.manual_seed(0)
        net32 = SRVGGNetCompact(num_feat=sr_cfg.num_feat, num_conv=sr_cfg.num_conv, upscale=sr_cfg.scale)
        label = f"SR compact-{sr_cfg.num_feat}-{sr_cfg.num_conv} (random)"
    net32 = net32.float().eval()
    return SRNetwork(net32, label, upscale_factor(net32))


def sr_pipeline_rows(bench: InferenceBench, sr: SRNetwork) -> None:
    """PIL in, PIL out: a small image whole and tiled, then a photo-sized one tiled."""
    from gan_models import SuperResolutionPipeline

    pipe = SuperResolutionPipeline(upscaler=cast(copy.deepcopy(sr.net32), bench.device, bench.half))
    pipe.set_progress_bar_config(disable=True)
    small, photo = bench.small, (80 if bench.smoke else 2000)
    tile = 32 if bench.smoke else 256
    photo_run = (photo, tile, min(bench.warmup, 1), max(1, bench.repeats // 4))  # seconds each on a GPU: fewer
    for side, tile_size, warm, reps in ((small, 0, None, None), (small, tile, None, None), photo_run):
        image = common.noise_image(side, side)
        seconds = bench.seconds(lambda im=image, t=tile_size: pipe(im, tile_size=t), warm, reps)
        label = "whole image" if not tile_size else f"tiles {tile_size}"
        out = side * sr.scale
        bench.add(f"{sr.label}: pipeline, {label}", f"{side}² → {out}²", bench.half, "PIL in/out", seconds, out**2)


def sr_network_rows(bench: InferenceBench, sr: SRNetwork) -> None:
    """The bare network on one tensor: fp32 contiguous, then fp16 and bf16 channels_last."""
    small = bench.small
    x32 = torch.rand(1, 3, small, small, generator=torch.Generator().manual_seed(0))
    for dtype, layout in (
        (torch.float32, "contiguous"),
        (torch.float16, "channels_last"),
        (torch.bfloat16, "channels_last"),
    ):
        net = cast(copy.deepcopy(sr.net32), bench.device, dtype)
        x = x32.to(bench.device, dtype)
        if layout == "channels_last":
            net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)

        def run(net=net, x=x):
            with torch.inference_mode():
                return net(x)

        out = small * sr.scale
        bench.add(f"{sr.label}: network", f"1×{small}² → {out}²", dtype, layout, bench.seconds(run), out**2)


def spandrel_rows(bench: InferenceBench, sr: SRNetwork) -> None:
    """The same weights through spandrel, a peer library, if it imports; its facts go to ``results["spandrel"]``."""
    try:
        import spandrel
    except Exception as err:  # noqa: BLE001 - missing, or a dependency of it (torchvision, einops)
        print(f"spandrel not available ({type(err).__name__}: {err}); its rows are skipped.")
        bench.results["spandrel"] = {"available": False, "error": f"{type(err).__name__}: {err}"}
        return
    device, small = bench.device, bench.small
    state = {k: v.detach().cpu() for k, v in sr.net32.state_dict().items()}
    descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    info = {
        "available": True,
        "version": getattr(spandrel, "__version__", "?"),
        "architecture": descriptor.architecture.name,
        "scale": descriptor.scale,
    }
    bench.results["spandrel"] = info
    descriptor.to(device).eval()
    x32 = torch.rand(1, 3, small, small, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():  # same weights, same numbers (spandrel clamps to [0, 1])
        ours = sr.net32.to(device)(x32.to(device)).clamp(0, 1)
        info["max_abs_diff_vs_ours_fp32"] = float((descriptor(x32.to(device)) - ours).abs().max())
    sr.net32.cpu()
    for dtype in [torch.float32] + ([torch.float16] if descriptor.supports_half else []):
        descriptor.to(dtype)
        x = x32.to(device, dtype)
        seconds = bench.seconds(lambda x=x: descriptor(x))
        out = small * sr.scale
        what = f"spandrel {info['version']} ({info['architecture']}), same weights"
        bench.add(what, f"1×{small}² → {out}²", dtype, "contiguous", seconds, out**2)


# ------------------------------------------------------------------------------------------------
# faces, translation, text2image
# ------------------------------------------------------------------------------------------------


def faces_rows(bench: InferenceBench, faces_cfg, faces_model: str) -> None:
    """64 faces through the pipeline (tensors, then PIL images) and through the generator in one pass."""
    from gan_models import FaceGANPipeline, StyleGAN2Generator

    device, half, num = bench.device, bench.half, SAMPLES_PER_CALL
    if faces_model:
        pipe = FaceGANPipeline.from_pretrained(faces_model, dtype=half).to(device)
        label = f"faces {Path(faces_model).name}"
    else:
        torch.manual_seed(0)
        G = StyleGAN2Generator(
            size=faces_cfg.size,
            style_dim=faces_cfg.style_dim,
            n_mlp=faces_cfg.n_mlp,
            channel_base=faces_cfg.channel_base,
            channel_max=faces_cfg.channel_max,
        )
        pipe = FaceGANPipeline(stylegan=cast(G, device, half))
        label = f"faces StyleGAN2 {faces_cfg.channel_base}/{faces_cfg.channel_max} (random)"
    pipe.set_progress_bar_config(disable=True)
    side = pipe.resolution
    size, pixels = f"{num}×{side}²", num * side * side
    for output_type in ("pt", "pil"):
        seconds = bench.seconds(lambda o=output_type: pipe(num_images=num, seed=0, truncation=0.7, output_type=o))
        bench.add(f"{label}: pipeline, output {output_type}", size, half, "contiguous", seconds, pixels)
    G, z = pipe.stylegan, torch.randn(num, pipe.stylegan.style_dim, device=device, dtype=half)

    def one_pass():
        with torch.inference_mode():
            return G(z)

    bench.add(f"{label}: generator, one pass", size, half, "contiguous", bench.seconds(one_pass), pixels)


def translation_rows(bench: InferenceBench, tr_cfg) -> None:
    """One 256x256 upload through the pipeline, at the input's resolution and at the training one."""
    from gan_models import CycleGANPipeline, ResnetGenerator

    torch.manual_seed(0)
    G_ab, G_ba = (
        cast(ResnetGenerator(ngf=tr_cfg.ngf, n_blocks=tr_cfg.n_blocks), bench.device, bench.half) for _ in range(2)
    )
    pipe = CycleGANPipeline(G_ab, G_ba, train_size=tr_cfg.size)
    pipe.set_progress_bar_config(disable=True)
    side = 32 if bench.smoke else 256
    image = common.noise_image(side, side)
    for resolution in ("input", "native"):
        seconds = bench.seconds(lambda r=resolution: pipe(image, resolution=r))
        work = side if resolution == "input" else min(side, tr_cfg.size)
        what = (
            f"translation ngf {tr_cfg.ngf}, {tr_cfg.n_blocks} blocks (random): pipeline, {resolution} (G sees {work}²)"
        )
        bench.add(what, f"{side}² → {side}²", bench.half, "PIL in/out", seconds, side * side)


def text2image_rows(bench: InferenceBench, t2i_cfg) -> None:
    """The generator on random token states: the pipeline would need the text encoder."""
    from gan_models import TextToImageGenerator

    device, half, num = bench.device, bench.half, SAMPLES_PER_CALL
    torch.manual_seed(0)
    text_dim = 32 if bench.smoke else TEXT_DIM
    G = TextToImageGenerator(
        size=t2i_cfg.size,
        text_dim=text_dim,
        num_text_queries=t2i_cfg.num_text_queries,
        z_dim=t2i_cfg.z_dim,
        style_dim=t2i_cfg.style_dim,
        n_mlp=t2i_cfg.n_mlp,
        channel_base=t2i_cfg.channel_base,
        channel_max=t2i_cfg.channel_max,
    )
    G = cast(G, device, half)
    z = torch.randn(num, t2i_cfg.z_dim, device=device, dtype=half)
    tokens = torch.randn(num, TEXT_TOKENS, text_dim, device=device, dtype=half)
    mask = torch.ones(num, TEXT_TOKENS, dtype=torch.long, device=device)

    def run():
        with torch.inference_mode():
            return G(z, tokens, mask)

    what = f"text2image {t2i_cfg.channel_base}/{t2i_cfg.channel_max} (random): generator"
    bench.add(what, f"{num}×{t2i_cfg.size}²", half, "contiguous", bench.seconds(run), num * t2i_cfg.size**2)


def bench_inference(args, device: torch.device, results: dict, save: Callable[[], None]) -> None:
    """Every inference row; each subject guarded, the JSON rewritten after each.

    What a subject needs set up (the SR network, the presets) is made here, outside the guards: a failure
    there is the run's ``inference set-up`` error, not one subject's.
    """
    from training.train_cyclegan import CycleGANConfig
    from training.train_faces import FacesConfig
    from training.train_text2image import Text2ImageConfig

    restore_default_flags()  # as a served pipeline runs: nobody sets cuDNN autotuning there
    bench = InferenceBench(device, args.warmup, args.repeats, args.smoke, results, save)
    sr = load_sr_network(args.sr_model, args.smoke)
    results["sr_model"] = sr.label
    bench.guarded("SR pipeline", lambda: sr_pipeline_rows(bench, sr))
    bench.guarded("SR network", lambda: sr_network_rows(bench, sr))
    bench.guarded("spandrel", lambda: spandrel_rows(bench, sr))

    faces_cfg = _preset("faces_celeba64.yaml", FacesConfig, STYLE_SMOKE, args.smoke)
    bench.guarded("faces", lambda: faces_rows(bench, faces_cfg, args.faces_model))

    tr_cfg = _preset("face2anime.yaml", CycleGANConfig, ["--ngf=4", "--n_blocks=1"], args.smoke)
    bench.guarded("translation", lambda: translation_rows(bench, tr_cfg))

    t2i_cfg = _preset("anime_text2image.yaml", Text2ImageConfig, [*STYLE_SMOKE, "--z_dim=16"], args.smoke)
    bench.guarded("text2image", lambda: text2image_rows(bench, t2i_cfg))
