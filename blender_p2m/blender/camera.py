"""Blender camera <-> pinhole intrinsics, by Blender's own rules (no torch, no numpy).

Blender describes a perspective camera by a lens and a sensor in millimetres, a sensor fit,
a lens shift and the scene's render resolution, percentage and pixel aspect. The model
wants pixels: ``Intrinsics(fx, fy, cx, cy, width, height)`` for the rendered image. The
rules (from Blender's ``BKE_camera_params_compute_viewplane``):

1. fit = sensor_fit; AUTO means HORIZONTAL if ax * W >= ay * H, else VERTICAL.
2. sensor = sensor_height if sensor_fit is explicitly VERTICAL, else sensor_width.
3. ycor = ay / ax; view = W if fit is HORIZONTAL, else ycor * H.
4. fx = lens / sensor * view; fy = fx / ycor.
5. cx = W / 2 - shift_x * view; cy = H / 2 + shift_y * view / ycor (rows grow downward).

Checked against ``bpy_extras.object_utils.world_to_camera_view`` in tests/test_addon_bpy.py.
The one implementation for the add-on (reading the user's camera), the batch (.blend
cameras and outputs) and training (rendering data and grids through given intrinsics).
"""
from __future__ import annotations

import math

from ..errors import P2MError
from ..intrinsics import Intrinsics

# Blender's limits for the values set_camera_from_intrinsics writes.
SENSOR_WIDTH_MM = 36.0
MIN_LENS_MM = 1.0
MAX_SHIFT = 10.0
MAX_PIXEL_ASPECT = 200.0


def render_size(scene) -> tuple[int, int]:
    """Rendered image size in pixels, as Blender computes it (integer percentage scaling)."""
    render = scene.render
    pct = render.resolution_percentage
    return render.resolution_x * pct // 100, render.resolution_y * pct // 100


def camera_data_of(camera_object):
    """The Camera datablock of an object, or a P2MError saying what to pick instead."""
    if camera_object is None:
        raise P2MError("No camera: the scene has no active camera and none is picked in the "
                       "Pixel2Mesh panel. Add a camera (Add > Camera) or pick one.")
    if camera_object.type != 'CAMERA':
        raise P2MError(f"'{camera_object.name}' is a {camera_object.type.lower()} object, not a "
                       f"camera. Pick a camera object in the Pixel2Mesh panel.")
    cam = camera_object.data
    if cam.type == 'ORTHO':
        raise P2MError(f"Camera '{camera_object.name}' is orthographic; Pixel2Mesh needs a "
                       f"perspective camera. Set Camera Properties > Lens > Type to Perspective.")
    if cam.type != 'PERSP':
        raise P2MError(f"Camera '{camera_object.name}' is panoramic; Pixel2Mesh needs a "
                       f"perspective camera. Set Camera Properties > Lens > Type to Perspective.")
    return cam


def intrinsics_from_camera(camera_object, scene) -> Intrinsics:
    """Pinhole intrinsics of a perspective camera for the scene's render resolution."""
    cam = camera_data_of(camera_object)
    width, height = render_size(scene)
    if width < 1 or height < 1:
        raise P2MError(f"The render resolution is {width}x{height} pixels. Set Output Properties "
                       f"> Format > Resolution (and %) to the size of your image.")
    ax, ay = scene.render.pixel_aspect_x, scene.render.pixel_aspect_y
    fit = cam.sensor_fit
    if fit == 'AUTO':
        fit = 'HORIZONTAL' if ax * width >= ay * height else 'VERTICAL'
    sensor = cam.sensor_height if cam.sensor_fit == 'VERTICAL' else cam.sensor_width
    ycor = ay / ax
    view = width if fit == 'HORIZONTAL' else ycor * height
    fx = cam.lens / sensor * view
    fy = fx / ycor
    cx = width / 2.0 - cam.shift_x * view
    cy = height / 2.0 + cam.shift_y * view / ycor
    return Intrinsics(fx, fy, cx, cy, width, height)


def set_camera_from_intrinsics(camera_data, scene, intr: Intrinsics) -> None:
    """Make a camera and the scene's render settings reproduce given intrinsics exactly.

    Uses a horizontal 36 mm sensor at 100 %; a non-square pixel (fx != fy) becomes the pixel
    aspect. Raises P2MError when Blender cannot represent the camera.
    """
    if intr.width < 1 or intr.height < 1 or intr.fx <= 0 or intr.fy <= 0:
        raise P2MError(f"Cannot build a camera from {intr}: size and focal lengths must be positive.")
    ycor = intr.fx / intr.fy                                    # = ay / ax
    ax, ay = (1.0, ycor) if ycor >= 1.0 else (1.0 / ycor, 1.0)
    lens = intr.fx * SENSOR_WIDTH_MM / intr.width
    shift_x = (intr.width / 2.0 - intr.cx) / intr.width
    shift_y = (intr.cy - intr.height / 2.0) * ycor / intr.width
    if max(ax, ay) > MAX_PIXEL_ASPECT:
        raise P2MError(f"fx/fy = {ycor:g} is beyond Blender's pixel aspect limit ({MAX_PIXEL_ASPECT:g}).")
    if lens < MIN_LENS_MM:
        raise P2MError(f"The field of view of {intr} is too wide for a Blender camera "
                       f"(lens {lens:.3g} mm on a {SENSOR_WIDTH_MM:g} mm sensor).")
    if abs(shift_x) > MAX_SHIFT or abs(shift_y) > MAX_SHIFT:
        raise P2MError(f"The principal point of {intr} is too far off-centre for a Blender "
                       f"camera (shift {shift_x:.3g}, {shift_y:.3g}; the limit is {MAX_SHIFT:g}).")
    camera_data.type = 'PERSP'
    camera_data.sensor_fit = 'HORIZONTAL'
    camera_data.sensor_width = SENSOR_WIDTH_MM
    camera_data.lens = lens
    camera_data.shift_x = shift_x
    camera_data.shift_y = shift_y
    render = scene.render
    render.resolution_x = intr.width
    render.resolution_y = intr.height
    render.resolution_percentage = 100
    render.pixel_aspect_x = ax
    render.pixel_aspect_y = ay


def camera_depth_of(camera_object, world_point) -> float:
    """Distance of a world point in front of the camera, along its viewing direction (-Z)."""
    to_camera = camera_object.matrix_world.normalized().inverted()
    return -(to_camera @ world_point).z


def camera_to_world_matrix(camera_object):
    """The rigid camera -> world transform (the camera object's scale is ignored, as in
    Blender's own projection, so the mesh keeps its predicted size in metres)."""
    return camera_object.matrix_world.normalized()


# Where a camera made for a picture stands: 2 m back from the origin, 0.5 m up, looking
# along +Y, level (a Blender user's usual "front" view), so the reconstruction lands near
# the origin instead of at it.
PICTURE_CAMERA_LOCATION = (0.0, -2.0, 0.5)
PICTURE_CAMERA_ROTATION = (math.pi / 2, 0.0, 0.0)


def add_camera_for_picture(scene, intr: Intrinsics, image=None, name: str = "Picture Camera"):
    """A new scene camera that reproduces a picture's intrinsics, with the picture behind it.

    Sets the render resolution to the picture's size and shows `image` (a bpy Image) as the
    camera's background, so what the camera sees lines up with the picture. Nothing is left
    in the file when the intrinsics cannot be represented (P2MError).
    """
    import bpy

    data = bpy.data.cameras.new(name)
    try:
        set_camera_from_intrinsics(data, scene, intr)
    except Exception:
        bpy.data.cameras.remove(data)
        raise
    if image is not None:
        data.show_background_images = True
        background = data.background_images.new()
        background.image = image
        background.alpha = 1.0
    camera = bpy.data.objects.new(name, data)
    camera.location = PICTURE_CAMERA_LOCATION
    camera.rotation_euler = PICTURE_CAMERA_ROTATION
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera
