"""Names, cards and checkpoints: the hub's edge to the Hugging Face Hub and to foreign weights.

* :func:`resolve_model` turns what a user typed (bundled name, folder, ``owner/name``) into
  something ``from_pretrained`` accepts.
* :func:`write_model_card` / :func:`push_pipeline_to_hub` publish a saved pipeline folder, weights
  as safetensors only.
* :func:`load_foreign_superres` reads ESRGAN / Real-ESRGAN ``.pth`` files (BasicSR ``params_ema`` /
  ``params``, bare state dicts, the 2018 and 2019 ESRGAN layouts) without running pickled code.
* :func:`load_foreign_stylegan2` reads rosinality/stylegan2-pytorch ``.pt`` files (``g_ema``) the same way.
* :func:`load_foreign_cyclegan` reads junyanz/pytorch-CycleGAN-and-pix2pix ResNet generators
  (``latest_net_G_A.pth``) the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData

from .errors import CheckpointFormatError
from .superres import RRDBNet, SRVGGNetCompact

__all__ = [
    "CHECKPOINTS_DIR",
    "UPLOAD_ALLOW_PATTERNS",
    "UPLOAD_IGNORE_PATTERNS",
    "bundled_models",
    "convert_cyclegan_state_dict",
    "convert_stylegan2_state_dict",
    "convert_superres_state_dict",
    "load_foreign_cyclegan",
    "load_foreign_stylegan2",
    "load_foreign_superres",
    "push_pipeline_to_hub",
    "resolve_model",
    "update_model_card",
    "write_model_card",
]

#: Bundled defaults, laid out exactly like Hub model repos (``checkpoints/<name>/model_index.json``).
CHECKPOINTS_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
#: Only weights that cannot run code, configs, the card and sample images go to the Hub.
UPLOAD_ALLOW_PATTERNS = ["*.safetensors", "*.json", "README.md", "*.png"]
UPLOAD_IGNORE_PATTERNS = ["*.bin", "*.pkl", "*.pickle", "*.pt", "*.pth", "*.ckpt", ".*", "**/.*"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------


def bundled_models(checkpoints_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the pipeline folders shipped under ``checkpoints/`` (those with a model_index.json).

    Example:
        >>> isinstance(bundled_models(), list)
        True
    """
    root = Path(checkpoints_dir) if checkpoints_dir is not None else CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "model_index.json").is_file())


def model_label(name_or_path: str | os.PathLike | None, fallback: str = "") -> str:
    """The model name written into outputs' metadata: a repo id or bundled name, never a local path.

    A full path can reveal user or folder names, so a folder is reduced to its last component.

    Example:
        >>> model_label("someone/faces-ffhq"), model_label(None, "StyleGAN2Generator")
        ('someone/faces-ffhq', 'StyleGAN2Generator')
    """
    if not name_or_path:
        return fallback
    name = str(name_or_path)
    return Path(name).name if Path(name).expanduser().is_dir() else name


def resolve_model(name_or_path: str | os.PathLike, checkpoints_dir: str | os.PathLike | None = None) -> str:
    """Map a bundled name, a local folder or a Hub repo id to a ``from_pretrained`` argument.

    Order: a bundled name (``"superres-x4-gan"`` -> ``<repo>/checkpoints/superres-x4-gan``), then an
    existing local folder, then anything shaped like ``owner/name`` (a Hub repo id, downloaded by
    ``from_pretrained``; offline it must already be in the cache).

    Raises:
        ValueError: none of the above; the message lists the bundled names.

    Example:
        >>> resolve_model("someorg/tiny-sr")
        'someorg/tiny-sr'
    """
    root = Path(checkpoints_dir) if checkpoints_dir is not None else CHECKPOINTS_DIR
    name = os.fspath(name_or_path).strip()
    if name and (root / name / "model_index.json").is_file():
        return str(root / name)
    if name and Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if _REPO_ID.match(name) and ".." not in name and not name.startswith((".", "/", "~")):
        return name
    bundled = ", ".join(bundled_models(root)) or "(none installed)"
    raise ValueError(
        f"Unknown model {name!r}: not a bundled name, an existing folder or a Hub repo id "
        f"('owner/name'). Bundled models: {bundled}."
    )


# --------------------------------------------------------------------------------------------
# model cards and upload
# --------------------------------------------------------------------------------------------


# What differs between families' cards: Hub pipeline tag, default tags, a one-line description, a
# usage snippet and the limitations. Chosen from the folder's model_index.json (`_class_name`), so
# every caller of write_model_card gets the right card without naming its family.
_CARD_TEMPLATES: dict[str, dict[str, object]] = {
    "superres": {
        "pipeline_tag": "image-to-image",
        "tags": ["super-resolution", "image-to-image"],
        "description": "A super-resolution GAN generator",
        "usage": """import torch
from gan_models import SuperResolutionPipeline

pipe = SuperResolutionPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
image = pipe("photo.png").images[0]   # PNG text chunks mark it as AI-generated""",
        "limitations": """A GAN invents plausible detail; it does not recover the true scene. Do not use the output as
evidence (faces, text, licence plates, medical or forensic images). Every output carries
`ai_generated=true` and `DigitalSourceType=trainedAlgorithmicMedia` PNG text metadata.""",
    },
    "faces": {
        "pipeline_tag": "unconditional-image-generation",
        "tags": ["stylegan2", "faces", "unconditional-image-generation"],
        "description": "A StyleGAN2 face generator",
        "usage": """import torch
from gan_models import FaceGANPipeline, save_animation

pipe = FaceGANPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
faces = pipe(num_images=4, seed=42, truncation=0.7).images   # image i comes from seed 42 + i
save_animation(pipe.interpolate(1, 2, num_frames=24, truncation=0.7), "walk.gif")
grid = pipe.style_mix([1, 2, 3], [4, 5], level="coarse", truncation=0.7)""",
        "limitations": """These people do not exist. Do not present the images as photographs of real people, use them to
impersonate anyone or to build fake profiles. A face GAN reproduces the biases of its training data
(face datasets over-represent some ages, skin tones and celebrity looks) and can leak near-copies of
training faces. Every PIL output carries `ai_generated=true` and
`DigitalSourceType=trainedAlgorithmicMedia` text metadata (kept when saved as PNG).""",
    },
    "translation": {
        "pipeline_tag": "image-to-image",
        "tags": ["cyclegan", "unpaired-image-to-image", "image-to-image"],
        "description": "A CycleGAN image-to-image translator",
        "usage": """import torch
from PIL import Image
from gan_models import CycleGANPipeline

pipe = CycleGANPipeline.from_pretrained("<this repo or folder>", dtype=torch.float32)
print(pipe.domain_a, "<->", pipe.domain_b, pipe.directions)   # what A and B are, which ways it goes
image = pipe(image=Image.open("photo.png"), direction="AtoB").images[0]   # same size as the input""",
        "limitations": """CycleGAN changes colours and textures much more readily than shapes, and works only on images
like its training data (subject, framing, scale); elsewhere it fails quietly, returning a
recoloured or barely changed image. It reproduces the biases of its two datasets. Do not use the
output as evidence or to pass off a person's photo as something it is not. Every PIL output carries
`ai_generated=true` and `DigitalSourceType=trainedAlgorithmicMedia` text metadata (kept when
saved as PNG).""",
    },
    "text2image": {
        "pipeline_tag": "text-to-image",
        "tags": ["stylegan2", "text-to-image"],
        "description": "A text-conditioned StyleGAN2 generator",
        "usage": """from gan_models import TextToImageGANPipeline

pipe = TextToImageGANPipeline.from_pretrained("<this repo or folder>")   # the text encoder is referenced, not stored
images = pipe(prompt="a girl with silver hair and red eyes", num_images=4, seed=0).images   # image i: seed + i""",
        "limitations": """The generator only knows what its captions described (for the anime model: hair and eye colour);
other words in a prompt are ignored or steer it unpredictably, and colours it saw rarely are
followed less often (see the per-colour numbers). It reproduces the style and biases of its crawled
training pictures. Every PIL output carries `ai_generated=true`,
`DigitalSourceType=trainedAlgorithmicMedia`, the model, the prompt and the seed as text metadata
(kept when saved as PNG).""",
    },
}
_FAMILY_OF_PIPELINE = {
    "SuperResolutionPipeline": "superres",
    "FaceGANPipeline": "faces",
    "CycleGANPipeline": "translation",
    "TextToImageGANPipeline": "text2image",
}


def _card_family(folder: Path, family: str | None) -> str:
    if family is not None:
        if family not in _CARD_TEMPLATES:
            raise ValueError(f"family must be one of {sorted(_CARD_TEMPLATES)}, got {family!r}.")
        return family
    try:
        class_name = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    except (OSError, ValueError):
        class_name = None  # no saved pipeline (yet): the historical default
    return _FAMILY_OF_PIPELINE.get(class_name, "superres")


def _eval_results(rows: Iterable[tuple[str, str, float]], task_type: str = "image-to-image") -> list[EvalResult]:
    """(dataset, metric, value) rows as the card's machine-readable ``model-index`` entries."""
    return [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset,
            dataset_name=dataset,
            metric_type=metric.lower(),
            metric_value=float(value),
        )
        for dataset, metric, value in rows
    ]


def write_model_card(
    folder: str | os.PathLike,
    *,
    title: str,
    base_model: str | None = None,
    datasets: list[str],
    license: str,
    metrics: Mapping[str, float],
    protocol: str,
    training: str,
    sample_image: str | os.PathLike | None = None,
    tags: list[str] | None = None,
    eval_dataset: str | None = None,
    family: str | None = None,
) -> Path:
    """Write ``README.md`` (Hub model card with YAML front matter) into a saved pipeline folder.

    ``library_name`` is deliberately left unset: the folder is in diffusers format but needs
    ``gan_models`` to load (``DiffusionPipeline.from_pretrained`` cannot resolve the class), so a
    "diffusers" label would make the Hub show a snippet that fails. The card gives the right one.

    Args:
        folder: the ``save_pretrained`` folder.
        title: heading of the card.
        base_model: Hub id this was fine-tuned / converted from, if any.
        datasets: training data (Hub dataset ids or names).
        license: an SPDX-style Hub license id (``"apache-2.0"``, ``"bsd-3-clause"``, ``"other"``).
        metrics: name -> value, e.g. ``{"psnr": 27.1, "lpips": 0.21}``.
        protocol: how the metrics were measured (data, crop, colour space, ...).
        training: how the weights were made (recipe, steps, hardware) or where they came from.
        sample_image: a PNG shown in the card; copied into the folder if it lives elsewhere.
        tags: extra tags; ``gan-demo-hub``, ``gan`` and the family's tags are always present.
        eval_dataset: if given, ``metrics`` also go to the machine-readable ``model-index``.
        family: ``"superres"``, ``"faces"`` or ``"translation"`` (pipeline tag, usage snippet,
            limitations); by default
            read from the folder's ``model_index.json``, super-resolution when there is none.

    Example:
        >>> import tempfile
        >>> p = write_model_card(tempfile.mkdtemp(), title="Tiny SR", datasets=["div2k"], license="mit",
        ...                      metrics={"psnr": 20.0}, protocol="Set5 Y channel", training="none")
        >>> p.name
        'README.md'
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = _CARD_TEMPLATES[_card_family(folder, family)]
    all_tags = list(dict.fromkeys(["gan-demo-hub", "gan", *template["tags"], *(tags or [])]))
    eval_results = None
    if eval_dataset and metrics:
        eval_results = _eval_results(
            ((eval_dataset, name, value) for name, value in metrics.items()), template["pipeline_tag"]
        )
    data = ModelCardData(
        license=license,
        base_model=base_model,
        datasets=list(datasets) or None,
        pipeline_tag=template["pipeline_tag"],
        tags=all_tags,
        model_name=title,
        eval_results=eval_results,
    )

    sample_md = ""
    if sample_image is not None:
        sample = Path(sample_image)
        if not sample.is_absolute() and not sample.exists():
            sample = folder / sample  # a name relative to the model folder
        if not sample.is_file():
            raise ValueError(f"sample_image {str(sample_image)!r} does not exist; save the PNG first.")
        if sample.resolve().parent != folder.resolve():
            shutil.copyfile(sample, folder / sample.name)
        sample_md = f"![sample]({sample.name})\n\n"

    rows = "\n".join(f"| {name} | {value:.4g} |" for name, value in metrics.items()) or "| (none) | |"
    body = f"""# {title}

{sample_md}{template["description"]} packaged by the GAN demo hub as a diffusers-format pipeline.

## Use

```python
{template["usage"]}
```

## Training

{training}

## Evaluation

| metric | value |
|---|---|
{rows}

Protocol: {protocol}

## Limitations and disclosure

{template["limitations"]}
"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    path = folder / "README.md"
    card.save(path)
    return path


def update_model_card(
    folder: str | os.PathLike, *, section: str, markdown: str, metrics: Mapping[str, float] | None = None
) -> Path:
    """Replace (or append) the ``## <section>`` of a folder's model card; metrics go to the card too.

    ``metrics`` names look like ``"<dataset> <metric>"`` (``"Set5 psnr"``); they become the card's
    machine-readable ``model-index`` entries, so the Hub shows them beside the model.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = write_model_card(folder, title="T", datasets=["d"], license="mit", metrics={}, protocol="-", training="-")
        >>> p = update_model_card(folder, section="Evaluation", markdown="PSNR 30", metrics={"Set5 psnr": 30.0})
        >>> "PSNR 30" in p.read_text() and "model-index" in p.read_text()
        True
    """
    path = Path(folder) / "README.md"
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist; write the card first (write_model_card).")
    card = ModelCard.load(path)
    heading = f"## {section}"
    text = card.text
    start = text.find(f"\n{heading}\n")
    if start == -1:
        text = text.rstrip() + f"\n\n{heading}\n\n{markdown.strip()}\n"
    else:
        end = text.find("\n## ", start + len(heading) + 2)
        text = text[: start + 1] + f"{heading}\n\n{markdown.strip()}\n" + (text[end:] if end != -1 else "")
    if metrics:
        task_type = card.data.pipeline_tag or "image-to-image"
        card.data.eval_results = _eval_results(
            ((*name.split(" ", 1), value) for name, value in metrics.items()), task_type
        )
        card.data.model_name = card.data.model_name or Path(folder).resolve().name
    ModelCard(f"---\n{card.data.to_yaml()}\n---\n{text}").save(path)
    return path


def push_pipeline_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload super-resolution pipeline",
):
    """Create (if needed) the Hub model repo and upload the folder's safetensors, json, README, png.

    Pickle-based files (``.bin``, ``.pkl``, ``.pt``, ``.pth``, ``.ckpt``) are never uploaded.

    Returns:
        huggingface_hub's ``CommitInfo`` of the upload.

    Example:
        >>> push_pipeline_to_hub("checkpoints/superres-x4-gan", "me/superres-x4-gan")  # doctest: +SKIP
    """
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"{str(folder)!r} is not a saved pipeline (no model_index.json); call save_pretrained first.")
    if not any(folder.rglob("*.safetensors")):
        raise ValueError(
            f"{str(folder)!r} has no .safetensors weights; save with save_pretrained(safe_serialization=True)."
        )
    if not _REPO_ID.match(repo_id):
        raise ValueError(f"repo_id must look like 'owner/name', got {repo_id!r}.")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        commit_message=commit_message,
        allow_patterns=UPLOAD_ALLOW_PATTERNS,
        ignore_patterns=UPLOAD_IGNORE_PATTERNS,
    )


# --------------------------------------------------------------------------------------------
# foreign super-resolution checkpoints
# --------------------------------------------------------------------------------------------

# 2018 ESRGAN ("old arch", a flat nn.Sequential): index in `model.N` -> our name
_OLD_ESRGAN_TOP = {"0": "conv_first", "3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}
_OLD_ESRGAN_RDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_ESRGAN_TRUNK_END = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
# 2019 ESRGAN (RRDBNet_arch.py before BasicSR): renamed modules
_NEW_ESRGAN_RENAME = {"trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2", "HRconv": "conv_hr"}
_NEW_ESRGAN_RDB = re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)$")


def _from_old_esrgan(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        if m := _OLD_ESRGAN_RDB.match(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
        elif m := _OLD_ESRGAN_TRUNK_END.match(key):
            out[f"conv_body.{m[2]}"] = value  # model.1.sub.<num_block>: the conv closing the trunk
        elif (parts := key.split(".")) and len(parts) == 3 and parts[1] in _OLD_ESRGAN_TOP:
            out[f"{_OLD_ESRGAN_TOP[parts[1]]}.{parts[2]}"] = value
        else:
            raise CheckpointFormatError(f"Unexpected key {key!r} in an old-style (2018) ESRGAN checkpoint.")
    return out


def _from_new_esrgan(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        if m := _NEW_ESRGAN_RDB.match(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
        else:
            module, _, param = key.partition(".")
            out[f"{_NEW_ESRGAN_RENAME.get(module, module)}.{param}"] = value
    return out


def _layout_error(sd: Mapping[str, object], why: str) -> CheckpointFormatError:
    keys = list(sd)
    sample = ", ".join(keys[:6]) + (f", ... ({len(keys)} keys)" if len(keys) > 6 else "")
    return CheckpointFormatError(
        f"{why} First keys: {sample}. Supported: ESRGAN/Real-ESRGAN RRDBNet (x4plus, x2plus, 2018/2019 "
        "ESRGAN layouts) and SRVGGNetCompact (realesr-general / animevideo) weights."
    )


def convert_superres_state_dict(
    sd: Mapping[str, torch.Tensor], act_type: str | None = None
) -> tuple[type[RRDBNet | SRVGGNetCompact], dict, dict[str, torch.Tensor]]:
    """Detect architecture and hyper-parameters of a foreign SR state dict; rename its keys.

    Returns ``(model_class, config_kwargs, state_dict_in_our_names)``.

    Example:
        >>> net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
        >>> cls, cfg, _ = convert_superres_state_dict(net.state_dict())
        >>> cls.__name__, cfg["num_conv"], cfg["upscale"]
        ('SRVGGNetCompact', 2, 2)
    """
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel wrappers
    # 1. bring ESRGAN layouts to BasicSR names
    if "model.0.weight" in sd:
        sd = _from_old_esrgan(sd)
    elif any(k.startswith("RRDB_trunk.") for k in sd):
        sd = _from_new_esrgan(sd)

    # 2. RRDBNet: conv_first + body.<i>.rdb<j>.conv<k> + conv_body/up1/up2/hr/last
    if "conv_first.weight" in sd:
        needed = ("conv_last.weight", "body.0.rdb1.conv1.weight")
        if any(k not in sd for k in needed):
            raise _layout_error(sd, f"Looks like RRDBNet but lacks {[k for k in needed if k not in sd]}.")
        first = sd["conv_first.weight"]  # (num_feat, num_in_ch * r^2, 3, 3)
        num_out_ch = sd["conv_last.weight"].shape[0]
        ratio = first.shape[1] // num_out_ch  # pixel-unshuffle factor squared: 1, 4, 16
        scale = {1: 4, 4: 2, 16: 1}.get(ratio) if first.shape[1] % num_out_ch == 0 else None
        if scale is None:
            raise _layout_error(sd, f"conv_first takes {first.shape[1]} channels: not x4 / x2 / x1 of {num_out_ch}.")
        config = dict(
            num_in_ch=first.shape[1] // (4 // scale) ** 2,
            num_out_ch=num_out_ch,
            scale=scale,
            num_feat=first.shape[0],
            num_block=len({k.split(".")[1] for k in sd if k.startswith("body.")}),
            num_grow_ch=sd["body.0.rdb1.conv1.weight"].shape[0],
        )
        return RRDBNet, config, sd

    # 3. SRVGGNetCompact: body.0 (conv), body.1 (act), ..., body.<2n+2> (conv), nothing else
    if "body.0.weight" in sd and all(k.startswith("body.") for k in sd):
        convs = sorted(int(k.split(".")[1]) for k in sd if k.endswith(".weight") and sd[k].dim() == 4)
        if convs != list(range(0, 2 * len(convs) - 1, 2)) or len(convs) < 2:
            raise _layout_error(sd, "body.* looks like SRVGGNetCompact but the conv indices are not 0, 2, 4, ...")
        first, last = sd["body.0.weight"], sd[f"body.{convs[-1]}.weight"]
        num_in_ch = first.shape[1]
        upscale = math.isqrt(last.shape[0] // num_in_ch)
        if upscale * upscale * num_in_ch != last.shape[0]:
            raise _layout_error(sd, f"The last conv has {last.shape[0]} outputs: not {num_in_ch} x a square.")
        if "body.1.weight" in sd:
            act = "prelu"  # PReLU is the only activation with parameters
        elif act_type in ("relu", "leakyrelu"):
            act = act_type
        else:
            raise CheckpointFormatError(
                "This SRVGGNetCompact checkpoint has parameter-free activations, so ReLU and LeakyReLU "
                "cannot be told apart; pass act_type='relu' or act_type='leakyrelu' (CLI: --act-type)."
            )
        config = dict(
            num_in_ch=num_in_ch,
            num_out_ch=num_in_ch,
            num_feat=first.shape[0],
            num_conv=len(convs) - 2,
            upscale=upscale,
            act_type=act,
        )
        return SRVGGNetCompact, config, sd

    raise _layout_error(sd, "Unrecognised super-resolution checkpoint layout.")


def _shape_mismatches(cls: type[torch.nn.Module], config: Mapping, sd: Mapping[str, torch.Tensor]) -> str:
    """What keeps ``sd`` from loading into ``cls(**config)``: "missing: [...]; wrong shape: [...]", or "".

    The model is built on the meta device: shapes only, no memory, no initialisation.
    """
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in cls(**config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in sd.items()}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    wrong = [f"{k}: {got[k]} (expected {expected[k]})" for k in expected if k in got and got[k] != expected[k]]
    return "; ".join(
        f"{what}: {items[:5]}{' ...' if len(items) > 5 else ''}"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if items
    )


def _read_state_dict(
    path: Path,
    wrappers: tuple[str, ...] = ("params_ema", "params", "state_dict"),
    allowed_globals: tuple[type, ...] = (),
) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` / ``.pt`` / ``.pth`` file, from the first ``wrappers`` key present.

    ``allowed_globals``: the few plain classes, besides tensors and containers, that the family's
    files are known to hold (rosinality's ``args``: ``argparse.Namespace``); nothing else unpickles.
    """
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        # weights_only: the unpickler accepts tensors and plain containers only, so a malicious or
        # module-pickling file is refused instead of executing code
        with torch.serialization.safe_globals(list(allowed_globals)):
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (not a zip/pickle), EOFError ...
        raise CheckpointFormatError(
            f"Cannot read {path.name!r} as plain weights ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Only tensor state dicts load here (torch.load weights_only=True); pickled modules or code "
            "are refused. Re-save with torch.save(model.state_dict(), ...) from trusted code."
        ) from err
    if isinstance(obj, dict):
        for wrapper in wrappers:
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]  # the first wrapper wins: BasicSR's EMA weights, rosinality's g_ema
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        what = type(obj).__name__ if not isinstance(obj, dict) else f"dict with keys {list(obj)[:6]}"
        raise CheckpointFormatError(f"{path.name!r} holds a {what}, not a state dict of tensors.")
    return obj


def load_foreign_superres(path: str | os.PathLike, act_type: str | None = None) -> RRDBNet | SRVGGNetCompact:
    """Load an ESRGAN / Real-ESRGAN ``.pth`` (or ``.safetensors``) into our module, architecture detected.

    Accepts BasicSR dicts (``params_ema`` preferred over ``params``), bare state dicts, and the 2018
    (``model.N``) and 2019 (``RRDB_trunk``) ESRGAN layouts. Loading is strict: every tensor must
    find its place with the right shape.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or an unknown key layout (lists keys).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "net.pth")
        >>> torch.save({"params_ema": RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict()}, p)
        >>> net = load_foreign_superres(p)
        >>> type(net).__name__, net.config.num_block, net.config.scale
        ('RRDBNet', 2, 4)
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No checkpoint file at {str(path)!r}.")
    cls, config, sd = convert_superres_state_dict(_read_state_dict(path), act_type=act_type)
    model = cls(**config)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        raise _layout_error(sd, f"Detected {cls.__name__}({config}) but the weights do not fit: {err}") from err
    return model.float().eval()


# --------------------------------------------------------------------------------------------
# foreign StyleGAN2 checkpoints (rosinality/stylegan2-pytorch)
# --------------------------------------------------------------------------------------------

_STYLE_KEY = re.compile(r"^style\.(\d+)\.weight$")
_TO_RGBS_KEY = re.compile(r"^to_rgbs\.(\d+)\.")


def _stylegan2_error(why: str) -> CheckpointFormatError:
    return CheckpointFormatError(
        f"{why} Supported: generator weights of rosinality/stylegan2-pytorch (a .pt with 'g_ema' or 'g', "
        "as written by its train.py or convert_weight.py, or a bare Generator state dict)."
    )


def _stylegan2_widths(sd: Mapping[str, torch.Tensor], size: int) -> dict[int, int]:
    """Channels per resolution as stored: the 4x4 constant, then each ToRGB's input width."""
    widths = {4: sd["input.input"].shape[1]}
    for i in range(int(math.log2(size)) - 2):
        widths[2 ** (i + 3)] = sd[f"to_rgbs.{i}.conv.weight"].shape[2]  # (1, 3, in_channel, 1, 1)
    return widths


def convert_stylegan2_state_dict(
    sd: Mapping[str, torch.Tensor], lr_mlp: float = 0.01
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Detect a rosinality StyleGAN2 generator's hyper-parameters from its state dict.

    Size from the number of ``to_rgbs``, ``style_dim`` and ``n_mlp`` from ``style.<i>.weight``,
    ``channel_base`` / ``channel_max`` from the widths, checked layer by layer against the model
    they describe. ``lr_mlp`` is not stored in the weights (rosinality's default is 0.01).

    Returns ``(config_kwargs, state_dict)`` for :class:`~gan_models.faces.StyleGAN2Generator`.

    Raises:
        CheckpointFormatError: not a StyleGAN2 generator, or widths / shapes no config reproduces.

    Example:
        >>> from gan_models.faces import StyleGAN2Generator
        >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> cfg, _ = convert_stylegan2_state_dict(G.state_dict())
        >>> cfg["size"], cfg["style_dim"], cfg["n_mlp"], cfg["channel_base"], cfg["channel_max"]
        (16, 16, 2, 128, 16)
    """
    from .faces import StyleGAN2Generator, channel_widths

    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel / DDP wrappers
    # 1. the parts every StyleGAN2 generator has
    needed = ("input.input", "conv1.conv.weight", "to_rgb1.conv.weight", "style.1.weight")
    if any(k not in sd for k in needed):
        missing = [k for k in needed if k not in sd]
        raise _stylegan2_error(f"Not a StyleGAN2 generator: missing {missing}; first keys: {list(sd)[:6]}.")

    # 2. mapping network: style.1 ... style.<n_mlp> (style.0 is the parameter-free PixelNorm)
    mlp = sorted(int(m[1]) for k in sd if (m := _STYLE_KEY.match(k)))
    if mlp != list(range(1, len(mlp) + 1)):
        raise _stylegan2_error(f"Mapping layers style.<i> should be numbered 1, 2, ..., got {mlp}.")
    style_dim = sd["style.1.weight"].shape[1]

    # 3. resolution: one ToRGB per doubling above 4 px
    n_rgbs = len({int(m[1]) for k in sd if (m := _TO_RGBS_KEY.match(k))})
    if n_rgbs < 1:
        raise _stylegan2_error("No to_rgbs.<i> layers: a StyleGAN2 generator has at least one (8 px).")
    size = 2 ** (n_rgbs + 2)

    # 4. widths -> (channel_base, channel_max): try every base the widths allow, keep the first that
    #    reproduces all of them (rosinality's 16384 * channel_multiplier is always among them)
    try:
        widths = _stylegan2_widths(sd, size)
    except (KeyError, IndexError) as err:
        raise _stylegan2_error(f"The to_rgbs layers are incomplete for {size} px ({err}).") from err
    channel_max = max(widths.values())
    candidates = sorted({w * r for r, w in widths.items()} | {channel_max * size})
    channel_base = next((b for b in candidates if channel_widths(size, b, channel_max) == widths), None)
    if channel_base is None:
        raise _stylegan2_error(
            f"The layer widths {widths} do not follow min(channel_max, channel_base // resolution) for any "
            "channel_base; this is not a standard StyleGAN2 generator."
        )
    config = {
        "size": size,
        "style_dim": style_dim,
        "n_mlp": len(mlp),
        "channel_base": channel_base,
        "channel_max": channel_max,
        "lr_mlp": lr_mlp,
    }

    # 5. every tensor against the model this config builds
    if details := _shape_mismatches(StyleGAN2Generator, config, sd):
        raise _stylegan2_error(f"Detected StyleGAN2Generator({config}) but the weights do not fit: {details}.")
    return config, sd


def load_foreign_stylegan2(path: str | os.PathLike, lr_mlp: float = 0.01):
    """Load a rosinality/stylegan2-pytorch generator (``.pt`` or ``.safetensors``) into ours, size detected.

    Takes ``g_ema`` (the EMA weights everyone samples from), else ``g``, else a bare state dict. The
    ``args`` entry of a training checkpoint is an ``argparse.Namespace``: exactly that class is
    allowed through the weights-only unpickler, nothing else. Loading is strict.

    Returns:
        A float32 :class:`~gan_models.faces.StyleGAN2Generator` in eval mode.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or not a StyleGAN2 generator.

    Example:
        >>> import argparse, tempfile, os
        >>> from gan_models.faces import StyleGAN2Generator
        >>> G = StyleGAN2Generator(size=16, style_dim=16, n_mlp=2, channel_base=128, channel_max=16)
        >>> p = os.path.join(tempfile.mkdtemp(), "ffhq.pt")
        >>> torch.save({"g_ema": G.state_dict(), "args": argparse.Namespace(size=16)}, p)
        >>> load_foreign_stylegan2(p).config.size
        16
    """
    from .faces import StyleGAN2Generator

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No checkpoint file at {str(path)!r}.")
    sd = _read_state_dict(path, wrappers=("g_ema", "g", "state_dict"), allowed_globals=(argparse.Namespace,))
    config, sd = convert_stylegan2_state_dict(sd, lr_mlp=lr_mlp)
    model = StyleGAN2Generator(**config)
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as err:  # shapes were checked; this is a last line of defence
        raise _stylegan2_error(f"Detected StyleGAN2Generator({config}) but loading failed: {err}") from err
    return model.float().eval()


# --------------------------------------------------------------------------------------------
# foreign CycleGAN generators (junyanz/pytorch-CycleGAN-and-pix2pix)
# --------------------------------------------------------------------------------------------

_RESNET_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.")
# statistics old PyTorch (< 0.4) saved for InstanceNorm, which junyanz's networks do not use;
# junyanz's own loader (__patch_instance_norm_state_dict) deletes them the same way
_INSTANCE_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
_FIRST_RESNET_BLOCK = 10  # model.0-3: stem, model.4-9: two downsamplings, then the blocks


def _cyclegan_error(why: str) -> CheckpointFormatError:
    return CheckpointFormatError(
        f"{why} Supported: junyanz/pytorch-CycleGAN-and-pix2pix ResNet generators (--netG resnet_9blocks or "
        "resnet_6blocks, instance norm, no dropout: the CycleGAN defaults), e.g. latest_net_G_A.pth, "
        "latest_net_G_B.pth or the single-direction latest_net_G.pth."
    )


def convert_cyclegan_state_dict(sd: Mapping[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """Detect a junyanz ResNet generator's hyper-parameters from its state dict and clean it.

    Drops the ``module.`` prefix of DataParallel and the instance-norm running statistics old
    PyTorch saved; ``n_blocks`` from the ``model.<i>.conv_block`` keys, ``ngf`` and the channels
    from the first and last convolutions; then every tensor is checked against the model they describe.

    Returns ``(config_kwargs, state_dict)`` for :class:`~gan_models.translation.ResnetGenerator`
    (the same order as :func:`convert_stylegan2_state_dict`).

    Raises:
        CheckpointFormatError: a U-Net generator, a discriminator, batch norm, dropout, or any
            key or shape the detected ResNet generator does not have.

    Example:
        >>> from gan_models.translation import ResnetGenerator
        >>> sd = ResnetGenerator(ngf=8, n_blocks=6).state_dict()
        >>> sd["model.2.running_mean"] = torch.zeros(8)  # what PyTorch 0.3 wrote for InstanceNorm
        >>> config, clean = convert_cyclegan_state_dict(sd)
        >>> config, "model.2.running_mean" in clean
        ({'in_channels': 3, 'out_channels': 3, 'ngf': 8, 'n_blocks': 6}, False)
    """
    from .translation import ResnetGenerator

    # 1. wrappers and leftovers: DataParallel's prefix, old instance-norm statistics
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if k.rsplit(".", 1)[-1] not in _INSTANCE_NORM_STATS}

    # 2. the other junyanz networks, named so the user knows which file to take instead
    if any(k.startswith("model.model.") for k in sd):
        raise _cyclegan_error(
            "This is a U-Net generator (--netG unet_256 / unet_128, pix2pix's default): not supported."
        )
    if "model.0.weight" in sd or any(k.startswith("net.") for k in sd):
        raise _cyclegan_error(
            "This looks like a PatchGAN / pixel discriminator (latest_net_D_A.pth), not a generator; convert "
            "the generator files latest_net_G_A.pth / latest_net_G_B.pth."
        )
    if "model.1.weight" not in sd:
        raise _cyclegan_error(f"Not a CycleGAN ResNet generator: no model.1.weight; first keys: {list(sd)[:6]}.")

    # 3. residual blocks model.10 ... model.<9 + n_blocks>, each with convs at conv_block.1 and .5
    blocks = sorted({int(m[1]) for k in sd if (m := _RESNET_BLOCK_KEY.match(k))})
    if blocks != list(range(_FIRST_RESNET_BLOCK, _FIRST_RESNET_BLOCK + len(blocks))):
        raise _cyclegan_error(f"The residual blocks should be model.10, model.11, ..., got model.{blocks}.")
    if any(k.endswith(".conv_block.6.weight") for k in sd):
        raise _cyclegan_error("The residual blocks have dropout (trained with --use_dropout): not supported.")
    norm_keys = [k for k in sd if k.startswith(("model.2.", "model.5.", "model.8."))]
    if norm_keys:
        raise _cyclegan_error(
            f"The normalisation layers have parameters {norm_keys[:2]} (--norm batch): not supported."
        )
    n_blocks = len(blocks)
    last = f"model.{_FIRST_RESNET_BLOCK + n_blocks + 7}.weight"  # 2 x (convT, norm, ReLU), pad, conv
    if last not in sd:
        raise _cyclegan_error(f"Detected {n_blocks} residual blocks, so the last conv should be {last}; it is missing.")
    first = sd["model.1.weight"]  # (ngf, in_channels, 7, 7)
    config = {
        "in_channels": first.shape[1],
        "out_channels": sd[last].shape[0],
        "ngf": first.shape[0],
        "n_blocks": n_blocks,
    }

    # 4. every tensor against the model this config builds
    if details := _shape_mismatches(ResnetGenerator, config, sd):
        raise _cyclegan_error(f"Detected ResnetGenerator({config}) but the weights do not fit: {details}.")
    return config, sd


def load_foreign_cyclegan(path: str | os.PathLike):
    """Load a junyanz CycleGAN generator (``.pth`` or ``.safetensors``) into ours, size detected.

    junyanz saves each network as a bare state dict (``latest_net_G_A.pth`` maps A -> B,
    ``latest_net_G_B.pth`` B -> A); a ``state_dict`` or ``model`` wrapper is accepted too. Only
    tensors are unpickled (``weights_only``). Loading is strict.

    Returns:
        A float32 :class:`~gan_models.translation.ResnetGenerator` in eval mode.

    Raises:
        CheckpointFormatError: unreadable, pickled objects, or not a ResNet CycleGAN generator.

    Example:
        >>> import tempfile, os
        >>> from gan_models.translation import ResnetGenerator
        >>> p = os.path.join(tempfile.mkdtemp(), "latest_net_G_A.pth")
        >>> torch.save(ResnetGenerator(ngf=8, n_blocks=2).state_dict(), p)
        >>> load_foreign_cyclegan(p).config.n_blocks
        2
    """
    from .translation import ResnetGenerator

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No checkpoint file at {str(path)!r}.")
    config, sd = convert_cyclegan_state_dict(_read_state_dict(path, wrappers=("state_dict", "model")))
    model = ResnetGenerator(**config)
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as err:  # shapes were checked; this is a last line of defence
        raise _cyclegan_error(f"Detected ResnetGenerator({config}) but loading failed: {err}") from err
    return model.float().eval()
