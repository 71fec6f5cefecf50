"""Pinhole intrinsics in pixels: the one description of a camera used everywhere, and the
one owner of its rules (which image they fit, rescaling, validation)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import P2MError

# The original Pixel2Mesh camera: f = 250 px on a 224 x 224 image, centred.
DEFAULT_FOCAL_PX = 250.0
DEFAULT_IMAGE_PX = 224
# Intrinsics for an image whose aspect ratio differs from another's by at most this fraction
# describe a resized copy of it (they are rescaled); anything more is another camera.
ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Intrinsics:
    """Intrinsics of an image as given: focal lengths and principal point in pixels.

    Continuous pixel coordinates start at the top-left corner of the top-left pixel; rows
    grow downward. A camera-frame point (X right, Y up, looking down -Z) projects to
    u = cx + fx * X / -Z, v = cy - fy * Y / -Z.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def default(cls, width: int, height: int) -> "Intrinsics":
        """The original camera (f = 250 px at 224 px) scaled to the image's longer side."""
        f = DEFAULT_FOCAL_PX * max(width, height) / DEFAULT_IMAGE_PX
        return cls(f, f, width / 2.0, height / 2.0, width, height)

    def has_aspect_of(self, width: float, height: float) -> bool:
        """Whether a width x height image has these intrinsics' aspect ratio (within
        ASPECT_TOLERANCE), i.e. could be a resized copy of their image."""
        aspect = width / height
        return abs(self.width / self.height - aspect) <= ASPECT_TOLERANCE * aspect

    def resized_to(self, width: int, height: int) -> "Intrinsics":
        """The same camera for its image resized to width x height (same aspect ratio)."""
        s = width / self.width
        return Intrinsics(self.fx * s, self.fy * s, self.cx * s, self.cy * s, width, height)

    def for_image(self, width: int, height: int) -> "Intrinsics":
        """These intrinsics checked against a width x height image, rescaled when they were
        given for a resized copy of it (same aspect ratio within ASPECT_TOLERANCE).

        Raises P2MError saying what is wrong: values that are not finite, a focal length or
        size that is not positive, another aspect ratio, a principal point far outside.
        """
        if not all(math.isfinite(v) for v in (self.fx, self.fy, self.cx, self.cy, self.width, self.height)):
            raise P2MError(f"Intrinsics contain NaN or infinity: {self}. Give finite focal length "
                           f"and principal point in pixels.")
        if self.fx <= 0 or self.fy <= 0:
            raise P2MError(f"Focal length must be positive (got fx={self.fx}, fy={self.fy} px).")
        if self.width <= 0 or self.height <= 0:
            raise P2MError(f"Intrinsics image size must be positive (got {self.width}x{self.height}).")
        intr = self
        if (self.width, self.height) != (width, height):
            if not self.has_aspect_of(width, height):
                raise P2MError(f"Intrinsics are for a {self.width:g}x{self.height:g} image but the image "
                               f"is {width}x{height} (another aspect ratio). Give the intrinsics of "
                               f"this image, or crop the image to the camera's aspect ratio.")
            intr = self.resized_to(width, height)
        if not (-width <= intr.cx <= 2 * width and -height <= intr.cy <= 2 * height):
            raise P2MError(f"Principal point ({intr.cx:g}, {intr.cy:g}) lies far outside the "
                           f"{width}x{height} image. Check cx and cy (pixels from the top-left corner).")
        return intr

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Intrinsics":
        return cls(float(d["fx"]), float(d["fy"]), float(d["cx"]), float(d["cy"]),
                   int(d["width"]), int(d["height"]))
