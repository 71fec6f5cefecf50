"""build_addon.py: one zip that installs as an extension (bpy 5.0) and as a legacy add-on
(the real Blender 3.4 binary), reproducibly, and the batch entry points of the installed
add-on giving the same mesh as `python -m blender_p2m`.

No Blender 4.2+ binary is available here, so `blender -c pixel2mesh` is exercised through
its bpy-module equivalent: the installed extension's registered command function.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import build_addon
from blender_p2m.api import BUNDLED_WEIGHTS_NAME as WEIGHTS_NAME
from obj_reading import obj_vertices  # tests/ is on sys.path
from test_batch import make_good_images

REPO = Path(__file__).resolve().parents[1]
SITE_PACKAGES = str(Path(importlib.util.find_spec("torch").origin).parents[1])   # has torch, numpy
ENTRY_EXPRESSION = "from blender_p2m.batch.cli import main_in_blender as m; m()"   # docs/batch.md


def fake_repo(tmp_path: Path, weights: bool) -> Path:
    """A copy of the add-on package (plus caches that must not ship) with or without weights."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "blender_p2m", repo / "blender_p2m",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "blender_p2m" / "__pycache__").mkdir()
    (repo / "blender_p2m" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (repo / "blender_p2m" / ".hidden").write_text("x")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("x")
    (repo / "weights").mkdir()
    if weights:
        (repo / "weights" / WEIGHTS_NAME).write_bytes(b"weights")
        (repo / "weights" / "MODEL_CARD.md").write_text("card")
    return repo


def tiny_wheel(folder: Path) -> Path:
    """A minimal valid pure-Python wheel (stands in for PyTorch's gigabytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "p2mtinywheel-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("p2mtinywheel/__init__.py", "VALUE = 42\n")
        wheel.writestr("p2mtinywheel-1.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: p2mtinywheel\nVersion: 1.0\n")
        wheel.writestr("p2mtinywheel-1.0.dist-info/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr("p2mtinywheel-1.0.dist-info/RECORD", "")
    return path


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    """The real tree's zip, validated by Blender's own extension validator."""
    return build_addon.build(build_addon.REPO, tmp_path_factory.mktemp("dist"), check=True,
                             log=lambda message: None)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    make_good_images(folder, 2)
    return folder


@pytest.fixture(scope="module")
def reference_obj(tmp_path_factory, images, tiny_checkpoint) -> Path:
    """The mesh `python -m blender_p2m reconstruct` gives for the sidecar image."""
    out = tmp_path_factory.mktemp("reference")
    subprocess.run([sys.executable, "-m", "blender_p2m", "reconstruct", str(images / "wide.png"),
                    "-o", str(out), "--weights", str(tiny_checkpoint), "--device", "cpu",
                    "--format", "obj"], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                   check=True, capture_output=True, timeout=300)
    return out / "wide.obj"


# ----------------------------------------------------------------------------- contents
def test_zip_layout_and_manifest(built_zip):
    with zipfile.ZipFile(built_zip) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_p2m/blender_manifest.toml").decode())
        init = archive.read("blender_p2m/__init__.py").decode()
    assert names == sorted(names) and all(n.startswith("blender_p2m/") for n in names)
    assert "bl_info" in init and "blender_p2m/batch/cli.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n
                or n.startswith("training") or "/." in n]
    version = build_addon.read_version(REPO / "blender_p2m")
    assert built_zip.name == f"blender_p2m-{version}.zip"
    assert manifest["id"] == "blender_p2m" and manifest["version"] == version
    assert manifest["type"] == "add-on" and manifest["schema_version"] == "1.0.0"
    assert len(manifest["tagline"]) <= 64 and manifest["tagline"][-1].isalnum()
    major, minor, patch = map(int, manifest["blender_version_min"].split("."))
    assert (major, minor, patch) >= (4, 2, 0)
    assert all(lic.startswith("SPDX:") for lic in manifest["license"])
    assert set(manifest["permissions"]) == {"files", "network"}
    assert all(len(reason) <= 64 and reason[-1].isalnum() for reason in manifest["permissions"].values())
    assert manifest["maintainer"] and "wheels" not in manifest and "platforms" not in manifest
    has_weights = (REPO / "weights" / WEIGHTS_NAME).is_file()
    assert (f"blender_p2m/weights/{WEIGHTS_NAME}" in names) == has_weights


def test_weights_are_bundled_or_their_absence_is_announced(tmp_path):
    messages = []
    for weights in (True, False):
        repo = fake_repo(tmp_path / str(weights), weights)
        path = build_addon.build(repo, repo / "dist", check=False, log=messages.append)
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        assert (f"blender_p2m/weights/{WEIGHTS_NAME}" in names) == weights
        assert ("blender_p2m/weights/MODEL_CARD.md" in names) == weights
        assert not [n for n in names if "pycache" in n or "hidden" in n or "tests" in n]
    warnings = [m for m in messages if m.startswith("WARNING")]
    assert len(warnings) == 1 and "WITHOUT bundled weights" in warnings[0]


def test_two_builds_are_byte_identical(tmp_path):
    repo = fake_repo(tmp_path, weights=True)
    first = build_addon.build(repo, tmp_path / "a", check=False, log=lambda m: None).read_bytes()
    for path in (repo / "blender_p2m").rglob("*.py"):          # new timestamps, other modes
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    second = build_addon.build(repo, tmp_path / "b", check=False, log=lambda m: None).read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "b" / "blender_p2m-0.1.0.zip") as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr >> 16 == 0o100644


def test_version_mismatch_and_bad_manifest_are_refused(tmp_path, monkeypatch):
    repo = fake_repo(tmp_path, weights=False)
    init = repo / "blender_p2m" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.2.0"'))
    with pytest.raises(build_addon.BuildError, match="differ"):
        build_addon.build(repo, repo / "dist", check=False, log=lambda m: None)
    init.write_text(init.read_text().replace('__version__ = "0.2.0"', '__version__ = "0.1.0"'))
    monkeypatch.setitem(build_addon.MANIFEST, "tagline", "Ends with a full stop.")
    with pytest.raises(build_addon.BuildError, match="tagline"):
        build_addon.build(repo, repo / "dist", check=True, log=lambda m: None)
    assert not list((repo / "dist").iterdir())                  # nothing half-done


def test_the_weights_name_is_read_from_the_api_or_the_build_says_why_not(tmp_path):
    repo = fake_repo(tmp_path, weights=True)
    assert build_addon.weights_files(repo / "blender_p2m") == (WEIGHTS_NAME, "MODEL_CARD.md")
    api = repo / "blender_p2m" / "api.py"
    api.write_text(api.read_text().replace(f'BUNDLED_WEIGHTS_NAME = "{WEIGHTS_NAME}"',
                                           f'BUNDLED_WEIGHTS_NAME: str = "{WEIGHTS_NAME}"'))
    with pytest.raises(build_addon.BuildError, match="BUNDLED_WEIGHTS_NAME"):
        build_addon.build(repo, repo / "dist", check=False, log=lambda m: None)


# ----------------------------------------------------------------------------- wheels
@pytest.mark.parametrize("platform, tag, index", [
    ("linux-x64", "manylinux_2_28_x86_64", "https://download.pytorch.org/whl/cpu"),
    ("windows-x64", "win_amd64", "https://download.pytorch.org/whl/cpu"),
    ("macos-arm64", "macosx_11_0_arm64", None)])
def test_pip_download_command(tmp_path, platform, tag, index):
    command = build_addon.pip_download_command(platform, tmp_path)
    assert command[1:4] == ["-m", "pip", "download"] and command[-1] == "torch"
    assert "--only-binary=:all:" in command and command[command.index("--python-version") + 1] == "3.11"
    assert tag in command and ((index in command) if index else "--index-url" not in command)
    with pytest.raises(build_addon.BuildError, match="Unknown platform"):
        build_addon.pip_download_command("amiga-68k", tmp_path)


def test_wheels_are_listed_in_the_manifest(tmp_path):
    repo = fake_repo(tmp_path, weights=False)
    wheel = tiny_wheel(tmp_path / "wheels")
    path = build_addon.build(repo, tmp_path / "dist", ["linux-x64", "windows-x64"], [wheel.parent],
                             check=True, log=lambda m: None)
    assert path.name == "blender_p2m-0.1.0-linux_x64-windows_x64.zip"
    with zipfile.ZipFile(path) as archive:
        manifest = tomllib.loads(archive.read("blender_p2m/blender_manifest.toml").decode())
        assert archive.read(f"blender_p2m/wheels/{wheel.name}") == wheel.read_bytes()
        assert archive.getinfo(f"blender_p2m/wheels/{wheel.name}").compress_type == zipfile.ZIP_STORED
    assert manifest["wheels"] == [f"./wheels/{wheel.name}"]
    assert manifest["platforms"] == ["linux-x64", "windows-x64"]
    with pytest.raises(build_addon.BuildError, match="No .whl"):
        build_addon.build(repo, tmp_path / "dist", ["linux-x64"], [tmp_path], check=False,
                          log=lambda m: None)


# ----------------------------------------------------------------------------- installs
def _bpy_script(tmp_path: Path, body: str, env_extra: dict) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"), **env_extra)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_extension_install_in_bpy_and_the_c_command(tmp_path, built_zip, images, tiny_checkpoint,
                                                    reference_obj):
    """Installed and enabled as an extension (with a wheel, as --with-wheels makes it); the
    `-c pixel2mesh` command function of the installed copy gives python -m's mesh."""
    repo = fake_repo(tmp_path, weights=False)
    wheel = tiny_wheel(tmp_path / "wheels")
    with_wheel = build_addon.build(repo, tmp_path / "dist", ["linux-x64"], [wheel.parent], check=True,
                                   log=lambda m: None)
    out = tmp_path / "out"
    result = _bpy_script(tmp_path, f"""
        import importlib, json, sys
        import bpy
        assert bpy.ops.extensions.package_install_files(
            filepath={str(with_wheel)!r}, repo="user_default", enable_on_install=True) == {{'FINISHED'}}
        module = "bl_ext.user_default.blender_p2m"
        assert module in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
        assert hasattr(bpy.types.Scene, "pixel2mesh")
        import p2mtinywheel                                  # the bundled wheel was installed
        assert p2mtinywheel.VALUE == 42
        # what the documented --python-expr form imports for an extension install
        assert callable(importlib.import_module(module + ".batch.cli").main_in_blender)
        command = importlib.import_module(module + ".batch.cli_command")
        assert command.__file__.startswith({str(tmp_path / "blender-user")!r})
        command.register()
        code = command.run_command(["reconstruct", {str(images / "wide.png")!r}, "-o", {str(out)!r},
                                    "--weights", {str(tiny_checkpoint)!r}, "--device", "cpu",
                                    "--format", "obj,blend", "--preview"])
        command.unregister()
        print("EXIT", code)
        """, {})
    assert result.returncode == 0 and "EXIT 0" in result.stdout, result.stdout + result.stderr
    np.testing.assert_allclose(obj_vertices(out / "wide.obj"), obj_vertices(reference_obj), atol=1e-5)
    assert (out / "wide.blend").is_file() and (out / "wide_preview.png").is_file()
    # The plain zip (no wheels) installs too, and its manifest passes Blender's validator.
    (tmp_path / "plain").mkdir()
    result = _bpy_script(tmp_path / "plain", f"""
        import bpy
        assert bpy.ops.extensions.package_install_files(
            filepath={str(built_zip)!r}, repo="user_default", enable_on_install=True) == {{'FINISHED'}}
        assert "bl_ext.user_default.blender_p2m" in bpy.context.preferences.addons
        print("OK")
        """, {})
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def _blender(args: list[str], config: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, BLENDER_USER_CONFIG=str(config / "config"),
               BLENDER_USER_SCRIPTS=str(config / "scripts"))
    return subprocess.run(["blender", "--background", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.blender_binary
def test_legacy_install_in_blender_34_and_the_python_expr_entry_point(tmp_path, built_zip, images,
                                                                      tiny_checkpoint, reference_obj):
    """Install the zip as a legacy add-on, enable it, point it at PyTorch, save the
    preferences; then the documented --python-expr command converts like python -m."""
    install = tmp_path / "install.py"
    install.write_text(textwrap.dedent(f"""
        import sys, bpy, addon_utils
        assert bpy.ops.preferences.addon_install(filepath={str(built_zip)!r}) == {{'FINISHED'}}
        assert addon_utils.enable("blender_p2m", default_set=True, handle_error=None) is not None
        prefs = bpy.context.preferences.addons["blender_p2m"].preferences
        prefs.torch_site_packages = {SITE_PACKAGES!r}
        bpy.ops.wm.save_userpref()
        print("INSTALLED", bpy.app.version_string)
        """))
    result = _blender(["--python", str(install)], tmp_path)
    assert "INSTALLED 3." in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "scripts" / "addons" / "blender_p2m" / "blender_manifest.toml").is_file()
    out = tmp_path / "out"
    result = _blender(["--python-expr", ENTRY_EXPRESSION, "--", "reconstruct", str(images), "-o",
                       str(out), "--weights", str(tiny_checkpoint), "--device", "cpu",
                       "--format", "obj,glb,blend", "--preview"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finished: 2 converted" in result.stdout
    np.testing.assert_allclose(obj_vertices(out / "wide.obj"), obj_vertices(reference_obj), atol=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary["images"]] == ["done", "done"]
    assert (out / "wide.blend").is_file() and (out / "square_001_preview.png").is_file()
    # A bad option is one line and a non-zero exit code from Blender too.
    result = _blender(["--python-expr", ENTRY_EXPRESSION, "--", "reconstruct", str(images), "-o",
                       str(out), "--format", "stl"], tmp_path)
    assert result.returncode == 2 and "error: Unknown output format" in result.stderr
