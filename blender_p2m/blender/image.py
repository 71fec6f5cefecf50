"""bpy Images <-> numpy RGBA arrays, and image files read by Blender's own loader.

Blender stores pixel rows bottom-up; the arrays here are top-down, as the model expects.
Float images (EXR, HDR) hold linear premultiplied values and are turned into display
values, so they look to the network like the same picture saved as a PNG.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import P2MError
from ..image_io import check_pixel_count

UNREADABLE_TYPES = ('RENDER_RESULT', 'COMPOSITING')


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


def packed_image_from_rgba(name: str, rgba: np.ndarray):
    """A new bpy Image holding (H, W, 4) top-down sRGB RGBA in [0, 1], packed into the
    .blend (it has no file of its own, so it is saved with the scene)."""
    import bpy

    height, width = rgba.shape[:2]
    image = bpy.data.images.new(name, width, height, alpha=True)
    try:
        flat = np.ascontiguousarray(np.clip(rgba[::-1], 0.0, 1.0), dtype=np.float32).reshape(-1)
        image.pixels.foreach_set(flat)
        image.pack()
    except Exception:
        bpy.data.images.remove(image)
        raise
    return image


def _float_buffer_to_display(rgba: np.ndarray) -> np.ndarray:
    """Float images hold linear, premultiplied values: unpremultiply and sRGB-encode them
    so that an EXR looks to the network like the same picture saved as a PNG."""
    alpha = rgba[..., 3:]
    rgb = np.where(alpha > 1e-6, rgba[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    rgb = np.clip(rgb, 0.0, 1.0)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    return np.concatenate([srgb, alpha], axis=2).astype(np.float32)


def load_file_image(path: str):
    """(bpy Image, created) for a file, reusing one already loaded; P2MError if unreadable."""
    import bpy

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


def read_file_rgba(path: str) -> np.ndarray:
    """An image file's pixels through Blender's loader; nothing is left in the session."""
    import bpy

    image, created = load_file_image(path)
    try:
        return image_to_rgba(image)
    finally:
        if created:
            bpy.data.images.remove(image)
