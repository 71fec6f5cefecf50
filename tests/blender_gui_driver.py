"""Drives the add-on in a real Blender window (run by tests/test_addon_blender34.py).

    blender --factory-startup --enable-event-simulate -p 0 0 1400 900 \
        --python tests/blender_gui_driver.py -- SETTINGS.json

Like a user: enables the add-on (legacy, from BLENDER_USER_SCRIPTS), points its preferences
at PyTorch and the weights, builds a scene whose camera shows the image, opens the sidebar
tab, clicks Reconstruct once and presses Esc, clicks again and waits, takes a screenshot,
saves the .blend, undoes, clicks and opens another file while the model runs, and
shows the add-on's preferences. Everything runs from bpy.app.timers steps so that Blender's event
loop (and the add-on's modal operator) runs in between. Findings go to OUT/result.json.
"""
import json
import math
import os
import sys
import time
import traceback

import addon_utils
import bpy

SETTINGS = json.load(open(sys.argv[sys.argv.index("--") + 1]))
OUT = SETTINGS["out_dir"]
RESULT = {"steps": []}
ADDON = "blender_p2m"


def log(message):
    RESULT["steps"].append(f"{time.monotonic():.2f} {message}")
    print("DRIVER:", message, flush=True)


def finish(ok=True):
    RESULT["ok"] = ok
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump(RESULT, f, indent=1)
    bpy.ops.wm.quit_blender()


def view3d():
    """(window, area, sidebar region, main region) of the biggest 3D View."""
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == 'VIEW_3D'), key=lambda a: a.width * a.height)
    regions = {r.type: r for r in area.regions}
    return window, area, regions["UI"], regions["WINDOW"]


def shaded_ball(width, height):
    """A lit orange ball on a transparent background, rows bottom-up as Blender stores them."""
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width]
    x = (xx + 0.5 - width / 2) / (0.3 * height)
    y = -(yy + 0.5 - height / 2) / (0.3 * height)
    r2 = x ** 2 + y ** 2
    inside = r2 < 1.0
    z = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    light = np.clip(0.25 + 0.75 * (-0.4 * x + 0.5 * y + 0.77 * z), 0.0, 1.0)
    rgba = np.zeros((height, width, 4), np.float32)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 0.95 * light, 0.55 * light, 0.2 * light
    rgba[..., 3] = inside
    return rgba[::-1]


# ----------------------------------------------------------------------------- steps
def close_splash():
    """The factory startup shows the splash screen, a popup that swallows every event."""
    window = view3d()[0]
    window.event_simulate(type='MOUSEMOVE', value='NOTHING', x=window.width // 2, y=40)
    window.event_simulate(type='ESC', value='PRESS')
    window.event_simulate(type='ESC', value='RELEASE')
    return 0.5, True


def setup():
    addon_utils.enable(ADDON, default_set=True)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.torch_site_packages = SETTINGS["site_packages"]
    prefs.weights_path = SETTINGS["weights"]
    prefs.default_device = 'CPU'
    log(f"enabled add-on from {sys.modules[ADDON].__file__}")
    RESULT["blender_version"] = bpy.app.version_string

    scene = bpy.context.scene
    for obj in list(scene.objects):
        if obj.type == 'MESH':
            bpy.data.objects.remove(obj)
    cam = scene.camera
    cam.location = (0.0, -0.75, 0.28)
    cam.rotation_euler = (math.radians(90 - 20.5), 0.0, 0.0)
    picture = SETTINGS.get("picture")       # docs/make_addon_screenshot.py: a real example
    if picture:
        # The picture's own intrinsics (square pixels, centred principal point): Blender's
        # lens for a horizontal sensor fit is f_px * sensor_width / image_width.
        image = bpy.data.images.load(picture["path"])
        scene.render.resolution_x, scene.render.resolution_y = picture["width"], picture["height"]
        cam.data.sensor_fit = 'HORIZONTAL'
        cam.data.lens = picture["fx"] * cam.data.sensor_width / picture["width"]
    else:
        cam.data.lens = 35.0
        scene.render.resolution_x, scene.render.resolution_y = 640, 480
        width, height = 320, 240
        image = bpy.data.images.new("ball", width, height, alpha=True)
        image.pixels.foreach_set(shaded_ball(width, height).ravel())
        image.pack()
    bg = cam.data.background_images.new()
    bg.image = image
    bg.alpha = 1.0
    cam.data.show_background_images = True
    settings = scene.pixel2mesh
    settings.image_source = 'CAMERA_BACKGROUND'
    settings.object_name = SETTINGS.get("object_name", "Ball")
    settings.project_texture = True

    window, area, sidebar, main = view3d()
    space = area.spaces.active
    space.show_region_ui = True
    space.region_3d.view_perspective = 'CAMERA'
    space.shading.type = 'SOLID'
    space.overlay.show_floor = False
    with bpy.context.temp_override(window=window, area=area, region=main):
        bpy.ops.view3d.view_center_camera()
    bpy.ops.ed.undo_push(message="Scene ready")
    return 1.0, True


TAB = {"tries": 0}


DRAWN = {}


def _watch_draw(cls, key):
    """Wrap a registered class's draw() to record that Blender drew it, and any error (Blender
    prints draw errors without raising them)."""
    original = cls.draw

    def draw(self, context):
        try:
            original(self, context)
            DRAWN.setdefault(key, "ok")
        except Exception:
            DRAWN[key] = traceback.format_exc()
            raise

    cls.draw = draw


def open_tab():
    """Make the Pixel2Mesh tab the sidebar's active one: by the API where Blender has one
    (4.2+), else like a user, by clicking down the sidebar's tab strip until it shows."""
    from blender_p2m.addon import ui

    window, area, sidebar, main = view3d()
    if TAB["tries"] == 0:
        _watch_draw(ui.VIEW3D_PT_pixel2mesh, "panel")
        if hasattr(sidebar, "active_panel_category"):
            sidebar.active_panel_category = ui.CATEGORY
            log("set active_panel_category")
    if "panel" in DRAWN or TAB["tries"] >= 30:
        RESULT["panel_drawn"] = DRAWN.get("panel")
        log(f"panel drawn: {DRAWN.get('panel')} after {TAB['tries']} clicks on the tab strip")
        return 0.3, True
    x = sidebar.x + sidebar.width - 10                  # the tab strip along the right edge
    y = sidebar.y + sidebar.height - 15 - 12 * TAB["tries"]
    window.event_simulate(type='MOUSEMOVE', value='NOTHING', x=x, y=y)
    window.event_simulate(type='LEFTMOUSE', value='PRESS', x=x, y=y)
    window.event_simulate(type='LEFTMOUSE', value='RELEASE', x=x, y=y)
    area.tag_redraw()
    TAB["tries"] += 1
    return 0.3, False


def invoke_reconstruct():
    window, area, sidebar, main = view3d()
    with bpy.context.temp_override(window=window, area=area, region=sidebar):
        return bpy.ops.pixel2mesh.reconstruct('INVOKE_DEFAULT')


def click_and_cancel():
    """Click, hold the worker at 'Loading the model' (the test holds the model cache's
    lock), look at the progress, press Esc."""
    from blender_p2m.addon import worker
    from blender_p2m.addon.operators import STATUS

    RESULT["objects_before"] = sorted(bpy.data.objects.keys())
    RESULT["meshes_before"] = len(bpy.data.meshes)
    worker.MODELS._lock.acquire()
    log(f"click 1: {invoke_reconstruct()}, running={STATUS.running}")
    return 1.0, True


def progress_screenshot():
    from blender_p2m.addon.operators import STATUS

    RESULT["progress_while_running"] = {"running": STATUS.running, "step": STATUS.step,
                                        "progress": STATUS.progress}
    path = os.path.join(OUT, "addon_progress.png")
    window, area, sidebar, main = view3d()
    with bpy.context.temp_override(window=window, area=area):
        bpy.ops.screen.screenshot(filepath=path, check_existing=False)
    log(f"progress: {RESULT['progress_while_running']}")
    return 0.2, True


def press_esc():
    window, area, sidebar, main = view3d()
    x, y = main.x + main.width // 2, main.y + main.height // 2
    window.event_simulate(type='MOUSEMOVE', value='NOTHING', x=x, y=y)
    window.event_simulate(type='ESC', value='PRESS', x=x, y=y)
    window.event_simulate(type='ESC', value='RELEASE', x=x, y=y)
    return 1.0, True


def after_cancel():
    from blender_p2m.addon import worker
    from blender_p2m.addon.operators import STATUS

    worker.MODELS._lock.release()
    RESULT["cancel_error"] = STATUS.error
    RESULT["running_after_cancel"] = STATUS.running
    RESULT["objects_after_cancel"] = sorted(bpy.data.objects.keys())
    RESULT["meshes_after_cancel"] = len(bpy.data.meshes)
    log(f"after Esc: running={STATUS.running}, error={STATUS.error!r}")
    return 0.5, True


WAIT = {"start": None, "ticks": 0, "steps_seen": []}


def click_and_wait():
    from blender_p2m.addon.operators import STATUS

    if WAIT["start"] is None:
        WAIT["start"] = time.monotonic()
        log(f"click 2: {invoke_reconstruct()}")
        return 0.05, False
    WAIT["ticks"] += 1
    if STATUS.running and time.monotonic() - WAIT["start"] < 120:
        if STATUS.step not in WAIT["steps_seen"]:
            WAIT["steps_seen"].append(STATUS.step)
        return 0.05, False
    RESULT["seconds"] = time.monotonic() - WAIT["start"]
    RESULT["timer_ticks_while_running"] = WAIT["ticks"]
    RESULT["steps_seen"] = WAIT["steps_seen"]
    RESULT["result_text"], RESULT["error_text"] = STATUS.result, STATUS.error
    obj = bpy.data.objects.get(SETTINGS.get("object_name", "Ball"))
    RESULT["object"] = None if obj is None else {
        "name": obj.name, "type": obj.type, "vertices": len(obj.data.vertices),
        "selected": obj.select_get(), "active": bpy.context.view_layer.objects.active == obj,
        "props": {k: obj[k] for k in obj.keys() if k.startswith("p2m_")},
        "texture": [n.image.name for m in obj.data.materials for n in m.node_tree.nodes
                    if n.type == 'TEX_IMAGE' and n.image is not None],
        "uv_layers": [uv.name for uv in obj.data.uv_layers]}
    log(f"done in {RESULT['seconds']:.1f} s: {STATUS.result or STATUS.error}")
    return 1.5, True                                  # let the panel and viewport redraw


def screenshot():
    path = os.path.join(OUT, "addon_screenshot.png")
    window, area, sidebar, main = view3d()
    with bpy.context.temp_override(window=window, area=area):
        bpy.ops.screen.screenshot(filepath=path, check_existing=False)
    RESULT["screenshot"] = path
    RESULT["sidebar"] = {"x": sidebar.x, "y": sidebar.y, "width": sidebar.width,
                         "height": sidebar.height, "window_height": window.height}
    RESULT["viewport"] = {"x": main.x, "y": main.y, "width": main.width, "height": main.height}
    RESULT["area"] = {"x": area.x, "y": area.y, "width": area.width, "height": area.height}
    obj = bpy.data.objects.get(SETTINGS.get("object_name", "Ball"))
    if obj is not None:                 # where the new mesh's vertices land in the window
        from bpy_extras.view3d_utils import location_3d_to_region_2d

        rv3d = area.spaces.active.region_3d
        points = (location_3d_to_region_2d(main, rv3d, obj.matrix_world @ v.co) for v in obj.data.vertices)
        RESULT["mesh_in_window"] = [[main.x + p.x, main.y + p.y] for p in points if p is not None]
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(OUT, "result.blend"), copy=True)
    log("screenshot and .blend saved")
    return 0.5, True


def undo():
    window, area, sidebar, main = view3d()
    with bpy.context.temp_override(window=window, area=area, region=main):
        bpy.ops.ed.undo()
    RESULT["objects_after_undo"] = sorted(bpy.data.objects.keys())
    RESULT["meshes_after_undo"] = len(bpy.data.meshes)
    log(f"after undo: {RESULT['objects_after_undo']}")
    return 0.2, True


def click_then_open_file():
    """Click (the worker held again), then open another file: the run must end cleanly."""
    from blender_p2m.addon import worker

    worker.MODELS._lock.acquire()
    log(f"click 3: {invoke_reconstruct()}")
    return 1.0, True


def open_file():
    window = view3d()[0]
    with bpy.context.temp_override(window=window):
        bpy.ops.wm.read_homefile()
    return 1.0, True


def after_open_file():
    from blender_p2m.addon import worker
    from blender_p2m.addon.operators import STATUS

    worker.MODELS._lock.release()
    RESULT["after_file_open"] = {"running": STATUS.running, "error": STATUS.error}
    log(f"after opening a file: {RESULT['after_file_open']}")
    return 0.5, True


def show_preferences():
    """Open Preferences at the add-on (as its 'Get PyTorch...' button does) and screenshot it."""
    from blender_p2m.addon import prefs

    _watch_draw(prefs.P2M_AP_preferences, "preferences")
    bpy.ops.preferences.addon_show(module=ADDON)
    return 1.5, True


def preferences_screenshot():
    window = bpy.context.window_manager.windows[-1]
    RESULT["preferences_drawn"] = DRAWN.get("preferences")
    with bpy.context.temp_override(window=window, area=window.screen.areas[0]):
        bpy.ops.screen.screenshot(filepath=os.path.join(OUT, "addon_preferences.png"),
                                  check_existing=False)
    log(f"preferences drawn: {RESULT['preferences_drawn']}")
    return 0.5, True


STEPS = [close_splash, setup, open_tab, click_and_cancel, progress_screenshot, press_esc,
         after_cancel, click_and_wait, screenshot, undo, click_then_open_file, open_file,
         after_open_file, show_preferences, preferences_screenshot]


def run_steps():
    """Timer callback: each step returns (delay, done); a step not done runs again."""
    try:
        if not STEPS:
            finish(True)
            return None
        delay, done = STEPS[0]()
        if done:
            STEPS.pop(0)
        return delay
    except Exception:
        RESULT["exception"] = traceback.format_exc()
        print(RESULT["exception"], flush=True)
        finish(False)
        return None


bpy.app.timers.register(run_steps, first_interval=2.0, persistent=True)  # survives file loads
