"""The masked projected texture: visibility against brute-force ray casting, and the
texture against the picture it came from (no background pixel, seen faces show the
picture where they project, the rest the object's mean colour)."""
from __future__ import annotations

import numpy as np
import pytest

from blender_p2m import texture_projection
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.texture_projection import (
    MEAN_BAND_ROWS,
    depth_buffer,
    front_facing,
    mesh_coverage,
    project_pixels,
    project_texture,
    visible_faces,
)

INTR = Intrinsics(120.0, 120.0, 48.0, 40.0, 96, 80)
BACKGROUND = np.array([1.0, 0.0, 0.0], np.float32)


def uv_sphere(centre, radius, rings=12, segments=16):
    """A closed sphere, faces counter-clockwise seen from outside: (V, 3), (F, 3)."""
    verts = [(0.0, 0.0, radius)]
    for i in range(1, rings):
        theta = np.pi * i / rings
        for j in range(segments):
            phi = 2 * np.pi * j / segments
            verts.append((radius * np.sin(theta) * np.cos(phi), radius * np.sin(theta) * np.sin(phi),
                          radius * np.cos(theta)))
    verts.append((0.0, 0.0, -radius))
    faces = []
    ring = lambda i, j: 1 + (i * segments) + (j % segments)            # noqa: E731
    for j in range(segments):
        faces.append((0, ring(0, j), ring(0, j + 1)))
    for i in range(rings - 2):
        for j in range(segments):
            a, b, c, d = ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)
            faces += [(a, b, c), (a, c, d)]
    bottom = len(verts) - 1
    for j in range(segments):
        faces.append((bottom, ring(rings - 2, j + 1), ring(rings - 2, j)))
    return np.array(verts) + centre, np.array(faces)


def sphere_and_plate():
    """A sphere 0.8 m ahead and a small square plate in front of its left half, facing the camera."""
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    plate = np.array([[-0.12, -0.05, -0.55], [-0.02, -0.05, -0.55], [-0.02, 0.05, -0.55], [-0.12, 0.05, -0.55]])
    pf = np.array([[0, 1, 2], [0, 2, 3]]) + len(v)
    return np.concatenate([v, plate]), np.concatenate([f, pf])


def ray_cast_depth(vertices, faces, intr, xs, ys):
    """Brute force: the nearest hit depth along the ray through each pixel centre (Moller-Trumbore)."""
    out = np.full(len(xs), np.inf)
    for k, (x, y) in enumerate(zip(xs, ys)):
        d = np.array([(x - intr.cx) / intr.fx, -(y - intr.cy) / intr.fy, -1.0])
        for face in faces:
            a, b, c = vertices[face]
            e1, e2 = b - a, c - a
            p = np.cross(d, e2)
            det = e1 @ p
            if abs(det) < 1e-12:
                continue
            t_vec = -a
            u = (t_vec @ p) / det
            q = np.cross(t_vec, e1)
            v = (d @ q) / det
            t = (e2 @ q) / det
            if u >= 0 and v >= 0 and u + v <= 1 and t > 0:
                out[k] = min(out[k], t)                             # depth, since d_z = -1
    return out


def test_front_facing_follows_the_winding():
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    centres = v[f].mean(axis=1)
    facing = front_facing(v, f)
    # Outward normal of a sphere face ~ centre - sphere centre; it faces the camera at the origin
    # when it points back towards it.
    expected = np.einsum("ij,ij->i", centres - [0, 0, -0.8], -centres) > 0
    assert (facing == expected).mean() > 0.97 and facing.any() and (~facing).any()
    assert not front_facing(v, f[:, ::-1])[facing].any()          # reversed winding faces away


def test_depth_buffer_matches_ray_casting():
    v, f = sphere_and_plate()
    zbuf, ids, scale = depth_buffer(v, f, INTR, size=96)
    assert scale == 1.0
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, INTR.height, 150), rng.integers(0, INTR.width, 150)
    expected = ray_cast_depth(v, f, INTR, cols + 0.5, rows + 0.5)
    got = zbuf[rows, cols]
    hit = np.isfinite(expected)
    assert hit.sum() > 20 and (~hit).sum() > 20
    # Depth is interpolated linearly in the picture (not perspective-correct): millimetres here.
    np.testing.assert_allclose(got[hit], expected[hit], atol=3e-3)
    assert np.isinf(got[~hit]).all() and (ids[rows, cols][~hit] == -1).all()
    plate_pixels = ids[rows, cols] >= len(f) - 2
    np.testing.assert_allclose(expected[plate_pixels], 0.55, atol=1e-9)   # the plate wins where it is


def test_faces_behind_the_plate_are_hidden():
    v, f = sphere_and_plate()
    sphere_faces = f[:-2]
    visible = visible_faces(v, f, INTR)[:-2]
    facing = front_facing(v, sphere_faces)
    corners = project_pixels(v[sphere_faces.reshape(-1)], INTR).reshape(-1, 3, 2)   # (F, 3, 2)
    plate_px = project_pixels(v[-4:], INTR)
    lo, hi = plate_px.min(axis=0) + 1, plate_px.max(axis=0) - 1
    wholly_behind = ((corners > lo) & (corners < hi)).all(axis=(1, 2))
    partly_behind = ((corners > lo) & (corners < hi)).all(axis=2).any(axis=1)
    assert (facing & wholly_behind).sum() >= 5
    assert not visible[facing & wholly_behind].any()
    assert visible[facing & ~partly_behind].all()                  # the rim included
    assert not visible[~facing].any()
    assert visible_faces(v, f, INTR)[-2:].all()                    # the plate itself is seen


def picture_and_mask():
    """A blue-ish gradient disc (the object) on a red background, 96 x 80."""
    yy, xx = np.mgrid[0:INTR.height, 0:INTR.width]
    mask = ((xx + 0.5 - 48) ** 2 + (yy + 0.5 - 40) ** 2 < 30 ** 2).astype(np.float32)
    obj = np.stack([0.1 + 0.3 * xx / 96, 0.2 + 0.4 * yy / 80, np.full(xx.shape, 0.9)], axis=-1)
    rgb = np.where(mask[..., None] > 0.5, obj, BACKGROUND).astype(np.float32)
    return rgb, mask


def sample(pixels, uvs):
    """Nearest texel of (h, w, 4) top-down pixels at UVs (n, 2), (0, 0) bottom-left."""
    h, w = pixels.shape[:2]
    cols = np.clip((uvs[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip(((1.0 - uvs[:, 1]) * h).astype(int), 0, h - 1)
    return pixels[rows, cols, :3]


def test_texture_has_no_background_and_seen_faces_show_the_picture():
    rgb, mask = picture_and_mask()
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    tex = project_texture(rgb, mask, v, f, INTR)
    reddish = (tex.pixels[..., 0] > 0.6) & (tex.pixels[..., 2] < 0.4)
    assert not reddish.any()                                       # no background pixel anywhere
    np.testing.assert_allclose(tex.mean_colour, rgb[mask > 0.5].mean(axis=0), atol=1e-5)
    uvs = tex.uvs.reshape(-1, 3, 2)
    seen = tex.seen
    assert seen.sum() > 50 and (~seen).sum() > 50                  # front half seen, back not
    # Seen corners show the picture where they project (nearest pixel, away from the edge).
    corners = project_pixels(v[f[seen].reshape(-1)], INTR)
    radius = np.hypot(corners[:, 0] - 48, corners[:, 1] - 40)
    keep = (radius < 27) & (corners >= 0).all(1) & (corners[:, 0] < 96) & (corners[:, 1] < 80)
    expected = rgb[corners[keep, 1].astype(int), corners[keep, 0].astype(int)]
    np.testing.assert_allclose(sample(tex.pixels, uvs[seen].reshape(-1, 2)[keep]), expected, atol=0.02)
    # Unseen faces (the back) show the mean colour from the band under the crop.
    band = sample(tex.pixels, uvs[~seen].reshape(-1, 2))
    np.testing.assert_allclose(band, np.broadcast_to(tex.mean_colour, band.shape), atol=1e-6)
    assert (uvs[~seen][..., 1] * tex.pixels.shape[0] < MEAN_BAND_ROWS).all()


def test_faces_outside_the_mask_get_the_mean_colour():
    rgb, mask = picture_and_mask()
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    half = mask.copy()
    half[:, 48:] = 0.0                                             # only the left half is the object
    tex = project_texture(rgb, half, v, f, INTR)
    centres = project_pixels(v[f].mean(axis=1), INTR)
    assert not tex.seen[centres[:, 0] > 49].any()
    assert tex.seen[centres[:, 0] < 40].any()
    assert tex.pixels.shape[1] < 48                                # cropped to the mask (+ margin)
    np.testing.assert_allclose(tex.mean_colour, rgb[half > 0.5].mean(axis=0), atol=1e-5)
    unseen = sample(tex.pixels, tex.uvs.reshape(-1, 3, 2)[~tex.seen].reshape(-1, 2))
    np.testing.assert_allclose(unseen, np.broadcast_to(tex.mean_colour, unseen.shape), atol=1e-6)
    # The picture's right part (the object's, but outside this mask) is nowhere in the texture.
    right = rgb[:, 56:][mask[:, 56:] > 0.5]                        # (n, 3) colours only found there
    texels = tex.pixels[..., :3].reshape(-1, 3)
    assert np.abs(texels[:, None, :] - right[None, ::25]).max(axis=-1).min() > 0.01


def test_without_a_mask_the_mesh_silhouette_is_used():
    rgb, _ = picture_and_mask()
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    coverage = mesh_coverage(v, f, INTR)
    expected_radius = 120 * 0.15 / np.sqrt(0.8 ** 2 - 0.15 ** 2)  # the sphere's outline, pixels
    assert coverage.sum() == pytest.approx(np.pi * expected_radius ** 2, rel=0.08)
    # A picture larger than the coverage raster: the outline shrinks by a raster pixel, never grows.
    big = Intrinsics(1200.0, 1200.0, 960.0, 800.0, 1920, 1600)
    large = mesh_coverage(v, f, big)
    yy, xx = np.mgrid[0:1600, 0:1920]
    disc = (xx + 0.5 - 960) ** 2 + (yy + 0.5 - 800) ** 2 < (10 * expected_radius) ** 2
    assert not (large > 0.5)[~disc].any() and (large > 0.5).sum() > 0.9 * disc.sum()
    tex = project_texture(rgb, None, v, f, INTR)
    np.testing.assert_allclose(tex.mean_colour, rgb[coverage > 0.5].mean(axis=0), atol=1e-5)


def test_picture_and_intrinsics_must_agree():
    rgb, mask = picture_and_mask()
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    with pytest.raises(ValueError, match="96x80"):
        project_texture(rgb[:, :90], mask[:, :90], v, f, INTR)


def test_faces_crossing_the_camera_plane_are_neither_drawn_nor_textured():
    v, f = uv_sphere(np.array([0.0, 0.0, -0.05]), 0.15)          # the camera is inside the sphere
    zbuf, _, _ = depth_buffer(v, f, INTR)
    crossing = ~texture_projection.in_front(v, f)
    assert crossing.any()
    assert not visible_faces(v, f, INTR)[crossing].any()
    assert np.isfinite(zbuf).sum() < zbuf.size                     # bounded work, no giant triangles
    rgb, mask = picture_and_mask()
    assert not project_texture(rgb, mask, v, f, INTR).seen[crossing].any()


def test_a_huge_crop_is_averaged_down_and_still_lines_up(monkeypatch):
    """Above MAX_TEXTURE_SIDE the texture is averaged by a whole factor; UVs still point
    at the same picture content."""
    rgb, mask = picture_and_mask()
    v, f = uv_sphere(np.array([0.0, 0.0, -0.8]), 0.15)
    full = project_texture(rgb, mask, v, f, INTR)
    monkeypatch.setattr(texture_projection, "MAX_TEXTURE_SIDE", 20)
    small = project_texture(rgb, mask, v, f, INTR)
    assert max(small.pixels.shape[:2]) <= 20 + MEAN_BAND_ROWS and np.array_equal(small.seen, full.seen)
    uvs_full = full.uvs.reshape(-1, 3, 2)[full.seen].reshape(-1, 2)
    uvs_small = small.uvs.reshape(-1, 3, 2)[small.seen].reshape(-1, 2)
    # Both textures seen through their UVs show the same smooth gradient, to the averaging's blur.
    np.testing.assert_allclose(sample(small.pixels, uvs_small).mean(axis=0),
                               sample(full.pixels, uvs_full).mean(axis=0), atol=0.02)
