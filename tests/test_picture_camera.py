"""A camera from a picture's EXIF data: the plain-Python reader, the intrinsics, the button.

The reader is checked against Pillow's own EXIF reading, the intrinsics against the field of
view a 36 mm-wide frame gives, and the camera the button makes against Blender's rules
(blender.camera.intrinsics_from_camera), then used by Reconstruct straight away.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from blender_p2m.exif import TAG_FOCAL_35MM, picture_camera, read_exif
from blender_p2m.intrinsics import Intrinsics


def photo_with_exif(path, width=300, height=200, focal_35mm=None, big_endian=False):
    """A real JPEG (a gradient with a disc) with the given FocalLengthIn35mmFilm, or none."""
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // width, yy * 255 // height, 128 + 0 * xx], -1).astype(np.uint8)
    rgb[((xx - width / 2) ** 2 + (yy - height / 2) ** 2) < (height / 4) ** 2] = (230, 120, 40)
    image = Image.fromarray(rgb)
    exif = Image.Exif()
    if big_endian:
        exif.endian = ">"
    exif[0x010F] = "blender-p2m test camera"                      # Make, in IFD0
    if focal_35mm is not None:
        exif.get_ifd(0x8769)[TAG_FOCAL_35MM] = focal_35mm
    image.save(path, exif=exif, quality=90)
    return path


@pytest.mark.parametrize("big_endian", [False, True])
def test_reader_agrees_with_pillow(tmp_path, big_endian):
    path = photo_with_exif(tmp_path / "p.jpg", focal_35mm=28, big_endian=big_endian)
    with Image.open(path) as img:
        pillow_value = img.getexif().get_ifd(0x8769)[TAG_FOCAL_35MM]
    assert pillow_value == 28
    assert read_exif(path)[TAG_FOCAL_35MM] == 28


def test_35mm_focal_gives_the_field_of_view_of_a_full_frame_camera(tmp_path):
    # A 3:2 picture matches the 36 x 24 mm frame: its horizontal field of view is that of a
    # 28 mm lens on a 36 mm-wide sensor.
    path = photo_with_exif(tmp_path / "p.jpg", 300, 200, focal_35mm=28)
    found = picture_camera(path, 300, 200)
    fov = 2 * math.atan(150 / found.intrinsics.fx)
    assert fov == pytest.approx(2 * math.atan(18 / 28), rel=1e-4)
    assert (found.intrinsics.cx, found.intrinsics.cy) == (150, 100) and found.intrinsics.fy == found.intrinsics.fx
    assert found.focal_35mm == 28 and "28 mm" in found.note


@pytest.mark.parametrize("focal, words", [(None, "no EXIF"), (0, "no EXIF"), (5000, "implausible"),
                                          (3, "implausible")])
def test_no_or_absurd_exif_falls_back_to_the_default_camera(tmp_path, focal, words):
    path = photo_with_exif(tmp_path / "p.jpg", 320, 240, focal_35mm=focal)
    found = picture_camera(path, 320, 240)
    assert found.intrinsics == Intrinsics.default(320, 240) and found.focal_35mm is None
    assert words in found.note


def test_files_without_exif_or_not_jpeg_read_as_empty(tmp_path):
    png = tmp_path / "p.png"
    Image.new("RGB", (10, 10)).save(png)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\x00\x00\xff\xff")   # truncated
    assert read_exif(png) == {} and read_exif(junk) == {} and read_exif(tmp_path / "missing.jpg") == {}


# ----------------------------------------------------------------------------- the button
bpy = pytest.importorskip("bpy")


@pytest.fixture
def empty_scene():
    import addon_utils

    addon_utils.enable("blender_p2m", default_set=True)
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.cameras,
                       bpy.data.images):
        for block in list(collection):
            collection.remove(block)
    scene = bpy.context.scene
    scene.camera = None
    settings = scene.pixel2mesh
    for name in ("image_source", "image", "image_path", "camera"):
        settings.property_unset(name)
    yield scene
    addon_utils.disable("blender_p2m", default_set=True)


def counts():
    return len(bpy.data.objects), len(bpy.data.cameras), len(bpy.data.images)


def test_button_makes_the_exif_camera_and_one_undo_removes_it(empty_scene, tmp_path, tiny_checkpoint):
    from blender_p2m.blender.camera import intrinsics_from_camera

    path = photo_with_exif(tmp_path / "photo.jpg", 300, 200, focal_35mm=35)
    settings = empty_scene.pixel2mesh
    settings.image_source, settings.image_path = 'FILE', str(path)
    before = counts()
    bpy.ops.ed.undo_push(message="before the camera")
    assert bpy.ops.pixel2mesh.create_camera_from_picture.poll()
    assert bpy.ops.pixel2mesh.create_camera_from_picture('EXEC_DEFAULT', True) == {'FINISHED'}
    camera = empty_scene.camera
    assert camera is not None and counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    got = intrinsics_from_camera(camera, empty_scene)                 # Blender's own rules
    want = picture_camera(path, 300, 200).intrinsics
    assert (got.width, got.height) == (300, 200)
    assert np.allclose([got.fx, got.fy, got.cx, got.cy], [want.fx, want.fy, want.cx, want.cy], rtol=1e-5)
    backgrounds = camera.data.background_images
    assert camera.data.show_background_images and len(backgrounds) == 1
    assert bpy.path.abspath(backgrounds[0].image.filepath) == str(path)
    assert not bpy.ops.pixel2mesh.create_camera_from_picture.poll()   # the scene has a camera now
    bpy.ops.ed.undo()                                   # undo reloads the file: fresh references
    assert counts() == before and bpy.context.scene.camera is None


def test_reconstruct_works_straight_after(empty_scene, tmp_path, tiny_checkpoint):
    addon = bpy.context.preferences.addons["blender_p2m"].preferences
    addon.weights_path, addon.default_device = str(tiny_checkpoint), 'CPU'
    try:
        path = photo_with_exif(tmp_path / "photo.jpg", 300, 200)          # no EXIF: default camera
        settings = empty_scene.pixel2mesh
        settings.image_source, settings.image_path = 'FILE', str(path)
        assert bpy.ops.pixel2mesh.create_camera_from_picture('EXEC_DEFAULT', True) == {'FINISHED'}
        bpy.context.view_layer.update()
        assert bpy.ops.pixel2mesh.reconstruct('EXEC_DEFAULT', True) == {'FINISHED'}
        assert "Pixel2Mesh" in bpy.data.objects
    finally:
        addon.weights_path, addon.default_device = "", 'AUTO'


def test_not_an_image_is_refused_and_leaves_nothing(empty_scene, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture")
    settings = empty_scene.pixel2mesh
    settings.image_source, settings.image_path = 'FILE', str(path)
    before = counts()
    with pytest.raises(RuntimeError, match="cannot read"):
        bpy.ops.pixel2mesh.create_camera_from_picture('EXEC_DEFAULT', True)
    assert counts() == before and empty_scene.camera is None
