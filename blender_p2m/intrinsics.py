"""Pinhole intrinsics in pixels: the one description of a camera used everywhere."""
from __future__ import annotations

from dataclasses import asdict, dataclass

# The original Pixel2Mesh camera: f = 250 px on a 224 x 224 image, centred.
DEFAULT_FOCAL_PX = 250.0
DEFAULT_IMAGE_PX = 224


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

    def scaled(self, s: float) -> "Intrinsics":
        """The same camera for the image resized by factor s."""
        return Intrinsics(self.fx * s, self.fy * s, self.cx * s, self.cy * s,
                          round(self.width * s), round(self.height * s))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Intrinsics":
        return cls(float(d["fx"]), float(d["fy"]), float(d["cx"]), float(d["cy"]),
                   int(d["width"]), int(d["height"]))
