"""Sampling camera views of a normalised object, following the data convention."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .convention import DataConvention


@dataclass(frozen=True)
class View:
    """One camera looking at the object's bounding-box centre (the world origin).

    Attributes:
        azimuth, elevation: degrees; world +Z is up.
        depth: distance from the camera to the origin along the optical axis (metres).
        fx, fy, cx, cy: intrinsics in pixels of the square image.
        world_to_camera: (4, 4) rigid transform, world -> Blender camera frame
            (X right, Y up, looking down -Z).
    """

    azimuth: float
    elevation: float
    depth: float
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray

    def to_dict(self) -> dict:
        return {"azimuth": self.azimuth, "elevation": self.elevation, "depth": self.depth,
                "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
                "world_to_camera": self.world_to_camera.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "View":
        return cls(d["azimuth"], d["elevation"], d["depth"], d["fx"], d["fy"], d["cx"], d["cy"],
                   np.asarray(d["world_to_camera"], dtype=np.float64))


def look_at_origin(azimuth_deg: float, elevation_deg: float, depth: float) -> np.ndarray:
    """World -> camera transform of a camera at (azimuth, elevation, depth) looking at the origin, no roll."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    position = depth * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    back = position / depth                              # camera +Z (it looks down -Z)
    right = np.cross(np.array([0.0, 0.0, 1.0]), back)    # horizontal: no roll
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    rotation = np.stack([right, up, back])               # rows: camera axes in world
    m = np.eye(4)
    m[:3, :3] = rotation
    m[:3, 3] = -rotation @ position
    return m


def sample_views(rng: np.random.Generator, count: int, conv: DataConvention) -> list[View]:
    """`count` views with azimuths spread evenly from a random start (better coverage)."""
    start = rng.uniform(0.0, 360.0)
    views = []
    for k in range(count):
        azimuth = (start + 360.0 * k / count + rng.uniform(-0.25, 0.25) * 360.0 / count) % 360.0
        elevation = rng.uniform(*conv.elevation_range)
        depth = rng.uniform(*conv.depth_range)
        if rng.uniform() < conv.default_focal_fraction:
            focal = conv.default_focal
        else:
            focal = rng.uniform(*conv.focal_range)
        c = conv.image_size / 2.0
        views.append(View(float(azimuth), float(elevation), float(depth), float(focal), float(focal),
                          c, c, look_at_origin(azimuth, elevation, depth)))
    return views
