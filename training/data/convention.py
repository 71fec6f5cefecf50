"""The data convention: how objects are sized, placed and seen (see docs/conventions.md).

Saved inside every dataset card, so a dataset always says which convention it follows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DataConvention:
    """Object size and distance, views, images and ground truth of the training data.

    Attributes:
        bbox_diagonal: axis-aligned bounding-box diagonal of every object (metres).
        depth_range: bounding-box centre on the optical axis at this depth (metres).
        elevation_range: camera elevation above the object's horizon (degrees), no roll.
        image_size: square image side (pixels).
        default_focal: focal length of most views (pixels); principal point at the centre.
        default_focal_fraction: fraction of views using default_focal.
        focal_range: focal length range of the other views (pixels).
        surface_points: ground-truth points sampled uniformly on the surface per object.
    """

    bbox_diagonal: float = 0.57
    depth_range: tuple[float, float] = (0.7, 0.9)
    elevation_range: tuple[float, float] = (15.0, 35.0)
    image_size: int = 224
    default_focal: float = 250.0
    default_focal_fraction: float = 0.7
    focal_range: tuple[float, float] = (180.0, 360.0)
    surface_points: int = 12000

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "DataConvention":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
