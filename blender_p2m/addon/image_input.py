"""The panel's image (datablock, file or camera background) -> a numpy RGBA array.

Runs on the main thread before the worker starts: the worker never touches bpy data.
Pixels are read by blender_p2m.blender.image (rows top-down, as the model expects).
Nothing is left behind: an image file loaded only to read it is removed again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..blender.image import image_to_rgba, read_file_rgba
from ..errors import P2MError


@dataclass
class ImageInput:
    """Pixels for the model and where they came from.

    Attributes:
        rgba: (H, W, 4) float32 in [0, 1], rows top-down, straight (not premultiplied) alpha.
        label: the image's name or file path, recorded on the new object.

    A camera background image that Blender shows flipped is flipped here too: rgba is what
    the camera sees, which is also what the projected texture shows.
    """

    rgba: np.ndarray
    label: str


def background_image_of(camera_object):
    """The camera's first background image that is an image, checked to fill the frame."""
    cam = camera_object.data
    entries = [bg for bg in cam.background_images if bg.source == 'IMAGE' and bg.image is not None]
    if not entries:
        clips = any(bg.source == 'MOVIE_CLIP' for bg in cam.background_images)
        raise P2MError(f"Camera '{camera_object.name}' has no background image"
                       f"{' (only a movie clip)' if clips else ''}. Add one in Camera Properties "
                       f"> Background Images, or switch the source to Image or File.")
    shown = [bg for bg in entries if getattr(bg, "show_background_image", True)]
    bg = (shown or entries)[0]
    if tuple(bg.offset) != (0.0, 0.0) or bg.rotation != 0.0 or bg.scale != 1.0:
        raise P2MError(f"The background image of '{camera_object.name}' is offset, rotated or "
                       f"scaled, so it does not show what the camera sees. Reset Offset, "
                       f"Rotation and Scale in Camera Properties > Background Images.")
    return bg


def read_image_input(settings, camera_object) -> ImageInput:
    """Resolve the panel's image source into pixels; P2MError says what to pick otherwise."""
    source = settings.image_source
    if source == 'DATABLOCK':
        image = settings.image
        if image is None:
            raise P2MError("No image picked. Choose an image in the Pixel2Mesh panel (or Open "
                           "one), or switch the source to File or Background.")
        return ImageInput(image_to_rgba(image), image.name)
    if source == 'CAMERA_BACKGROUND':
        bg = background_image_of(camera_object)
        rgba = image_to_rgba(bg.image)
        if bg.use_flip_x:
            rgba = rgba[:, ::-1]
        if bg.use_flip_y:
            rgba = rgba[::-1]
        return ImageInput(np.ascontiguousarray(rgba), bg.image.name)
    return _read_file(settings.image_path)


def _read_file(path_setting: str) -> ImageInput:
    import bpy

    if not path_setting:
        raise P2MError("No image file picked. Click the folder icon next to File in the "
                       "Pixel2Mesh panel, or switch the source to Image.")
    path = os.path.normpath(bpy.path.abspath(path_setting))
    if not os.path.isfile(path):
        if os.path.lexists(path):             # a folder, a broken link, a pipe or a device
            raise P2MError(f"{path} is not an image file (a folder, a broken link or a special "
                           f"file). Pick an image file.")
        raise P2MError(f"Image file not found: {path}. Pick an existing file.")
    if os.path.getsize(path) == 0:
        raise P2MError(f"Image file is empty: {path}. Pick another file.")
    rgba = read_file_rgba(path)
    return ImageInput(rgba, path)

