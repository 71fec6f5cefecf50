"""Mesh topology for the deformation stages: edges, unpooling and the graph adjacency.

Everything here is computed once per configuration (numpy, then cached tensors) and never
inside a forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """Undirected edges of a triangle mesh, sorted (i < j), in a stable order.

    Args:
        faces: (F, 3) int.
    Returns:
        (E, 2) int64.
    """
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)  # (3F, 2)
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0).astype(np.int64)


def unpool_faces(faces: np.ndarray, edges: np.ndarray, n_vertices: int) -> np.ndarray:
    """Split every face into 4 using one new vertex per edge, keeping the winding.

    New vertex for edge k has index n_vertices + k. Face (a, b, c) with midpoints
    ab, bc, ca becomes (a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca): every child
    keeps its parent's orientation, so outward faces stay outward.
    """
    key = {(int(i), int(j)): n_vertices + k for k, (i, j) in enumerate(edges)}

    def mid(i, j):
        return key[(i, j) if i < j else (j, i)]

    out = np.empty((len(faces) * 4, 3), dtype=np.int64)
    for f, (a, b, c) in enumerate(faces.tolist()):
        ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
        out[4 * f:4 * f + 4] = ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))
    return out


@dataclass(frozen=True)
class Stage:
    """Topology of one deformation stage.

    Attributes:
        faces: (F, 3) int64, counter-clockwise seen from outside.
        edges: (E, 2) int64, i < j.
        n_vertices: V.
        unpool_edges: (E_prev, 2) edges of the previous stage whose midpoints are the new
            vertices V_prev..V-1 of this stage, or None for the first stage.
    """

    faces: np.ndarray
    edges: np.ndarray
    n_vertices: int
    unpool_edges: np.ndarray | None


def build_stages(faces0: np.ndarray, n_vertices0: int, unpool_steps: int) -> list[Stage]:
    """The topology of every stage: stage 0 is the ellipsoid, each next one is unpooled."""
    edges0 = unique_edges(faces0)
    stages = [Stage(faces0, edges0, n_vertices0, None)]
    for _ in range(unpool_steps):
        prev = stages[-1]
        faces = unpool_faces(prev.faces, prev.edges, prev.n_vertices)
        stages.append(Stage(faces, unique_edges(faces), prev.n_vertices + len(prev.edges), prev.edges))
    return stages


def normalized_adjacency(edges: np.ndarray, n_vertices: int) -> torch.Tensor:
    """Row-normalised adjacency (mean over neighbours) as a sparse COO tensor (V, V).

    Row normalisation keeps feature scale independent of vertex degree, which varies
    between the original vertices (degree 4..7) and unpooled ones (degree 6).
    """
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    degree = np.bincount(src, minlength=n_vertices).astype(np.float32)
    values = 1.0 / degree[src]
    index = torch.from_numpy(np.stack([src, dst]))
    return torch.sparse_coo_tensor(index, torch.from_numpy(values), (n_vertices, n_vertices),
                                   check_invariants=True).coalesce()
