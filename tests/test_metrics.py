"""Evaluation metrics against brute-force float64 references and known cases."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training.metrics import MetricAccumulator, point_metrics, sample_surface


def ref_metrics(pred: np.ndarray, gt: np.ndarray, taus=(1e-4, 2e-4)) -> dict:
    d = ((pred[:, :, None] - gt[:, None]) ** 2).sum(-1)  # (B, N, M)
    d_pred, d_gt = d.min(2), d.min(1)  # (B, N), (B, M)
    out = {"cd": 1000 * (d_pred.mean(1) + d_gt.mean(1))}
    for name, tau in zip(("tau", "2tau"), taus):
        p = 100 * (d_pred <= tau).mean(1)
        r = 100 * (d_gt <= tau).mean(1)
        f = np.array([2 * pi * ri / (pi + ri) if pi + ri > 0 else 0.0 for pi, ri in zip(p, r)])
        out.update({f"precision_{name}": p, f"recall_{name}": r, f"f_{name}": f})
    return out


def test_point_metrics_match_reference():
    gen = torch.Generator().manual_seed(0)
    gt = 0.1 * torch.rand(3, 60, 3, generator=gen, dtype=torch.float64)
    pred = gt[:, :40] + 0.012 * torch.randn(3, 40, 3, generator=gen, dtype=torch.float64)
    got = point_metrics(pred, gt, chunk_size=7)
    ref = ref_metrics(pred.numpy(), gt.numpy())
    assert {"f_tau", "f_2tau", "cd", "precision_tau", "recall_tau"} <= set(got)
    for key, value in ref.items():
        assert got[key].shape == (3,)
        np.testing.assert_allclose(got[key].numpy(), value, rtol=1e-10, err_msg=key)
    # The case is not trivial: thresholds split the points.
    assert 0 < ref["precision_tau"].min() and ref["precision_tau"].max() < 100
    assert 0 < ref["recall_2tau"].min() and ref["recall_2tau"].max() < 100


def test_identical_clouds_score_perfectly():
    x = torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(1))
    m = point_metrics(x, x.flip(1))
    torch.testing.assert_close(m["f_tau"], torch.full((2,), 100.0))
    torch.testing.assert_close(m["f_2tau"], torch.full((2,), 100.0))
    torch.testing.assert_close(m["cd"], torch.zeros(2))


def test_shift_beyond_two_tau_scores_zero():
    # Points 1 apart, shifted by d with d^2 = 2.25e-4 > 2 tau: each nearest point is its own
    # original, at distance d, so no point is within either threshold.
    axes = torch.meshgrid(*[torch.arange(4.0)] * 3, indexing="ij")
    grid = torch.stack(axes, -1).reshape(1, -1, 3)  # (1, 64, 3)
    d = 0.015
    m = point_metrics(grid + torch.tensor([d, 0.0, 0.0]), grid)
    assert m["f_tau"].item() == 0.0 and m["f_2tau"].item() == 0.0  # P + R = 0 gives 0, not NaN
    assert m["cd"].item() == pytest.approx(1000 * 2 * d * d, rel=1e-4)
    # A shift with d^2 between tau and 2 tau passes 2 tau only.
    m = point_metrics(grid + torch.tensor([0.012, 0.0, 0.0]), grid)
    assert m["f_tau"].item() == 0.0 and m["f_2tau"].item() == pytest.approx(100.0)


# ---------------------------------------------------------------------------- sample_surface

def barycentric_distance(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """For each point, distance to the plane of `tri` if its projection lies inside, else inf."""
    a, b, c = tri
    n = np.cross(b - a, c - a)
    n = n / np.linalg.norm(n)
    rel = points - a
    height = np.abs(rel @ n)
    m = np.stack([b - a, c - a], axis=1)  # (3, 2)
    uv, *_ = np.linalg.lstsq(m, (rel - np.outer(rel @ n, n)).T, rcond=None)  # (2, P)
    inside = (uv[0] >= -1e-9) & (uv[1] >= -1e-9) & (uv.sum(0) <= 1 + 1e-9)
    return np.where(inside, height, np.inf)


def test_samples_lie_on_the_triangles():
    gen = torch.Generator().manual_seed(2)
    verts = torch.rand(7, 3, generator=gen, dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [4, 5, 6], [1, 3, 5]])
    points, normals = sample_surface(verts, faces, 500, generator=gen)
    assert points.shape == (500, 3) and normals.shape == (500, 3)
    v = verts.numpy()
    dists = np.stack([barycentric_distance(points.numpy(), v[f]) for f in faces.numpy()])
    assert (dists.min(0) < 1e-10).all()
    np.testing.assert_allclose(np.linalg.norm(normals.numpy(), axis=1), 1.0, rtol=1e-12)


def test_sampling_is_uniform_by_area():
    # Triangle 0 has area 0.5, triangle 1 (far away) area 1.5: expect 1:3.
    verts = torch.tensor([[0., 0, 0], [1, 0, 0], [0, 1, 0],
                          [0, 0, 5], [3, 0, 5], [0, 1, 5]])
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    n = 20000
    points, normals = sample_surface(verts, faces, n, generator=torch.Generator().manual_seed(3))
    assert points.dtype == torch.float32
    on_second = (points[:, 2] > 2.5).sum().item()
    observed = np.array([n - on_second, on_second])
    expected = np.array([0.25 * n, 0.75 * n])
    assert ((observed - expected) ** 2 / expected).sum() < 10.83  # chi-square, 1 dof, p = 0.001
    # Within triangle 0, the 4 midpoint sub-triangles (equal areas) get equal shares.
    p = points[points[:, 2] < 2.5, :2].numpy()
    x, y = p[:, 0], p[:, 1]
    cells = np.select([x >= 0.5, y >= 0.5, x + y <= 0.5], [0, 1, 2], default=3)  # 3 = centre
    counts = np.bincount(cells, minlength=4)
    exp = np.full(4, len(p) / 4)
    assert ((counts - exp) ** 2 / exp).sum() < 16.27  # chi-square, 3 dof, p = 0.001


def tetrahedron():
    verts = torch.tensor([[1., 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    faces = torch.tensor([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])  # outward (checked below)
    return verts, faces


def cube():
    verts = torch.tensor([[x, y, z] for x in (0., 1) for y in (0., 1) for z in (0., 1)])
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    faces = torch.tensor([t for a, b, c, d in quads for t in ([a, b, c], [a, c, d])])
    return verts, faces


@pytest.mark.parametrize("mesh", [tetrahedron, cube])
def test_normals_point_outward_on_closed_meshes(mesh):
    verts, faces = mesh()
    # Outward winding by the divergence theorem: signed volume > 0.
    v = verts[faces]  # (F, 3, 3)
    assert torch.linalg.det(v).sum() > 0
    points, normals = sample_surface(verts, faces, 400, generator=torch.Generator().manual_seed(4))
    centre = verts.mean(0)
    assert ((normals * (points - centre)).sum(-1) > 0).all()
    torch.testing.assert_close(normals.norm(dim=-1), torch.ones(400))
    _, flipped = sample_surface(verts, faces.flip(1), 400,
                                generator=torch.Generator().manual_seed(4))
    assert ((flipped * (points - centre)).sum(-1) < 0).all()


def test_sample_surface_is_reproducible_and_rejects_degenerate_meshes():
    verts, faces = cube()
    a = sample_surface(verts, faces, 50, generator=torch.Generator().manual_seed(5))
    b = sample_surface(verts, faces, 50, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        sample_surface(torch.zeros(3, 3), torch.tensor([[0, 1, 2]]), 10)

# ---------------------------------------------------------------------------- accumulator


def test_class_mean_is_the_mean_of_category_means():
    acc = MetricAccumulator()
    acc.add("chair", {"f_tau": 10.0, "cd": torch.tensor(1.0)})
    acc.add(["chair", "chair", "plane"], {"f_tau": torch.tensor([20.0, 30.0, 80.0]),
                                          "cd": [2.0, 3.0, 0.5]})
    per = acc.per_category()
    assert per["chair"] == {"f_tau": pytest.approx(20.0), "cd": pytest.approx(2.0)}
    assert per["plane"] == {"f_tau": pytest.approx(80.0), "cd": pytest.approx(0.5)}
    assert acc.class_mean() == {"f_tau": pytest.approx(50.0), "cd": pytest.approx(1.25)}
    assert acc.sample_mean()["f_tau"] == pytest.approx(35.0)  # differs: counts are unequal
    assert acc.counts() == {"chair": 3, "plane": 1} and len(acc) == 4

    table = acc.to_markdown()
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 2 + 1  # header, rule, two categories, class mean
    assert "count" in lines[0]
    assert lines[2].startswith("| chair | 3 |") and lines[3].startswith("| plane | 1 |")
    assert lines[4].startswith("| class mean | 4 | 50.000 |")

    js = json.loads(json.dumps(acc.to_json()))
    assert js["per_category"]["chair"]["count"] == 3
    assert js["class_mean"]["f_tau"] == pytest.approx(50.0) and js["count"] == 4


def test_accumulator_takes_point_metrics_batches():
    gen = torch.Generator().manual_seed(6)
    gt = torch.rand(2, 30, 3, generator=gen)
    m = point_metrics(gt, gt)
    acc = MetricAccumulator()
    acc.add(["car", "lamp"], m)
    assert acc.class_mean()["f_tau"] == pytest.approx(100.0)
    with pytest.raises(ValueError):
        acc.add(["car"], m)  # 2 values for 1 category


def test_align_depth_finds_the_scale_about_the_camera_centre():
    from training.metrics import align_depth

    verts, faces = cube()
    gen = torch.Generator().manual_seed(6)
    shape = (verts - 0.5) * 0.4 + torch.tensor([0.0, 0.0, -0.8])      # 0.4 m cube, 0.8 m away
    gt = torch.stack([sample_surface(shape, faces, 3000, generator=gen)[0] for _ in range(2)])
    truth = torch.tensor([1.05, 0.92])
    pred = gt[:, :1000] / truth[:, None, None]          # same picture, wrong depth
    aligned, found = align_depth(pred, gt)
    torch.testing.assert_close(found, truth, atol=0.006, rtol=0)
    # Both factors are on the search grid: the aligned points are the GT subset again.
    before, after = point_metrics(pred, gt)["f_tau"], point_metrics(aligned, gt)["f_tau"]
    reference = point_metrics(gt[:, :1000], gt)["f_tau"]
    torch.testing.assert_close(after, reference, atol=0.5, rtol=0)
    assert (before < reference / 4).all(), (before, reference)
    # Projections are unchanged: x/z and y/z are invariant under the scale.
    torch.testing.assert_close(aligned[..., :2] / aligned[..., 2:], pred[..., :2] / pred[..., 2:])


def test_fraction_in_silhouette_matches_a_per_vertex_loop():
    from training.metrics import fraction_in_silhouette

    rng = np.random.default_rng(3)
    vertices = np.stack([rng.uniform(-0.3, 0.3, (2, 300)), rng.uniform(-0.3, 0.3, (2, 300)),
                         rng.uniform(-1.0, 0.2, (2, 300))], axis=-1)          # some behind the camera
    intrinsics = np.array([[60.0, 60.0, 32.0, 32.0], [50.0, 55.0, 30.0, 34.0]])
    yy, xx = np.mgrid[0:64, 0:64]
    mask = np.stack([((xx - 32) ** 2 + (yy - 30) ** 2 < 15 ** 2), (xx < 20)]).astype(np.float32)[:, None]
    got = fraction_in_silhouette(torch.tensor(vertices), torch.tensor(intrinsics), torch.tensor(mask))
    for b in range(2):
        fx, fy, cx, cy = intrinsics[b]
        hits = 0
        for x, y, z in vertices[b]:
            if z >= 0:
                continue
            u, v = cx + fx * x / -z, cy - fy * y / -z
            if 0 <= u < 64 and 0 <= v < 64 and mask[b, 0, int(np.floor(v)), int(np.floor(u))] >= 0.5:
                hits += 1
        assert got[b].item() == pytest.approx(hits / 300)
    assert 0.05 < got.min() and got.max() < 0.95
