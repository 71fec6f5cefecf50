"""The add-on inside Blender, through the bpy module (Blender 5.0 as a Python module).

bpy runs in background mode here, so Reconstruct runs synchronously (the modal, threaded
path is exercised by tests/test_addon_blender34.py in a real Blender under Xvfb).
"""
from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402  (comes with bpy)
from bpy_extras.object_utils import world_to_camera_view  # noqa: E402
from mathutils import Euler, Vector  # noqa: E402

from blender_p2m.addon import operators, torch_setup  # noqa: E402
from blender_p2m.blender import camera as camera_math  # noqa: E402
from blender_p2m.blender import mesh_object  # noqa: E402
from blender_p2m.errors import P2MError  # noqa: E402
from blender_p2m.intrinsics import Intrinsics  # noqa: E402

ADDON = "blender_p2m"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def addon():
    """The add-on enabled as Blender enables it (so its preferences exist)."""
    addon_utils.enable(ADDON, default_set=True)
    assert ADDON in bpy.context.preferences.addons
    yield bpy.context.preferences.addons[ADDON].preferences
    addon_utils.disable(ADDON, default_set=True)


@pytest.fixture
def prefs(addon, tiny_checkpoint):
    """Preferences pointing at the tiny test checkpoint; restored afterwards."""
    addon.weights_path = str(tiny_checkpoint)
    addon.default_device = 'CPU'
    yield addon
    addon.weights_path = ""
    addon.default_device = 'AUTO'


def _clear_file() -> None:
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.cameras,
                       bpy.data.images):
        for block in list(collection):
            collection.remove(block)


def silhouette_rgba(width: int, height: int) -> np.ndarray:
    """(H, W, 4) top-down: an orange ellipse on a transparent background, centred."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((xx + 0.5 - width / 2) / (0.22 * width)) ** 2 + \
             ((yy + 0.5 - height / 2) / (0.25 * height)) ** 2 < 1.0
    a = inside.astype(np.float32)
    return np.stack([0.9 * a, 0.5 * a, 0.2 * a, a], axis=-1)


def gradient_silhouette_rgba(width: int, height: int) -> np.ndarray:
    """(H, W, 4) top-down: a bluish ellipse whose colour changes left to right and top to
    bottom (so a mirrored lookup shows), on a transparent background whose colour is red."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((xx + 0.5 - width / 2) / (0.3 * width)) ** 2 + \
             ((yy + 0.5 - height / 2) / (0.35 * height)) ** 2 < 1.0
    obj = np.stack([0.1 + 0.5 * xx / width, 0.2 + 0.5 * yy / height, np.full(xx.shape, 0.9)], axis=-1)
    rgb = np.where(inside[..., None], obj, [1.0, 0.0, 0.0])
    return np.concatenate([rgb, inside[..., None]], axis=-1).astype(np.float32)


def new_image(name: str, rgba: np.ndarray):
    height, width = rgba.shape[:2]
    image = bpy.data.images.new(name, width, height, alpha=True)
    image.pixels.foreach_set(np.ascontiguousarray(rgba[::-1]).ravel())   # Blender: bottom-up
    return image


def look_at(obj, target=(0.0, 0.0, 0.0)) -> None:
    direction = Vector(target) - obj.location
    obj.rotation_euler = direction.to_track_quat('-Z', 'Y').to_euler()


@pytest.fixture
def scene(prefs):
    """A camera 0.8 m from the origin, looking at it, and a 96 x 72 image at 192 x 144 render."""
    _clear_file()
    scn = bpy.context.scene
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scn.collection.objects.link(cam)
    cam.location = (0.0, -0.75, 0.28)
    look_at(cam)
    scn.camera = cam
    bpy.context.view_layer.update()                   # matrix_world from location/rotation
    scn.render.resolution_x, scn.render.resolution_y = 192, 144
    scn.render.resolution_percentage = 100
    scn.render.pixel_aspect_x = scn.render.pixel_aspect_y = 1.0
    settings = scn.pixel2mesh
    for name in ("image_source", "image", "image_path", "camera", "stage", "crop_to_object",
                 "remove_background", "device", "shade_smooth", "project_texture", "placement", "parent_to_camera",
                 "object_name"):
        settings.property_unset(name)
    settings.image = new_image("photo", silhouette_rgba(96, 72))
    operators.STATUS.result = operators.STATUS.error = ""
    return scn


def reconstruct_like_a_click():
    """Run the operator the way a button does, undo step included (undo=True)."""
    return bpy.ops.pixel2mesh.reconstruct('EXEC_DEFAULT', True)


def counts() -> tuple[int, ...]:
    return (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.materials),
            len(bpy.data.images))


def project_world(scn, cam, points_world: np.ndarray) -> np.ndarray:
    """Blender's own projection -> (N, 2) pixels (u right, v down) of the render."""
    width, height = camera_math.render_size(scn)
    out = []
    for p in points_world:
        x, y, _ = world_to_camera_view(scn, cam, Vector(p))
        out.append((x * width, (1.0 - y) * height))
    return np.array(out)


def world_vertices(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    m = np.array(obj.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


# ----------------------------------------------------------------------------- registration
def test_register_and_unregister_twice():
    """Enabling registers the panel and, through the package's register(), the batch's
    `blender -c pixel2mesh` command; disabling removes both."""
    from blender_p2m.batch import cli_command

    was_enabled = ADDON in bpy.context.preferences.addons
    if was_enabled:
        addon_utils.disable(ADDON, default_set=True)
    for _ in range(2):
        addon_utils.enable(ADDON, default_set=True)
        assert hasattr(bpy.types.Scene, "pixel2mesh")
        assert hasattr(bpy.ops.pixel2mesh, "reconstruct")
        assert ADDON in bpy.context.preferences.addons
        assert cli_command._handle is not None
        addon_utils.disable(ADDON, default_set=True)
        assert not hasattr(bpy.types.Scene, "pixel2mesh")
        assert ADDON not in bpy.context.preferences.addons
        assert cli_command._handle is None
    if was_enabled:
        addon_utils.enable(ADDON, default_set=True)


def test_registration_error_surfaces_and_rolls_back(monkeypatch):
    """A class that fails to register is an error, and nothing stays half-registered."""
    import blender_p2m.addon as addon_pkg

    was_enabled = ADDON in bpy.context.preferences.addons
    if was_enabled:
        addon_utils.disable(ADDON, default_set=True)

    class P2M_OT_broken(bpy.types.Operator):
        bl_idname = "not a valid idname"
        bl_label = "Broken"

    monkeypatch.setattr(addon_pkg.ui, "CLASSES", addon_pkg.ui.CLASSES + (P2M_OT_broken,))
    with pytest.raises(RuntimeError, match="invalid bl_idname"):
        addon_pkg.register()
    assert not hasattr(bpy.types.Scene, "pixel2mesh")
    assert not hasattr(bpy.types, "P2M_OT_reconstruct")
    monkeypatch.undo()
    if was_enabled:
        addon_utils.enable(ADDON, default_set=True)


# ----------------------------------------------------------------------------- camera math
def _random_camera_setup(rng: random.Random, scn, cam) -> None:
    data = cam.data
    data.type = 'PERSP'
    data.lens = rng.uniform(12.0, 120.0)
    data.sensor_width = rng.uniform(8.0, 50.0)
    data.sensor_height = rng.uniform(6.0, 40.0)
    data.sensor_fit = rng.choice(['AUTO', 'HORIZONTAL', 'VERTICAL'])
    data.shift_x = rng.uniform(-0.4, 0.4)
    data.shift_y = rng.uniform(-0.4, 0.4)
    r = scn.render
    r.resolution_x = rng.randint(64, 2400)
    r.resolution_y = rng.randint(64, 2400)
    r.resolution_percentage = rng.choice([100, 100, 50, 25, 33, 150, 77])
    r.pixel_aspect_x = rng.choice([1.0, 1.0, rng.uniform(1.0, 2.5)])
    r.pixel_aspect_y = rng.choice([1.0, 1.0, rng.uniform(1.0, 2.5)])
    cam.location = (rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-3, 3))
    cam.rotation_euler = Euler((rng.uniform(-math.pi, math.pi) for _ in range(3)))
    cam.scale = (rng.uniform(0.5, 2.0),) * 3


def _project_with_render_matrix(scn, cam, cam_points: np.ndarray) -> np.ndarray:
    """Blender's render projection (calc_matrix_camera at the integer render size) -> pixels."""
    width, height = camera_math.render_size(scn)
    r = scn.render
    projection = np.array(cam.calc_matrix_camera(bpy.context.evaluated_depsgraph_get(), x=width,
                                                 y=height, scale_x=r.pixel_aspect_x,
                                                 scale_y=r.pixel_aspect_y))
    clip = np.c_[cam_points, np.ones(len(cam_points))] @ projection.T    # (N, 4)
    ndc = clip[:, :2] / clip[:, 3:]
    return np.stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height], axis=1)


def test_intrinsics_match_world_to_camera_view(scene):
    """Agreement with Blender's own projections for random cameras and renders.

    world_to_camera_view uses the render's aspect ratio before the percentage is applied,
    while the render itself uses the integer size after it: where a percentage rounds the
    size, the two differ by a fraction of a pixel, so exact agreement is asked only where
    it does not round (and always with the render's own projection matrix).
    """
    rng = random.Random(7)
    cam = scene.camera
    for trial in range(60):
        _random_camera_setup(rng, scene, cam)
        bpy.context.view_layer.update()
        intr = camera_math.intrinsics_from_camera(cam, scene)
        assert (intr.width, intr.height) == camera_math.render_size(scene)
        # Points on rays through random pixels at random depths, built with our intrinsics...
        pixels = np.array([(rng.uniform(0, intr.width), rng.uniform(0, intr.height))
                           for _ in range(20)])
        depth = np.array([rng.uniform(0.5, 20.0) for _ in range(20)])
        cam_points = np.stack([(pixels[:, 0] - intr.cx) / intr.fx * depth,
                               -(pixels[:, 1] - intr.cy) / intr.fy * depth, -depth], axis=1)
        to_world = np.array(camera_math.camera_to_world_matrix(cam))
        world = cam_points @ to_world[:3, :3].T + to_world[:3, 3]
        # ...land on those pixels by Blender's projections.
        r = scene.render
        exact = (r.resolution_x * r.resolution_percentage) % 100 == 0 and \
                (r.resolution_y * r.resolution_percentage) % 100 == 0
        err = np.abs(project_world(scene, cam, world) - pixels).max()
        assert err < (0.01 if exact else 1.0), (trial, intr, err, cam.data.sensor_fit)
        err_render = np.abs(_project_with_render_matrix(scene, cam, cam_points) - pixels).max()
        assert err_render < 0.01, (trial, intr, err_render, cam.data.sensor_fit)


def test_intrinsics_exact_for_a_known_camera(scene):
    cam = scene.camera
    cam.data.lens, cam.data.sensor_width, cam.data.sensor_fit = 50.0, 36.0, 'AUTO'
    cam.data.shift_x = cam.data.shift_y = 0.0
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
    scene.render.resolution_percentage = 50
    intr = camera_math.intrinsics_from_camera(cam, scene)
    assert intr == Intrinsics(50 / 36 * 960, 50 / 36 * 960, 480.0, 270.0, 960, 540)


def test_set_camera_from_intrinsics_round_trip(scene):
    rng = random.Random(3)
    for _ in range(40):
        w, h = rng.randint(32, 4000), rng.randint(32, 4000)
        fx = rng.uniform(0.3, 4.0) * max(w, h)
        fy = fx * rng.choice([1.0, 1.0, rng.uniform(0.5, 2.0)])
        intr = Intrinsics(fx, fy, rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, w, h)
        camera_math.set_camera_from_intrinsics(scene.camera.data, scene, intr)
        back = camera_math.intrinsics_from_camera(scene.camera, scene)
        assert (back.width, back.height) == (w, h)
        np.testing.assert_allclose([back.fx, back.fy, back.cx, back.cy],
                                   [intr.fx, intr.fy, intr.cx, intr.cy], rtol=1e-5, atol=1e-3)


def test_set_camera_refuses_what_blender_cannot_represent(scene):
    with pytest.raises(P2MError, match="too wide"):
        camera_math.set_camera_from_intrinsics(scene.camera.data, scene,
                                               Intrinsics(1.0, 1.0, 50, 50, 100, 100))
    with pytest.raises(P2MError, match="off-centre"):
        camera_math.set_camera_from_intrinsics(scene.camera.data, scene,
                                               Intrinsics(100, 100, 5000, 50, 100, 100))


@pytest.mark.parametrize("kind, words", [('ORTHO', "orthographic"), ('PANO', "panoramic")])
def test_non_perspective_cameras_have_no_intrinsics(scene, kind, words):
    scene.camera.data.type = kind
    with pytest.raises(P2MError, match=words):
        camera_math.intrinsics_from_camera(scene.camera, scene)


# ----------------------------------------------------------------------------- reconstruct
def test_one_undo_removes_object_material_and_texture(scene, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray((silhouette_rgba(96, 72) * 255).astype(np.uint8)).save(path)
    s = scene.pixel2mesh
    s.image_source, s.image_path, s.project_texture = 'FILE', str(path), True
    before = counts()
    bpy.ops.ed.undo_push(message="before Reconstruct")
    assert reconstruct_like_a_click() == {'FINISHED'}
    assert counts() == tuple(n + 1 for n in before)        # object, mesh, material, texture
    bpy.ops.ed.undo()
    assert counts() == before


def test_reconstruct_creates_an_aligned_mesh_and_one_undo_removes_it(scene):
    before = counts()
    bpy.ops.ed.undo_push(message="before Reconstruct")
    assert reconstruct_like_a_click() == {'FINISHED'}
    obj = bpy.context.view_layer.objects.active
    assert obj is not None and obj.name == "Pixel2Mesh" and obj.select_get()
    assert obj.type == 'MESH' and len(obj.data.vertices) == 2466
    assert obj.name in bpy.context.view_layer.active_layer_collection.collection.objects
    assert obj["p2m_stage"] == "fine" and obj["p2m_source_image"] == "photo"
    assert Path(obj["p2m_weights"]).name == "tiny.pt"
    assert obj.data.polygons[0].use_smooth
    # Blender's own projection puts the mesh inside the image.
    uv = project_world(scene, scene.camera, world_vertices(obj))
    assert (uv[:, 0] > 0).all() and (uv[:, 0] < 192).all()
    assert (uv[:, 1] > 0).all() and (uv[:, 1] < 144).all()
    assert "Created 'Pixel2Mesh'" in operators.STATUS.result and not operators.STATUS.error
    bpy.ops.ed.undo()
    assert counts() == before
    assert "Pixel2Mesh" not in bpy.data.objects


def test_remove_background_needs_weights_with_a_silhouette_head(scene):
    """On: the tiny test weights have no head, so the click says so and builds nothing; Auto
    (the default) then keeps the background and records what it did on the object."""
    before = counts()
    scene.pixel2mesh.remove_background = 'ON'
    with pytest.raises(RuntimeError, match="silhouette head"):
        reconstruct_like_a_click()
    assert counts() == before and "silhouette head" in operators.STATUS.error
    scene.pixel2mesh.remove_background = 'AUTO'
    assert reconstruct_like_a_click() == {'FINISHED'}
    assert bpy.data.objects["Pixel2Mesh"]["p2m_background"] == "auto"


@pytest.mark.parametrize("logit", [-20.0, 20.0])
def test_remove_background_with_a_silhouette_head(scene, prefs, tmp_path, logit):
    """A head that finds no object: the click says so and what to try, and builds nothing.
    A head that finds the whole picture: the mesh is built, and its texture shows the picture
    (background included: the head called it all object) wherever the mesh projects."""
    from constant_head import constant_head_model

    model = constant_head_model(tmp_path, logit)
    prefs.weights_path = model.weights_path
    settings = scene.pixel2mesh
    settings.image = new_image("opaque", np.concatenate([gradient_silhouette_rgba(96, 72)[..., :3],
                                                         np.ones((72, 96, 1), np.float32)], axis=-1))
    settings.remove_background, settings.project_texture = 'ON', True
    before = counts()
    if logit < 0:
        with pytest.raises(RuntimeError, match="No object found"):
            reconstruct_like_a_click()
        assert counts() == before and "Remove Background: Off" in operators.STATUS.error
        return
    assert reconstruct_like_a_click() == {'FINISHED'}
    obj = bpy.data.objects["Pixel2Mesh"]
    assert obj["p2m_background"] == "remove" and counts() == tuple(n + 1 for n in before)
    uvs, pixels = _loop_uvs_and_pixels(scene, obj, n=len(obj.data.loops))
    from blender_p2m.blender.image import image_to_rgba

    texture = image_to_rgba(texture_image_of(obj))[..., :3]
    h, w = texture.shape[:2]
    shown = texture[np.clip(((1 - uvs[:, 1]) * h).astype(int), 0, h - 1), np.clip((uvs[:, 0] * w).astype(int), 0, w - 1)]
    picture = settings.image.pixels[:]
    picture = np.asarray(picture, np.float32).reshape(72, 96, 4)[::-1, :, :3]
    px = pixels / 2.0
    inner = (px[:, 0] > 2) & (px[:, 0] < 94) & (px[:, 1] > 2) & (px[:, 1] < 70)
    mean = picture.reshape(-1, 3).mean(axis=0)
    textured = inner & (np.abs(shown - mean).max(axis=1) > 0.02)
    assert textured.sum() > 20
    np.testing.assert_allclose(shown[textured], picture[px[textured, 1].astype(int), px[textured, 0].astype(int)],
                               atol=0.03)


def test_normals_point_outward(scene):
    reconstruct_like_a_click()
    obj = bpy.data.objects["Pixel2Mesh"]
    verts = world_vertices(obj)
    centre = verts.mean(axis=0)
    normals = np.empty(len(obj.data.polygons) * 3, dtype=np.float32)
    obj.data.polygons.foreach_get("normal", normals)
    centres = np.empty(len(obj.data.polygons) * 3, dtype=np.float32)
    obj.data.polygons.foreach_get("center", centres)
    outward = np.einsum("ij,ij->i", normals.reshape(-1, 3), centres.reshape(-1, 3) - centre)
    assert (outward > 0).mean() > 0.9


def test_model_is_loaded_once_and_reused(scene):
    from blender_p2m.addon import worker

    worker.MODELS.clear()
    reconstruct_like_a_click()
    reconstruct_like_a_click()
    assert len(worker.MODELS) == 1
    assert "Pixel2Mesh.001" in bpy.data.objects


@pytest.mark.parametrize("stage, n", [("coarse", 156), ("medium", 618)])
def test_stage_choice(scene, stage, n):
    scene.pixel2mesh.stage = stage
    reconstruct_like_a_click()
    obj = bpy.context.view_layer.objects.active
    assert len(obj.data.vertices) == n and obj["p2m_stage"] == stage


def test_options_texture_parent_name_flat_crop(scene):
    s = scene.pixel2mesh
    s.image = new_image("gradient", gradient_silhouette_rgba(96, 72))
    s.project_texture, s.parent_to_camera, s.shade_smooth = True, True, False
    s.crop_to_object, s.object_name = True, "Vase"
    reconstruct_like_a_click()
    obj = bpy.data.objects["Vase"]
    assert obj.parent == scene.camera and obj["p2m_crop"] == "object"
    assert not obj.data.polygons[0].use_smooth
    image = texture_image_of(obj)
    assert image.name == "Vase texture" and image.packed_file is not None   # saved with the file
    assert_texture_shows_the_picture(scene, obj, gradient_silhouette_rgba(96, 72))


def texture_image_of(obj):
    textures = [n for n in obj.data.materials[0].node_tree.nodes if n.type == 'TEX_IMAGE']
    assert len(textures) == 1
    return textures[0].image


def assert_texture_shows_the_picture(scn, obj, picture: np.ndarray) -> None:
    """The texture, looked up through the mesh's UVs, shows the picture (RGBA, top-down, at
    half the render size) where Blender projects each face corner, inside the silhouette;
    the object's mean colour elsewhere; and never the background (red, alpha 0)."""
    from blender_p2m.blender.image import image_to_rgba

    texture = image_to_rgba(texture_image_of(obj))[..., :3]                       # (h, w, 3)
    assert not ((texture[..., 0] > 0.6) & (texture[..., 2] < 0.4)).any()          # no background
    uvs, pixels = _loop_uvs_and_pixels(scn, obj, n=len(obj.data.loops))
    h, w = texture.shape[:2]
    shown = texture[np.clip(((1 - uvs[:, 1]) * h).astype(int), 0, h - 1),
                    np.clip((uvs[:, 0] * w).astype(int), 0, w - 1)]                # (L, 3)
    inside = picture[..., 3] > 0.5
    mean = picture[inside, :3].mean(axis=0)
    px = pixels / 2.0                                                             # picture pixels
    row, col = np.clip(px[:, 1].astype(int), 0, 71), np.clip(px[:, 0].astype(int), 0, 95)
    deep = inside[np.clip(row - 2, 0, 71), col] & inside[np.clip(row + 2, 0, 71), col] & \
        inside[row, np.clip(col - 2, 0, 95)] & inside[row, np.clip(col + 2, 0, 95)]
    textured = np.abs(shown - mean).max(axis=1) > 0.02                            # not the mean colour
    assert (textured & deep).sum() > 20
    np.testing.assert_allclose(shown[textured & deep], picture[row, col, :3][textured & deep], atol=0.03)
    assert not textured[~inside[row, col]].any()                                  # outside: mean colour
    # Each corner's UV is its own vertex's projection: within a seen face, UV steps between
    # corners are the projected steps (in texels = picture pixels here), corner by corner.
    face_uv, face_px = uvs.reshape(-1, 3, 2), px.reshape(-1, 3, 2)
    seen = np.ptp(face_uv, axis=1).max(axis=1) > 0                                # band faces collapse
    steps_uv = (face_uv[seen, 1:] - face_uv[seen, :1]) * [w, -h]
    np.testing.assert_allclose(steps_uv, face_px[seen, 1:] - face_px[seen, :1], atol=0.05)


def test_panel_preview_shows_what_the_network_saw_with_the_silhouette(scene):
    """After a click the panel's preview holds the network's input with the silhouette
    outlined; a new click clears it first, and a failed click leaves none."""
    from blender_p2m.addon import network_preview, reconstruct_job, worker
    from blender_p2m.network_view import OUTLINE_COLOUR, outline

    assert reconstruct_like_a_click() == {'FINISHED'}
    preview = network_preview.current()
    assert preview is not None                        # (icon ids exist only with a UI)
    size = tuple(preview.image_size)
    shown = np.empty(size[0] * size[1] * 4, dtype=np.float32)
    preview.image_pixels_float.foreach_get(shown)
    shown = shown.reshape(size[1], size[0], 4)[::-1]                  # top-down
    plan = reconstruct_job.plan_reconstruction(bpy.context)
    outcome = worker.reconstruct(plan.request)
    line = outline(outcome.network_mask)
    assert size == outcome.network_image.shape[1::-1] and 0 < line.mean() < 0.2
    byte = 0.5 / 255 + 1e-6                                         # previews hold 8-bit pixels
    np.testing.assert_allclose(shown[line, :3], np.broadcast_to(OUTLINE_COLOUR, (line.sum(), 3)), atol=byte)
    np.testing.assert_allclose(shown[~line, :3], outcome.network_image[~line], atol=byte)
    scene.pixel2mesh.object_name = " "
    with pytest.raises(RuntimeError, match="object name is empty"):
        reconstruct_like_a_click()
    assert network_preview.current() is None


def test_texture_lines_up_through_a_mirrored_camera(scene):
    """A camera scaled by -1 on X mirrors the view and the winding: the texture still shows
    the picture where Blender projects each corner."""
    scene.camera.scale.x = -1.0
    bpy.context.view_layer.update()
    s = scene.pixel2mesh
    s.image = new_image("gradient", gradient_silhouette_rgba(96, 72))
    s.project_texture = True
    assert reconstruct_like_a_click() == {'FINISHED'}
    assert_texture_shows_the_picture(scene, bpy.data.objects["Pixel2Mesh"], gradient_silhouette_rgba(96, 72))


def test_parenting_keeps_the_world_position(scene):
    reconstruct_like_a_click()
    loose = world_vertices(bpy.data.objects["Pixel2Mesh"])
    scene.pixel2mesh.parent_to_camera = True
    reconstruct_like_a_click()
    parented = world_vertices(bpy.data.objects["Pixel2Mesh.001"])
    np.testing.assert_allclose(loose, parented, atol=1e-5)


def test_placement_at_cursor_depth_keeps_alignment(scene):
    reconstruct_like_a_click()
    predicted = world_vertices(bpy.data.objects["Pixel2Mesh"])
    scene.cursor.location = (0.3, 0.8, 0.0)           # farther away than the prediction
    scene.pixel2mesh.placement = 'CURSOR'
    reconstruct_like_a_click()
    placed = world_vertices(bpy.data.objects["Pixel2Mesh.001"])
    np.testing.assert_allclose(project_world(scene, scene.camera, placed[::40]),
                               project_world(scene, scene.camera, predicted[::40]), atol=1e-2)
    cursor_depth = camera_math.camera_depth_of(scene.camera, scene.cursor.location)
    depths = np.array([camera_math.camera_depth_of(scene.camera, Vector(p)) for p in placed])
    assert abs(0.5 * (depths.min() + depths.max()) - cursor_depth) < 1e-4


def test_file_source_leaves_no_image_behind(scene, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray((silhouette_rgba(120, 90) * 255).astype(np.uint8)).save(path)
    s = scene.pixel2mesh
    s.image_source, s.image_path = 'FILE', str(path)
    n_images = len(bpy.data.images)
    reconstruct_like_a_click()
    assert len(bpy.data.images) == n_images
    assert bpy.data.objects["Pixel2Mesh"]["p2m_source_image"] == str(path)
    s.project_texture = True
    reconstruct_like_a_click()
    assert len(bpy.data.images) == n_images + 1      # the texture only, packed: not the file
    texture = texture_image_of(bpy.data.objects["Pixel2Mesh.001"])
    assert texture.packed_file is not None and not texture.filepath


def _loop_uvs_and_pixels(scn, obj, n=60):
    """(UVs, Blender-projected pixels) of the first n face corners of obj."""
    uvs = np.empty(len(obj.data.loops) * 2, dtype=np.float32)
    obj.data.uv_layers[0].data.foreach_get("uv", uvs)
    loop_verts = np.empty(len(obj.data.loops), dtype=np.int32)
    obj.data.loops.foreach_get("vertex_index", loop_verts)
    pixels = project_world(scn, scn.camera, world_vertices(obj)[loop_verts[:n]])
    return uvs.reshape(-1, 2)[:n], pixels


def test_camera_background_source_with_flip(scene):
    """A mirrored background image is what the camera shows: the network sees it mirrored
    and the texture shows it mirrored, as the camera does."""
    picture = gradient_silhouette_rgba(96, 72)
    bg = scene.camera.data.background_images.new()
    bg.image = new_image("gradient", picture)
    bg.use_flip_x = True
    s = scene.pixel2mesh
    s.image_source, s.image, s.project_texture = 'CAMERA_BACKGROUND', None, True
    reconstruct_like_a_click()
    obj = bpy.data.objects["Pixel2Mesh"]
    assert obj["p2m_source_image"] == "gradient"
    assert_texture_shows_the_picture(scene, obj, np.ascontiguousarray(picture[:, ::-1]))


def test_image_pixels_are_read_top_down(scene):
    from blender_p2m.blender.image import image_to_rgba

    rgba = np.zeros((6, 8, 4), np.float32)
    rgba[0, :, 0] = 1.0                                # top row red
    rgba[..., 3] = 1.0
    image = new_image("rows", rgba)
    np.testing.assert_allclose(image_to_rgba(image), rgba)


def _request(weights, rgba=None):
    from blender_p2m.addon import worker

    rgba = silhouette_rgba(96, 72) if rgba is None else rgba
    return worker.ReconstructRequest(rgba=rgba, intrinsics=Intrinsics(200, 200, 96, 72, 192, 144),
                                     stage="medium", crop=None, weights=str(weights), device="cpu")


def test_worker_thread_reports_steps_then_the_mesh(tiny_checkpoint):
    from blender_p2m.addon import worker

    job = worker.ReconstructWorker(_request(tiny_checkpoint))
    job.start()
    job.join(timeout=60)
    messages = job.drain()
    assert [m[2] for m in messages if m[0] == "step"] == [
        "Loading PyTorch", "Loading the model", "Reconstructing"]
    kind, outcome = messages[-1]
    assert kind == "done" and outcome.vertices.shape == (618, 3)
    # The intrinsics were given for the 192 x 144 render; the image is 96 x 72.
    assert outcome.intrinsics == Intrinsics(100, 100, 48, 36, 96, 72)


def test_cancelled_worker_sends_nothing(tiny_checkpoint):
    from blender_p2m.addon import worker

    job = worker.ReconstructWorker(_request(tiny_checkpoint))
    job.cancelled.set()
    job.start()
    job.join(timeout=60)
    assert job.drain() == []


def test_worker_failure_is_a_message_not_a_traceback(tmp_path):
    from blender_p2m.addon import worker

    job = worker.ReconstructWorker(_request(tmp_path / "missing.pt"))
    job.start()
    job.join(timeout=60)
    kind, message = job.drain()[-1]
    assert kind == "failed" and "Weights file not found" in message


# ----------------------------------------------------------------------------- error cases
def _remove_camera(scn):
    scn.camera = None


def _ortho(scn):
    scn.camera.data.type = 'ORTHO'


def _pano(scn):
    scn.camera.data.type = 'PANO'


def _no_image(scn):
    scn.pixel2mesh.image = None


def _aspect(scn):
    scn.render.resolution_x, scn.render.resolution_y = 1920, 1080


def _missing_file(scn):
    scn.pixel2mesh.image_source, scn.pixel2mesh.image_path = 'FILE', "/nonexistent/photo.png"


def _not_an_image_file(scn):
    path = Path(bpy.app.tempdir or "/tmp") / "p2m_not_an_image.png"
    path.write_bytes(b"this is not a png")
    scn.pixel2mesh.image_source, scn.pixel2mesh.image_path = 'FILE', str(path)


def _no_background(scn):
    scn.pixel2mesh.image_source = 'CAMERA_BACKGROUND'


def _shifted_background(scn):
    bg = scn.camera.data.background_images.new()
    bg.image, bg.offset = scn.pixel2mesh.image, (0.2, 0.0)
    scn.pixel2mesh.image_source = 'CAMERA_BACKGROUND'


def _missing_weights(scn):
    bpy.context.preferences.addons[ADDON].preferences.weights_path = "/nonexistent/weights.pt"


def _bad_weights(scn):
    path = Path(bpy.app.tempdir or "/tmp") / "p2m_bad_weights.pt"
    path.write_bytes(b"not a checkpoint")
    bpy.context.preferences.addons[ADDON].preferences.weights_path = str(path)


def _cuda(scn):
    scn.pixel2mesh.device = 'CUDA'


def _cursor_behind(scn):
    scn.pixel2mesh.placement = 'CURSOR'
    scn.cursor.location = scn.camera.matrix_world @ Vector((0.0, 0.0, 1.0))


def _empty_name(scn):
    scn.pixel2mesh.object_name = "   "


def _zero_resolution(scn):
    scn.render.resolution_percentage = 1
    scn.render.resolution_x = 50


def _uniform_image_with_crop(scn):
    scn.pixel2mesh.image = new_image("blank", np.ones((72, 96, 4), np.float32))
    scn.pixel2mesh.crop_to_object = True


ERROR_CASES = [
    (_remove_camera, "No camera"),
    (_ortho, "orthographic"),
    (_pano, "panoramic"),
    (_no_image, "No image picked"),
    (_aspect, "cannot line up"),
    (_missing_file, "not found"),
    (_not_an_image_file, "cannot read"),
    (_no_background, "no background image"),
    (_shifted_background, "offset, rotated or scaled"),
    (_missing_weights, "Weights file not found"),
    (_bad_weights, "p2m_bad_weights.pt"),
    (_cursor_behind, "behind the camera"),
    (_empty_name, "name is empty"),
    (_zero_resolution, "render resolution"),
    (_uniform_image_with_crop, "No object found"),
]


@pytest.mark.parametrize("break_scene, message", ERROR_CASES,
                         ids=[f.__name__.strip("_") for f, _ in ERROR_CASES])
def test_each_error_says_what_to_do_and_changes_nothing(scene, break_scene, message):
    break_scene(scene)
    before = counts()
    names = sorted(bpy.data.objects.keys())
    with pytest.raises(RuntimeError, match=message):   # bpy.ops raises on an ERROR report
        reconstruct_like_a_click()
    assert counts() == before and sorted(bpy.data.objects.keys()) == names
    assert message.split("|")[0].split()[0].lower() in operators.STATUS.error.lower()
    assert not operators.STATUS.running


def test_cuda_without_cuda_is_a_clear_error(scene):
    from blender_p2m import api

    if "cuda" in api.available_devices():
        pytest.skip("this machine has CUDA")
    scene.pixel2mesh.device = 'CUDA'
    before = counts()
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        reconstruct_like_a_click()
    assert counts() == before


def test_missing_bundled_weights_shows_the_api_message(scene, prefs):
    from blender_p2m import api

    if api.bundled_weights_path() is not None:
        pytest.skip("bundled weights exist")
    prefs.weights_path = ""
    before = counts()
    with pytest.raises(RuntimeError, match="No bundled weights"):
        reconstruct_like_a_click()
    assert counts() == before


def test_failure_while_building_removes_everything(scene, monkeypatch):
    """All or nothing: a failure after the mesh datablock exists leaves nothing behind."""
    scene.pixel2mesh.project_texture = True

    def broken_material(name, image):
        raise P2MError("material could not be made")

    monkeypatch.setattr(mesh_object, "_image_material", broken_material)
    before = counts()
    with pytest.raises(RuntimeError, match="material could not be made"):
        reconstruct_like_a_click()
    assert counts() == before


@pytest.mark.parametrize("image_height, fits", [(500, True), (496, True), (504, True), (494, False), (506, False)])
def test_the_panel_and_the_api_apply_one_aspect_rule(image_height, fits):
    """The panel refuses, before any work, exactly the images the API would refuse: one
    tolerance (intrinsics.ASPECT_TOLERANCE, 1 %), two messages (the panel's names the fix)."""
    from blender_p2m.addon.reconstruct_job import check_aspect

    render = Intrinsics(800.0, 800.0, 500.0, 250.0, 1000, 500)       # a 2:1 render
    outcomes = []
    for check in (lambda: render.for_image(1000, image_height),
                  lambda: check_aspect(1000, image_height, render, "Camera")):
        try:
            check()
            outcomes.append(True)
        except P2MError:
            outcomes.append(False)
    assert outcomes == [fits, fits]


# ----------------------------------------------------------------------------- bundled weights
def render_object_photo(scn, path: Path) -> np.ndarray:
    """Render a box as the training data shows objects (bounding-box diagonal 0.57 m, centre
    on the optical axis 0.8 m away, seen from 20 degrees above) with Workbench, transparent
    background, through the scene camera. Returns its alpha (H, W), rows top-down."""
    from PIL import Image

    cam = scn.camera
    cam.data.lens, cam.data.sensor_width, cam.data.sensor_fit = 35.0, 32.0, 'HORIZONTAL'
    cam.location = (0.0, -0.8 * math.cos(math.radians(20)), 0.8 * math.sin(math.radians(20)))
    look_at(cam)
    import bmesh

    mesh = bpy.data.meshes.new("photo_box")
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    bm.to_mesh(mesh)
    bm.free()
    box = bpy.data.objects.new("photo_box", mesh)
    scn.collection.objects.link(box)             # visible whatever the active collection is
    box.scale = (0.36, 0.22, 0.38)                   # diagonal ~0.57 m
    box.rotation_euler = (0.0, 0.0, math.radians(30))
    scn.render.resolution_x = scn.render.resolution_y = 224
    scn.render.engine = 'BLENDER_WORKBENCH'
    scn.render.film_transparent = True
    scn.render.image_settings.file_format = 'PNG'
    scn.render.image_settings.color_mode = 'RGBA'
    scn.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    bpy.data.objects.remove(box)
    bpy.data.meshes.remove(mesh)
    return np.asarray(Image.open(path), dtype=np.float32)[..., 3] / 255.0


def test_bundled_weights_mesh_lies_inside_the_silhouette(scene, prefs, tmp_path):
    """With trained weights, the mesh projects onto the object in the photo."""
    from blender_p2m import api

    if api.bundled_weights_path() is None:
        pytest.skip(f"no bundled weights yet (weights/{api.BUNDLED_WEIGHTS_NAME})")
    prefs.weights_path = ""
    alpha = render_object_photo(scene, tmp_path / "box.png")
    assert (alpha > 0.5).mean() > 0.05, "the test photo did not render the box"
    s = scene.pixel2mesh
    s.image_source, s.image_path = 'FILE', str(tmp_path / "box.png")
    assert reconstruct_like_a_click() == {'FINISHED'}
    obj = bpy.data.objects["Pixel2Mesh"]
    uv = project_world(scene, scene.camera, world_vertices(obj))              # (N, 2) pixels
    cols, rows = np.clip(uv.astype(int), 0, 223).T
    near_object = np.maximum.reduce([np.roll(alpha > 0.5, (dy, dx), axis=(0, 1))
                                     for dy in (-4, 0, 4) for dx in (-4, 0, 4)])  # 4 px margin
    inside = near_object[rows, cols].mean()
    assert inside > 0.9, f"only {inside:.0%} of the vertices project onto the object"


# ----------------------------------------------------------------------------- PyTorch setup
def test_install_refused_without_online_access(addon, monkeypatch):
    monkeypatch.setattr(torch_setup, "online_access_allowed", lambda: False)
    with pytest.raises(RuntimeError, match="Online access is disabled"):
        bpy.ops.pixel2mesh.install_torch(build='CPU')
    assert torch_setup.STATE.failed and not torch_setup.STATE.running


def test_install_runs_pip_into_the_user_folder(addon, monkeypatch, tmp_path):
    calls = []

    def fake_pip(target, build):
        calls.append((target, build))
        return [sys.executable, "-c", "print('Successfully installed torch')"]

    monkeypatch.setattr(torch_setup, "online_access_allowed", lambda: True)
    monkeypatch.setattr(torch_setup, "install_dir", lambda create=False: str(tmp_path))
    monkeypatch.setattr(torch_setup, "pip_install_command", fake_pip)
    assert bpy.ops.pixel2mesh.install_torch(build='CPU') == {'FINISHED'}
    assert calls == [(str(tmp_path), 'CPU')]
    assert "PyTorch installed" in torch_setup.STATE.outcome and not torch_setup.STATE.failed
    assert str(tmp_path) in sys.path
    sys.path.remove(str(tmp_path))


def test_install_failure_is_reported(addon, monkeypatch, tmp_path):
    monkeypatch.setattr(torch_setup, "online_access_allowed", lambda: True)
    monkeypatch.setattr(torch_setup, "install_dir", lambda create=False: str(tmp_path))
    monkeypatch.setattr(torch_setup, "pip_install_command",
                        lambda target, build: [sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(RuntimeError, match="exit code 3"):
        bpy.ops.pixel2mesh.install_torch(build='CPU')
    assert torch_setup.STATE.failed


def test_install_location_is_outside_the_addon_folder(addon):
    import blender_p2m

    package_dir = Path(blender_p2m.__file__).resolve().parent
    target = Path(torch_setup.install_dir()).resolve()
    assert package_dir not in target.parents and target != package_dir


def test_pip_command_uses_the_right_index():
    cpu = torch_setup.pip_install_command("/x", "CPU")
    assert cpu[:3] == [sys.executable, "-m", "pip"] and "--target" in cpu and "torch" in cpu
    if sys.platform != "darwin":
        assert "https://download.pytorch.org/whl/cpu" in cpu
        assert "https://download.pytorch.org/whl/cu126" in torch_setup.pip_install_command("/x", "CUDA")


def test_site_packages_preference_adds_the_folder(addon, tmp_path):
    (tmp_path / "torch").mkdir()
    addon.torch_site_packages = str(tmp_path)
    try:
        assert str(tmp_path) in sys.path and torch_setup.STATE.site_packages_message is None
        addon.torch_site_packages = str(tmp_path / "missing")
        assert "not found" in torch_setup.STATE.site_packages_message
    finally:
        addon.torch_site_packages = ""
        sys.path.remove(str(tmp_path))


# ----------------------------------------------------------------------------- drawing
class RecordingLayout:
    """Stands in for UILayout in background mode: records what draw() asks for and, like
    Blender, refuses a property the data does not have or an operator that does not exist."""

    PROPERTY_CALLS = ("prop", "prop_enum", "prop_search", "props_enum", "template_ID")

    def __init__(self, log):
        self.log = log

    def __getattr__(self, name):
        def call(*args, **kwargs):
            if name in self.PROPERTY_CALLS:
                data, prop = args[0], args[1]
                assert prop in data.bl_rna.properties, f"{name}: {data.bl_rna.identifier} has no property {prop!r}"
            if name == "operator":
                category, _, operator = args[0].partition(".")
                getattr(getattr(bpy.ops, category), operator).get_rna_type()   # KeyError if unknown
            self.log.append((name, args, kwargs))
            if name in ("row", "column", "box", "split"):
                return RecordingLayout(self.log)
            return _Settable()
        return call

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)


class _Settable:
    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)


class _Context:
    def __init__(self, scn):
        self.scene = scn
        self.region = None
        self.preferences = bpy.context.preferences


@pytest.mark.parametrize("running", [False, True])
def test_panel_and_preferences_draw_without_errors(scene, addon, running, monkeypatch):
    from blender_p2m.addon import prefs as prefs_module
    from blender_p2m.addon import ui

    monkeypatch.setattr(operators.STATUS, "running", running)
    monkeypatch.setattr(operators.STATUS, "error", "" if running else "Something went wrong")
    log = []
    panel = type("P", (), {"layout": RecordingLayout(log)})()
    ui.VIEW3D_PT_pixel2mesh.draw(panel, _Context(scene))
    drawn = {name for name, _, _ in log}
    assert "operator" in drawn and "prop" in drawn
    if running:
        assert "progress" in drawn                  # Blender 4.0+ draws a bar
    texts = " ".join(str(kw.get("text", "")) for _, _, kw in log)
    assert ("Esc to cancel" in texts) if running else ("Something went wrong" in texts)
    log.clear()
    prefs_panel = type("Q", (), {"layout": RecordingLayout(log), "bl_rna": type(addon).bl_rna,
                                 "weights_path": addon.weights_path,
                                 "torch_site_packages": "", "torch_build": 'CPU'})()
    prefs_module.P2M_AP_preferences.draw(prefs_panel, _Context(scene))
    assert {args[1] for name, args, _ in log if name == "prop"} >= {"weights_path", "default_device"}


def test_panel_draws_the_network_view_after_a_result(scene, monkeypatch):
    from blender_p2m.addon import network_preview, ui

    network_preview.show(np.ones((8, 8, 4), np.float32))
    monkeypatch.setattr(operators.STATUS, "result", "Created 'Pixel2Mesh'")
    log = []
    ui.VIEW3D_PT_pixel2mesh.draw(type("P", (), {"layout": RecordingLayout(log)})(), _Context(scene))
    icons = [kw for name, _, kw in log if name == "template_icon"]
    assert icons == [{"icon_value": network_preview.current().icon_id, "scale": ui.PREVIEW_SCALE}]
    network_preview.clear()
    log.clear()
    ui.VIEW3D_PT_pixel2mesh.draw(type("P", (), {"layout": RecordingLayout(log)})(), _Context(scene))
    assert not [name for name, _, _ in log if name == "template_icon"]


def test_the_recording_layout_refuses_what_blender_would(scene):
    layout = RecordingLayout([])
    layout.prop(scene.pixel2mesh, "stage")
    with pytest.raises(AssertionError, match="no property 'no_such_setting'"):
        layout.prop(scene.pixel2mesh, "no_such_setting")
    with pytest.raises(KeyError):
        layout.operator("pixel2mesh.no_such_operator")
