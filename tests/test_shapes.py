"""Tests for the procedural shape library (training/data/shapes).

Every generated object must be a union of closed, consistently outward-wound parts
without degenerate triangles, deterministic in (category, seed) and varied across
seeds.  The checks here are written independently of shapes/validate.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from training.data.shapes import CATEGORIES, TriMesh, generate
from training.data.shapes import mesh as M
from training.data.shapes import polygon as P

SEEDS = (0, 1, 2, 3, 7, 11, 42, 1234)


def _part_report(vertices: np.ndarray, faces: np.ndarray) -> list[str]:
    """Independent watertightness / winding / volume / degeneracy check of one part."""
    problems = []
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = {tuple(e) for e in edges.tolist()}
    if len(directed) != len(edges):
        problems.append("a directed edge appears twice (inconsistent winding or non-manifold)")
    missing = sum((b, a) not in directed for a, b in directed)
    if missing:
        problems.append(f"{missing} edges have no opposite twin (hole)")
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1)
    if area.min() <= 1e-10:
        problems.append(f"degenerate face, area {area.min():.3g}")
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    if volume <= 0:
        problems.append(f"signed volume {volume:.3g} <= 0 (inward winding)")
    return problems


def _assert_valid(mesh: TriMesh, label: str):
    assert mesh.vertices.dtype == np.float64 and mesh.vertices.ndim == 2 and mesh.vertices.shape[1] == 3
    assert mesh.faces.dtype == np.int64 and mesh.faces.ndim == 2 and mesh.faces.shape[1] == 3
    assert mesh.parts.dtype == np.int32 and mesh.parts.shape == (len(mesh.faces),)
    assert np.isfinite(mesh.vertices).all(), label
    assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices), label
    bad = {}
    for pid in np.unique(mesh.parts):
        p = _part_report(mesh.vertices, mesh.faces[mesh.parts == pid])
        if p:
            bad[int(pid)] = p
    assert not bad, f"{label}: {bad}"


def test_categories_are_the_thirteen_pixel2mesh_classes_in_order():
    assert CATEGORIES == ("airplane", "bench", "cabinet", "car", "chair", "display", "lamp",
                          "loudspeaker", "rifle", "sofa", "table", "telephone", "watercraft")
    assert isinstance(CATEGORIES, tuple)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_part_is_closed_outward_and_non_degenerate(category):
    for seed in SEEDS:
        mesh = generate(category, seed)
        _assert_valid(mesh, f"{category} seed {seed}")
        assert 300 <= len(mesh.faces) <= 20000, (category, seed, len(mesh.faces))
        assert mesh.n_parts >= 2, (category, seed)


@pytest.mark.parametrize("category", CATEGORIES)
def test_objects_stand_on_the_ground_centred_at_plausible_scale(category):
    for seed in SEEDS[:4]:
        lo, hi = generate(category, seed).bounds()
        assert abs(lo[2]) < 1e-9
        np.testing.assert_allclose(0.5 * (lo[:2] + hi[:2]), 0.0, atol=1e-9)
        diag = np.linalg.norm(hi - lo)
        assert 0.05 < diag < 400.0, (category, seed, diag)  # phones are small, ships are large


@pytest.mark.parametrize("category", CATEGORIES)
def test_generation_is_deterministic_per_seed(category):
    a, b = generate(category, 5), generate(category, 5)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    np.testing.assert_array_equal(a.parts, b.parts)


@pytest.mark.parametrize("category", CATEGORIES)
def test_seeds_give_varied_shapes(category):
    props = []
    for seed in range(10):
        lo, hi = generate(category, seed).bounds()
        ext = hi - lo
        props.append(ext / np.linalg.norm(ext))
    props = np.round(np.asarray(props), 4)
    assert len({tuple(p) for p in props}) >= 8, f"{category}: bounding-box proportions barely vary"
    assert props.std(axis=0).max() > 0.02, f"{category}: proportions too uniform"


def test_categories_do_not_share_random_draws():
    # seed k of two categories must not produce the same proportions by construction
    assert not np.allclose(generate("chair", 3).bounds()[1], generate("sofa", 3).bounds()[1])


def test_unknown_category_raises_value_error_naming_valid_ones():
    with pytest.raises(ValueError) as info:
        generate("spaceship", 0)
    for name in CATEGORIES:
        assert name in str(info.value)


def test_negative_seed_rejected():
    with pytest.raises(ValueError):
        generate("chair", -1)


# ---------------------------------------------------------------- building blocks

def test_primitives_are_closed_and_have_expected_volume():
    cases = {
        "box": (M.box((1.0, 2.0, 3.0)), 6.0),
        "cylinder": (M.cylinder(1.0, 2.0, 64), 2 * np.pi),
        "cone": (M.frustum(1.0, 0.0, 3.0, 64), np.pi),
        "sphere": (M.sphere(1.0, segments=64, rings=32), 4 / 3 * np.pi),
        "torus": (M.torus(1.0, 0.25, 64, 32), 2 * np.pi ** 2 * 1.0 * 0.25 ** 2),
        "rounded_box": (M.rounded_box((2.0, 2.0, 2.0), 1.0, 12), 4 / 3 * np.pi),  # radius = half size: a sphere
        "capsule": (M.capsule(0.5, 3.0, 64, 16), np.pi * 0.25 * 2.0 + 4 / 3 * np.pi * 0.125),
    }
    for name, (m, expected) in cases.items():
        _assert_valid(m, name)
        vol = M.signed_volume(m.vertices, m.faces)
        assert abs(vol - expected) / expected < 0.03, (name, vol, expected)


def test_rounded_box_keeps_its_extent_and_bends_without_opening():
    m = M.rounded_box((0.4, 0.1, 0.6), (0.05, 0.02, 0.05), 3, center=(1.0, 2.0, 3.0), divisions=(6, 1, 1))
    lo, hi = m.bounds()
    np.testing.assert_allclose(lo, (0.8, 1.95, 2.7), atol=1e-12)
    np.testing.assert_allclose(hi, (1.2, 2.05, 3.3), atol=1e-12)
    bent = M.bend(m.translated((-1.0, -2.0, -3.0)), 0, 1, 0.05, 0.2)
    _assert_valid(bent, "bent rounded box")


def test_mirroring_keeps_outward_winding():
    m = M.extrude(P.rounded_rect(1.0, 0.5, 0.1), 0.0, 0.2, bevel=0.03).translated((1, 0, 0))
    for axis in range(3):
        _assert_valid(m.mirrored(axis), f"mirror {axis}")
    _assert_valid(M.merge([m, m.mirrored(0)]), "merged pair")
    assert M.merge([m, m.mirrored(0)]).n_parts == 2


def test_loft_tube_and_lathe_shell_are_closed():
    path = M.rounded_path(np.array([[0, 0, 0], [0, 0, 1], [0.5, 0, 1.5], [1, 0, 1.5]], float), 0.2, 4)
    _assert_valid(M.tube(path, 0.05), "tube")
    shell = M.lathe([(0.3, 0.0), (0.2, 0.3), (0.195, 0.3), (0.295, 0.0)], 24, closed_loop=True)
    _assert_valid(shell, "lamp shade shell")


def test_triangulation_of_concave_outline_with_collinear_runs():
    # comb: many collinear, non-adjacent tooth tips (the case that defeats naive ear clipping)
    pts = [[0.0, 0.0]]
    for i in range(6):
        pts += [[i + 0.3, 0.0], [i + 0.3, 1.0], [i + 0.7, 1.0], [i + 0.7, 0.0]]
    pts += [[6.0, 0.0], [6.0, -1.0], [0.0, -1.0]]
    poly = P.ensure_ccw(np.array(pts))
    tris = P.triangulate(poly)
    assert len(tris) == len(poly) - 2
    t = poly[tris]
    area = 0.5 * ((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                  - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0]))
    assert area.min() > 1e-6
    assert np.isclose(area.sum(), P.signed_area(poly))


def test_preview_renders_a_nonblank_image():
    from training.data.shapes.preview import render

    img = np.asarray(render(generate("chair", 0), size=48))
    assert img.shape == (48, 48, 3)
    background = np.all(img == img[0, 0], axis=-1)
    assert 0.05 < 1 - background.mean() < 0.95


def test_subdivision_keeps_parts_closed_and_volume_unchanged():
    m = M.merge([M.box((1.0, 2.0, 3.0)), M.cylinder(0.5, 1.0, 12, (3.0, 0.0, 0.0))])
    s = M.subdivide(m)
    assert len(s.faces) == 4 * len(m.faces) and s.n_parts == 2
    _assert_valid(s, "subdivided")
    assert np.isclose(M.signed_volume(s.vertices, s.faces), M.signed_volume(m.vertices, m.faces))
