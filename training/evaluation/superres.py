"""Score a super-resolution model on Set5 / Set14-style folders with the published protocol.

Each set is laid out as ``HR/<name>.png`` plus the MATLAB-bicubic inputs shipped with it,
``LR_bicubic/X{scale}/<name>.png``. Those LR files were made from HR cropped at the top-left to a
multiple of the scale, so HR is cropped the same way here. The model's output must be exactly
``scale`` times the LR size; it is scored as 8-bit RGB with PSNR / SSIM on Y, ``border = scale``
(see :mod:`training.evaluation.psnr_ssim`).

Command line (the old form ``python -m training.evaluate_superres`` works too)::

    python -m training.evaluation.superres --model superres-x4-gan --data ../shared/data/Set5 \\
        --data ../shared/data/Set14 --scale 4 --json scores.json
    python -m training.evaluation.superres --model bicubic --data ../shared/data/Set5   # baseline

``--model`` takes ``bicubic``, a bundled name, a ``save_pretrained`` folder or a Hub repo id.
From training, call :func:`evaluate` with the EMA generator (an ``nn.Module``) or a pipeline.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from training.card import evaluated_model_folder, write_evaluation, write_json
from training.evaluation.psnr_ssim import psnr_y, ssim_y

Upscaler = Callable[[Image.Image], Image.Image]

_IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


def bicubic_upscaler(scale: int) -> Upscaler:
    """The baseline row of every SR table: PIL bicubic (a = -0.5, like MATLAB ``imresize``) by ``scale``.

    Example:
        >>> bicubic_upscaler(4)(Image.new("RGB", (8, 6))).size
        (32, 24)
    """

    def upscale(image: Image.Image) -> Image.Image:
        return image.resize((image.width * scale, image.height * scale), Image.BICUBIC)

    return upscale


def evaluate(
    pipe_or_callable: Any,
    data_dir: str | Path,
    scale: int = 4,
    save_dir: str | Path | None = None,
    gray_as_y: bool = False,
    outputs: dict[str, Image.Image] | None = None,
) -> dict:
    """PSNR / SSIM (Y channel, border = scale) of a model on one benchmark folder.

    Args:
        pipe_or_callable: what makes the SR image from the LR one. Either
            a ``SuperResolutionPipeline`` (called as ``pipe(image=lr, outscale=scale, tile_size=None)``:
            the whole image at once, as the tables were made; benchmark LR images are small),
            an ``nn.Module`` generator taking ``(1, 3, h, w)`` in [0, 1] (run on its own device in
            eval mode under ``no_grad``; its train/eval mode is restored afterwards), or
            any callable ``PIL.Image -> PIL.Image`` (a result with ``.images`` or a list also works).
        data_dir: a folder with ``HR/`` and ``LR_bicubic/X{scale}/`` holding files of the same names.
        scale: the upscaling factor; also the border cropped before scoring.
        save_dir: if given, each SR result is written there as ``<name>.png``.
        outputs: if given, filled with ``name -> SR image`` (e.g. for :func:`comparison_grid`, so
            the model does not run a second time).
        gray_as_y: score gray HR images on their gray values (the SR output converted to ``L``)
            instead of BasicSR's replicate-to-RGB Y; this reproduces the classic Set14 tables
            (see :mod:`training.evaluation.psnr_ssim`).

    Returns:
        ``{"dataset", "data_dir", "scale", "border", "num_images", "psnr", "ssim", "seconds",
        "images": [{"name", "psnr", "ssim", "seconds"}, ...]}``; ``psnr``/``ssim`` are means over
        the images, ``seconds`` the model time only.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "HR").mkdir(); (root / "LR_bicubic" / "X4").mkdir(parents=True)
        >>> hr = Image.effect_mandelbrot((66, 50), (-2, -1.2, 1, 1.2), 50).convert("RGB")
        >>> hr.save(root / "HR" / "m.png")
        >>> hr.crop((0, 0, 64, 48)).resize((16, 12), Image.BICUBIC).save(root / "LR_bicubic" / "X4" / "m.png")
        >>> result = evaluate(bicubic_upscaler(4), root, scale=4)
        >>> result["num_images"], 10 < result["psnr"] < 40
        (1, True)
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}.")
    data_dir = Path(data_dir)
    pairs = _find_pairs(data_dir, scale)
    upscale = _as_upscaler(pipe_or_callable, scale)
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)

    records = [
        _score_pair(upscale, name, hr_path, lr_path, scale, gray_as_y, save_dir, outputs)
        for name, hr_path, lr_path in pairs
    ]
    return {
        "dataset": data_dir.name,
        "data_dir": str(data_dir),
        "scale": scale,
        "border": scale,
        "gray_as_y": gray_as_y,
        "num_images": len(records),
        "psnr": float(np.mean([r["psnr"] for r in records])),
        "ssim": float(np.mean([r["ssim"] for r in records])),
        "seconds": float(sum(r["seconds"] for r in records)),
        "images": records,
    }


def _score_pair(
    upscale: Upscaler,
    name: str,
    hr_path: Path,
    lr_path: Path,
    scale: int,
    gray_as_y: bool,
    save_dir: Path | None,
    outputs: dict[str, Image.Image] | None,
) -> dict:
    """One benchmark image through the model: ``{"name", "psnr", "ssim", "seconds"}`` (see :func:`evaluate`)."""
    # 1. HR cropped at the top-left to a multiple of the scale, as the LR files were made
    hr = _open_scoring_mode(hr_path)
    hr = hr.crop((0, 0, hr.width // scale * scale, hr.height // scale * scale))
    lr = _open_scoring_mode(lr_path)
    if (lr.width * scale, lr.height * scale) != hr.size:
        raise ValueError(
            f"{lr_path} is {lr.width}x{lr.height}, but HR cropped to a multiple of {scale} is "
            f"{hr.width}x{hr.height}; is this the X{scale} folder of the same set?"
        )
    # 2. the model, timed alone
    start = time.perf_counter()
    sr = upscale(lr)
    seconds = time.perf_counter() - start
    if sr.size != hr.size:
        raise ValueError(
            f"The model turned {lr.width}x{lr.height} into {sr.width}x{sr.height} for {name}; the "
            f"protocol needs exactly x{scale} ({hr.width}x{hr.height}). Check the model's scale."
        )
    if save_dir is not None:
        sr.save(save_dir / f"{name}.png")
    if outputs is not None:
        outputs[name] = sr
    # 3. 8-bit scores on Y with border = scale
    if gray_as_y and hr.mode == "L":
        sr = sr.convert("L")  # the old scripts scored gray output for gray input
    sr_pixels, hr_pixels = _to_uint8_array(sr), _to_uint8_array(hr)
    return {
        "name": name,
        "psnr": psnr_y(sr_pixels, hr_pixels, border=scale, gray_as_y=gray_as_y),
        "ssim": ssim_y(sr_pixels, hr_pixels, border=scale, gray_as_y=gray_as_y),
        "seconds": seconds,
    }


def format_table(result: dict, model: str = "") -> str:
    """One :func:`evaluate` result as a markdown table: a row per image, then the mean.

    Example:
        >>> print(format_table({"dataset": "S", "scale": 4, "psnr": 30.0, "ssim": 0.9,
        ...     "images": [{"name": "a", "psnr": 30.0, "ssim": 0.9}]}, model="bicubic"))
        ### S x4, bicubic
        <BLANKLINE>
        | image | PSNR (dB) | SSIM |
        |---|---:|---:|
        | a | 30.00 | 0.9000 |
        | **mean** | **30.00** | **0.9000** |
    """
    title = f"### {result['dataset']} x{result['scale']}" + (f", {model}" if model else "")
    lines = [title, "", "| image | PSNR (dB) | SSIM |", "|---|---:|---:|"]
    lines += [f"| {r['name']} | {r['psnr']:.2f} | {r['ssim']:.4f} |" for r in result["images"]]
    lines.append(f"| **mean** | **{result['psnr']:.2f}** | **{result['ssim']:.4f}** |")
    return "\n".join(lines)


def comparison_grid(
    upscalers: Mapping[str, Any],
    data_dir: str | Path,
    scale: int = 4,
    names: Sequence[str] | None = None,
    crop: int = 96,
) -> Image.Image:
    """Side-by-side HR-resolution crops: one row per image, one column per model, then the HR truth.

    ``upscalers`` maps a column label to anything :func:`evaluate` accepts (module, pipeline,
    callable), or to the ``outputs`` an :func:`evaluate` call already collected (name -> image).
    Each crop is the ``crop``-pixel square at the centre of the image. Columns are labelled on a
    white strip on top.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "HR").mkdir(); (root / "LR_bicubic" / "X4").mkdir(parents=True)
        >>> Image.new("RGB", (64, 48)).save(root / "HR" / "m.png")
        >>> Image.new("RGB", (16, 12)).save(root / "LR_bicubic" / "X4" / "m.png")
        >>> comparison_grid({"bicubic": bicubic_upscaler(4)}, root, crop=32).size
        (64, 50)
    """
    from PIL import ImageDraw

    data_dir = Path(data_dir)
    pairs = [p for p in _find_pairs(data_dir, scale) if names is None or p[0] in names]
    if not pairs:
        raise ValueError(f"None of {names} found in {data_dir / 'HR'}.")
    # every column becomes (image name, LR image) -> SR image
    columns: dict[str, Callable[[str, Image.Image], Image.Image]] = {}
    for label, model in upscalers.items():
        columns[label] = _precomputed(model) if isinstance(model, Mapping) else _run_on_lr(_as_upscaler(model, scale))
    label_height = 18
    grid = Image.new("RGB", (crop * (len(columns) + 1), label_height + crop * len(pairs)), "white")
    draw = ImageDraw.Draw(grid)
    for col, label in enumerate([*columns, "HR"]):
        draw.text((col * crop + 3, 3), label, fill="black")
    for row, (name, hr_path, lr_path) in enumerate(pairs):
        lr = _open_scoring_mode(lr_path).convert("RGB")
        hr = _open_scoring_mode(hr_path).convert("RGB").crop((0, 0, lr.width * scale, lr.height * scale))
        left, top = max(0, hr.width // 2 - crop // 2), max(0, hr.height // 2 - crop // 2)
        box = (left, top, left + crop, top + crop)
        tiles = [column(name, lr).convert("RGB").crop(box) for column in columns.values()] + [hr.crop(box)]
        for col, tile in enumerate(tiles):
            grid.paste(tile, (col * crop, label_height + row * crop))
    return grid


def _precomputed(made: Mapping[str, Image.Image]) -> Callable[[str, Image.Image], Image.Image]:
    return lambda name, lr: made[name]


def _run_on_lr(upscale: Upscaler) -> Callable[[str, Image.Image], Image.Image]:
    return lambda name, lr: upscale(lr)


def load_upscaler(model: str, scale: int, device: str = "cpu") -> Upscaler:
    """``bicubic`` or a pipeline loaded from a bundled name, folder or Hub repo id, as an upscaler.

    Example:
        >>> load_upscaler("bicubic", scale=2)(Image.new("L", (5, 3))).size
        (10, 6)
    """
    if model == "bicubic":
        return bicubic_upscaler(scale)
    from gan_models.hub import resolve_model
    from gan_models.pipelines.superres import SuperResolutionPipeline

    pipe = SuperResolutionPipeline.from_pretrained(resolve_model(model)).to(device)
    pipe.set_progress_bar_config(disable=True)
    return _as_upscaler(pipe, scale)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluation.superres",
        description="PSNR/SSIM (Y channel, border = scale) of a super-resolution model on Set5/Set14-style folders.",
    )
    parser.add_argument("--model", required=True, help="'bicubic', a bundled name, a saved folder or a Hub repo id")
    parser.add_argument(
        "--data", required=True, action="append", help="a folder with HR/ and LR_bicubic/X{scale}/ (repeatable)"
    )
    parser.add_argument("--scale", type=int, default=4, help="upscaling factor and scoring border (default 4)")
    parser.add_argument("--save-dir", type=Path, help="write SR images to DIR/<set>/X{scale}/<name>.png")
    parser.add_argument(
        "--gray-as-y",
        action="store_true",
        help="score gray images on their gray values, as the classic Set14 tables did (default: BasicSR's replication)",
    )
    parser.add_argument("--json", type=Path, help="write all scores to this JSON file")
    parser.add_argument(
        "--card",
        action="store_true",
        help="write the scores (and --grid) into the model folder's model card, under 'Evaluation'",
    )
    parser.add_argument(
        "--grid",
        metavar="NAMES",
        help="comma-separated image names of the last --data set for a crop grid (bicubic | --compare | model | HR)",
    )
    parser.add_argument("--compare", default="", help="comma-separated extra models shown in the grid")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="device for the model")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error(f"--scale must be a positive integer, got {args.scale}.")

    try:
        upscale = load_upscaler(args.model, args.scale, args.device)
        # --grid goes into the card too, so only --card needs the folder, checked before the slow work
        folder = evaluated_model_folder(args.model, card=True, grid=False)[1] if args.card else None
    except ValueError as error:  # unknown name / folder: the message lists the bundled models
        parser.error(str(error))
    results = []
    for data_dir in args.data:
        save_dir = args.save_dir / Path(data_dir).name / f"X{args.scale}" if args.save_dir else None
        try:
            outputs: dict[str, Image.Image] = {}
            result = evaluate(
                upscale, data_dir, args.scale, save_dir=save_dir, gray_as_y=args.gray_as_y, outputs=outputs
            )
        except (FileNotFoundError, ValueError) as error:
            parser.error(str(error))
        results.append(result)
        print(format_table(result, model=args.model), end="\n\n")

    if len(results) > 1:
        print(f"### Summary x{args.scale}, {args.model}\n")
        print("| dataset | images | PSNR (dB) | SSIM |\n|---|---:|---:|---:|")
        for r in results:
            print(f"| {r['dataset']} | {r['num_images']} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
    if args.card:
        _write_card(args, folder, outputs, results)  # outputs: the last set's SR images, for the grid
    if args.json:
        summary = {"model": args.model, "scale": args.scale, "gray_as_y": args.gray_as_y, "results": results}
        write_json(args.json, summary)
    return 0


def _write_card(
    args: argparse.Namespace, folder: Path, last_outputs: dict[str, Image.Image], results: list[dict]
) -> None:
    """Scores, protocol and (optionally) the crop grid into the evaluated folder's model card."""
    baseline = {
        r["dataset"]: evaluate(bicubic_upscaler(args.scale), r["data_dir"], args.scale, gray_as_y=args.gray_as_y)
        for r in results
    }
    rows = [
        f"| {r['dataset']} | {r['num_images']} | {r['psnr']:.2f} / {r['ssim']:.4f} | "
        f"{baseline[r['dataset']]['psnr']:.2f} / {baseline[r['dataset']]['ssim']:.4f} |"
        for r in results
    ]
    grid_md = ""
    if args.grid:
        columns = {"bicubic": bicubic_upscaler(args.scale)}
        columns.update({Path(m).name: load_upscaler(m, args.scale, args.device) for m in args.compare.split(",") if m})
        columns[folder.name] = last_outputs  # already computed by evaluate(): no second run
        grid = comparison_grid(columns, results[-1]["data_dir"], args.scale, names=args.grid.split(","))
        grid.save(folder / "samples.png")
        grid_md = (
            f"\n![crops](samples.png)\n\nCentre crops of {results[-1]['dataset']} ({args.grid}) at x{args.scale}: "
            f"{' | '.join([*columns, 'HR'])}. Benchmark images are for research comparison only.\n"
        )
    command = " ".join(
        [f"python -m training.evaluate_superres --model {args.model}", *(f"--data {d}" for d in args.data)]
        + (["--gray-as-y"] if args.gray_as_y else [])
        + ([f"--scale {args.scale}"] if args.scale != 4 else [])
    )
    markdown = (
        f"x{args.scale}, PSNR (dB) / SSIM on the Y channel (BT.601), {args.scale}-pixel border cropped, 8-bit outputs, "
        f"using the LR files distributed with each set (MATLAB bicubic), whole image at once"
        f"{'; gray images scored on their gray values' if args.gray_as_y else ''}.\n\n"
        "| dataset | images | this model | bicubic |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Reproduce: `{command}`\n{grid_md}"
    )
    metrics = {f"{r['dataset']} {k}": r[k] for r in results for k in ("psnr", "ssim")}
    write_evaluation(folder, markdown, metrics)


def _find_pairs(data_dir: Path, scale: int) -> list[tuple[str, Path, Path]]:
    """(name, HR path, LR path) for every HR image, in name order; every HR needs its LR file."""
    hr_dir, lr_dir = data_dir / "HR", data_dir / "LR_bicubic" / f"X{scale}"
    for folder in (hr_dir, lr_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} does not exist; a benchmark folder needs HR/<name>.png and "
                f"LR_bicubic/X{scale}/<name>.png (see shared/data/README.md)."
            )
    lr_by_name = {p.stem: p for p in lr_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES}
    pairs = []
    for hr_path in sorted(p for p in hr_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES):
        if hr_path.stem not in lr_by_name:
            raise FileNotFoundError(f"{hr_path.name} has no LR file named {hr_path.stem}.* in {lr_dir}.")
        pairs.append((hr_path.stem, hr_path, lr_by_name[hr_path.stem]))
    if not pairs:
        raise FileNotFoundError(f"No images found in {hr_dir}.")
    return pairs


def _open_scoring_mode(path: Path) -> Image.Image:
    """Open an image as L (gray stays gray: metrics replicate it to RGB) or RGB."""
    image = Image.open(path)
    image.load()
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _to_uint8_array(image: Image.Image) -> np.ndarray:
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return np.asarray(image)


def _as_upscaler(pipe_or_callable: Any, scale: int) -> Upscaler:
    """Wrap a module, a pipeline or a callable into one ``PIL -> PIL`` function."""
    if isinstance(pipe_or_callable, nn.Module):
        return _module_upscaler(pipe_or_callable)
    if not callable(pipe_or_callable):
        raise TypeError(
            "evaluate() needs an nn.Module, a pipeline or a callable PIL -> PIL, "
            f"got {type(pipe_or_callable).__name__}."
        )
    # A diffusers-style pipeline takes keywords; a plain function takes the image positionally.
    is_pipeline = hasattr(pipe_or_callable, "from_pretrained")

    def upscale(image: Image.Image) -> Image.Image:
        if is_pipeline:
            out = pipe_or_callable(image=image, outscale=scale, tile_size=None)
        else:
            out = pipe_or_callable(image)
        out = getattr(out, "images", out)
        if isinstance(out, (list, tuple)):
            out = out[0]
        if not isinstance(out, Image.Image):
            raise TypeError(f"The model returned {type(out).__name__}; evaluate() needs a PIL image.")
        return out

    return upscale


def _module_upscaler(generator: nn.Module) -> Upscaler:
    """Run a bare generator on one whole LR image (benchmark images are small: no tiling needed)."""

    def upscale(image: Image.Image) -> Image.Image:
        param = next(generator.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        # gray inputs go in as replicated RGB, as the published protocol feeds them
        pixels = np.asarray(image.convert("RGB"))
        x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).to(device=device, dtype=dtype) / 255.0
        was_training = generator.training
        generator.eval()
        try:
            with torch.no_grad():
                y = generator(x)  # (1, 3, h*scale, w*scale)
        finally:
            generator.train(was_training)
        y = (y.float().clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(y, "RGB")

    return upscale


if __name__ == "__main__":
    sys.exit(main())
