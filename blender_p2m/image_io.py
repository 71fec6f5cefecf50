"""Decode any image the user gives into float32 RGBA (H, W, 4) in [0, 1].

Accepts a path, a PIL image or an array (H x W, or H x W x {1, 3, 4}; uint8, uint16 or
float). Every failure is a P2MError naming the file and what to do. Pillow is imported
only when a file or PIL image is given (Blender's own Python does not ship it; the add-on
passes arrays).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .errors import P2MError

# Refuse images larger than this before decoding them (a 30000 x 30000 "bomb" would need
# 3.6 GB as float RGBA). 64 megapixels covers every camera in common use.
MAX_PIXELS = 64_000_000


def array_to_rgba(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Any numeric image array -> float32 RGBA in [0, 1]."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise P2MError(f"{name}: expected an H x W x {{1, 3, 4}} image array, got shape {a.shape}.")
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise P2MError(f"{name} is only {a.shape[1]}x{a.shape[0]} pixels; give an image of at "
                       f"least 16x16 pixels showing the object.")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise P2MError(f"{name} has {a.shape[1]}x{a.shape[0]} pixels, more than the "
                       f"{MAX_PIXELS // 1_000_000} megapixels accepted. Downscale it first.")
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32)
        if np.issubdtype(array.dtype, np.integer) and a.max(initial=0) > 1:
            a /= 255.0 if a.max() <= 255 else 65535.0
    else:
        raise P2MError(f"{name}: unsupported pixel type {a.dtype}.")
    if not np.all(np.isfinite(a)):
        raise P2MError(f"{name} contains NaN or infinite pixel values.")
    a = np.clip(a, 0.0, 1.0)
    c = a.shape[2]
    if c == 1:
        a = np.concatenate([a, a, a, np.ones_like(a)], axis=2)
    elif c == 2:
        a = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], axis=2)
    elif c == 3:
        a = np.concatenate([a, np.ones_like(a[..., :1])], axis=2)
    return np.ascontiguousarray(a, dtype=np.float32)


def pil_to_rgba(img, name: str = "image") -> np.ndarray:
    """A PIL image (any mode, EXIF orientation applied, first frame) -> RGBA float32."""
    from PIL import ImageOps

    w, h = img.size
    if w * h > MAX_PIXELS:
        raise P2MError(f"{name} has {w}x{h} pixels, more than the {MAX_PIXELS // 1_000_000} "
                       f"megapixels accepted. Downscale it first.")
    if getattr(img, "is_animated", False):
        img.seek(0)
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(img, dtype=np.uint16)
        return array_to_rgba(a, name)
    if mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if a.max(initial=0) > 255 else 255.0
        return array_to_rgba((a / peak).astype(np.float32), name)
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "1", "L", "RGB"):
        img = img.convert("RGB")
    elif mode == "LA":
        img = img.convert("RGBA")
    elif mode != "RGBA":
        img = img.convert("RGBA")
    return array_to_rgba(np.asarray(img), name)


def load_image_file(path: str | os.PathLike) -> np.ndarray:
    """Read an image file safely: size checked before decoding, clear errors."""
    path = Path(path)
    if not path.exists():
        raise P2MError(f"Image not found: {path}.")
    if path.is_dir():
        raise P2MError(f"{path} is a folder, not an image file.")
    if path.stat().st_size == 0:
        raise P2MError(f"Image file is empty: {path}.")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise P2MError("Reading image files needs Pillow (pip install pillow).") from None
    too_big = (f"{path.name} has more than the {MAX_PIXELS // 1_000_000} megapixels accepted. "
               f"Downscale it first.")
    try:
        # Pillow's own decompression-bomb limits stay in force for the rest of the process;
        # ours is lower and checked before decoding.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise P2MError(f"{path.name} has {w}x{h} pixels, more than the "
                               f"{MAX_PIXELS // 1_000_000} megapixels accepted. Downscale it first.")
            img.load()
            return pil_to_rgba(img, path.name)
    except P2MError:
        raise
    except Image.DecompressionBombError:
        raise P2MError(too_big) from None
    except UnidentifiedImageError:
        raise P2MError(f"{path.name} is not an image Pillow can read (is it really a "
                       f"{path.suffix or 'picture'} file?).") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise P2MError(f"{path.name} could not be decoded ({e}); the file is probably truncated "
                       f"or damaged.") from None


def to_rgba(image, name: str | None = None) -> np.ndarray:
    """Path, PIL image or array -> float32 RGBA (H, W, 4) in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        return load_image_file(image)
    if isinstance(image, np.ndarray):
        return array_to_rgba(image, name or "image array")
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):
        return pil_to_rgba(image, name or "PIL image")
    raise P2MError(f"Unsupported image type {type(image).__name__}: give a file path, a PIL "
                   f"image or an H x W x C array.")
