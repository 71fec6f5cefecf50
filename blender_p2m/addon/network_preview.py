"""The panel's small picture of what the network saw after the last click: its input
after background removal and crop, with the silhouette outlined. Held in a
bpy.utils.previews collection (a UI icon, not a datablock: nothing is added to the file
and undo does not touch it)."""
from __future__ import annotations

import bpy
import bpy.utils.previews

PREVIEW_NAME = "network_view"
_previews = None                          # the collection, while the add-on is registered


def register() -> None:
    global _previews
    if _previews is None:
        _previews = bpy.utils.previews.new()


def unregister() -> None:
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None


def show(rgba) -> None:
    """Replace the picture with (S, S, 4) float RGBA rows top-down (numpy)."""
    if _previews is None:
        return
    height, width = rgba.shape[:2]
    preview = _previews.get(PREVIEW_NAME) or _previews.new(PREVIEW_NAME)
    flat = rgba[::-1].reshape(-1)                                       # Blender: rows bottom-up
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(flat)
    preview.icon_size = (width, height)
    preview.icon_pixels_float.foreach_set(flat)


def clear() -> None:
    if _previews is not None and PREVIEW_NAME in _previews:
        _previews.clear()


def current():
    """The ImagePreview to draw, or None before the first successful click."""
    return None if _previews is None else _previews.get(PREVIEW_NAME)
