"""The house rules of ../shared/ARCHITECTURE.md, checked on the source (imports read with ``ast``, nothing run).

- dependencies point one way: spaces -> gan_models <- training; benchmarks import no UI;
- gan_models never imports training, gradio or accelerate; pipelines never import card or Hub-upload code;
- a Space never imports another Space's UI, nor training;
- nobody imports another module's private (``_name``) helpers;
- rooms stay small: no file over 500 lines, no function over 80.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
CODE_FOLDERS = ("gan_models", "training", "spaces", "benchmarks")


def python_files(*folders: str) -> list[Path]:
    files = [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]
    return [path for path in files if "__pycache__" not in path.parts]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every import in ``path``, relative ones resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def violations(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    """Imports of any module under ``forbidden`` (a prefix: "training" also forbids "training.engine")."""
    out = []
    for path in python_files(*folders):
        for module, _, line in imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


def test_the_library_imports_no_training_ui_or_accelerate():
    # (a bare `import spaces` is Hugging Face's ZeroGPU package, not this repository's Space folders)
    assert violations(("gan_models",), ("training", "gradio", "accelerate", "benchmarks", "app")) == []


def test_pipelines_import_no_card_or_hub_upload_code():
    assert violations(("gan_models/pipelines",), ("gan_models.cards", "gan_models.upload", "huggingface_hub")) == []


def test_training_and_benchmarks_import_no_ui():
    ui = ("gradio", "app", *(f"spaces.{p.name}" for p in (ROOT / "spaces").iterdir() if p.is_dir()))
    assert violations(("training", "benchmarks"), ui) == []


def test_spaces_import_neither_training_nor_each_other():
    assert violations(("spaces",), ("training", "benchmarks", "app")) == []
    crossing = []
    for path in python_files("spaces"):
        family = path.relative_to(ROOT / "spaces").parts[0]
        for module, _, line in imports(path):
            if module.startswith("spaces.") and module.split(".")[1] != family:
                crossing.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert crossing == []


def test_no_module_imports_another_modules_private_helpers():
    found = []
    for path in python_files(*CODE_FOLDERS):
        for module, names, line in imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            own = module.split(".")[0] in CODE_FOLDERS
            if private and own and module != _module_name(path):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {', '.join(private)} from {module}")
    assert found == []


@pytest.mark.parametrize("folder", [*CODE_FOLDERS, "tests"])
def test_rooms_stay_small_enough_to_read(folder: str):
    too_long = []
    for path in python_files(folder):
        source = path.read_text()
        lines = source.count("\n") + 1
        if lines > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() {length} lines")
    assert too_long == []
