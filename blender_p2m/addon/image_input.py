"""The panel's image (datablock, file or camera background) -> a numpy RGBA array.

Runs on the main thread before the worker starts: the worker never touches bpy data.
Blender stores pixel rows bottom-up; the arrays here are top-down, as the model expects.
Nothing is left behind: an image file loaded only to read it is removed again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import P2MError

UNREADABLE_TYPES = ('RENDER_RESULT', 'COMPOSITING')


@dataclass
class ImageInput:
    """Pixels for the model and where they came from.

    Attributes:
        rgba: (H, W, 4) float32 in [0, 1], rows top-down, straight (not premultiplied) alpha.
        label: the image's name or file path, recorded on the new object.
        image_name: name of the bpy Image to project as a texture (None for a file: it is
            loaded again only if the texture is wanted).
        file_path: absolute path for the File source, else None.
        flip_x, flip_y: the camera shows the image mirrored (background image flips), so
            rgba is mirrored relative to the datablock.
    """

    rgba: np.ndarray
    label: str
    image_name: str | None
    file_path: str | None
    flip_x: bool = False
    flip_y: bool = False


def image_to_rgba(image) -> np.ndarray:
    """A bpy Image's pixels -> (H, W, 4) float32 top-down RGBA in display (sRGB) values."""
    import bpy

    if image.type in UNREADABLE_TYPES:
        raise P2MError(f"'{image.name}' is Blender's {image.type.replace('_', ' ').title()}, whose "
                       f"pixels cannot be read by add-ons. Save it (Image > Save As), open the "
                       f"saved file and pick that.")
    width, height = image.size
    if width == 0 or height == 0:
        where = bpy.path.abspath(image.filepath) if image.filepath else "no file"
        raise P2MError(f"Image '{image.name}' has no pixels (its file is missing: {where}). "
                       f"Re-open it in the Image Editor (Image > Open) or pick another image.")
    channels = image.channels
    flat = np.empty(width * height * channels, dtype=np.float32)
    image.pixels.foreach_get(flat)
    pixels = flat.reshape(height, width, channels)[::-1]           # (H, W, C), top-down now
    if channels == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=2)
    rgba = np.ascontiguousarray(pixels[..., :4], dtype=np.float32)  # (H, W, 4)
    if image.is_float:
        rgba = _float_buffer_to_display(rgba)
    return np.clip(rgba, 0.0, 1.0)


def _float_buffer_to_display(rgba: np.ndarray) -> np.ndarray:
    """Float images hold linear, premultiplied values: unpremultiply and sRGB-encode them
    so that an EXR looks to the network like the same picture saved as a PNG."""
    alpha = rgba[..., 3:]
    rgb = np.where(alpha > 1e-6, rgba[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    rgb = np.clip(rgb, 0.0, 1.0)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    return np.concatenate([srgb, alpha], axis=2).astype(np.float32)


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
        return ImageInput(image_to_rgba(image), image.name, image.name, None)
    if source == 'CAMERA_BACKGROUND':
        bg = background_image_of(camera_object)
        rgba = image_to_rgba(bg.image)
        if bg.use_flip_x:
            rgba = rgba[:, ::-1]
        if bg.use_flip_y:
            rgba = rgba[::-1]
        return ImageInput(np.ascontiguousarray(rgba), bg.image.name, bg.image.name, None,
                          flip_x=bg.use_flip_x, flip_y=bg.use_flip_y)
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
    image, created = load_file_image(path)
    try:
        rgba = image_to_rgba(image)
    finally:
        if created:
            bpy.data.images.remove(image)
    return ImageInput(rgba, path, None, path)


def load_file_image(path: str):
    """(bpy Image, created) for a file, reusing one already loaded; P2MError if unreadable."""
    import bpy

    from ..image_io import check_pixel_count

    check_pixel_count(path)        # Blender's reader has no size limit: refuse bombs unread
    before = set(bpy.data.images.keys())
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as e:
        raise P2MError(f"Blender cannot read {os.path.basename(path)} as an image ({e}). "
                       f"Use a PNG, JPEG, TIFF or EXR file.") from None
    created = image.name not in before
    if image.size[0] == 0 and created:               # some formats fail only on first use
        bpy.data.images.remove(image)
        raise P2MError(f"Blender cannot read {os.path.basename(path)} as an image. Use a PNG, "
                       f"JPEG, TIFF or EXR file.")
    return image, created
