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
    assert obj["texture"] == ["Ball texture"] and obj["uv_layers"] == ["CameraProjection"]
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


def _screenshots():
    from PIL import Image

    return [np.asarray(Image.open(ARTIFACTS / name).convert("RGB"), dtype=np.float32)
            for name in ("addon_progress.png", "addon_screenshot.png")]


def _rows_cols(box, window_height):
    """Pixel rows and columns of a region box (Blender's origin is the bottom-left corner)."""
    top = window_height - box["y"] - box["height"]
    return slice(top, top + box["height"]), slice(box["x"], box["x"] + box["width"])


def test_the_panel_region_is_there_and_redrawn(gui_run):
    """The sidebar is open at the right edge of the 3D View and shows the panel: it holds
    drawn content, which changed from the progress line to the result between the shots."""
    before, after = _screenshots()
    assert before.shape[:2] == after.shape[:2] == (WINDOW[1], WINDOW[0])
    side, area = gui_run["sidebar"], gui_run["area"]
    assert side["width"] > 150 and side["height"] > 300
    assert side["x"] + side["width"] == area["x"] + area["width"]         # docked on the right
    rows, cols = _rows_cols(side, side["window_height"])
    panel_before, panel_after = before[rows, cols][:400], after[rows, cols][:400]
    assert panel_after.std() > 15, "the sidebar region is empty"
    assert (np.abs(panel_after - panel_before).max(axis=-1) > 40).mean() > 0.005, "the panel did not redraw"


def test_the_panel_shows_what_the_network_saw(gui_run):
    """After the click the sidebar holds the preview: the network's input, the ball on white
    with its outline, as a block of white and orange pixels that was not there before."""
    before, after = _screenshots()
    rows, cols = _rows_cols(gui_run["sidebar"], gui_run["sidebar"]["window_height"])

    def white_and_orange(shot):
        panel = shot[rows, cols]
        white = (panel.min(axis=-1) > 245).sum()
        orange = ((panel[..., 0] > 180) & (panel[..., 1] > 60) & (panel[..., 1] < 170) & (panel[..., 2] < 90)).sum()
        return white, orange

    white_before, orange_before = white_and_orange(before)
    white_after, orange_after = white_and_orange(after)
    assert white_after > 5000 and white_after > 20 * (white_before + 1)
    assert orange_after > 1000 and orange_after > 10 * (orange_before + 1)


def test_new_mesh_pixels_appear_where_the_mesh_projects(gui_run):
    """Through the camera the picture (orange) was visible; after Reconstruct the grey mesh
    covers it where the mesh's vertices project, and the view away from the mesh is unchanged."""
    before, after = _screenshots()
    window_height = gui_run["sidebar"]["window_height"]
    points = np.array(gui_run["mesh_in_window"])                          # (N, 2) window x, y
    assert len(points) == gui_run["object"]["vertices"] == 2466
    view_rows, view_cols = _rows_cols(gui_run["viewport"], window_height)
    left_of_sidebar = gui_run["sidebar"]["x"]
    cols = np.round(points[:, 0]).astype(int)
    rows = window_height - 1 - np.round(points[:, 1]).astype(int)
    visible = ((cols >= view_cols.start) & (cols < left_of_sidebar - 5) &
               (rows >= view_rows.start + 80) & (rows < view_rows.stop))
    assert visible.mean() > 0.95, "the mesh is not in the visible part of the view"
    rows, cols = rows[visible], cols[visible]
    on_picture = np.ptp(before[rows, cols], axis=-1) > 100               # orange ball before the click
    assert on_picture.mean() > 0.3, "the mesh does not cover the picture"
    now = after[rows[on_picture], cols[on_picture]]
    assert (np.abs(now - before[rows[on_picture], cols[on_picture]]).max(axis=-1) > 30).mean() > 0.8
    assert (np.ptp(now, axis=-1) < 40).mean() > 0.8, "no grey mesh where its vertices project"
    # Away from the mesh (its box grown by 15 px), the view is as it was.
    mask = np.zeros(after.shape[:2], bool)
    mask[view_rows.start + 80:view_rows.stop, view_cols.start:left_of_sidebar - 5] = True
    mask[rows.min() - 15:rows.max() + 16, cols.min() - 15:cols.max() + 16] = False
    elsewhere = np.abs(after[mask] - before[mask]).max(axis=-1) > 30
    assert elsewhere.mean() < 0.01
