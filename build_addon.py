"""Build the add-on zip: one file that installs as a legacy add-on (Blender 3.4+) and as an
extension (Blender 4.2+).

    python build_addon.py                       # dist/blender_p2m-<version>.zip
    python build_addon.py --with-wheels linux-x64 [--with-wheels windows-x64 ...]
    python build_addon.py --with-wheels linux-x64 --wheels-from DIR   # wheels already downloaded

Layout (both installers accept it):

    blender_p2m/__init__.py             bl_info: what a legacy install (3.4+) looks for
    blender_p2m/blender_manifest.toml   what an extension install (4.2+) looks for; Blender
                                        accepts the manifest inside one top-level folder
    blender_p2m/weights/<BUNDLED_WEIGHTS_NAME>  the bundled weights (when present), named in api.py
    blender_p2m/wheels/*.whl            PyTorch and its dependencies (--with-wheels only)

The zip is reproducible: entries sorted, timestamps and permissions fixed, so the same tree
gives a byte-identical file. It is written to a temporary name, validated with Blender's own
extension validator where one is available, and only then renamed into place.
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent
PACKAGE = "blender_p2m"
EXCLUDE_PATTERNS = ("__pycache__", "*.pyc", "*.pyo", ".*", "*.tmp", "*.blend1", "*.orig",
                    "*.rej", "*~", "wheels", "weights")   # weights/wheels are added explicitly
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)                      # the earliest a zip can hold
FILE_MODE = 0o100644                                       # regular file, rw-r--r--
PYTHON_VERSION = "3.11"                                    # Blender 4.2 to 5.0 ship Python 3.11

# Blender extension platform -> pip --platform tags (newest first) and where PyTorch's CPU
# build comes from (PyPI's Linux wheel is the multi-gigabyte CUDA one).
WHEEL_PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_11_0_arm64",),
}
TORCH_CPU_INDEX = {"linux-x64": "https://download.pytorch.org/whl/cpu",
                   "windows-x64": "https://download.pytorch.org/whl/cpu",
                   "macos-arm64": None}
WHEEL_PACKAGES = ("torch",)

MANIFEST = dict(
    schema_version="1.0.0",
    id=PACKAGE,
    name="Pixel2Mesh",
    tagline="Reconstruct a mesh from a single image, aligned with the camera",
    maintainer="blender-p2m developers",
    type="add-on",
    blender_version_min="4.2.0",
    license=["SPDX:GPL-3.0-or-later"],
    tags=["Mesh", "Import-Export"],
)
PERMISSIONS = {
    "files": "Reads images and weights, writes meshes and previews",
    "network": "Installs PyTorch with pip when you click Install PyTorch",
}


class BuildError(Exception):
    """A problem with the tree or the options, explained in one line."""


@dataclass(frozen=True)
class Entry:
    """One file of the zip: its name inside the archive and where its bytes come from."""

    arcname: str
    source: Path


# ----------------------------------------------------------------------------- version
def module_assignments(path: Path) -> dict[str, ast.expr]:
    """A module's top-level `NAME = value` statements, parsed, not imported (no bpy, no torch)."""
    values = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    return values


def read_version(package_dir: Path) -> str:
    """`__version__` from the package's __init__.py, checked against bl_info["version"] so the
    two never disagree."""
    values = module_assignments(package_dir / "__init__.py")
    if "__version__" not in values or "bl_info" not in values:
        raise BuildError(f"{package_dir}/__init__.py must define both __version__ and bl_info.")
    version = ast.literal_eval(values["__version__"])
    bl_version = ast.literal_eval(values["bl_info"]).get("version")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise BuildError(f"__version__ must look like 1.2.3, found {version!r}.")
    if tuple(int(p) for p in version.split(".")) != tuple(bl_version or ()):
        raise BuildError(f"__version__ {version} and bl_info version {bl_version} differ; "
                         f"make them the same.")
    return version


# ----------------------------------------------------------------------------- files
def _excluded(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDE_PATTERNS)


def package_entries(repo: Path) -> list[Entry]:
    """Every file of the add-on package, minus caches, hidden and temporary files."""
    package_dir = repo / PACKAGE
    entries = []
    for folder, subfolders, files in os.walk(package_dir):
        subfolders[:] = sorted(d for d in subfolders if not _excluded(d))
        for name in files:
            if _excluded(name):
                continue
            path = Path(folder) / name
            entries.append(Entry(path.relative_to(repo).as_posix(), path))
    return entries


def weights_files(package_dir: Path) -> tuple[str, str]:
    """The bundled weights' file name, as the API looks for it (api.BUNDLED_WEIGHTS_NAME), and
    its model card."""
    assigned = module_assignments(package_dir / "api.py")
    if "BUNDLED_WEIGHTS_NAME" not in assigned:
        raise BuildError(f"{package_dir}/api.py must assign BUNDLED_WEIGHTS_NAME = \"<file>.pt\" (no "
                         f"annotation): the build reads the bundled weights' name from there.")
    return ast.literal_eval(assigned["BUNDLED_WEIGHTS_NAME"]), "MODEL_CARD.md"


def weights_entries(repo: Path) -> tuple[list[Entry], str | None]:
    """The bundled weights (and their model card) from weights/; a warning when absent."""
    files = weights_files(repo / PACKAGE)
    entries = [Entry(f"{PACKAGE}/weights/{name}", repo / "weights" / name)
               for name in files if (repo / "weights" / name).is_file()]
    warning = None
    if not any(e.arcname.endswith(".pt") for e in entries):
        warning = (f"WARNING: weights/{files[0]} not found: the add-on is built "
                   f"WITHOUT bundled weights. Users will have to pick a weights file in the "
                   f"preferences. Train and export the weights first (see weights/MODEL_CARD.md).")
    return entries, warning


def license_entries(repo: Path) -> list[Entry]:
    return [Entry(f"{PACKAGE}/{name}", repo / name)
            for name in ("LICENSE", "LICENSE.txt", "COPYING") if (repo / name).is_file()]


# ----------------------------------------------------------------------------- wheels
def pip_download_command(platform: str, dest: Path, packages=WHEEL_PACKAGES) -> list[str]:
    """pip command downloading binary wheels of `packages` (and dependencies) for a Blender
    extension platform and Blender's Python, whatever machine this runs on."""
    if platform not in WHEEL_PLATFORMS:
        raise BuildError(f"Unknown platform {platform!r}: use one of {', '.join(WHEEL_PLATFORMS)}.")
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:",
               "--python-version", PYTHON_VERSION, "--implementation", "cp",
               "--dest", str(dest), "--no-input", "--disable-pip-version-check",
               "--progress-bar", "off"]
    for tag in WHEEL_PLATFORMS[platform]:
        command += ["--platform", tag]
    index = TORCH_CPU_INDEX[platform]
    if index and "torch" in packages:
        command += ["--index-url", index, "--extra-index-url", "https://pypi.org/simple"]
    return command + list(packages)


def download_wheels(platform: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    command = pip_download_command(platform, dest)
    print(f"[wheels] {' '.join(command)}", flush=True)
    if subprocess.run(command).returncode != 0:
        raise BuildError(f"pip could not download the wheels for {platform} (see above).")


def wheel_entries(wheel_dirs: list[Path]) -> list[Entry]:
    """Every .whl in the folders, once per file name, under blender_p2m/wheels/."""
    by_name: dict[str, Path] = {}
    for folder in wheel_dirs:
        for path in sorted(folder.glob("*.whl")):
            by_name.setdefault(path.name, path)
    if not by_name:
        raise BuildError(f"No .whl files found in {', '.join(map(str, wheel_dirs))}.")
    return [Entry(f"{PACKAGE}/wheels/{name}", by_name[name]) for name in sorted(by_name)]


# ----------------------------------------------------------------------------- manifest
def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        if len(value) > 2:
            return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def manifest_text(version: str, wheels: list[str] = (), platforms: list[str] = ()) -> str:
    """blender_manifest.toml; wheels are paths relative to the manifest ("./wheels/x.whl")."""
    fields = dict(MANIFEST, version=version)
    order = ["schema_version", "id", "version", "name", "tagline", "maintainer", "type",
             "tags", "blender_version_min", "license"]
    lines = ["# Generated by build_addon.py: edit that file, not this one.",
             *(f"{key} = {_toml_value(fields[key])}" for key in order)]
    if platforms:
        lines.append(f"platforms = {_toml_value(list(platforms))}")
    if wheels:
        lines.append(f"wheels = {_toml_value(list(wheels))}")
    lines += ["", "[permissions]", *(f"{k} = {_toml_value(v)}" for k, v in PERMISSIONS.items())]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- zip
def write_reproducible_zip(path: Path, files: list[Entry], generated: dict[str, bytes]) -> None:
    """Entries sorted by name with fixed timestamps and permissions: same input, same bytes.
    Wheels are stored as they are (already compressed), everything else deflated."""
    items = sorted([(e.arcname, e.source) for e in files] + [(n, d) for n, d in generated.items()],
                   key=lambda item: item[0])
    names = [name for name, _ in items]
    if len(names) != len(set(names)):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise BuildError(f"Duplicate entries in the zip: {duplicates}")
    with zipfile.ZipFile(path, "w", compresslevel=9) as archive:
        for name, content in items:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.create_system = 3                                 # unix: honour external_attr
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".whl") else zipfile.ZIP_DEFLATED
            if isinstance(content, bytes):
                archive.writestr(info, content)
                continue
            large = content.stat().st_size > 2**31 - 1
            with open(content, "rb") as src, archive.open(info, "w", force_zip64=large) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


# ----------------------------------------------------------------------------- validation
def blender_validator_command(zip_path: Path) -> list[str] | None:
    """Blender's own `extension validate`: a 4.2+ binary, else the script inside the bpy
    module (the same blender_ext.py the binary runs), else None."""
    blender = shutil.which("blender")
    if blender:
        try:
            out = subprocess.run([blender, "--version"], capture_output=True, text=True,
                                 timeout=60).stdout
            match = re.search(r"Blender (\d+)\.(\d+)", out)
            if match and (int(match[1]), int(match[2])) >= (4, 2):
                return [blender, "--command", "extension", "validate", str(zip_path)]
        except (OSError, subprocess.TimeoutExpired):
            pass
    spec = importlib.util.find_spec("bpy")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for script in sorted(Path(root).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")):
            return [sys.executable, str(script), "validate", str(zip_path)]
    return None


def validate(zip_path: Path) -> str:
    """Run Blender's validator; BuildError with its output when it rejects the zip."""
    command = blender_validator_command(zip_path)
    if command is None:
        return "not validated: no Blender 4.2+ binary or bpy module found"
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "error" in output.lower():
        raise BuildError(f"Blender's extension validator rejected the zip:\n{output}")
    validator = Path(command[1]).name if command[0] == sys.executable else "blender"
    return f"validated by {validator}: {output}"


# ----------------------------------------------------------------------------- build
def zip_name(version: str, platforms: list[str]) -> str:
    suffix = "".join(f"-{p.replace('-', '_')}" for p in platforms)
    return f"{PACKAGE}-{version}{suffix}.zip"


def build(repo: Path = REPO, output_dir: Path | None = None, platforms: list[str] = (),
          wheels_from: list[Path] = (), check: bool = True, log=print) -> Path:
    """Build the zip and return its path. Nothing is left behind when it fails."""
    platforms = sorted(set(platforms))
    for platform in platforms:
        if platform not in WHEEL_PLATFORMS:
            raise BuildError(f"Unknown platform {platform!r}: use one of {', '.join(WHEEL_PLATFORMS)}.")
    if wheels_from and not platforms:
        raise BuildError("--wheels-from needs --with-wheels PLATFORM (which platforms they are for).")
    version = read_version(repo / PACKAGE)
    output_dir = Path(output_dir or repo / "dist")
    output_dir.mkdir(parents=True, exist_ok=True)
    files = package_entries(repo) + license_entries(repo)
    weights, warning = weights_entries(repo)
    files += weights
    if warning:
        log(warning)
    with tempfile.TemporaryDirectory(prefix="p2m-wheels-") as download_root:
        wheel_dirs = [Path(d) for d in wheels_from]
        if platforms and not wheel_dirs:
            for platform in platforms:
                download_wheels(platform, Path(download_root) / platform)
                wheel_dirs.append(Path(download_root) / platform)
        wheels = wheel_entries(wheel_dirs) if platforms else []
        files += wheels
        manifest = manifest_text(version, [f"./wheels/{Path(e.arcname).name}" for e in wheels],
                                 platforms)
        target = output_dir / zip_name(version, platforms)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=output_dir)
        os.close(fd)
        try:
            generated = {f"{PACKAGE}/blender_manifest.toml": manifest.encode()}
            write_reproducible_zip(Path(tmp), files, generated)
            if check:
                log(validate(Path(tmp)))
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    log(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {len(files) + 1} files"
        f"{', wheels for ' + ', '.join(platforms) if platforms else ''})")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=REPO / "dist",
                        help="where the zip goes (default: dist/)")
    parser.add_argument("--with-wheels", action="append", default=[], metavar="PLATFORM",
                        help=f"bundle PyTorch wheels for a Blender platform "
                             f"({', '.join(WHEEL_PLATFORMS)}); repeat for several")
    parser.add_argument("--wheels-from", action="append", default=[], type=Path, metavar="DIR",
                        help="use the .whl files in DIR instead of downloading them")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip Blender's extension validator")
    args = parser.parse_args(argv)
    try:
        build(REPO, args.output_dir, args.with_wheels, args.wheels_from, check=not args.no_validate)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
