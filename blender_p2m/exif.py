"""A picture's camera from its EXIF data, in plain Python (no numpy, no Pillow).

Blender's own Python has neither numpy nor Pillow, and Blender does not expose EXIF, so the
add-on's *Create Camera from Picture* reads the few bytes it needs itself: the JPEG APP1
"Exif" segment, its TIFF header and two IFDs. Fields read:

- FocalLengthIn35mmFilm (tag 0xA405, in the Exif IFD): the focal length a 36 x 24 mm
  camera would need for the same field of view, defined on the frame diagonal, so
  f_px = f_35 / 43.27 mm * (image diagonal in pixels).

Anything else (FocalLength with the sensor size, maker notes, orientation: Blender shows
images as stored, see docs/conventions.md) is not read.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

from .intrinsics import Intrinsics

TAG_EXIF_IFD = 0x8769
TAG_FOCAL_35MM = 0xA405
FULL_FRAME_DIAGONAL_MM = 43.2666        # a 36 x 24 mm frame's diagonal
PLAUSIBLE_FOCAL_35MM = (8.0, 1200.0)    # fisheye to long telephoto; outside: a broken tag
HEADER_BYTES = 256 * 1024               # EXIF sits in the first APP segments
_TYPE_SIZES = {1: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF block of a JPEG's APP1 Exif segment, or None."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xD9, 0xDA):            # end of image, start of scan: no more metadata
            return None
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            return data[i + 10:i + 2 + length]
        i += 2 + length
    return None


def _ifd(tiff: bytes, offset: int, endian: str) -> dict[int, int | float]:
    """Numeric tags of one IFD (first value of each): {tag: value}."""
    tags: dict[int, int | float] = {}
    if offset + 2 > len(tiff):
        return tags
    (count,) = struct.unpack(endian + "H", tiff[offset:offset + 2])
    for k in range(count):
        entry = tiff[offset + 2 + 12 * k: offset + 14 + 12 * k]
        if len(entry) < 12:
            break
        tag, kind, n = struct.unpack(endian + "HHI", entry[:8])
        size = _TYPE_SIZES.get(kind, 0) * n
        raw = entry[8:12] if size <= 4 else tiff[struct.unpack(endian + "I", entry[8:12])[0]:][:size]
        if kind == 3 and len(raw) >= 2:
            tags[tag] = struct.unpack(endian + "H", raw[:2])[0]
        elif kind == 4 and len(raw) >= 4:
            tags[tag] = struct.unpack(endian + "I", raw[:4])[0]
        elif kind == 5 and len(raw) >= 8:
            num, den = struct.unpack(endian + "II", raw[:8])
            tags[tag] = num / den if den else 0.0
    return tags


def read_exif(path) -> dict[int, int | float]:
    """IFD0 and Exif-IFD numeric tags of a JPEG file; {} when it has none or is no JPEG."""
    try:
        with open(os.fspath(path), "rb") as f:
            data = f.read(HEADER_BYTES)
    except OSError:
        return {}
    tiff = _jpeg_exif(data)
    if tiff is None or len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return {}
    endian = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd0_offset,) = struct.unpack(endian + "I", tiff[4:8])
        tags = _ifd(tiff, ifd0_offset, endian)
        if TAG_EXIF_IFD in tags:
            tags.update(_ifd(tiff, int(tags[TAG_EXIF_IFD]), endian))
    except struct.error:
        return {}
    return tags


@dataclass(frozen=True)
class PictureCamera:
    """Intrinsics for a picture, and where they came from (said to the user)."""

    intrinsics: Intrinsics
    focal_35mm: float | None            # the EXIF value used; None when the default was used
    note: str


def picture_camera(path, width: int, height: int) -> PictureCamera:
    """Intrinsics of the camera that took a picture displayed at width x height.

    From the EXIF 35 mm-equivalent focal length when the file has a plausible one (8..1200
    mm), the principal point at the centre; otherwise the default camera
    (Intrinsics.default), with a note saying why.
    """
    focal = read_exif(path).get(TAG_FOCAL_35MM)
    if focal and PLAUSIBLE_FOCAL_35MM[0] <= focal <= PLAUSIBLE_FOCAL_35MM[1]:
        f_px = focal / FULL_FRAME_DIAGONAL_MM * math.hypot(width, height)
        return PictureCamera(Intrinsics(f_px, f_px, width / 2.0, height / 2.0, width, height), float(focal),
                             f"focal length from the picture's EXIF: {focal:g} mm (35 mm equivalent)")
    if not focal:
        note = "the picture has no EXIF 35 mm focal length, so the default camera is used"
    else:
        note = (f"the picture's EXIF 35 mm focal length ({focal:g} mm) is implausible (outside "
                f"{PLAUSIBLE_FOCAL_35MM[0]:g}..{PLAUSIBLE_FOCAL_35MM[1]:g} mm), so the default camera is used")
    return PictureCamera(Intrinsics.default(width, height), None, note)

