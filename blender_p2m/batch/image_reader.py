"""Image file -> float32 RGBA (H, W, 4) top-down, with Pillow or, inside Blender, with bpy.

Pillow is the reader (blender_p2m.image_io: size checked before decoding, clear messages).
Blender's own Python does not ship Pillow, so there bpy's image loader reads the file (the
two agree on 8-bit images: tests/test_batch.py).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import P2MError
from ..image_io import array_to_rgba, load_image_file


def pillow_available() -> bool:
    return importlib.util.find_spec("PIL") is not None


def read_image(path: Path) -> np.ndarray:
    """(H, W, 4) float32 RGBA in [0, 1]; P2MError naming the file when it cannot be read."""
    if pillow_available():
        return load_image_file(path)
    return read_with_blender(path)


def read_with_blender(path: Path) -> np.ndarray:
    """The same through bpy.data.images (nothing is left in the session)."""
    from ..blender.image import read_file_rgba

    path = Path(path)
    if not path.is_file():
        raise P2MError(f"Image not found: {path}.")
    if path.stat().st_size == 0:
        raise P2MError(f"Image file is empty: {path}.")
    return array_to_rgba(read_file_rgba(str(path.resolve())), path.name)
