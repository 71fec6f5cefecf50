"""Mesh topology of the three deformation stages: counts, orientation, unpooling geometry.

Oracles are independent of blender_p2m.model.topology: edges are recounted with Python
sets, orientation is checked with the signed volume and directed half-edges, and the
unpooled vertices are checked geometrically against the faces.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blender_p2m.model import CONFIGS, Pixel2Mesh, get_config
from blender_p2m.model.ellipsoid import uv_ellipsoid
from blender_p2m.model.network import unpool
from blender_p2m.model.topology import build_stages

PAPER_COUNTS = [(156, 462, 308), (618, 1848, 1232), (2466, 7392, 4928)]


def zero_displacement(model: Pixel2Mesh) -> Pixel2Mesh:
    """The same network with every coordinate head zeroed: each block moves nothing."""
    with torch.no_grad():
        for block in model.blocks:
            block.coordinates.self_weight.weight.zero_()
            block.coordinates.self_weight.bias.zero_()
            block.coordinates.neighbour_weight.weight.zero_()
    return model.eval()


@pytest.fixture(scope="module")
def still_stages():
    """Vertices (float64) and faces of every stage of the tiny network with zero displacement."""
    torch.manual_seed(0)
    model = zero_displacement(Pixel2Mesh(get_config("tiny")))
    s = model.config.input_size
    images = torch.rand(1, 3, s, s)
    intrinsics = torch.tensor([[250.0, 250.0, 112.0, 112.0]]) * s / 224
    with torch.no_grad():
        outputs = model(images, intrinsics)
    return model, outputs


def directed_edges(faces: np.ndarray) -> list[tuple[int, int]]:
    return [(int(f[k]), int(f[(k + 1) % 3])) for f in faces for k in range(3)]


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, k]].astype(np.float64) for k in range(3))
    return float(np.einsum("fi,fi->f", a, np.cross(b, c)).sum() / 6.0)


def ellipsoid_volume(radii) -> float:
    return 4.0 / 3.0 * np.pi * float(np.prod(radii))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_counts_and_euler_characteristic(name):
    config = get_config(name)
    vertices, faces = uv_ellipsoid(config.ellipsoid_radii, config.ellipsoid_depth,
                                   config.ellipsoid_rings, config.ellipsoid_segments)
    stages = build_stages(faces, len(vertices), config.unpool_steps)
    counts = []
    for stage in stages:
        assert stage.faces.min() == 0 and stage.faces.max() == stage.n_vertices - 1
        edge_set = {tuple(sorted(e)) for e in directed_edges(stage.faces)}
        assert len(edge_set) == len(stage.edges)
        assert edge_set == {tuple(e) for e in stage.edges.tolist()}
        assert np.all(stage.edges[:, 0] < stage.edges[:, 1])
        v, e, f = stage.n_vertices, len(edge_set), len(stage.faces)
        assert v - e + f == 2
        counts.append((v, e, f))
    assert counts == PAPER_COUNTS


def test_every_stage_is_a_closed_consistently_oriented_manifold(still_stages):
    model, _ = still_stages
    for i, stage in enumerate(model.stages):
        halves = directed_edges(stage.faces)
        assert len(set(halves)) == len(halves), f"stage {i}: a directed edge appears twice"
        half_set = set(halves)
        assert all((b, a) in half_set for a, b in halves), f"stage {i}: an edge has no twin"
        assert len(halves) == 2 * len(stage.edges)
        # No degenerate faces.
        assert np.all(stage.faces[:, 0] != stage.faces[:, 1])
        assert np.all(stage.faces[:, 1] != stage.faces[:, 2])
        assert np.all(stage.faces[:, 2] != stage.faces[:, 0])


def test_every_face_points_outward_at_every_stage(still_stages):
    model, outputs = still_stages
    config = model.config
    centre = np.array([0.0, 0.0, -config.ellipsoid_depth])
    for i, out in enumerate(outputs):
        v = out.vertices[0].double().numpy()
        faces = out.faces.numpy()
        np.testing.assert_array_equal(faces, model.stages[i].faces)
        volume = signed_volume(v, faces)
        # A subdivided inscribed polyhedron: positive, a bit smaller than the ellipsoid.
        assert 0.8 * ellipsoid_volume(config.ellipsoid_radii) < volume
        assert volume < ellipsoid_volume(config.ellipsoid_radii)
        # The midpoint subdivision keeps the convex polyhedron, so every single face must
        # face away from the centre too (half-inward meshes would still pass a volume test
        # only if the inward half cancelled; this catches any single flipped face).
        tri = v[faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        outward = np.einsum("fi,fi->f", normal, tri.mean(axis=1) - centre)
        assert np.all(outward > 0), f"stage {i}: {np.sum(outward <= 0)} faces point inward"


def test_faces_are_counter_clockwise_seen_from_the_camera_side():
    """The face nearest the camera on the optical axis winds counter-clockwise in the image."""
    config = get_config("paper")
    vertices, faces = uv_ellipsoid(config.ellipsoid_radii, config.ellipsoid_depth,
                                   config.ellipsoid_rings, config.ellipsoid_segments)
    tri = vertices[faces].astype(np.float64)
    nearest = np.argmax(tri[:, :, 2].mean(axis=1))        # largest Z = closest to the camera
    f, c = 250.0, 112.0
    uv = np.stack([c + f * tri[nearest, :, 0] / -tri[nearest, :, 2],
                   c - f * tri[nearest, :, 1] / -tri[nearest, :, 2]], axis=1)
    # Shoelace in image coordinates with v down: counter-clockwise on screen is negative.
    a, b, d = uv
    cross = (b[0] - a[0]) * (d[1] - a[1]) - (b[1] - a[1]) * (d[0] - a[0])
    assert cross < 0


def test_unpooled_vertices_are_edge_midpoints(still_stages):
    """Each new vertex sits at the midpoint of the previous-stage edge it splits.

    The edge is found from the new stage's faces alone: a new vertex has exactly two
    neighbours among the old vertices, and they must be joined in the previous stage.
    """
    model, outputs = still_stages
    for i in range(1, len(outputs)):
        prev, stage = model.stages[i - 1], model.stages[i]
        before = outputs[i].vertices_before[0].double().numpy()
        prev_v = outputs[i - 1].vertices[0].double().numpy()
        np.testing.assert_array_equal(before[:prev.n_vertices], prev_v)
        old_neighbours = {}
        for a, b in stage.edges.tolist():
            if a >= prev.n_vertices > b:
                old_neighbours.setdefault(a, []).append(b)
            if b >= prev.n_vertices > a:
                old_neighbours.setdefault(b, []).append(a)
        prev_edges = {tuple(e) for e in prev.edges.tolist()}
        assert sorted(old_neighbours) == list(range(prev.n_vertices, stage.n_vertices))
        for new, ends in old_neighbours.items():
            assert len(ends) == 2, f"stage {i}: vertex {new} has {len(ends)} old neighbours"
            assert tuple(sorted(ends)) in prev_edges
            np.testing.assert_allclose(before[new], prev_v[ends].mean(axis=0), atol=1e-6)
        # Zero displacement: the block's output is its input.
        np.testing.assert_array_equal(outputs[i].vertices.numpy(), outputs[i].vertices_before.numpy())


def test_unpool_splits_each_face_into_four_of_quarter_area(still_stages):
    model, outputs = still_stages
    for i in range(1, len(outputs)):
        def areas(v, f):
            t = v[f]
            return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)

        parent = areas(outputs[i - 1].vertices[0].double().numpy(), model.stages[i - 1].faces)
        child = areas(outputs[i].vertices[0].double().numpy(), model.stages[i].faces)
        np.testing.assert_allclose(child.reshape(-1, 4), np.repeat(parent[:, None] / 4, 4, axis=1),
                                   rtol=1e-4)  # float32 vertices


def test_unpool_function_means_features_of_edge_ends():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # (B, N, C)
    edges = torch.tensor([[0, 1], [1, 3], [0, 2]])
    out = unpool(x, edges)
    assert out.shape == (2, 7, 3)
    torch.testing.assert_close(out[:, :4], x)
    for k, (a, b) in enumerate(edges.tolist()):
        torch.testing.assert_close(out[:, 4 + k], (x[:, a] + x[:, b]) / 2)


def test_ellipsoid_sits_about_0_8_m_in_front_of_the_camera():
    for name, config in CONFIGS.items():
        vertices, _ = uv_ellipsoid(config.ellipsoid_radii, config.ellipsoid_depth,
                                   config.ellipsoid_rings, config.ellipsoid_segments)
        centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
        np.testing.assert_allclose(centre, [0.0, 0.0, -0.8], atol=0.01)
        assert np.all(vertices[:, 2] < -0.5), name              # wholly in front (looking down -Z)
        extent = vertices.max(axis=0) - vertices.min(axis=0)
        assert np.all(extent > 0.1) and np.all(extent < 0.5), (name, extent)
        # With the original camera (f = 250 px, 224 px image) it projects well inside the image.
        u = 112 + 250 * vertices[:, 0] / -vertices[:, 2]
        v = 112 - 250 * vertices[:, 1] / -vertices[:, 2]
        assert u.min() > 30 and u.max() < 194 and v.min() > 30 and v.max() < 194


def test_network_buffers_match_the_stage_topology():
    torch.manual_seed(0)
    model = Pixel2Mesh(get_config("tiny"))
    for i, stage in enumerate(model.stages):
        np.testing.assert_array_equal(model.faces(i).numpy(), stage.faces)
        np.testing.assert_array_equal(model.edges(i).numpy(), stage.edges)
        adjacency = getattr(model, f"adjacency_{i}").to_dense().numpy()
        expected = np.zeros((stage.n_vertices,) * 2)
        expected[stage.edges[:, 0], stage.edges[:, 1]] = 1
        expected[stage.edges[:, 1], stage.edges[:, 0]] = 1
        expected /= expected.sum(axis=1, keepdims=True)          # mean over neighbours
        np.testing.assert_allclose(adjacency, expected, rtol=1e-6)


def test_the_template_of_each_stage_is_what_a_still_network_outputs(still_stages):
    """Pixel2Mesh.template(s): the ellipsoid unpooled to stage s, the mesh a network that
    moves nothing gives at that stage (what the evaluation baseline and fit_ceiling use)."""
    model, outputs = still_stages
    assert model.n_stages == len(outputs) == 3
    for i, out in enumerate(outputs):
        assert model.template(i).shape == (model.stages[i].n_vertices, 3)
        torch.testing.assert_close(out.vertices[0], model.template(i))
    # The first stage's template is the ellipsoid itself; later ones add the edge midpoints.
    vertices, _ = uv_ellipsoid(model.config.ellipsoid_radii, model.config.ellipsoid_depth,
                               model.config.ellipsoid_rings, model.config.ellipsoid_segments)
    torch.testing.assert_close(model.template(0), torch.from_numpy(vertices))
    torch.testing.assert_close(model.template(1), unpool(model.template(0)[None], model.edges(0))[0])
