"""Convert foreign GAN checkpoints into pipeline folders: ``python -m gan_models.convert <family> ...``.

One subcommand per family (``superres``, ``faces``; ``cyclegan`` later), each registered in
``_SUBCOMMANDS`` with its own arguments.

Example:
    python -m gan_models.convert superres RealESRGAN_x4plus.pth checkpoints/realesrgan-x4plus --fp16
    python -m gan_models.convert faces 550000.pt checkpoints/stylegan2-ffhq-256
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .hub import load_foreign_stylegan2, load_foreign_superres, write_model_card
from .pipelines.faces import FaceGANPipeline
from .pipelines.superres import SuperResolutionPipeline
from .superres import upscale_factor

__all__ = ["convert_faces", "convert_superres", "main"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _save_converted(
    pipe,
    output_dir: Path,
    checkpoint: Path,
    source_url: str | None,
    *,
    title: str,
    command: str,
    what: str,
    architecture: str,
    license: str,
    tags: list[str],
) -> Path:
    """Save a converted pipeline and a card that says where its weights came from.

    Weights are halved with ``.half()`` by the callers, not ``.to(dtype=)``: diffusers 0.42's
    ``ModelMixin.to(dtype)`` logs a spurious fp32 warning.
    """
    pipe.save_pretrained(output_dir, safe_serialization=True)
    origin = f"[{checkpoint.name}]({source_url})" if source_url else f"`{checkpoint.name}`"
    write_model_card(
        output_dir,
        title=title,
        datasets=[],
        license=license,
        metrics={},
        protocol="Not re-evaluated after conversion; see the original release for its numbers.",
        training=(
            f"Not trained here: converted from {origin} (sha256 `{_sha256(checkpoint)}`{what}) with "
            f"`python -m gan_models.convert {command}`. Architecture: {architecture}. Check the original "
            "project's and dataset's licenses before redistributing."
        ),
        tags=tags,
    )
    return output_dir


def convert_superres(
    checkpoint: str | Path,
    output_dir: str | Path,
    *,
    fp16: bool = False,
    act_type: str | None = None,
    license: str = "other",
    source_url: str | None = None,
) -> Path:
    """Write a :class:`SuperResolutionPipeline` folder (safetensors + model card) from a ``.pth``.

    Example:
        >>> import tempfile, os, torch
        >>> from gan_models import SRVGGNetCompact
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "tiny.pth")
        >>> torch.save(SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2).state_dict(), src)
        >>> sorted(p.name for p in convert_superres(src, os.path.join(d, "out")).iterdir())
        ['README.md', 'model_index.json', 'upscaler']
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    # 1. read and detect (typed errors for anything unknown or unsafe)
    model = load_foreign_superres(checkpoint, act_type=act_type)
    config = dict(model.config)
    arch = ", ".join(f"{k}={v}" for k, v in config.items() if not k.startswith("_"))
    return _save_converted(
        SuperResolutionPipeline(upscaler=model.half() if fp16 else model),
        output_dir,
        checkpoint,
        source_url,
        title=f"{type(model).__name__} x{upscale_factor(model)} (converted)",
        command=f"superres{' --fp16' if fp16 else ''}",
        what="",
        architecture=f"{type(model).__name__}({arch})",
        license=license,
        tags=["converted", "esrgan"],
    )


def convert_faces(
    checkpoint: str | Path,
    output_dir: str | Path,
    *,
    fp16: bool = True,
    lr_mlp: float = 0.01,
    license: str = "other",
    source_url: str | None = None,
) -> Path:
    """Write a :class:`FaceGANPipeline` folder (fp16 safetensors + model card) from a rosinality ``.pt``.

    Example:
        >>> import argparse, tempfile, os, torch
        >>> from gan_models import StyleGAN2Generator
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "tiny.pt")
        >>> G = StyleGAN2Generator(size=8, style_dim=8, n_mlp=1, channel_base=64, channel_max=8)
        >>> torch.save({"g_ema": G.state_dict(), "args": argparse.Namespace(size=8)}, src)
        >>> sorted(p.name for p in convert_faces(src, os.path.join(d, "out")).iterdir())
        ['README.md', 'model_index.json', 'stylegan']
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    # 1. read and detect (typed errors for anything unknown or unsafe)
    model = load_foreign_stylegan2(checkpoint, lr_mlp=lr_mlp)
    cfg = model.config
    widths = ", ".join(f"{r}px: {c}" for r, c in model.channels.items())
    return _save_converted(
        FaceGANPipeline(stylegan=model.half() if fp16 else model),  # the pipeline computes in fp32 on a CPU
        output_dir,
        checkpoint,
        source_url,
        title=f"StyleGAN2 {cfg.size}x{cfg.size} (converted)",
        command=f"faces{'' if fp16 else ' --fp32'}",
        what=", its `g_ema` weights",
        architecture=f"StyleGAN2 {cfg.size}x{cfg.size}, w {cfg.style_dim}-d, {cfg.n_mlp}-layer mapping "
        f"(lr_mlp {cfg.lr_mlp}), channels {widths}",
        license=license,
        tags=["converted", "rosinality-stylegan2"],
    )


def _add_faces(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], Path]:
    p = sub.add_parser("faces", help="rosinality stylegan2-pytorch .pt -> FaceGANPipeline folder (fp16)")
    p.add_argument("checkpoint", type=Path, help="the .pt file (g_ema is used) or a .safetensors state dict")
    p.add_argument("output_dir", type=Path, help="folder to write (save_pretrained layout)")
    p.add_argument("--fp32", action="store_true", help="keep float32 weights (default: float16, half the size)")
    p.add_argument(
        "--lr-mlp", type=float, default=0.01, help="the mapping network's lr multiplier used in training (not stored)"
    )
    p.add_argument("--license", default="other", help="Hub license id of the original weights")
    p.add_argument("--source-url", default=None, help="where the original file was downloaded from")
    return lambda a: convert_faces(
        a.checkpoint, a.output_dir, fp16=not a.fp32, lr_mlp=a.lr_mlp, license=a.license, source_url=a.source_url
    )


def _add_superres(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], Path]:
    p = sub.add_parser("superres", help="ESRGAN / Real-ESRGAN .pth -> SuperResolutionPipeline folder")
    p.add_argument("checkpoint", type=Path, help="the .pth (or .safetensors) file")
    p.add_argument("output_dir", type=Path, help="folder to write (save_pretrained layout)")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    p.add_argument(
        "--act-type", choices=["relu", "leakyrelu"], default=None, help="only for compact models without PReLU weights"
    )
    p.add_argument("--license", default="other", help="Hub license id of the original weights")
    p.add_argument("--source-url", default=None, help="where the original file was downloaded from")
    return lambda a: convert_superres(
        a.checkpoint, a.output_dir, fp16=a.fp16, act_type=a.act_type, license=a.license, source_url=a.source_url
    )


# family -> function adding its subparser and returning its runner; later: "cyclegan"
_SUBCOMMANDS = {"superres": _add_superres, "faces": _add_faces}


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 with a one-line message on bad input)."""
    parser = argparse.ArgumentParser(prog="python -m gan_models.convert", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="family", required=True, metavar="{" + ",".join(_SUBCOMMANDS) + "}")
    runners = {name: add(sub) for name, add in _SUBCOMMANDS.items()}
    args = parser.parse_args(argv)
    try:
        out = runners[args.family](args)
    except ValueError as err:  # all our typed errors: say what to do, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
