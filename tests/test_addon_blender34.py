"""The add-on in a real Blender 3.4 window (Debian's binary under Xvfb), used like an artist.

Installs the package as a legacy add-on (a scripts folder given by BLENDER_USER_SCRIPTS,
with its own BLENDER_USER_CONFIG so the machine's Blender settings are untouched) and runs
tests/blender_gui_driver.py inside Blender: open the sidebar tab, click Reconstruct and
press Esc, click again and wait, screenshot, undo. Screenshots and the saved .blend go to
test-artifacts/blender34/.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from blender_gui_session import REPO, WINDOW, run_gui_driver

ARTIFACTS = REPO / "test-artifacts" / "blender34"

pytestmark = [pytest.mark.blender_binary, pytest.mark.xvfb]


@pytest.fixture(scope="module")
def gui_run(tiny_checkpoint, tmp_path_factory) -> dict:
    """Run the driver once in Blender under Xvfb; its findings, screenshots in ARTIFACTS."""
    if shutil.which("xvfb-run") is None:
        message = "xvfb-run not found (apt-get install -y xvfb)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}: required under CI", pytrace=False)
        pytest.skip(message)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    return run_gui_driver(tmp_path_factory.mktemp("blender34"), ARTIFACTS, tiny_checkpoint)


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
