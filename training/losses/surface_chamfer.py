"""Chamfer on points sampled on the predicted surface, not only at its vertices.

Vertices alone can sit on the ground truth while the triangles between them cut corners or
bulge; points drawn on the faces see that (GEOMetrics, Mesh R-CNN). The draw is uniform by
area; the points are barycentric combinations of the vertices, so gradients reach them.
"""
from __future__ import annotations

import torch

from training.losses.chamfer import ChamferResult, chamfer_loss


def sample_points(vertices: torch.Tensor, faces: torch.Tensor, n: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Points uniform by area on each mesh of a batch, differentiable in the vertices.

    Args:
        vertices: (B, V, 3); faces: (F, 3) int64, shared by the batch; n: points per mesh.
    Returns:
        (B, n, 3).
    """
    if vertices.dim() != 3 or vertices.shape[-1] != 3 or faces.dim() != 2 or faces.shape[-1] != 3:
        raise ValueError(f"expected (B, V, 3) vertices and (F, 3) faces, got {tuple(vertices.shape)} "
                         f"and {tuple(faces.shape)}")
    if n < 1:
        raise ValueError(f"need at least one point per mesh, got {n}")
    a, b, c = (vertices[:, faces[:, k]] for k in range(3))              # each (B, F, 3)
    with torch.no_grad():
        areas = torch.linalg.cross(b - a, c - a).norm(dim=-1)           # (B, F), twice the area
        degenerate = areas.sum(dim=1, keepdim=True) <= 0
        areas = torch.where(degenerate, torch.ones_like(areas), areas)   # all collapsed: uniform
        face = torch.multinomial(areas.float(), n, replacement=True, generator=generator)   # (B, n)
        r = torch.rand(2, *face.shape, generator=generator, dtype=vertices.dtype).to(vertices.device)
        s = r[0].sqrt()                                                  # uniform on the triangle
        w = torch.stack([1 - s, s * (1 - r[1]), s * r[1]], dim=-1)       # (B, n, 3) barycentric
    index = face.unsqueeze(-1).expand(-1, -1, 3)                         # (B, n, 3)
    corners = [torch.gather(x, 1, index) for x in (a, b, c)]             # each (B, n, 3)
    return sum(w[..., k:k + 1] * corners[k] for k in range(3))


def surface_chamfer_loss(vertices: torch.Tensor, faces: torch.Tensor, gt: torch.Tensor, n: int,
                         weight_pred_to_gt: float = 1.0, weight_gt_to_pred: float = 1.0,
                         generator: torch.Generator | None = None) -> ChamferResult:
    """Chamfer between n points sampled on the predicted mesh (B, V, 3) and GT points (B, M, 3).

    Both directions weigh 1 by default: unlike vertices, the samples are spread evenly."""
    return chamfer_loss(sample_points(vertices, faces, n, generator), gt, weight_pred_to_gt, weight_gt_to_pred)
