"""Edge length regulariser: short, even edges keep vertices from flying off."""
from __future__ import annotations

import torch


def edge_length_loss(vertices: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Mean squared edge length.

    Args:
        vertices: (B, N, 3) mesh vertices.
        edges: (E, 2) int64 vertex index pairs, each undirected edge once.

    Returns:
        Scalar mean over edges and batch of |v_i - v_j|^2 (0 for a mesh without edges).
    """
    if edges.shape[0] == 0:
        return vertices.new_zeros(())
    edge_vec = vertices[:, edges[:, 0].long()] - vertices[:, edges[:, 1].long()]  # (B, E, 3)
    return (edge_vec * edge_vec).sum(-1).mean()  # ()
