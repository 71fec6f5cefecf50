"""Laplacian regulariser: a block may move vertices, but should keep their local shape."""
from __future__ import annotations

import torch


def _undirected_pairs(edges: torch.Tensor) -> torch.Tensor:
    """Each undirected edge once, self-loops dropped.

    Returns:
        (E', 2) int64 with row[0] < row[1], sorted and unique.
    """
    edges = edges.long()  # (E, 2)
    lo = torch.minimum(edges[:, 0], edges[:, 1])  # (E,)
    hi = torch.maximum(edges[:, 0], edges[:, 1])  # (E,)
    keep = lo != hi  # (E,)
    pairs = torch.stack([lo[keep], hi[keep]], dim=1)  # (E'', 2)
    return torch.unique(pairs, dim=0)  # (E', 2)


def laplacian_coordinates(vertices: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Uniform Laplacian coordinates: each vertex minus the mean of its neighbours.

    Neighbours come from the undirected edges; an edge listed in both directions or twice
    still counts once. A vertex without neighbours gets a zero coordinate.

    Args:
        vertices: (B, N, 3) mesh vertices.
        edges: (E, 2) int64 vertex index pairs.

    Returns:
        (B, N, 3) Laplacian coordinates.
    """
    B, N, _ = vertices.shape
    pairs = _undirected_pairs(edges)  # (E', 2)
    src = torch.cat([pairs[:, 0], pairs[:, 1]])  # (2E',) vertex receiving ...
    dst = torch.cat([pairs[:, 1], pairs[:, 0]])  # (2E',) ... this neighbour
    neighbour_sum = vertices.new_zeros(B, N, 3).index_add(1, src, vertices[:, dst])  # (B, N, 3)
    degree = torch.bincount(src, minlength=N).to(vertices.dtype)  # (N,)
    has_neighbours = (degree > 0)[None, :, None]  # (1, N, 1)
    neighbour_mean = neighbour_sum / degree.clamp(min=1)[None, :, None]  # (B, N, 3)
    return torch.where(has_neighbours, vertices - neighbour_mean,
                       torch.zeros_like(vertices))  # (B, N, 3)


def laplacian_loss(before: torch.Tensor, after: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Change of Laplacian coordinates across a deformation block.

    As in the original code: squared difference summed over xyz, averaged over vertices
    (and over the batch).

    Args:
        before: (B, N, 3) block input (after unpooling).
        after: (B, N, 3) block output.
        edges: (E, 2) int64 edges of the mesh both share.

    Returns:
        Scalar loss.
    """
    if before.shape != after.shape:
        raise ValueError(f"shapes differ: {tuple(before.shape)} and {tuple(after.shape)}")
    # lap(after) - lap(before) = lap(after - before): the operator is linear.
    diff = laplacian_coordinates(after - before, edges)  # (B, N, 3)
    return (diff * diff).sum(-1).mean()  # ()
