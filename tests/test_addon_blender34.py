"""The add-on in a real Blender 3.4 window (Debian's binary under Xvfb), used like an artist.

Installs the package as a legacy add-on (a scripts folder given by BLENDER_USER_SCRIPTS,
with its own BLENDER_USER_CONFIG so the machine's Blender settings are untouched) and runs
tests/blender_gui_driver.py inside Blender: open the sidebar tab, click Reconstruct and
press Esc, click again and wait, screenshot, undo. Screenshots and the saved .blend go to
test-artifacts/blender34/.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "blender34"
DRIVER = Path(__file__).with_name("blender_gui_driver.py")
WINDOW = (1400, 900)
TIMEOUT_S = 300

pytestmark = [pytest.mark.blender_binary, pytest.mark.xvfb]


@pytest.fixture(scope="module")
def gui_run(tiny_checkpoint, tmp_path_factory) -> dict:
    """Run the driver once in Blender under Xvfb; its findings, screenshots in ARTIFACTS."""
    if shutil.which("xvfb-run") is None:
        message = "xvfb-run not found (apt-get install -y xvfb)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}: required under CI", pytrace=False)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("blender34")
    addons = root / "scripts" / "addons"
    addons.mkdir(parents=True)
    (addons / "blender_p2m").symlink_to(REPO / "blender_p2m", target_is_directory=True)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    settings = root / "settings.json"
    settings.write_text(json.dumps({
        "out_dir": str(ARTIFACTS), "weights": str(tiny_checkpoint),
        # This interpreter's site-packages has PyTorch for Python 3.11, as Debian's Blender uses.
        "site_packages": sysconfig.get_paths()["purelib"]}))
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(root / "scripts"),
               BLENDER_USER_CONFIG=str(root / "config"))
    command = ["xvfb-run", "-a", "-s", f"-screen 0 {WINDOW[0]}x{WINDOW[1]}x24",
               "blender", "--factory-startup", "--enable-event-simulate",
               "-p", "0", "0", str(WINDOW[0]), str(WINDOW[1]),
               "--python", str(DRIVER), "--", str(settings)]
    proc = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    (ARTIFACTS / "blender_output.txt").write_text(proc.stdout + proc.stderr)
    result_file = ARTIFACTS / "result.json"
    assert result_file.exists(), f"Blender wrote no result:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert result["ok"], result.get("exception")
    return result


def test_addon_is_installed_and_its_tab_opens(gui_run):
    assert gui_run["blender_version"].startswith("3.4")
    assert gui_run["panel_drawn"] == "ok", gui_run["panel_drawn"] or "the tab never opened"


def test_preferences_draw(gui_run):
    assert gui_run["preferences_drawn"] == "ok", gui_run["preferences_drawn"]
    assert (ARTIFACTS / "addon_preferences.png").stat().st_size > 10_000


def test_reconstruct_click_builds_the_mesh_in_the_background(gui_run):
    obj = gui_run["object"]
    assert obj is not None, gui_run["error_text"]
    assert obj["type"] == 'MESH' and obj["vertices"] == 2466
    assert obj["selected"] and obj["active"]
    assert obj["texture"] == ["ball"] and obj["uv_layers"] == ["CameraProjection"]
    assert obj["props"]["p2m_stage"] == "fine" and obj["props"]["p2m_source_image"] == "ball"
    assert "Created 'Ball'" in gui_run["result_text"] and not gui_run["error_text"]
    # The modal timer kept running while the worker worked: Blender was not frozen.
    assert gui_run["timer_ticks_while_running"] >= 1


def test_progress_is_shown_and_esc_cancels_cleanly(gui_run):
    progress = gui_run["progress_while_running"]
    assert progress["running"] and progress["step"] == "Loading the model"
    assert "Cancelled" in gui_run["cancel_error"] and not gui_run["running_after_cancel"]
    assert gui_run["objects_after_cancel"] == gui_run["objects_before"]
    assert gui_run["meshes_after_cancel"] == gui_run["meshes_before"]


def test_opening_a_file_while_running_ends_the_run(gui_run):
    assert gui_run["after_file_open"] == {"running": False,
                                          "error": "Cancelled. Nothing was created."}


def test_one_undo_removes_the_result(gui_run):
    assert gui_run["objects_after_undo"] == gui_run["objects_before"]
    assert gui_run["meshes_after_undo"] == gui_run["meshes_before"]


def test_saved_blend_has_the_mesh(gui_run):
    blend = ARTIFACTS / "result.blend"
    assert blend.stat().st_size > 10_000
    assert b"Ball" in blend.read_bytes()


@pytest.mark.parametrize("name", ["addon_screenshot.png", "addon_progress.png"])
def test_screenshots_show_the_panel(gui_run, name):
    from PIL import Image

    pixels = np.asarray(Image.open(ARTIFACTS / name).convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    assert pixels.std() > 20, "the screenshot is blank"
    side = gui_run["sidebar"]                          # region box, origin bottom-left
    top = side["window_height"] - side["y"] - side["height"]
    panel = pixels[top:top + 400, side["x"]:side["x"] + side["width"]]
    assert panel.std() > 15, "the sidebar region is empty"


def _box(pixels, region, window_height, half=20):
    """Pixels around the centre of a region (region boxes have their origin bottom-left)."""
    cx = region["x"] + region["width"] // 2
    cy = window_height - (region["y"] + region["height"] // 2)
    return pixels[cy - half:cy + half, cx - half:cx + half]


def test_screenshot_shows_the_new_mesh_over_the_image(gui_run):
    """Through the camera, the image (orange) is behind; the new grey mesh covers its centre."""
    from PIL import Image

    window_height = gui_run["sidebar"]["window_height"]
    before, after = (np.asarray(Image.open(ARTIFACTS / name).convert("RGB"), dtype=np.float32)
                     for name in ("addon_progress.png", "addon_screenshot.png"))
    saturation = [np.ptp(_box(p, gui_run["viewport"], window_height), axis=-1).mean()
                  for p in (before, after)]
    assert saturation[0] > 100, "the image is not visible through the camera"
    assert saturation[1] < 40, "no grey mesh in front of the image"
