"""Convert foreign GAN checkpoints into pipeline folders: ``python -m gan_models.convert <family> ...``.

One subcommand per family (``superres``, ``faces``, ``cyclegan``), each registered in
``_SUBCOMMANDS`` with its own arguments.

Example:
    python -m gan_models.convert superres RealESRGAN_x4plus.pth checkpoints/realesrgan-x4plus --fp16
    python -m gan_models.convert faces 550000.pt checkpoints/stylegan2-ffhq-256
    python -m gan_models.convert cyclegan latest_net_G_A.pth latest_net_G_B.pth checkpoints/horse2zebra \
        --domain-a horse --domain-b zebra --fp16
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .cards import write_model_card
from .converters import load_foreign_cyclegan, load_foreign_stylegan2, load_foreign_superres
from .pipelines.faces import FaceGANPipeline
from .pipelines.superres import SuperResolutionPipeline
from .pipelines.translation import CycleGANPipeline
from .superres import upscale_factor

__all__ = ["convert_cyclegan", "convert_faces", "convert_superres", "main"]


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


def convert_cyclegan(
    a_to_b: str | Path,
    output_dir: str | Path,
    b_to_a: str | Path | None = None,
    *,
    domain_a: str = "A",
    domain_b: str = "B",
    train_size: int = 256,
    fp16: bool = False,
    license: str = "other",
    source_url: str | None = None,
) -> Path:
    """Write a :class:`CycleGANPipeline` folder (safetensors + model card) from junyanz ``.pth`` generators.

    ``a_to_b`` is junyanz's ``latest_net_G_A.pth`` (A -> B), ``b_to_a`` its ``latest_net_G_B.pth``
    (B -> A); leave ``b_to_a`` out for single-generator releases (``latest_net_G.pth``: A is what
    it takes, B what it gives).

    Example:
        >>> import tempfile, os, torch
        >>> from gan_models import ResnetGenerator
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "latest_net_G.pth")
        >>> torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), src)
        >>> out = convert_cyclegan(src, os.path.join(d, "out"), domain_a="photo", domain_b="Monet")
        >>> sorted(p.name for p in out.iterdir())
        ['README.md', 'a_to_b', 'model_index.json']
    """
    a_to_b, output_dir = Path(a_to_b), Path(output_dir)
    b_to_a = Path(b_to_a) if b_to_a is not None else None
    # 1. read and detect every file before writing anything (typed errors for anything unknown or unsafe)
    g_ab = load_foreign_cyclegan(a_to_b)
    g_ba = load_foreign_cyclegan(b_to_a) if b_to_a is not None else None
    pipe = CycleGANPipeline(  # checks the names and train_size too
        g_ab.half() if fp16 else g_ab,
        (g_ba.half() if fp16 else g_ba) if g_ba is not None else None,
        domain_a=domain_a,
        domain_b=domain_b,
        train_size=train_size,
    )
    arch = ", ".join(f"{k}={v}" for k, v in g_ab.config.items() if not k.startswith("_"))
    # 2. the second file's provenance rides in `what`, after the first file's sha256
    what = f", {domain_a} -> {domain_b}"
    if b_to_a is not None:
        what += f"; and `{b_to_a.name}` (sha256 `{_sha256(b_to_a)}`), {domain_b} -> {domain_a}"
    arrow = "<->" if g_ba is not None else "->"
    return _save_converted(
        pipe,
        output_dir,
        a_to_b,
        source_url,
        title=f"CycleGAN {domain_a} {arrow} {domain_b} (converted)",
        command=f"cyclegan --train-size {train_size}{' --fp16' if fp16 else ''}",
        what=what,
        architecture=f"ResnetGenerator({arch}){' x2' if g_ba is not None else ''}, instance norm, trained at "
        f"{train_size} px",
        license=license,
        tags=["converted", "junyanz-cyclegan"],
    )


def _add_cyclegan(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], Path]:
    p = sub.add_parser(
        "cyclegan",
        help="junyanz CycleGAN latest_net_G_A.pth [latest_net_G_B.pth] -> CycleGANPipeline folder",
        usage="python -m gan_models.convert cyclegan G_A.pth [G_B.pth] output_dir [options]",
    )
    p.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="G_A.pth [G_B.pth] output_dir",
        help="the A -> B generator (netG_A), optionally the B -> A one (netG_B), then the folder to write",
    )
    p.add_argument("--domain-a", default="A", help='name of domain A, e.g. "horse" (shown in UIs and the card)')
    p.add_argument("--domain-b", default="B", help='name of domain B, e.g. "zebra"')
    p.add_argument("--train-size", type=int, default=256, help="crop size the generators were trained at (px)")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half the size)")
    p.add_argument("--license", default="other", help="Hub license id of the original weights")
    p.add_argument("--source-url", default=None, help="where the original file(s) were downloaded from")

    def run(a: argparse.Namespace) -> Path:
        if not 2 <= len(a.files) <= 3:
            raise ValueError(
                f"cyclegan takes G_A.pth [G_B.pth] output_dir (2 or 3 paths), got {len(a.files)}: "
                f"{' '.join(map(str, a.files))}."
            )
        *generators, output_dir = a.files
        return convert_cyclegan(
            generators[0],
            output_dir,
            generators[1] if len(generators) == 2 else None,
            domain_a=a.domain_a,
            domain_b=a.domain_b,
            train_size=a.train_size,
            fp16=a.fp16,
            license=a.license,
            source_url=a.source_url,
        )

    return run


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


# family -> function adding its subparser and returning its runner
_SUBCOMMANDS = {"superres": _add_superres, "faces": _add_faces, "cyclegan": _add_cyclegan}


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
