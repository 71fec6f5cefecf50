"""Normalising meshes to the convention and sampling their surface (numpy)."""
from __future__ import annotations

import numpy as np


def normalise(vertices: np.ndarray, diagonal: float) -> np.ndarray:
    """Centre the bounding box at the origin and scale its diagonal to `diagonal`."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    extent = np.linalg.norm(hi - lo)
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError("mesh has no extent (all vertices coincide)")
    return (vertices - (lo + hi) / 2.0) * (diagonal / extent)


def face_normals_and_areas(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tri = vertices[faces]                                               # (F, 3, 3)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])      # (F, 3)
    double_area = np.linalg.norm(cross, axis=1)                         # (F,)
    normals = cross / np.maximum(double_area, 1e-20)[:, None]
    return normals, double_area / 2.0


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` points uniformly distributed by area, with the normals of their faces.

    The one implementation of surface sampling: the data build draws the ground truth
    with it, and evaluation (`training.metrics.sample_surface`) the predicted surfaces.

    Returns:
        points (count, 3) and unit normals (count, 3), in the dtype of `vertices`; normals
        follow the face winding (outward for counter-clockwise faces).
    """
    normals, areas = face_normals_and_areas(vertices, faces)
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("mesh has no surface area")
    face = rng.choice(len(faces), size=count, p=areas / total)          # (count,)
    r1, r2 = rng.uniform(size=count), rng.uniform(size=count)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)              # (count, 3)
    points = np.einsum("nk,nkd->nd", bary, vertices[faces[face]])
    return points.astype(vertices.dtype, copy=False), normals[face].astype(vertices.dtype, copy=False)
