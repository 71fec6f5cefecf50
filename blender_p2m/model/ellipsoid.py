"""The initial mesh: a UV ellipsoid in front of the camera, generated (no data file).

With 11 rings of 14 vertices plus two poles it has exactly the paper's 156 vertices,
462 edges and 308 faces. The poles lie on the camera's Y (up) axis. Faces wind
counter-clockwise seen from outside.
"""
from __future__ import annotations

import numpy as np


def uv_ellipsoid(radii, depth: float, rings: int, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Build the ellipsoid in the camera frame (X right, Y up, looking down -Z).

    Args:
        radii: (rx, ry, rz) semi-axes in metres along camera X, Y, Z.
        depth: distance of the centre in front of the camera; the centre is (0, 0, -depth).
        rings: latitude rings between the poles.
        segments: vertices per ring.

    Returns:
        vertices (V, 3) float32 and faces (F, 3) int64, V = rings * segments + 2.
    """
    rx, ry, rz = radii
    # Latitudes strictly between the poles, evenly spaced in angle.
    theta = np.pi * np.arange(1, rings + 1) / (rings + 1)            # (R,) from north pole
    phi = 2.0 * np.pi * np.arange(segments) / segments                # (S,)
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    x = rx * st * np.cos(phi)[None, :]                                # (R, S)
    y = ry * ct * np.ones_like(phi)[None, :]
    z = rz * st * np.sin(phi)[None, :]
    ring_vertices = np.stack([x, y, z], axis=-1).reshape(-1, 3)       # (R*S, 3)
    north = np.array([[0.0, ry, 0.0]])
    south = np.array([[0.0, -ry, 0.0]])
    vertices = np.concatenate([north, ring_vertices, south], axis=0)
    vertices[:, 2] -= depth

    def ring(r: int, s: int) -> int:
        return 1 + r * segments + (s % segments)

    n_south = 1 + rings * segments
    faces = []
    for s in range(segments):
        faces.append((0, ring(0, s + 1), ring(0, s)))
        faces.append((n_south, ring(rings - 1, s), ring(rings - 1, s + 1)))
        for r in range(rings - 1):
            a, b = ring(r, s), ring(r, s + 1)
            c, d = ring(r + 1, s), ring(r + 1, s + 1)
            faces.append((a, b, d))
            faces.append((a, d, c))
    faces = np.asarray(faces, dtype=np.int64)
    faces = _orient_outward(vertices, faces, centre=np.array([0.0, 0.0, -depth]))
    return vertices.astype(np.float32), faces


def _orient_outward(vertices: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Flip faces whose normal points towards the centre (star-shaped surface only)."""
    tri = vertices[faces]                                              # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])    # (F, 3)
    outward = np.einsum("fi,fi->f", normal, tri.mean(axis=1) - centre) > 0
    faces = faces.copy()
    faces[~outward] = faces[~outward][:, [0, 2, 1]]
    return faces
