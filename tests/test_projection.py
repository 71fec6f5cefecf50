"""Projection and perceptual pooling against hand-computed pixels and a numpy reference.

Convention (blender_p2m/model/perceptual_pooling.py, docs/conventions.md): pixel centres
at +0.5, u = cx + fx X / (-Z), v = cy - fy Y / (-Z); a map of stride s covers the image,
so image point (u, v) is map point (u / s, v / s); outside the image reads zeros.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blender_p2m.model.perceptual_pooling import MIN_DEPTH, perceptual_pool, project, sample_bilinear


def reference_bilinear(feature_map: np.ndarray, uv: np.ndarray, image_size: int) -> np.ndarray:
    """Explicit 4-neighbour bilinear interpolation with zero padding.

    feature_map (C, h, w) covers image pixels [0, image_size)^2; uv (N, 2) image pixels.
    Map pixel (i, j) has its centre at map coordinates (j + 0.5, i + 0.5).
    """
    c, h, w = feature_map.shape
    out = np.zeros((len(uv), c))
    for n, (u, v) in enumerate(uv):
        x = u * w / image_size - 0.5                    # map coordinates, centres at integers
        y = v * h / image_size - 0.5
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        ax, ay = x - x0, y - y0
        for dy, wy in ((0, 1 - ay), (1, ay)):
            for dx, wx in ((0, 1 - ax), (1, ax)):
                i, j = y0 + dy, x0 + dx
                if 0 <= i < h and 0 <= j < w:
                    out[n] += wy * wx * feature_map[:, i, j]
    return out


def test_projection_matches_hand_computed_pixels():
    vertices = torch.tensor([[[0.1, 0.05, -0.5], [-0.2, -0.1, -1.0], [0.0, 0.0, -2.0]]])
    intrinsics = torch.tensor([[250.0, 200.0, 112.0, 100.0]])
    uv, visible = project(vertices, intrinsics)
    # u = 112 + 250 * 0.1 / 0.5 = 162, v = 100 - 200 * 0.05 / 0.5 = 80
    # u = 112 - 250 * 0.2 = 62,        v = 100 + 200 * 0.1 = 120
    # the optical axis lands on the principal point
    expected = torch.tensor([[[162.0, 80.0], [62.0, 120.0], [112.0, 100.0]]])
    torch.testing.assert_close(uv, expected)
    assert visible.all()


def test_projection_uses_each_images_own_intrinsics():
    vertices = torch.tensor([[[0.1, 0.1, -1.0]], [[0.1, 0.1, -1.0]]])
    intrinsics = torch.tensor([[100.0, 100.0, 50.0, 50.0], [300.0, 150.0, 10.5, 20.25]])
    uv, _ = project(vertices, intrinsics)
    torch.testing.assert_close(uv, torch.tensor([[[60.0, 40.0]], [[40.5, 5.25]]]))


def _ramp_map(h: int, w: int) -> torch.Tensor:
    i, j = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                          indexing="ij")
    return (10 * i + j + 1)[None, None]                          # (1, 1, h, w)


def test_sampling_at_hand_computed_points():
    """4x4 map over an 8x8 image (stride 2): value 10 i + j + 1 at map pixel (i, j)."""
    fmap = _ramp_map(4, 4)
    uv = torch.tensor([[[5.0, 3.0],     # centre of image pixels covered by map pixel (1, 2): 13
                        [6.0, 3.0],     # halfway between map columns 2 and 3: 13.5
                        [5.0, 4.0],     # halfway between map rows 1 and 2: 18
                        [1.0, 1.0],     # centre of map pixel (0, 0): 1
                        [0.0, 0.0],     # image corner: a quarter of map pixel (0, 0): 0.25
                        [8.0, 1.0],     # right edge, row 0: half of map pixel (0, 3): 2
                        [9.0, 1.0],     # a map pixel beyond the right edge: 0
                        [-5.0, -5.0]]]) # far outside: 0
    out = sample_bilinear(fmap, uv, image_size=8)
    expected = torch.tensor([13.0, 13.5, 18.0, 1.0, 0.25, 2.0, 0.0, 0.0])
    torch.testing.assert_close(out[0, :, 0], expected)


@pytest.mark.parametrize("h", [4, 7, 14])
def test_sampling_matches_numpy_reference_inside_at_borders_and_outside(h):
    rng = np.random.default_rng(h)
    image_size = 56
    fmap = rng.normal(size=(2, 3, h, h)).astype(np.float32)
    uv = rng.uniform(-10, image_size + 10, size=(2, 200, 2))
    # Exactly on the borders and on pixel centres as well.
    edge = np.array([[0, 0], [image_size, image_size], [0, image_size / 2], [image_size, 3.0],
                     [image_size / h * 0.5, image_size / h * 1.5], [-0.5, 20.0], [image_size + 0.5, 20.0]])
    uv[:, :len(edge)] = edge
    out = sample_bilinear(torch.from_numpy(fmap), torch.from_numpy(uv).float(), image_size)
    for b in range(2):
        ref = reference_bilinear(fmap[b].astype(np.float64), uv[b].astype(np.float32).astype(np.float64),
                                 image_size)
        np.testing.assert_allclose(out[b].numpy(), ref, atol=2e-5)


def test_perceptual_pool_concatenates_every_map_at_the_projection():
    rng = np.random.default_rng(1)
    image_size = 64
    maps = [torch.from_numpy(rng.normal(size=(1, c, s, s)).astype(np.float32))
            for c, s in ((3, 16), (5, 8), (2, 4))]
    intrinsics = torch.tensor([[70.0, 80.0, 30.0, 34.0]])
    vertices = torch.from_numpy(np.stack([rng.uniform(-0.3, 0.3, 50), rng.uniform(-0.3, 0.3, 50),
                                          rng.uniform(-1.2, -0.6, 50)], axis=1)[None].astype(np.float32))
    pooled = perceptual_pool(maps, vertices, intrinsics, image_size)
    assert pooled.shape == (1, 50, 10)
    x, y, z = vertices[0].double().numpy().T
    uv = np.stack([30.0 + 70.0 * x / -z, 34.0 - 80.0 * y / -z], axis=1)   # hand-written projection
    ref = np.concatenate([reference_bilinear(m[0].double().numpy(), uv, image_size) for m in maps], axis=1)
    np.testing.assert_allclose(pooled[0].numpy(), ref, atol=1e-4)
    assert np.abs(ref).max() > 0.5   # the points really hit the maps


def test_behind_camera_and_outside_give_zeros_not_nan():
    maps = [torch.ones(1, 4, 8, 8), torch.ones(1, 2, 4, 4)]
    intrinsics = torch.tensor([[250.0, 250.0, 16.0, 16.0]])
    vertices = torch.tensor([[[0.0, 0.0, 0.5],           # behind the camera
                              [0.0, 0.0, 0.0],           # on the camera centre
                              [0.1, 0.1, 0.0],           # on the camera plane
                              [0.0, 0.0, -MIN_DEPTH],    # at the near limit: invisible
                              [0.0, 0.0, -MIN_DEPTH / 2],
                              [10.0, 0.0, -1.0],         # far right
                              [0.0, -10.0, -1.0],        # far below
                              [1e30, -1e30, -2 * MIN_DEPTH],  # projects near infinity
                              [0.0, 0.0, -1.0]]],        # visible, image centre
                            requires_grad=True)
    pooled = perceptual_pool(maps, vertices, intrinsics, image_size=32)
    assert torch.isfinite(pooled).all()
    torch.testing.assert_close(pooled[0, :-1], torch.zeros(8, 6))
    torch.testing.assert_close(pooled[0, -1], torch.ones(6))
    pooled.sum().backward()
    assert torch.isfinite(vertices.grad).all()
    torch.testing.assert_close(vertices.grad[0, :-1], torch.zeros(8, 3))


def test_point_projected_to_float32_infinity_reads_zeros():
    """u overflows to infinity (a diverged network): the features are zero, not NaN."""
    maps = [torch.ones(1, 4, 8, 8)]
    vertices = torch.tensor([[[1e36, -1e36, -2 * MIN_DEPTH], [0.0, 0.0, -1.0]]])
    intrinsics = torch.tensor([[250.0, 250.0, 16.0, 16.0]])
    uv, _ = project(vertices, intrinsics)
    assert torch.isinf(uv[0, 0]).all()
    pooled = perceptual_pool(maps, vertices, intrinsics, image_size=32)
    torch.testing.assert_close(pooled, torch.tensor([[[0.0] * 4, [1.0] * 4]]))


def test_half_precision_maps_are_sampled_at_exact_positions():
    """A bfloat16 map (as under autocast) is sampled at float32 positions, not rounded ones."""
    fmap = torch.arange(56, dtype=torch.float32).repeat(56, 1)[None, None]   # value = column
    uv = torch.tensor([[[217.3, 100.0], [150.9, 3.1], [4.7, 200.0]]])
    expected = uv[0, :, 0] / 4 - 0.5                     # stride 4, centres at +0.5
    for dtype in (torch.bfloat16, torch.float16):
        out = sample_bilinear(fmap.to(dtype), uv, image_size=224)
        torch.testing.assert_close(out[0, :, 0].float(), expected, atol=1e-3, rtol=0)


def test_gradient_of_projection_and_sampling_matches_finite_differences():
    """Analytic gradient w.r.t. vertices (and maps) matches finite differences (float64)."""
    image_size = 32
    i, j = torch.meshgrid(torch.arange(8, dtype=torch.float64), torch.arange(8, dtype=torch.float64),
                          indexing="ij")
    smooth = torch.stack([torch.sin(0.7 * i + 0.3 * j), torch.cos(0.4 * i - 0.9 * j),
                          0.1 * i * j])[None].repeat(2, 1, 1, 1)          # (2, 3, 8, 8)
    fine = torch.sin(0.5 * torch.arange(16, dtype=torch.float64))[None, None, None].repeat(2, 2, 16, 1)
    intrinsics = torch.tensor([[40.0, 45.0, 16.0, 15.0], [30.0, 30.0, 17.0, 16.0]], dtype=torch.float64)
    rng = np.random.default_rng(3)
    xyz = np.stack([rng.uniform(-0.25, 0.25, 6), rng.uniform(-0.25, 0.25, 6),
                    rng.uniform(-1.3, -0.7, 6)], axis=1)
    vertices = torch.from_numpy(np.stack([xyz, xyz[::-1].copy()]))       # (2, 6, 3)
    # Bilinear sampling has kinks on pixel-centre lines: keep the points away from them.
    uv, _ = project(vertices, intrinsics)
    for stride in (4.0, 2.0):
        frac = (uv / stride - 0.5) % 1.0
        assert ((frac > 0.002) & (frac < 0.998)).all(), "test point too near a pixel-centre line"
    vertices.requires_grad_(True)
    smooth.requires_grad_(True)

    def f(v, m):
        return perceptual_pool([m, fine], v, intrinsics, image_size)

    assert torch.autograd.gradcheck(f, (vertices, smooth), eps=1e-6, atol=1e-6)
    # And the gradient is not trivially zero.
    g, = torch.autograd.grad(f(vertices, smooth).sum(), vertices)
    assert (g.abs().sum(-1) > 1e-6).all()
