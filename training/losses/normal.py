"""Pixel2Mesh normal loss: edges should lie in the GT surface's tangent plane."""
from __future__ import annotations

import torch


def normal_loss(vertices: torch.Tensor, edges: torch.Tensor, gt_normals: torch.Tensor,
                pred_nearest_idx: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Mean |cos| between each mesh edge and the GT normal found at its endpoints.

    For an edge (i, j), the GT normal of the GT point nearest to i is compared with the
    unit vector j - i, and the GT normal nearest to j with i - j. |cos| ignores the sign, so
    the reversal only matters for which normal is used. This follows the original code, where
    every directed edge contributes with the normal at its first vertex. The nearest-point
    indices are a lookup, not differentiated; gradients reach the vertices through the edge
    direction only.

    Args:
        vertices: (B, N, 3) predicted vertices.
        edges: (E, 2) int64 vertex index pairs, each undirected edge once.
        gt_normals: (B, M, 3) unit normals of the GT surface points.
        pred_nearest_idx: (B, N) index into gt_normals of each vertex's nearest GT point
            (`ChamferResult.pred_nearest_idx`).
        eps: floor of the edge length, so zero-length edges give |cos| = 0, not NaN.

    Returns:
        Scalar mean over edges, both endpoints and batch.
    """
    if edges.shape[0] == 0 or vertices.shape[0] == 0:
        return vertices.new_zeros(())
    idx = pred_nearest_idx.detach().long()  # (B, N)
    normals = torch.gather(gt_normals, 1, idx[..., None].expand(-1, -1, 3))  # (B, N, 3)
    i, j = edges[:, 0].long(), edges[:, 1].long()  # (E,), (E,)
    edge_vec = vertices[:, j] - vertices[:, i]  # (B, E, 3)
    # Length floored by eps: sqrt(sum + eps^2) keeps the gradient finite at zero length.
    length = torch.sqrt((edge_vec * edge_vec).sum(-1, keepdim=True) + eps * eps)  # (B, E, 1)
    unit = edge_vec / length  # (B, E, 3)
    cos_i = (unit * normals[:, i]).sum(-1).abs()  # (B, E) edge i->j against normal at i
    cos_j = (unit * normals[:, j]).sum(-1).abs()  # (B, E) edge j->i against normal at j
    return torch.cat([cos_i, cos_j], dim=1).mean()  # ()
