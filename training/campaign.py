"""One command that turns a short GPU window into trained, exported models.

    python -m training.campaign --families faces,translation --minutes 4 --out $OUT
    python -m training.campaign --plan                        # what each GPU command carries (<= 64 MiB?)
    python -m training.campaign --unpack results/*.zip --to runs/gpu   # back on the CPU

A campaign trains several families **concurrently on one GPU**, each from its GPU preset
(``training/configs/gpu/*.yaml``) and its data packs (``python -m training.pack_data``), each in its
own process with a wall-clock budget (``max_minutes``: the engine measures its speed and shortens
the run, schedule included, to end in time). A family may have stages that run one after the other
inside its share of the minutes (super-resolution: the L1 model, then its GAN fine-tune starting
from it). Every stage exports its EMA generator as an fp16 pipeline folder, and the campaign packs
each stage's result (pipeline, resolved config, training log, ``train_summary.json``, last samples,
TensorBoard events) into one zip of at most 16 MiB in ``--out``, so that it comes back from the GPU
machine. Runs themselves live in ``--work`` (default: a temporary folder).

Nothing here imports torch, gradio or diffusers: it only starts the recipes
(``training/train_<family>.py``), so it runs wherever they run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKS_PREFIX = "packs/"  # presets name their data as pack:packs/<file> or packs/<file>; --packs replaces it
RESULT_LIMIT = 16 * 2**20  # one file that comes back from the GPU machine
CARRY_LIMIT = 64 * 2**20  # what one GPU command carries: the checkout (without checkpoints/) + carried paths


@dataclass(frozen=True)
class Stage:
    """One training run of a family: a recipe script, its GPU preset and its share of the minutes."""

    name: str  # the run folder and result name, e.g. "faces-celeba64"
    script: str  # relative to the repository, e.g. "training/train_faces.py"
    preset: str  # relative to the repository
    share: float = 1.0  # of the family's minutes
    starts_from: str = ""  # a stage of the same family whose exported pipeline this one starts from

    def preset_values(self) -> dict:
        return yaml.safe_load((REPO_ROOT / self.preset).read_text()) or {}

    def packs(self) -> list[str]:
        """The pack files the preset reads (values written pack:packs/<file> or packs/<file>)."""
        found = []
        for value in self.preset_values().values():
            text = str(value).removeprefix("pack:").split("#")[0]
            if text.startswith(PACKS_PREFIX):
                found.append(text[len(PACKS_PREFIX) :])
        return found


#: Each family's stages, in order. A new family adds one line (and its preset and packs).
FAMILIES: dict[str, tuple[Stage, ...]] = {
    "faces": (Stage("faces-celeba64", "training/train_faces.py", "training/configs/gpu/faces_celeba64.yaml"),),
    "translation": (Stage("face2anime", "training/train_cyclegan.py", "training/configs/gpu/face2anime.yaml"),),
    "text2image": (
        Stage("anime-text2image", "training/train_text2image.py", "training/configs/gpu/anime_text2image.yaml"),
    ),
    "superres": (
        Stage("superres-x4-psnr", "training/train_superres.py", "training/configs/gpu/superres_psnr.yaml", 0.65),
        Stage(
            "superres-x4-gan",
            "training/train_superres.py",
            "training/configs/gpu/superres_gan.yaml",
            0.35,
            starts_from="superres-x4-psnr",
        ),
    ),
}

#: The GPU commands of the runbook: which families train together in one command. Their data packs
#: decide it: each command carries at most 64 MiB (``--plan`` prints the sums).
GPU_COMMANDS: dict[str, tuple[str, ...]] = {
    "faces+translation": ("faces", "translation"),
    "text2image": ("text2image",),
    "superres": ("superres",),
}


class CampaignError(ValueError):
    """A campaign that cannot start (unknown family, missing pack, bad --set), with what to do."""


def parse_families(text: str) -> list[str]:
    """``"faces,translation"`` -> the families, checked against ``FAMILIES``.

    Example:
        >>> parse_families("faces, superres")
        ['faces', 'superres']
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAMILIES]
    if unknown or not names:
        raise CampaignError(f"Unknown or no families {unknown or text!r}; choose from {', '.join(FAMILIES)}.")
    return list(dict.fromkeys(names))


def parse_overrides(items: list[str], families: list[str]) -> dict[str, list[str]]:
    """``--set faces:size=16`` (a family: all its stages) or ``--set superres-x4-gan:adv_weight=0.1``
    -> stage name -> ``--key=value`` arguments for its recipe.

    Example:
        >>> parse_overrides(["faces:batch_size=8"], ["faces"])
        {'faces-celeba64': ['--batch_size=8']}
    """
    stages = {stage.name: family for family in families for stage in FAMILIES[family]}
    out: dict[str, list[str]] = {}
    for item in items:
        target, _, assignment = item.partition(":")
        if "=" not in assignment:
            raise CampaignError(f"--set takes FAMILY:KEY=VALUE or STAGE:KEY=VALUE, got {item!r}.")
        if target in families:
            names = [stage.name for stage in FAMILIES[target]]
        elif target in stages:
            names = [target]
        else:
            raise CampaignError(f"--set {item!r}: {target!r} is neither a chosen family nor one of its stages.")
        for name in names:
            out.setdefault(name, []).append(f"--{assignment}")
    return out


def pack_arguments(stage: Stage, packs_dir: Path) -> list[str]:
    """``--key=value`` arguments that point the preset's pack paths at ``packs_dir``."""
    args = []
    for key, value in stage.preset_values().items():
        text = str(value)
        for prefix in ("pack:" + PACKS_PREFIX, PACKS_PREFIX):
            if text.startswith(prefix):
                args.append(f"--{key}={prefix.removesuffix(PACKS_PREFIX)}{packs_dir / text[len(prefix) :]}")
                break
    return args


def missing_packs(families: list[str], packs_dir: Path) -> list[str]:
    needed = [(family, name) for family in families for stage in FAMILIES[family] for name in stage.packs()]
    return [
        f"{packs_dir / name} (python -m training.pack_data {family} --out {packs_dir})"
        for family, name in dict.fromkeys(needed)
        if not (packs_dir / name).is_file()
    ]


# ---------------------------------------------------------------------------- running
def _run_stage(stage: Stage, seconds: float, work: Path, packs_dir: Path, extra: list[str], threads: int) -> dict:
    folder = work / stage.name
    folder.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, str(REPO_ROOT / stage.script), "--config", str(REPO_ROOT / stage.preset)]
    args += [f"--output_dir={folder}", f"--max_minutes={max(seconds, 1.0) / 60:.4f}"]
    args += pack_arguments(stage, packs_dir)
    if stage.starts_from:
        args.append(f"--pretrained={work / stage.starts_from / 'pipeline'}")
    args += extra
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads)}
    started = time.time()
    with (folder / "train.log").open("w") as log:
        log.write("$ " + " ".join(args) + "\n")
        log.flush()
        rc = subprocess.run(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    return {"stage": stage.name, "rc": rc, "wall_s": round(time.time() - started, 1)}


def _run_family(
    family: str,
    minutes: float,
    reserve_s: float,
    work: Path,
    packs_dir: Path,
    overrides: dict[str, list[str]],
    threads: int,
    results: list[dict],
) -> None:
    """The family's stages one after another; a failed stage skips the ones that follow it."""
    failed = False
    for stage in FAMILIES[family]:
        if failed:
            results.append({"stage": stage.name, "family": family, "rc": None, "wall_s": 0.0, "skipped": True})
            continue
        budget = minutes * 60 * stage.share - reserve_s  # the reserve: start-up, export and samples
        result = _run_stage(stage, budget, work, packs_dir, overrides.get(stage.name, []), threads)
        result["family"] = family
        results.append(result)
        failed = result["rc"] != 0


def pack_result(folder: Path, zip_path: Path) -> int:
    """Zip a finished stage (pipeline, config, log, summary, last samples, events) into <= 16 MiB.

    Samples beyond the last two and TensorBoard events are the first things dropped when over.
    """
    keep = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and "checkpoints" not in p.relative_to(folder).parts
        and "text_cache" not in p.relative_to(folder).parts
    ]
    samples = sorted(p for p in keep if p.parent.name == "samples")
    droppable = [samples[:-2], [p for p in keep if "logs" in p.relative_to(folder).parts], samples[-2:]]
    dropped: set[Path] = set()
    for extra_drop in [[], *droppable]:
        dropped |= set(extra_drop)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in keep:
                if path not in dropped:
                    archive.write(path, Path(folder.name) / path.relative_to(folder))
        if zip_path.stat().st_size <= RESULT_LIMIT:
            return zip_path.stat().st_size
    zip_path.unlink()
    raise CampaignError(f"{folder.name}'s result is over 16 MiB even without samples and logs: is the model > 8 MB?")


def run_campaign(
    families: list[str],
    minutes: float,
    out: Path,
    packs_dir: Path,
    work: Path | None = None,
    overrides: dict[str, list[str]] | None = None,
    reserve_s: float = 20.0,
) -> list[dict]:
    """Train ``families`` concurrently for ``minutes`` each; returns one result row per stage."""
    if minutes <= 0:
        raise CampaignError(f"--minutes must be > 0, got {minutes}.")
    missing = missing_packs(families, packs_dir)
    if missing:
        raise CampaignError("Missing data packs; make them first:\n  " + "\n  ".join(missing))
    work = Path(work or tempfile.mkdtemp(prefix="campaign-"))
    out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 2) // len(families))
    results: list[dict] = []
    workers = [
        threading.Thread(
            target=_run_family,
            args=(family, minutes, reserve_s, work, packs_dir, overrides or {}, threads, results),
        )
        for family in families
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    order = [stage.name for family in families for stage in FAMILIES[family]]
    results.sort(key=lambda row: order.index(row["stage"]))
    for row in results:
        folder = work / row["stage"]
        summary = folder / "train_summary.json"
        if row["rc"] == 0 and summary.is_file():
            row.update({k: v for k, v in json.loads(summary.read_text()).items() if k != "metrics"})
        if row["rc"] is not None and folder.is_dir():
            try:
                row["zip_bytes"] = pack_result(folder, out / f"{row['stage']}.zip")
            except CampaignError as err:
                row["error"] = str(err)
        if row["rc"]:  # the end of a failed run's log, where the error is
            row["log_tail"] = (folder / "train.log").read_text(errors="replace")[-2000:]
    (out / "campaign.json").write_text(json.dumps({"minutes": minutes, "work": str(work), "stages": results}, indent=1))
    return results


def summary_table(results: list[dict]) -> str:
    lines = ["| stage | status | steps | images/s (last) | seconds | result zip |", "|---|---|---:|---:|---:|---:|"]
    for row in results:
        status = "skipped" if row.get("skipped") else ("ok" if row["rc"] == 0 else f"failed (rc {row['rc']})")
        speeds = row.get("images_per_s") or []
        speed = f"{speeds[-1][1]:,.0f}" if speeds else ""
        size = f"{row['zip_bytes'] / 2**20:.1f} MiB" if "zip_bytes" in row else row.get("error", "")
        lines.append(f"| {row['stage']} | {status} | {row.get('steps', '')} | {speed} | {row['wall_s']} | {size} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plan and unpack
def code_bytes() -> int:
    """What the checkout carries to the GPU machine: tracked and untracked-not-ignored files, without
    ``checkpoints/`` (the runbook moves it aside during a GPU command) and ``.whl/`` (counted apart)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    names = {n for n in listed.split("\0") if n and not n.startswith(("checkpoints/", ".whl/"))}
    return sum((REPO_ROOT / n).stat().st_size for n in names if (REPO_ROOT / n).is_file())


def _carry_name(path: Path) -> str:
    """A path as the device tool's ``carry`` wants it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def plan_table(packs_dir: Path, wheels_dir: Path) -> tuple[str, bool]:
    """One row per planned GPU command: code + wheels + its packs against the 64 MiB a command carries,
    and the paths to name in the device tool's ``carry``. Returns (table, every command fits)."""
    code = code_bytes()
    wheels = sum(p.stat().st_size for p in wheels_dir.glob("*.whl")) if wheels_dir.is_dir() else 0
    mib = 2**20
    lines = [
        f"code (git ls-files, tracked + untracked, without checkpoints/): {code / mib:.1f} MiB; "
        f"wheels in {wheels_dir}: {wheels / mib:.1f} MiB; each GPU command carries at most 64 MiB",
        "| GPU command | families | packs MiB | carried MiB | fits | carry |",
        "|---|---|---:|---:|---|---|",
    ]
    all_fit = True
    for command, families in GPU_COMMANDS.items():
        names = list(dict.fromkeys(n for f in families for stage in FAMILIES[f] for n in stage.packs()))
        missing = [n for n in names if not (packs_dir / n).is_file()]
        size = sum((packs_dir / n).stat().st_size for n in names if n not in missing)
        total = code + wheels + size
        fits = "missing " + ", ".join(missing) if missing else ("yes" if total <= CARRY_LIMIT else "NO")
        all_fit &= fits == "yes"
        carry = " ".join([_carry_name(wheels_dir)] + [_carry_name(packs_dir / n) for n in names])
        lines.append(f"| {command} | {', '.join(families)} | {size / mib:.1f} | {total / mib:.1f} | {fits} | {carry} |")
    return "\n".join(lines), all_fit


def unpack_results(zips: list[Path], to: Path) -> list[Path]:
    """Extract result zips into ``to/<stage>/``; refuses members that would land outside it."""
    folders = []
    for zip_path in zips:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                target = (to / member).resolve()
                if not target.is_relative_to(to.resolve()):
                    raise CampaignError(f"{zip_path} holds {member!r}, which would land outside {to}; not extracting.")
            archive.extractall(to)
            folders.append(to / Path(archive.namelist()[0]).parts[0])
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="faces,translation", help=f"comma list of {', '.join(FAMILIES)}")
    parser.add_argument("--minutes", type=float, default=4.0, help="each family's wall-clock budget")
    parser.add_argument("--out", type=Path, help="where the result zips and campaign.json go ($OUT on the GPU)")
    parser.add_argument("--packs", type=Path, default=REPO_ROOT / "packs", help="folder of the data packs")
    parser.add_argument("--work", type=Path, help="run folders (default: a temporary folder)")
    parser.add_argument("--set", action="append", default=[], metavar="FAMILY:KEY=VALUE", help="recipe overrides")
    parser.add_argument("--reserve", type=float, default=20.0, help="seconds per stage kept for start-up and export")
    parser.add_argument("--plan", action="store_true", help="print what each planned GPU command carries, then exit")
    parser.add_argument(
        "--wheels", type=Path, default=REPO_ROOT / ".whl", help="wheels carried to the GPU (for --plan)"
    )
    parser.add_argument("--unpack", type=Path, nargs="+", help="result zips to extract (with --to), then exit")
    parser.add_argument("--to", type=Path, default=REPO_ROOT / "runs" / "gpu")
    args = parser.parse_args(argv)
    try:
        if args.plan:
            table, fits = plan_table(args.packs, args.wheels)
            print(table)
            return 0 if fits else 1
        if args.unpack:
            for folder in unpack_results(args.unpack, args.to):
                print(f"unpacked {folder} (pipeline: {folder / 'pipeline'})")
            return 0
        if args.out is None:
            parser.error("--out is required to run a campaign")
        families = parse_families(args.families)
        overrides = parse_overrides(args.set, families)
        print(
            f"campaign: {', '.join(families)} for {args.minutes} min each, concurrently; results -> {args.out}",
            flush=True,
        )
        results = run_campaign(families, args.minutes, args.out, args.packs, args.work, overrides, args.reserve)
    except CampaignError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary_table(results))
    for row in results:
        if row.get("log_tail"):
            print(f"\n--- {row['stage']}: end of train.log ---\n{row['log_tail']}")
    return 0 if all(row["rc"] == 0 and "zip_bytes" in row for row in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
