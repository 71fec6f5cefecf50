"""Imports go one way (docs/architecture.md): a package uses only those below it.

    foundation: errors, intrinsics, image_io, exif, threads, atomic_files, stage_names,
    texture_projection, network_view
      <- model <- api <- {addon, batch, training}
      <- blender       <- {addon, batch, training}
    training/diagnostics uses the rest of training; nothing in training uses it.
    The package root (blender_p2m/__init__.py, __main__.py) joins the add-on and the batch;
    its __version__ may be read by anyone.

Every import counts, also one inside a function: a lazy import is still a dependency.
The checker is tested on made-up modules too, so that it can fail.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("blender_p2m", "training")
FOUNDATION = {"errors", "intrinsics", "image_io", "exif", "threads", "atomic_files", "stage_names",
              "texture_projection", "network_view"}

# Which parts each part may import (itself included).
ALLOWED = {
    "foundation": {"foundation"},
    "model": {"foundation", "model"},
    "api": {"foundation", "model", "api"},
    "blender": {"foundation", "blender"},
    "addon": {"foundation", "api", "blender", "addon"},
    "batch": {"foundation", "api", "blender", "batch"},
    "training": {"foundation", "model", "api", "blender", "training"},
    "training.diagnostics": {"foundation", "model", "api", "blender", "training", "training.diagnostics"},
    "root": {"foundation", "model", "api", "blender", "addon", "batch", "root"},
}
# What the add-on's modules may import when they are loaded: the standard library and the
# runtime (torch, numpy, Pillow for the API; Blender's own modules). Development libraries
# (matplotlib, tqdm, pretrained weights) belong to training and tests.
RUNTIME_LIBRARIES = {"numpy", "torch", "PIL", "bpy", "mathutils", "bpy_extras", "addon_utils"}


def part_of(module: str) -> str | None:
    """The part of the architecture a module belongs to; None for other code (libraries)."""
    parts = module.split(".")
    if parts[0] == "training":
        return "training.diagnostics" if parts[1:2] == ["diagnostics"] else "training"
    if parts[0] != "blender_p2m":
        return None
    if len(parts) == 1 or parts[1] == "__main__":
        return "root"
    if parts[1] in FOUNDATION:
        return "foundation"
    if parts[1] in ALLOWED:
        return parts[1]
    return f"unknown part {parts[1]!r}"


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def project_modules() -> dict[str, tuple[str, bool]]:
    """{module name: (source, is_package)} of every module of both packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[module_name(path)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return found


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, whether it runs when the module is loaded) for every import."""
    package = module if is_package else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, not in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in known else base, node.lineno, not in_function))
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def violations(modules: dict[str, tuple[str, bool]]) -> list[str]:
    """Every import that goes against the order, and every library the runtime must not load."""
    known = set(modules)
    problems = []
    for module, (source, is_package) in sorted(modules.items()):
        importer = part_of(module)
        if importer.startswith("unknown"):
            problems.append(f"{module}: {importer}: place it in the order (tests/test_import_order.py)")
            continue
        for imported, line, at_top in imports_of(module, source, is_package, known):
            if imported == "blender_p2m":
                continue      # the package itself (__version__): loaded with any of its modules
            target = part_of(imported)
            if target is None:
                library = imported.split(".")[0]
                if (module.startswith("blender_p2m") and at_top and library not in sys.stdlib_module_names
                        and library not in RUNTIME_LIBRARIES and library != "__future__"):
                    problems.append(f"{module}:{line} loads {library}, which the add-on's runtime lacks")
                continue
            if target not in ALLOWED[importer]:
                problems.append(f"{module}:{line} ({importer}) imports {imported} ({target})")
    return problems


def test_imports_go_one_way():
    modules = project_modules()
    assert "blender_p2m.blender.camera" in modules and "training.train" in modules
    assert violations(modules) == []


@pytest.mark.parametrize("module, source, expected", [
    ("blender_p2m.model.checkpoint", "from ..batch.atomic_files import atomic_path\n",
     "blender_p2m.model.checkpoint:1 (model) imports blender_p2m.batch.atomic_files (batch)"),
    ("blender_p2m.batch.preview", "def render():\n    from ..addon.image_input import image_to_rgba\n",
     "blender_p2m.batch.preview:2 (batch) imports blender_p2m.addon.image_input (addon)"),
    ("blender_p2m.addon", "from ..batch import cli_command\n",
     "blender_p2m.addon:1 (addon) imports blender_p2m.batch.cli_command (batch)"),
    ("training.data.build", "from blender_p2m.batch.progress import format_duration\n",
     "training.data.build:1 (training) imports blender_p2m.batch.progress (batch)"),
    ("training.train", "from .diagnostics import fit_ceiling\n",
     "training.train:1 (training) imports training.diagnostics.fit_ceiling (training.diagnostics)"),
    ("blender_p2m.api", "import tqdm\n", "blender_p2m.api:1 loads tqdm, which the add-on's runtime lacks"),
    ("blender_p2m.helpers", "import os\n", "blender_p2m.helpers: unknown part 'helpers'"),
])
def test_the_checker_catches_imports_against_the_order(module, source, expected):
    modules = {module: (source, module == "blender_p2m.addon"),
               "blender_p2m.batch.cli_command": ("", False), "blender_p2m.batch.atomic_files": ("", False),
               "blender_p2m.addon.image_input": ("", False), "blender_p2m.batch.progress": ("", False),
               "training.diagnostics.fit_ceiling": ("", False)}
    found = violations(modules)
    assert any(p.startswith(expected) for p in found), found


def test_the_blender_layer_and_the_foundation_do_without_torch():
    """The add-on registers, and Blender helpers run, where PyTorch is not installed."""
    modules = project_modules()
    for module, (source, is_package) in modules.items():
        if part_of(module) in ("blender", "foundation"):
            libraries = {imported.split(".")[0] for imported, _, _ in imports_of(module, source, is_package, set(modules))}
            assert "torch" not in libraries, module
