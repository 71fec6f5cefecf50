"""Mesh sanity checks shared by the tests and the preview script.

A generated object is only usable as ground truth when every part is a closed,
consistently outward-wound surface without degenerate triangles; these checks say
which part breaks which rule.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, face_areas, signed_volume


def part_problems(vertices: np.ndarray, faces: np.ndarray, min_area: float = 1e-10) -> list[str]:
    """Problems of one closed part (empty list = fine)."""
    problems = []
    if len(faces) < 4:
        return ["fewer than 4 faces"]
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    if np.any(e[:, 0] == e[:, 1]):
        problems.append("face repeats a vertex")
    n = int(faces.max()) + 1
    key = e[:, 0] * n + e[:, 1]
    rkey = e[:, 1] * n + e[:, 0]
    uniq, counts = np.unique(key, return_counts=True)
    if np.any(counts > 1):
        problems.append(f"{int(np.sum(counts > 1))} directed edges used twice (inconsistent winding)")
    missing = ~np.isin(rkey, uniq)
    if np.any(missing):
        problems.append(f"{int(missing.sum())} edges without an opposite edge (open boundary)")
    areas = face_areas(vertices, faces)
    if np.any(areas <= min_area):
        problems.append(f"{int(np.sum(areas <= min_area))} degenerate faces (min area {areas.min():.3g})")
    if signed_volume(vertices, faces) <= 0:
        problems.append("non-positive signed volume (inside out)")
    return problems


def mesh_problems(mesh: TriMesh, min_area: float = 1e-10) -> dict[int, list[str]]:
    """Per-part problems of a whole object; also reports non-finite vertices as part -1."""
    out: dict[int, list[str]] = {}
    if not np.all(np.isfinite(mesh.vertices)):
        out[-1] = ["non-finite vertex coordinates"]
    for pid in np.unique(mesh.parts):
        p = part_problems(mesh.vertices, mesh.faces[mesh.parts == pid], min_area)
        if p:
            out[int(pid)] = p
    return out
