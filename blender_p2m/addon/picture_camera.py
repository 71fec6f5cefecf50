"""The *Create Camera from Picture* button: a camera for a scene that has none.

Reconstruct needs the camera the picture was taken with. When the scene has no camera and
the picture comes from a file, this adds one: the focal length from the file's EXIF
35 mm-equivalent focal length (blender_p2m.exif says which field and how), else the default
camera; the render resolution of the picture's size (so its aspect ratio); the picture as
the camera's background image. Reconstruct then works straight away. One undo step removes
the camera and the image it loaded.
"""
from __future__ import annotations

import os

import bpy

from ..blender.camera import add_camera_for_picture
from ..errors import P2MError
from ..exif import picture_camera


def picture_file(settings) -> str | None:
    """The panel picture's file on disk, if it comes from one (File source, or an Image
    loaded from a file)."""
    if settings.image_source == 'FILE' and settings.image_path:
        return os.path.normpath(bpy.path.abspath(settings.image_path))
    image = settings.image if settings.image_source == 'DATABLOCK' else None
    if image is not None and image.source == 'FILE' and image.filepath and image.packed_file is None:
        return os.path.normpath(bpy.path.abspath(image.filepath, library=image.library))
    return None


def _load_picture(settings, path: str):
    """(bpy Image, whether this call loaded it) for the panel's picture."""
    if settings.image_source == 'DATABLOCK':
        return settings.image, False
    if not os.path.isfile(path):
        raise P2MError(f"Image file not found: {path}. Pick an existing file in the Pixel2Mesh panel.")
    before = set(bpy.data.images)
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError:
        raise P2MError(f"Blender cannot read {path} as an image. Pick an image file.") from None
    return image, image not in before


class P2M_OT_create_camera_from_picture(bpy.types.Operator):
    """Add a camera for the picture: focal length from its EXIF data (or the default), the
    render size of the picture, the picture as its background"""

    bl_idname = "pixel2mesh.create_camera_from_picture"
    bl_label = "Create Camera from Picture"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        settings = getattr(scene, "pixel2mesh", None)
        if settings is None or scene.camera is not None or settings.camera is not None:
            return False
        return picture_file(settings) is not None

    def execute(self, context):
        scene = context.scene
        settings = scene.pixel2mesh
        path = picture_file(settings)
        loaded = None
        try:
            if path is None:
                raise P2MError("The picture does not come from a file: pick a File (or an Image "
                               "opened from disk) in the Pixel2Mesh panel.")
            image, new = _load_picture(settings, path)
            loaded = image if new else None
            width, height = image.size
            if width < 1 or height < 1:
                raise P2MError(f"Blender cannot read the pixels of {path}. Pick another image file.")
            found = picture_camera(path, width, height)
            camera = add_camera_for_picture(scene, found.intrinsics, image)
        except P2MError as e:
            if loaded is not None:
                bpy.data.images.remove(loaded)
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Added camera '{camera.name}' ({width}x{height}): {found.note}.")
        return {'FINISHED'}


CLASSES = (P2M_OT_create_camera_from_picture,)
