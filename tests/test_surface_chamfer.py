"""Chamfer on points sampled on the predicted surface: where the points land, how often, gradients."""
from __future__ import annotations

import pytest
import torch

from training.losses.pixel2mesh_loss import pixel2mesh_loss
from training.losses.surface_chamfer import sample_points, surface_chamfer_loss

# Two triangles in the plane z = -1: the first of area 0.5 * 3 = 1.5, the second 0.5.
VERTICES = torch.tensor([[[0.0, 0.0, -1.0], [3.0, 0.0, -1.0], [0.0, 1.0, -1.0],
                          [10.0, 0.0, -1.0], [11.0, 0.0, -1.0], [10.0, 1.0, -1.0]]])
FACES = torch.tensor([[0, 1, 2], [3, 4, 5]])


def test_points_lie_on_the_faces_in_proportion_to_area():
    n = 20000
    pts = sample_points(VERTICES, FACES, n, torch.Generator().manual_seed(0))[0]      # (n, 3)
    assert torch.allclose(pts[:, 2], torch.full((n,), -1.0))
    first = pts[:, 0] < 5
    # Inside the triangles: x >= 0, y >= 0 and x / 3 + y <= 1 (first); x' + y <= 1 (second).
    a, b = pts[first], pts[~first]
    assert (a[:, 1] >= 0).all() and (a[:, 0] / 3 + a[:, 1] <= 1 + 1e-6).all()
    assert (b[:, 0] >= 10).all() and ((b[:, 0] - 10) + b[:, 1] <= 1 + 1e-6).all()
    share = first.float().mean().item()
    sigma = (0.75 * 0.25 / n) ** 0.5
    assert abs(share - 0.75) < 4 * sigma
    # Uniform inside a triangle: the mean is its centroid.
    assert torch.allclose(b[:, :2].mean(0), torch.tensor([10 + 1 / 3, 1 / 3]), atol=0.01)


def test_gradients_reach_the_vertices_as_barycentric_weights():
    v = VERTICES.clone().requires_grad_()
    n = 500
    sample_points(v, FACES, n, torch.Generator().manual_seed(1))[..., 0].sum().backward()
    # Every point is a convex combination: the weights of each point sum to 1 over vertices.
    assert v.grad[0, :, 0].sum().item() == pytest.approx(n)
    assert torch.equal(v.grad[..., 1:], torch.zeros_like(v.grad[..., 1:]))


def test_surface_term_is_zero_on_the_ground_truths_own_surface_and_added_to_the_total():
    gt = sample_points(VERTICES, FACES, 4000, torch.Generator().manual_seed(2))
    near = surface_chamfer_loss(VERTICES, FACES, gt, 4000).loss
    far = surface_chamfer_loss(VERTICES + torch.tensor([0.0, 0.0, 0.1]), FACES, gt, 4000).loss
    assert near < 1e-3 and far.item() == pytest.approx(2 * 0.01, rel=0.05) and far > 10 * near

    from blender_p2m.model.network import StageOutput
    stage = StageOutput(VERTICES, VERTICES, FACES, torch.tensor([[0, 1], [1, 2], [2, 0]]))
    normals = torch.zeros_like(gt)
    normals[..., 2] = 1
    total0, terms0 = pixel2mesh_loss([stage], gt, normals)
    total1, terms1 = pixel2mesh_loss([stage], gt, normals, surface_points=1000)
    assert "surface" not in terms0 and terms1["surface"] > 0
    assert total1.item() == pytest.approx(total0.item() + terms1["surface"].item())


def test_bad_meshes_are_refused():
    with pytest.raises(ValueError, match="expected"):
        sample_points(VERTICES[0], FACES, 10)
    with pytest.raises(ValueError, match="at least one point"):
        sample_points(VERTICES, FACES, 0)
