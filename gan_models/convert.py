"""Convert foreign GAN checkpoints into pipeline folders: ``python -m gan_models.convert <family> ...``.

One subcommand per family (``superres`` now; ``faces``, ``cyclegan`` later), each registered in
``_SUBCOMMANDS`` with its own arguments.

Example:
    python -m gan_models.convert superres RealESRGAN_x4plus.pth checkpoints/realesrgan-x4plus --fp16
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Callable, Sequence


from .hub import load_foreign_superres, write_model_card
from .pipelines.superres import SuperResolutionPipeline
from .superres import upscale_factor

__all__ = ["convert_superres", "main"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        >>> import tempfile, os
        >>> from gan_models import SRVGGNetCompact
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "tiny.pth")
        >>> torch.save(SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2).state_dict(), src)
        >>> sorted(p.name for p in convert_superres(src, os.path.join(d, "out")).iterdir())
        ['README.md', 'model_index.json', 'upscaler']
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    # 1. read and detect (typed errors for anything unknown or unsafe)
    model = load_foreign_superres(checkpoint, act_type=act_type)
    # 2. save; fp16 halves the download, from_pretrained(..., dtype=torch.float32) restores fp32.
    #    (.half(), not .to(dtype=): diffusers 0.42 ModelMixin.to(dtype) logs a spurious fp32 warning.)
    if fp16:
        model.half()
    SuperResolutionPipeline(upscaler=model).save_pretrained(output_dir, safe_serialization=True)
    # 3. a card that says where the weights came from
    config = dict(model.config)
    arch = ", ".join(f"{k}={v}" for k, v in config.items() if not k.startswith("_"))
    origin = f"[{checkpoint.name}]({source_url})" if source_url else f"`{checkpoint.name}`"
    write_model_card(
        output_dir,
        title=f"{type(model).__name__} x{upscale_factor(model)} (converted)",
        datasets=[],
        license=license,
        metrics={},
        protocol="Not re-evaluated after conversion; see the original release for its numbers.",
        training=(
            f"Not trained here: converted from {origin} (sha256 `{_sha256(checkpoint)}`) with "
            f"`python -m gan_models.convert superres{' --fp16' if fp16 else ''}`. Architecture: "
            f"{type(model).__name__}({arch}). Check the original project's license before redistributing."
        ),
        tags=["converted", "esrgan"],
    )
    return output_dir


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


# family -> function adding its subparser and returning its runner; later: "faces", "cyclegan"
_SUBCOMMANDS = {"superres": _add_superres}


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
