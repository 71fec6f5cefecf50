"""Losses against slow, obviously correct float64 references, plus finite-difference gradients."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import training.losses.chamfer as chamfer_module
from training.losses import (
    LossWeights,
    chamfer_loss,
    edge_length_loss,
    laplacian_coordinates,
    laplacian_loss,
    move_loss,
    nearest_squared_distances,
    normal_loss,
    pixel2mesh_loss,
)

# ---------------------------------------------------------------------------- references


def ref_nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = ((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1)  # (B, N, M)
    return d.min(-1), d.argmin(-1)


def ref_normal_loss(v, edges, normals, idx) -> float:
    values = []
    for b in range(v.shape[0]):
        for i, j in edges:
            e = v[b, j] - v[b, i]
            length = np.linalg.norm(e)
            u = e / length if length > 0 else np.zeros(3)
            values.append(abs(u @ normals[b, idx[b, i]]))
            values.append(abs(-u @ normals[b, idx[b, j]]))
    return float(np.mean(values))


def ref_laplacian(v, edges) -> np.ndarray:
    n = v.shape[1]
    neighbours = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            neighbours[i].add(j)
            neighbours[j].add(i)
    out = np.zeros_like(v)
    for k in range(n):
        if neighbours[k]:
            out[:, k] = v[:, k] - v[:, sorted(neighbours[k])].mean(axis=1)
    return out


def ref_edge_loss(v, edges) -> float:
    return float(np.mean([[np.sum((v[b, i] - v[b, j]) ** 2) for i, j in edges]
                          for b in range(v.shape[0])]))


def ref_move_loss(before, after) -> float:
    return float(np.mean(np.sum((after - before) ** 2, axis=-1)))


def octahedron():
    verts = torch.tensor([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                         dtype=torch.float64)
    edges = torch.tensor([[i, j] for i in range(6) for j in range(i + 1, 6) if j != (i ^ 1)])
    return verts, edges  # (6, 3), (12, 2)


def random_edges(n: int, e: int, gen: torch.Generator) -> torch.Tensor:
    i = torch.randint(0, n, (e,), generator=gen)
    j = (i + torch.randint(1, n, (e,), generator=gen)) % n  # never a self-loop
    return torch.stack([i, j], dim=1)  # (e, 2)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)

# ---------------------------------------------------------------------------- chamfer


@pytest.mark.parametrize("method", ["kdtree", "blocks"])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 1024])
def test_nearest_matches_reference(gen, chunk_size, method):
    a = torch.rand(2, 13, 3, generator=gen, dtype=torch.float64)
    b = torch.rand(2, 17, 3, generator=gen, dtype=torch.float64)
    dist, idx = nearest_squared_distances(a, b, chunk_size=chunk_size, method=method)
    ref_d, ref_i = ref_nearest(a.numpy(), b.numpy())
    assert dist.shape == (2, 13) and idx.shape == (2, 13) and idx.dtype == torch.int64
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(idx.numpy(), ref_i)


@pytest.mark.parametrize("method", ["kdtree", "blocks"])
def test_nearest_float32_offset_clouds_are_accurate(gen, method):
    # Far from the origin, |a|^2 - 2ab + |b|^2 would cancel badly; distances must still be exact.
    a = torch.rand(1, 50, 3, generator=gen) * 0.01 + 10.0
    b = torch.rand(1, 60, 3, generator=gen) * 0.01 + 10.0
    dist, idx = nearest_squared_distances(a, b, chunk_size=16, method=method)
    ref_d, _ = ref_nearest(a.double().numpy(), b.double().numpy())
    np.testing.assert_allclose(dist.double().numpy(), ref_d, rtol=1e-3, atol=1e-9)


@pytest.mark.parametrize("method", ["kdtree", "blocks"])
def test_nearest_gradient_equals_dense_min(gen, method):
    a = torch.rand(2, 9, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.rand(2, 11, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.rand(2, 9, generator=gen, dtype=torch.float64)
    dist, _ = nearest_squared_distances(a, b, chunk_size=4, method=method)
    ga, gb = torch.autograd.grad((dist * w).sum(), (a, b))
    dense = ((a[:, :, None] - b[:, None]) ** 2).sum(-1).min(-1).values  # (2, 9)
    ra, rb = torch.autograd.grad((dense * w).sum(), (a, b))
    torch.testing.assert_close(ga, ra)
    torch.testing.assert_close(gb, rb)


def test_chamfer_matches_reference(gen):
    pred = torch.rand(3, 10, 3, generator=gen, dtype=torch.float64)
    gt = torch.rand(3, 25, 3, generator=gen, dtype=torch.float64)
    res = chamfer_loss(pred, gt, weight_pred_to_gt=0.55, weight_gt_to_pred=1.0, chunk_size=4)
    d_p, i_p = ref_nearest(pred.numpy(), gt.numpy())
    d_g, i_g = ref_nearest(gt.numpy(), pred.numpy())
    np.testing.assert_allclose(res.pred_to_gt.numpy(), d_p.mean(1), rtol=1e-12)
    np.testing.assert_allclose(res.gt_to_pred.numpy(), d_g.mean(1), rtol=1e-12)
    np.testing.assert_array_equal(res.pred_nearest_idx.numpy(), i_p)
    np.testing.assert_array_equal(res.gt_nearest_idx.numpy(), i_g)
    expected = 0.55 * d_p.mean() + 1.0 * d_g.mean()
    assert res.loss.shape == () and res.loss.item() == pytest.approx(expected, rel=1e-12)


def test_chamfer_identical_is_zero(gen):
    x = torch.rand(2, 20, 3, generator=gen)
    assert chamfer_loss(x, x.flip(1)).loss.item() == 0.0


def test_chamfer_gradcheck(gen):
    pred = torch.rand(2, 5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    gt = torch.rand(2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p, g: chamfer_loss(p, g, 0.55, 1.0, chunk_size=2).loss, (pred, gt))
    assert torch.autograd.gradcheck(
        lambda p, g: nearest_squared_distances(p, g, chunk_size=3)[0], (pred, gt))


def test_chunked_large_matches_unchunked_with_bounded_blocks(gen, monkeypatch):
    B, N, M, chunk = 2, 2466, 12000, 1024
    a = torch.rand(B, N, 3, generator=gen)
    b = torch.rand(B, M, 3, generator=gen)
    largest = [0]
    baddbmm = torch.baddbmm

    def recording_baddbmm(*args, **kwargs):
        out = baddbmm(*args, **kwargs)
        largest[0] = max(largest[0], out.numel())
        return out

    monkeypatch.setattr(chamfer_module.torch, "baddbmm", recording_baddbmm)
    dist, idx = nearest_squared_distances(a, b, chunk_size=chunk, method="blocks")
    monkeypatch.undo()
    assert 0 < largest[0] <= B * chunk * chunk  # never a (B, N, M) block
    for k in range(B):  # unchunked reference, one batch element at a time
        full = torch.cdist(a[k], b[k], compute_mode="donot_use_mm_for_euclid_dist")  # (N, M)
        ref = full.min(dim=1).values ** 2  # (N,)
        torch.testing.assert_close(dist[k], ref, rtol=1e-4, atol=1e-7)
        chosen = ((a[k] - b[k][idx[k]]) ** 2).sum(-1)
        torch.testing.assert_close(chosen, dist[k])


def test_nearest_rejects_empty_target():
    for method in ("auto", "kdtree", "blocks"):
        with pytest.raises(ValueError):
            nearest_squared_distances(torch.zeros(1, 3, 3), torch.zeros(1, 0, 3), method=method)


def test_nearest_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        nearest_squared_distances(torch.zeros(1, 3, 3), torch.zeros(1, 4, 3), method="brute")


def test_kdtree_and_blocks_agree_on_a_training_sized_batch(gen):
    # The final Pixel2Mesh mesh (2,466 vertices) against 4,000 GT points, batch 8, float32 as
    # in training: both searches give the same distances (indices may differ only at ties).
    a = torch.rand(8, 2466, 3, generator=gen) * 0.3
    b = torch.rand(8, 4000, 3, generator=gen) * 0.3
    d_tree, i_tree = nearest_squared_distances(a, b, method="kdtree")
    d_blocks, i_blocks = nearest_squared_distances(a, b, method="blocks")
    torch.testing.assert_close(d_tree, d_blocks, rtol=0, atol=1e-7)
    assert (i_tree == i_blocks).float().mean() > 0.999


def test_auto_search_falls_back_to_blocks_for_non_finite_points(gen):
    # A k-d tree rejects NaN; a diverged prediction must give a NaN loss, not a crash.
    a = torch.rand(1, 5, 3, generator=gen)
    a[0, 2, 1] = float("nan")
    b = torch.rand(1, 7, 3, generator=gen)
    dist, _ = nearest_squared_distances(a, b)  # method="auto"
    assert torch.isnan(dist[0, 2]) and torch.isfinite(dist[0, [0, 1, 3, 4]]).all()
    d_auto, i_auto = nearest_squared_distances(b, torch.rand(1, 9, 3, generator=gen))
    assert torch.isfinite(d_auto).all() and i_auto.shape == (1, 7)
    with pytest.raises(ValueError):
        nearest_squared_distances(a, b, method="kdtree")

# ---------------------------------------------------------------------------- normal


def test_normal_loss_matches_reference(gen):
    B, N, M = 2, 8, 15
    v = torch.rand(B, N, 3, generator=gen, dtype=torch.float64)
    edges = random_edges(N, 14, gen)
    normals = torch.nn.functional.normalize(torch.randn(B, M, 3, generator=gen,
                                                        dtype=torch.float64), dim=-1)
    idx = torch.randint(0, M, (B, N), generator=gen)
    got = normal_loss(v, edges, normals, idx)
    assert got.shape == ()
    assert got.item() == pytest.approx(
        ref_normal_loss(v.numpy(), edges.numpy(), normals.numpy(), idx.numpy()), rel=1e-12)


def test_normal_loss_known_cases():
    # Square in the plane z = 0 with GT normal +z: edges are tangent -> 0.
    v = torch.tensor([[[0., 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]])
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2]])
    normals = torch.tensor([[[0., 0, 1]]])
    idx = torch.zeros(1, 4, dtype=torch.int64)
    assert normal_loss(v, edges, normals, idx).item() == pytest.approx(0.0, abs=1e-7)
    # Same edges against normal +x: |cos| is 1, 0, 1, 0, 1/sqrt2 for both endpoints.
    normals_x = torch.tensor([[[1., 0, 0]]])
    expected = (1 + 0 + 1 + 0 + 2 ** -0.5) / 5
    assert normal_loss(v, edges, normals_x, idx).item() == pytest.approx(expected, rel=1e-6)


def test_normal_loss_gradcheck_and_zero_length_edges(gen):
    B, N, M = 2, 6, 9
    v = torch.rand(B, N, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    edges = random_edges(N, 10, gen)
    normals = torch.nn.functional.normalize(torch.randn(B, M, 3, generator=gen,
                                                        dtype=torch.float64), dim=-1)
    idx = torch.randint(0, M, (B, N), generator=gen)
    assert torch.autograd.gradcheck(lambda x: normal_loss(x, edges, normals, idx), (v,))
    # Two vertices at the same place: finite loss and finite gradients.
    w = v.detach().clone()
    w[:, 1] = w[:, 0]
    w.requires_grad_(True)
    loss = normal_loss(w, torch.tensor([[0, 1], [1, 2]]), normals, idx)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(w.grad).all()


def test_normal_loss_gradient_flows_through_the_edge_direction_only(gen):
    """The nearest-point indices are a lookup: the gradient is that of |cos| between the edge
    and fixed normals, sign(c) (n - c u) / |e| at j (c = u . n, u the unit edge), its negative
    at i, and nothing on the vertices no edge touches."""
    v = torch.rand(1, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    normals = torch.nn.functional.normalize(torch.randn(1, 5, 3, generator=gen, dtype=torch.float64), dim=-1)
    idx = torch.tensor([[3, 1, 0, 2]])
    normal_loss(v, torch.tensor([[0, 1]]), normals, idx).backward()
    edge = (v[0, 1] - v[0, 0]).detach()
    unit = edge / edge.norm()
    expected = sum(torch.sign(unit @ n) * (n - (unit @ n) * unit) / edge.norm()
                   for n in (normals[0, 3], normals[0, 1])) / 2          # mean of the two ends' terms
    torch.testing.assert_close(v.grad[0, 1], expected)
    torch.testing.assert_close(v.grad[0, 0], -expected)
    assert torch.count_nonzero(v.grad[0, 2:]) == 0

# ---------------------------------------------------------------------------- laplacian


def test_laplacian_coordinates_match_reference(gen):
    B, N = 2, 9
    v = torch.rand(B, N, 3, generator=gen, dtype=torch.float64)
    edges = random_edges(N, 12, gen)
    got = laplacian_coordinates(v, edges)
    np.testing.assert_allclose(got.numpy(), ref_laplacian(v.numpy(), edges.numpy()), atol=1e-14)
    # Repeated / reversed edges and self-loops change nothing; isolated vertices give 0.
    noisy = torch.cat([edges, edges.flip(1), edges[:3], torch.tensor([[2, 2]])])
    torch.testing.assert_close(laplacian_coordinates(v, noisy), got)


def test_laplacian_octahedron_scaling_translation():
    verts, edges = octahedron()
    v = verts[None]  # (1, 6, 3)
    # The four neighbours of each vertex average to the centre, so lap(v) = v.
    torch.testing.assert_close(laplacian_coordinates(v, edges), v)
    rng = torch.Generator().manual_seed(1)
    w = v + 0.1 * torch.rand(1, 6, 3, generator=rng, dtype=torch.float64)
    lap = laplacian_coordinates(w, edges)
    torch.testing.assert_close(laplacian_coordinates(2.5 * w, edges), 2.5 * lap)
    torch.testing.assert_close(laplacian_coordinates(w + torch.tensor([3., -1, 7]), edges), lap)
    # So a block that only translates or scales by 1 costs nothing, a scaling does.
    assert laplacian_loss(w, w + 4.0, edges).item() == pytest.approx(0.0, abs=1e-20)
    expected = float(((1.5 * lap) ** 2).sum(-1).mean())
    assert laplacian_loss(w, 2.5 * w, edges).item() == pytest.approx(expected, rel=1e-12)


def test_laplacian_loss_matches_reference_and_gradcheck(gen):
    B, N = 2, 7
    before = torch.rand(B, N, 3, generator=gen, dtype=torch.float64)
    after = torch.rand(B, N, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    edges = random_edges(N, 10, gen)
    diff = ref_laplacian(after.detach().numpy(), edges.numpy()) - \
        ref_laplacian(before.numpy(), edges.numpy())
    expected = float(np.mean(np.sum(diff ** 2, axis=-1)))
    assert laplacian_loss(before, after, edges).item() == pytest.approx(expected, rel=1e-12)
    before.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b, a: laplacian_loss(b, a, edges), (before, after))

# ---------------------------------------------------------------------------- edge and move


def test_edge_length_loss(gen):
    v = torch.rand(2, 8, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    edges = random_edges(8, 11, gen)
    got = edge_length_loss(v, edges)
    assert got.item() == pytest.approx(ref_edge_loss(v.detach().numpy(), edges.numpy()),
                                       rel=1e-12)
    assert torch.autograd.gradcheck(lambda x: edge_length_loss(x, edges), (v,))
    verts, oct_edges = octahedron()  # every edge has length sqrt(2)
    assert edge_length_loss(verts[None], oct_edges).item() == pytest.approx(2.0)


def test_move_loss(gen):
    before = torch.rand(2, 8, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    after = torch.rand(2, 8, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    got = move_loss(before, after)
    assert got.item() == pytest.approx(
        ref_move_loss(before.detach().numpy(), after.detach().numpy()), rel=1e-12)
    assert torch.autograd.gradcheck(move_loss, (before, after))
    x = before.detach()
    assert move_loss(x, x + torch.tensor([0.3, 0.0, 0.4])).item() == pytest.approx(0.25)

# ---------------------------------------------------------------------------- full objective


def test_loss_weights_defaults_paper_and_dict_round_trip():
    w = LossWeights()
    assert (w.chamfer_gt_to_pred, w.chamfer_pred_to_gt, w.normal, w.edge, w.laplacian,
            w.laplacian_first_block_scale, w.move) == (1.0, 0.55, 1.67e-4, 0.1, 0.5, 0.1, 0.033)
    p = LossWeights.paper()
    assert (p.chamfer_gt_to_pred, p.chamfer_pred_to_gt, p.normal, p.laplacian, p.edge,
            p.move) == (1.0, 1.0, 1.6e-4, 0.3, 0.1, 0.0)
    assert LossWeights.from_dict(w.to_dict()) == w
    assert LossWeights.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError):
        LossWeights.from_dict({"chamfer": 1.0})


def test_pixel2mesh_loss_is_the_weighted_sum_of_its_terms(gen):
    B, M = 2, 30
    verts, edges = octahedron()
    gt = torch.rand(B, M, 3, generator=gen, dtype=torch.float64)
    normals = torch.nn.functional.normalize(torch.randn(B, M, 3, generator=gen,
                                                        dtype=torch.float64), dim=-1)
    stages = []
    for s in range(3):
        before = verts.expand(B, -1, -1) * (1 + s) + 0.05 * torch.randn(
            B, 6, 3, generator=gen, dtype=torch.float64)
        after = (before + 0.1 * torch.randn(B, 6, 3, generator=gen, dtype=torch.float64)
                 ).requires_grad_(True)
        stages.append(SimpleNamespace(vertices=after, vertices_before=before, edges=edges))
    w = LossWeights(chamfer_gt_to_pred=1.3, chamfer_pred_to_gt=0.7, normal=0.2, edge=0.3,
                    laplacian=0.4, laplacian_first_block_scale=0.5, move=0.6)
    total, terms = pixel2mesh_loss(stages, gt, normals, w)

    expected = 0.0
    for s, st in enumerate(stages):
        v, b = st.vertices.detach(), st.vertices_before
        cham = chamfer_loss(v, gt, 0.7, 1.3)
        parts = {
            "chamfer": cham.loss.item(),
            "normal": 0.2 * normal_loss(v, edges, normals, cham.pred_nearest_idx).item(),
            "edge": 0.3 * edge_length_loss(v, edges).item(),
            "laplacian": 0.4 * (0.5 if s == 0 else 1.0) * laplacian_loss(b, v, edges).item(),
            "move": (0.6 if s > 0 else 0.0) * move_loss(b, v).item(),
        }
        for name, value in parts.items():
            assert terms[f"{name}/{s}"].item() == pytest.approx(value, rel=1e-12)
        expected += sum(parts.values())
    assert total.item() == pytest.approx(expected, rel=1e-12)
    assert sum(terms[n].item() for n in ("chamfer", "normal", "edge", "laplacian", "move")) == \
        pytest.approx(total.item(), rel=1e-12)
    assert all(not t.requires_grad and t.shape == () for t in terms.values())
    total.backward()
    assert all(torch.isfinite(st.vertices.grad).all() for st in stages)
