"""Decode any image the user gives into float32 RGBA (H, W, 4) in [0, 1].

Accepts a path, a PIL image or an array (H x W, or H x W x {1, 3, 4}; uint8, uint16 or
float). Every failure is a P2MError naming the file and what to do. Pillow is imported
only when a file or PIL image is given (Blender's own Python does not ship it; the add-on
passes arrays).
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .errors import P2MError
from .intrinsics import Intrinsics

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


def check_regular_file(path: Path) -> None:
    """P2MError unless `path` is a regular file: missing, a broken link, a folder, or a pipe
    or device (reading those could block forever or never end) each get their own words."""
    if not path.exists():
        if path.is_symlink():
            raise P2MError(f"{path} is a link to {os.readlink(path)}, which does not exist. "
                           f"Fix the link or give the image itself.")
        raise P2MError(f"Image not found: {path}.")
    if path.is_dir():
        raise P2MError(f"{path} is a folder, not an image file.")
    if not path.is_file():
        raise P2MError(f"{path} is not a regular file (a pipe, socket or device). Give an "
                       f"image file.")


def check_pixel_count(path: str | os.PathLike) -> None:
    """Refuse a file whose header declares more than MAX_PIXELS, before anything decodes it
    (for readers without their own limit, such as Blender's). Unknown formats pass."""
    size = image_file_size(path)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise P2MError(f"{Path(path).name} has {size[0]}x{size[1]} pixels, more than the "
                       f"{MAX_PIXELS // 1_000_000} megapixels accepted. Downscale it first.")


def image_file_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF, BMP, WebP or TIFF file, read with
    the standard library only (Blender's Python has no Pillow); None for other formats or
    files too damaged to tell (and for anything but a regular file, which is not opened)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return struct.unpack("<HH", head[6:10])
            if head[:2] == b"BM" and len(head) >= 26:
                width, height = struct.unpack("<ii", head[18:26])
                return abs(width), abs(height)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp_size(head + f.read(16))
            if head[:4] in (b"II*\x00", b"MM\x00*"):
                return _tiff_size(f, "<" if head[:2] == b"II" else ">")
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
    except (OSError, struct.error, ValueError):
        return None
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8X":
        return (1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little"))
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _tiff_size(f, order: str) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first image directory."""
    f.seek(4)
    (offset,) = struct.unpack(order + "I", f.read(4))
    f.seek(offset)
    (count,) = struct.unpack(order + "H", f.read(2))
    found = {}
    for _ in range(min(count, 1000)):
        tag, kind, _n, value = struct.unpack(order + "HHI4s", f.read(12))
        if tag in (256, 257):
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"),
                                       value[:2] if kind == 3 else value)[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk the segments after SOI to the first start-of-frame marker."""
    f.seek(2)
    for _ in range(10_000):
        byte = f.read(1)
        while byte == b"\xff":                         # fill bytes before a marker
            marker = f.read(1)
            if marker != b"\xff":
                break
        else:
            return None
        code = marker[0] if marker else None
        if code is None:
            return None
        if code in (0x01, *range(0xD0, 0xD8)):          # markers without a length
            continue
        (length,) = struct.unpack(">H", f.read(2))
        if code in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height, width = struct.unpack(">xHH", f.read(5))
            return width, height
        f.seek(length - 2, 1)
    return None


def load_image_file(path: str | os.PathLike) -> np.ndarray:
    """Read an image file safely: size checked before decoding, clear errors."""
    path = Path(path)
    check_regular_file(path)
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
    except PermissionError:
        raise P2MError(f"{path.name} cannot be read: permission denied. Check the file's "
                       f"permissions (or copy it somewhere you can read it).") from None
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


# ----------------------------------------------------------------------------- orientation
EXIF_ORIENTATION_TAG = 0x0112
QUARTER_TURNS = (5, 6, 7, 8)            # EXIF orientations that swap width and height


def exif_orientation(image) -> int:
    """The EXIF orientation (1..8; 1 = as stored) of an image file or PIL image, else 1.

    Files and PIL images are displayed with it applied (load_image_file, pil_to_rgba)."""
    try:
        if isinstance(image, (str, os.PathLike)):
            from PIL import Image

            with Image.open(image) as img:
                value = img.getexif().get(EXIF_ORIENTATION_TAG, 1)
        elif hasattr(image, "getexif"):
            value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
        else:
            return 1
    except Exception:                   # noqa: BLE001 - no Pillow, no EXIF, unreadable: as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def stored_to_displayed(orientation: int, u: float, v: float, stored_w: float,
                        stored_h: float) -> tuple[float, float]:
    """A continuous pixel position of the stored grid -> the displayed image (EXIF applied)."""
    return {1: (u, v), 2: (stored_w - u, v), 3: (stored_w - u, stored_h - v), 4: (u, stored_h - v),
            5: (v, u), 6: (stored_h - v, u), 7: (stored_h - v, stored_w - u),
            8: (v, stored_w - u)}[orientation]


def orient_intrinsics(intr, orientation: int, width: int, height: int):
    """Intrinsics for an image displayed at width x height after its EXIF orientation.

    Intrinsics describe the image as displayed (EXIF orientation applied), like every pixel
    position in this package. One exception is recognised without guessing: for a quarter
    turn (orientations 5-8) of a non-square image, intrinsics whose aspect ratio is the
    *stored* grid's (e.g. 4032 x 3024 for a photo displayed 3024 x 4032: calibrated on the
    sensor's frames) are turned with the image: the principal point moves with the pixels
    and fx, fy swap. Anything else is returned as given (and checked by Intrinsics.for_image).
    """
    if intr is None or orientation not in QUARTER_TURNS or width == height:
        return intr
    stored_w, stored_h = height, width
    try:
        if intr.has_aspect_of(width, height) or not intr.has_aspect_of(stored_w, stored_h):
            return intr                   # already for the displayed image, or for neither (reported later)
    except (TypeError, ZeroDivisionError, AttributeError):
        return intr
    stored = intr.resized_to(stored_w, stored_h)                 # a resized copy of the stored grid
    cx, cy = stored_to_displayed(orientation, stored.cx, stored.cy, stored_w, stored_h)
    return Intrinsics(stored.fy, stored.fx, cx, cy, width, height)

