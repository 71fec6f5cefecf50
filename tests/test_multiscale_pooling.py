"""Multi-stride pooling against a hand-written bilinear oracle, its gradient against finite
differences, and its geometry against maps whose features are their own coordinates."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blender_p2m.model.efficientnet_lite import FEATURE_SHIFT, EfficientNetLite0
from blender_p2m.model.multiscale_pooling import MultiScalePooling, resample_map

SIZE = 64


def oracle_project(vertex, fx, fy, cx, cy):
    x, y, z = vertex
    return cx + fx * x / -z, cy - fy * y / -z


def oracle_bilinear(fmap: np.ndarray, stride: int, shift: float, u: float, v: float) -> np.ndarray:
    """fmap (C, h, w): pixel (i, j) centred on image point (s (j + .5) + shift, s (i + .5) + shift);
    zeros beyond the map."""
    c, h, w = fmap.shape
    x = (u - shift) / stride - 0.5          # in pixel-index units: pixel j at x = j
    y = (v - shift) / stride - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    out = np.zeros(c)
    for dy in (0, 1):
        for dx in (0, 1):
            i, j = y0 + dy, x0 + dx
            weight = (1 - abs(x - j)) * (1 - abs(y - i))
            if 0 <= i < h and 0 <= j < w:
                out += weight * fmap[:, i, j]
    return out


def make_pooling(shifts=None) -> MultiScalePooling:
    torch.manual_seed(0)
    return MultiScalePooling({4: 5, 8: 6, 16: 7, 32: 3}, {4: 2, 8: 3, 16: 2, 32: 4},
                             shifts).double()


def random_maps(batch: int = 2) -> dict[int, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    channels = {4: 5, 8: 6, 16: 7, 32: 3}
    return {s: torch.randn(batch, c, SIZE // s, SIZE // s, generator=g, dtype=torch.float64)
            for s, c in channels.items()}


@pytest.mark.parametrize("shifts", [None, FEATURE_SHIFT])
def test_matches_hand_written_bilinear_oracle(shifts):
    pool = make_pooling(shifts)
    maps = random_maps()
    intrinsics = torch.tensor([[70.0, 70.0, 32.0, 32.0], [90.0, 80.0, 30.0, 35.0]], dtype=torch.float64)
    vertices = torch.tensor([[[0.01, 0.02, -0.8], [0.2, -0.15, -0.7], [-0.37, 0.1, -0.75],
                              [0.9, 0.9, -0.8], [0.0, 0.0, 0.3]],
                             [[0.05, -0.03, -0.9], [-0.3, 0.29, -0.85], [0.1, 0.1, -0.5],
                              [0.0, 0.0, -0.0005], [0.33, 0.0, -0.9]]], dtype=torch.float64)
    with torch.no_grad():
        pooled = pool(maps, vertices, intrinsics, SIZE).numpy()
    assert pooled.shape == (2, 5, 11)

    for b in range(2):
        for n in range(5):
            vertex = vertices[b, n].numpy()
            expected = []
            for s in (4, 8, 16, 32):
                conv = pool.bottlenecks[str(s)]
                w = conv.weight.detach().numpy()[:, :, 0, 0]
                reduced = np.einsum("oc,chw->ohw", w, maps[s][b].numpy()) + \
                    conv.bias.detach().numpy()[:, None, None]
                if -vertex[2] <= 1e-3:                              # behind the camera
                    expected.append(np.zeros(len(w)))
                    continue
                u, v = oracle_project(vertex, *intrinsics[b].numpy())
                expected.append(oracle_bilinear(reduced, s, (shifts or {}).get(s, 0.0), u, v))
            np.testing.assert_allclose(pooled[b, n], np.concatenate(expected), rtol=1e-10, atol=1e-12)
    # The cases are real: some points read partly outside, one entirely, two are invisible.
    assert np.all(pooled[0, 4] == 0) and np.all(pooled[1, 3] == 0)
    assert np.all(pooled[0, 3] == 0)           # projects at (120.75, -56.75): outside


def test_features_that_are_coordinates_read_back_the_projection():
    """Each pixel holding the image coordinates of its receptive-field centre: sampling
    returns (u, v) exactly inside the image (bilinear reproduces linear functions). Sampled
    as if centred, the shifted maps would be off by the shift."""
    strides = (4, 8, 16, 32)
    maps = {}
    for s in strides:
        n = SIZE // s
        centres = s * (torch.arange(n, dtype=torch.float64) + 0.5) + FEATURE_SHIFT[s]
        maps[s] = torch.stack([centres.expand(n, n), centres.view(n, 1).expand(n, n)])[None]
    vertices = torch.tensor([[[0.05, 0.07, -0.8], [-0.02, -0.04, -0.9], [0.0, 0.0, -0.75]]],
                            dtype=torch.float64)
    intrinsics = torch.tensor([[60.0, 60.0, 32.0, 32.0]], dtype=torch.float64)
    u = 32.0 + 60.0 * vertices[0, :, 0] / -vertices[0, :, 2]
    v = 32.0 - 60.0 * vertices[0, :, 1] / -vertices[0, :, 2]
    for shifted in (True, False):
        pool = MultiScalePooling({s: 2 for s in strides}, 2,
                                 FEATURE_SHIFT if shifted else None).double()
        with torch.no_grad():
            for conv in pool.bottlenecks.values():
                conv.weight.copy_(torch.eye(2, dtype=torch.float64).view(2, 2, 1, 1))
                conv.bias.zero_()
            pooled = pool(maps, vertices, intrinsics, SIZE)[0].view(3, 4, 2)   # (N, stride, uv)
        for k, s in enumerate(strides):
            # Exact only between pixel centres (map coordinates in [0, n - 1] either way).
            n = SIZE // s
            inside = torch.ones(3, dtype=torch.bool)
            for x in (u, v):
                for shift in (FEATURE_SHIFT[s], 0.0):
                    inside &= ((x - shift) / s - 0.5 >= 0) & ((x - shift) / s - 0.5 <= n - 1)
            assert inside.sum() >= (1 if s == 32 else 3), s
            offset = 0.0 if shifted else FEATURE_SHIFT[s]
            torch.testing.assert_close(pooled[inside, k, 0], u[inside] + offset, rtol=0, atol=1e-9)
            torch.testing.assert_close(pooled[inside, k, 1], v[inside] + offset, rtol=0, atol=1e-9)


def test_gradient_wrt_vertices_matches_finite_differences():
    pool = make_pooling(FEATURE_SHIFT)
    maps = random_maps(batch=1)
    intrinsics = torch.tensor([[70.0, 65.0, 31.0, 33.0]], dtype=torch.float64)
    # Points whose projections avoid the kinks of bilinear interpolation (pixel centres).
    vertices = torch.tensor([[[0.013, 0.021, -0.81], [0.17, -0.13, -0.73], [-0.29, 0.11, -0.77]]],
                            dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        reduced = pool.reduce(maps)
    assert torch.autograd.gradcheck(lambda v: pool.sample(reduced, v, intrinsics, SIZE), (vertices,),
                                    eps=1e-7, atol=1e-6)
    # And the gradient is not trivially zero.
    pool.sample(reduced, vertices, intrinsics, SIZE).square().sum().backward()
    assert vertices.grad.abs().min() > 0


def test_with_the_real_encoder_and_channel_counts():
    encoder = EfficientNetLite0().eval()
    pool = MultiScalePooling(encoder.out_channels, 16, encoder.shifts)
    assert pool.out_features == 64
    vertices = torch.tensor([[[0.0, 0.0, -0.8], [0.1, 0.1, -0.8]]]).expand(2, -1, -1)
    intrinsics = torch.tensor([[250.0, 250.0, 64.0, 64.0]]).expand(2, -1)
    with torch.no_grad():
        out = pool(encoder(torch.rand(2, 3, 128, 128)), vertices, intrinsics, 128)
    assert out.shape == (2, 2, 64) and out.abs().sum() > 0


def test_bad_maps_are_explained():
    pool = make_pooling()
    maps = random_maps()
    with pytest.raises(ValueError, match=r"strides \[4, 8, 16, 32\]"):
        pool.reduce({s: m for s, m in maps.items() if s != 32})
    maps[8] = maps[8][..., :-1, :-1]
    with pytest.raises(ValueError, match="covers a 56 px image, not 64 px"):
        pool.reduce(maps)
    with pytest.raises(ValueError, match="must cover the strides"):
        MultiScalePooling({4: 3, 8: 3}, {4: 2})
    with pytest.raises(ValueError, match="must cover the strides"):
        MultiScalePooling({4: 3}, 2, {8: 3.5})


def test_resample_map_moves_between_grids():
    """A map holding its own centres' coordinates, resampled onto another grid, holds the
    new grid's centres (inside), and its edge values beyond."""
    s, d = 8, FEATURE_SHIFT[8]
    n = SIZE // s
    centres = s * (torch.arange(n, dtype=torch.float64) + 0.5) + d
    fmap = centres.expand(1, 1, n, n)                      # x coordinate of each pixel centre
    out = resample_map(fmap, s, d, out_size=16, out_stride=SIZE / 16, out_shift=0.0)
    target = SIZE / 16 * (torch.arange(16, dtype=torch.float64) + 0.5)
    expected = target.clamp(centres[0], centres[-1])
    torch.testing.assert_close(out[0, 0], expected.expand(16, 16), rtol=0, atol=1e-9)
    assert out.shape == (1, 1, 16, 16)
