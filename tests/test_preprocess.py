"""Preprocessing: the network image is what a virtual camera at the same centre sees.

Oracles: a hand-written pinhole projection and its inverse in numpy; colour fields that
are affine in the pixel position (bilinear resampling reproduces them exactly, so the
colour at a network pixel tells which source position it came from); painted dots.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blender_p2m.errors import P2MError
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.preprocess import OBJECT_HALF_EXTENT, find_object, prepare


def project_np(k, p: np.ndarray) -> np.ndarray:
    """(fx, fy, cx, cy), (N, 3) camera frame -> (N, 2) pixels (u right, v down)."""
    fx, fy, cx, cy = k
    return np.stack([cx + fx * p[:, 0] / -p[:, 2], cy - fy * p[:, 1] / -p[:, 2]], axis=1)


def network_to_source(prepared, intr: Intrinsics, uv_net: np.ndarray) -> np.ndarray:
    """Where network pixels (N, 2) look in the source image: back-project, un-rotate, project."""
    fx, fy, cx, cy = prepared.intrinsics.double().numpy()
    rays = np.stack([(uv_net[:, 0] - cx) / fx, -(uv_net[:, 1] - cy) / fy, -np.ones(len(uv_net))], axis=1)
    real = rays @ prepared.rotation           # R^T r for row vectors
    return project_np((intr.fx, intr.fy, intr.cx, intr.cy), real)


def affine_colour(uv: np.ndarray, w: int, h: int) -> np.ndarray:
    u, v = uv[..., 0], uv[..., 1]
    return np.stack([u / w, v / h, 0.25 + 0.5 * u / w], axis=-1)


def affine_image(w: int, h: int) -> np.ndarray:
    """RGBA (H, W, 4) whose colour at each pixel centre is affine_colour of that centre."""
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rgba = np.ones((h, w, 4), dtype=np.float32)
    rgba[..., :3] = affine_colour(np.stack([jj, ii], axis=-1), w, h)
    return rgba


def net_pixel_centres(size: int) -> np.ndarray:
    jj, ii = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    return np.stack([jj.ravel(), ii.ravel()], axis=1)              # (S*S, 2) row-major


def paint_dot(rgba: np.ndarray, uv, radius: float, colour) -> None:
    h, w = rgba.shape[:2]
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    inside = (jj - uv[0]) ** 2 + (ii - uv[1]) ** 2 <= radius ** 2
    rgba[inside] = list(colour) + [1.0]


def net_colour_at(prepared, uv) -> np.ndarray:
    img = prepared.image.numpy()                                  # (3, S, S)
    j, i = int(np.floor(uv[0])), int(np.floor(uv[1]))
    return img[:, i, j]


CAMERAS = [
    # (width, height, fx, fy, cx, cy): off-centre principal point, non-square, fx != fy
    (300, 200, 280.0, 250.0, 170.3, 90.8),
    (160, 240, 200.0, 230.0, 70.0, 131.0),
    (224, 224, 250.0, 250.0, 112.0, 112.0),
]


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("size", [64, 128])
def test_no_crop_keeps_the_geometry(camera, size):
    """crop=None: the virtual camera is the real one scaled about the principal point."""
    w, h, fx, fy, cx, cy = camera
    intr = Intrinsics(fx, fy, cx, cy, w, h)
    prepared = prepare(affine_image(w, h), intr, size)
    np.testing.assert_array_equal(prepared.rotation, np.eye(3))
    assert prepared.image.shape == (3, size, size)
    rng = np.random.default_rng(0)
    p = np.stack([rng.uniform(-0.2, 0.2, 20), rng.uniform(-0.2, 0.2, 20), rng.uniform(-1.2, -0.5, 20)], 1)
    uv = project_np((fx, fy, cx, cy), p)
    uv_net = project_np(prepared.intrinsics.double().numpy(), p @ prepared.rotation.T)
    # One scale for both axes (no distortion), principal point at the centre of the square.
    s = (uv_net - size / 2) / (uv - [cx, cy])
    np.testing.assert_allclose(s, s[0, 0], rtol=1e-5)
    # The whole source fits in the square, touching it on at least one side.
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=float)
    corners_net = size / 2 + s[0, 0] * (corners - [cx, cy])
    assert corners_net.min() >= -1e-4 and corners_net.max() <= size + 1e-4
    assert np.isclose(corners_net.min(), 0, atol=1e-4) or np.isclose(corners_net.max(), size, atol=1e-4)


@pytest.mark.parametrize("camera", CAMERAS)
def test_no_crop_network_image_shows_the_source_at_each_position(camera):
    w, h, fx, fy, cx, cy = camera
    intr = Intrinsics(fx, fy, cx, cy, w, h)
    size = 128
    prepared = prepare(affine_image(w, h), intr, size)
    uv_net = net_pixel_centres(size)
    src = network_to_source(prepared, intr, uv_net)
    colours = prepared.image.numpy().reshape(3, -1).T               # (S*S, 3)
    margin = 4.0      # bilinear and antialias filters see the (white) padding near the border
    inside = (src[:, 0] > margin) & (src[:, 0] < w - margin) & (src[:, 1] > margin) & (src[:, 1] < h - margin)
    outside = (src[:, 0] < -2) | (src[:, 0] > w + 2) | (src[:, 1] < -2) | (src[:, 1] > h + 2)
    assert inside.sum() > 0.3 * size * size
    np.testing.assert_allclose(colours[inside], affine_colour(src[inside], w, h), atol=2e-3)
    np.testing.assert_allclose(colours[outside], 1.0, atol=1e-6)     # padded with white


@pytest.mark.parametrize("camera", CAMERAS[:2])
def test_painted_dot_lands_where_the_point_projects(camera):
    w, h, fx, fy, cx, cy = camera
    intr = Intrinsics(fx, fy, cx, cy, w, h)
    p = np.array([[0.05, -0.04, -0.7]])
    uv = project_np((fx, fy, cx, cy), p)[0]
    rgba = np.ones((h, w, 4), dtype=np.float32)
    paint_dot(rgba, uv, radius=12, colour=(1.0, 0.0, 0.0))
    prepared = prepare(rgba, intr, 128)
    uv_net = project_np(prepared.intrinsics.double().numpy(), p @ prepared.rotation.T)[0]
    np.testing.assert_allclose(net_colour_at(prepared, uv_net), [1.0, 0.0, 0.0], atol=0.1)
    # And not elsewhere: a point 0.1 m to the side is white.
    uv_far = project_np(prepared.intrinsics.double().numpy(), (p + [0.1, 0, 0]) @ prepared.rotation.T)[0]
    np.testing.assert_allclose(net_colour_at(prepared, uv_far), [1.0, 1.0, 1.0], atol=0.05)


def object_image(w: int, h: int, box, colourful: bool = True) -> np.ndarray:
    """Transparent background, an opaque object filling box (u0, v0, u1, v1) in pixels."""
    rgba = affine_image(w, h) if colourful else np.full((h, w, 4), 0.3, dtype=np.float32)
    rgba[..., 3] = 0.0
    u0, v0, u1, v1 = box
    rgba[v0:v1, u0:u1, 3] = 1.0
    return rgba


OBJECT_CAMERA = Intrinsics(260.0, 240.0, 150.0, 110.0, 320, 240)
OBJECT_BOX = (200, 140, 290, 220)     # lower right, away from the principal point


def test_object_crop_round_trip_with_rotation():
    intr, box = OBJECT_CAMERA, OBJECT_BOX
    rgba = object_image(intr.width, intr.height, box)
    # A red dot on the object where the 3D point p projects.
    p = np.array([[0.33, -0.26, -0.9]])
    uv = project_np((intr.fx, intr.fy, intr.cx, intr.cy), p)[0]
    assert box[0] + 10 < uv[0] < box[2] - 10 and box[1] + 10 < uv[1] < box[3] - 10
    paint_dot(rgba, uv, radius=5, colour=(1.0, 0.0, 0.0))
    size = 128
    prepared = prepare(rgba, intr, size, crop="object")
    r = prepared.rotation
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    assert abs(r[0, 1]) < 1e-12            # no roll: the virtual X axis stays horizontal
    assert not np.allclose(r, np.eye(3), atol=0.05)   # the object is off-axis: the camera turned
    uv_net = project_np(prepared.intrinsics.double().numpy(), p @ r.T)[0]
    np.testing.assert_allclose(net_colour_at(prepared, uv_net), [1.0, 0.0, 0.0], atol=0.1)
    # Every network pixel on the object shows the source colour of where it looks.
    clean = prepare(object_image(intr.width, intr.height, box), intr, size, crop="object")
    np.testing.assert_allclose(clean.rotation, r)
    uv_all = net_pixel_centres(size)
    src = network_to_source(clean, intr, uv_all)
    colours = clean.image.numpy().reshape(3, -1).T
    m = 2.0
    on_object = ((src[:, 0] > box[0] + m) & (src[:, 0] < box[2] - m)
                 & (src[:, 1] > box[1] + m) & (src[:, 1] < box[3] - m))
    off_object = ((src[:, 0] < box[0] - m) | (src[:, 0] > box[2] + m)
                  | (src[:, 1] < box[1] - m) | (src[:, 1] > box[3] + m))
    assert on_object.sum() > 0.1 * size * size
    np.testing.assert_allclose(colours[on_object], affine_colour(src[on_object], intr.width, intr.height),
                               atol=2e-3)
    np.testing.assert_allclose(colours[off_object], 1.0, atol=1e-6)   # transparent -> white


def test_object_crop_centres_and_sizes_the_object():
    intr, box = OBJECT_CAMERA, OBJECT_BOX
    size = 128
    prepared = prepare(object_image(intr.width, intr.height, box, colourful=False), intr, size, crop="object")
    img = prepared.image.numpy()
    rows, cols = np.nonzero(np.abs(img - 1.0).max(axis=0) > 0.5)
    centre = ((cols.min() + cols.max() + 1) / 2, (rows.min() + rows.max() + 1) / 2)
    # The box centre's ray becomes the optical axis (the box's image is not symmetric under a
    # rotated camera, so allow a couple of pixels).
    np.testing.assert_allclose(centre, (size / 2, size / 2), atol=3)
    half = max(cols.max() + 1 - size / 2, size / 2 - cols.min(), rows.max() + 1 - size / 2,
               size / 2 - rows.min())
    assert abs(half - OBJECT_HALF_EXTENT * size) <= 2.5
    # The box centre direction projects to the principal point exactly.
    ray = np.array([((box[0] + box[2]) / 2 - intr.cx) / intr.fx, -((box[1] + box[3]) / 2 - intr.cy) / intr.fy, -1])
    uv = project_np(prepared.intrinsics.double().numpy(), (prepared.rotation @ ray)[None])[0]
    np.testing.assert_allclose(uv, (size / 2, size / 2), atol=1e-9)


def test_alpha_is_composited_on_white():
    rgba = np.zeros((100, 150, 4), dtype=np.float32)
    rgba[...] = (0.2, 0.4, 0.6, 0.25)
    rgba[40:60, 60:90] = (0.0, 0.0, 0.0, 0.0)       # fully transparent black -> white
    intr = Intrinsics(150.0, 150.0, 75.0, 50.0, 150, 100)
    prepared = prepare(rgba, intr, 64)
    img = prepared.image.numpy()
    # Square of side 150 px around the principal point: 64/150 px per source px.
    expected = 0.25 * np.array([0.2, 0.4, 0.6]) + 0.75
    np.testing.assert_allclose(img[:, 20, 5], expected, atol=1e-5)      # inside, away from the hole
    np.testing.assert_allclose(img[:, 32, 32], 1.0, atol=1e-5)          # the hole
    np.testing.assert_allclose(img[:, 2, 32], 1.0, atol=1e-6)           # padding above the image
    assert img.min() >= 0.0 and img.max() <= 1.0


def test_find_object_by_alpha_and_by_border_colour():
    h, w = 120, 160
    by_alpha = np.zeros((h, w, 4), dtype=np.float32)
    by_alpha[30:70, 100:140] = (0.1, 0.9, 0.1, 1.0)
    assert find_object(by_alpha) == pytest.approx((100, 30, 140, 70), abs=0.5)
    # Opaque image on a grey background with a little noise: the border colour is background.
    rng = np.random.default_rng(0)
    by_colour = np.ones((h, w, 4), dtype=np.float32)
    by_colour[..., :3] = 0.6 + rng.uniform(-0.02, 0.02, (h, w, 3))
    by_colour[10:50, 20:45, :3] = (0.1, 0.2, 0.9)
    assert find_object(by_colour) == pytest.approx((20, 10, 45, 50), abs=0.5)
    # A few stray pixels do not move the box much.
    by_colour[115, 2, :3] = 0.0
    u0, v0, u1, v1 = find_object(by_colour)
    assert (u0, v0) == pytest.approx((20, 10), abs=1) and (u1, v1) == pytest.approx((45, 50), abs=1)


@pytest.mark.parametrize("what", ["transparent", "white", "uniform grey"])
def test_object_crop_of_an_empty_image_is_a_clear_error(what):
    rgba = np.ones((50, 60, 4), dtype=np.float32)
    if what == "transparent":
        rgba[..., 3] = 0.0
    elif what == "uniform grey":
        rgba[..., :3] = 0.4
    with pytest.raises(P2MError, match="No object found"):
        prepare(rgba, None, 64, crop="object")
    prepared = prepare(rgba, None, 64)                              # without crop: fine
    assert np.isfinite(prepared.image.numpy()).all()


def test_unknown_crop_mode_is_a_clear_error():
    with pytest.raises(P2MError, match="crop mode"):
        prepare(np.ones((32, 32, 4), dtype=np.float32), None, 64, crop="middle")


def test_default_intrinsics_are_the_original_camera_scaled():
    prepared = prepare(np.ones((100, 300, 4), dtype=np.float32), None, 224)
    # f = 250 * 300 / 224 on the source; the square of side 300 becomes 224 px: f' = 250.
    np.testing.assert_allclose(prepared.intrinsics.numpy(), [250.0, 250.0, 112.0, 112.0], rtol=1e-6)


@pytest.mark.parametrize("crop", [None, "object"])
def test_network_to_image_inverts_resample(crop):
    """A silhouette taken to the network image (resample) and back lands where it was."""
    from blender_p2m.model.preprocess import network_to_image

    h, w = 180, 320
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx + 0.5 - 200) / 50) ** 2 + ((yy + 0.5 - 80) / 40) ** 2 < 1          # off-centre disc
    rgba = np.zeros((h, w, 4), np.float32)
    rgba[..., :3], rgba[..., 3] = 0.5, inside
    intr = Intrinsics(300, 300, 160, 90, w, h)
    prepared = prepare(rgba, intr, 224, crop)
    back = network_to_image(prepared.alpha, intr, prepared.rotation, prepared.intrinsics.double().numpy())
    assert back.shape == (1, h, w)
    mask = back[0].numpy() > 0.5
    iou = (mask & inside).sum() / (mask | inside).sum()
    assert iou > 0.95, iou
    # A coarse 56 x 56 map works the same way (the silhouette head's resolution).
    coarse = torch.nn.functional.interpolate(prepared.alpha[None], size=(56, 56), mode="area")[0]
    mask = network_to_image(coarse, intr, prepared.rotation, prepared.intrinsics.double().numpy())[0].numpy() > 0.5
    assert (mask & inside).sum() / (mask | inside).sum() > 0.85


def test_network_to_image_keeps_full_values_up_to_the_network_images_edge():
    """A map that is 1 everywhere comes back as 1 on every pixel the network image covers
    (no fading towards the padding in its outer half-cell) and 0 on the pixels it does not."""
    from blender_p2m.model.preprocess import network_to_image

    h, w = 120, 200
    intr = Intrinsics(150, 150, 100, 60, w, h)
    rgba = np.ones((h, w, 4), np.float32)
    prepared = prepare(rgba, intr, 224, None)
    back = network_to_image(torch.ones(1, 56, 56), intr, prepared.rotation,
                            prepared.intrinsics.double().numpy())[0].numpy()
    np.testing.assert_allclose(back, 1.0, atol=1e-6)    # the uncropped view covers the picture
    small = rgba.copy()
    small[..., 3] = 0.0
    small[45:75, 85:115, 3] = 1.0                       # a small object: the crop zooms in on it
    cropped = prepare(small, intr, 224, "object")
    part = network_to_image(torch.ones(1, 56, 56), intr, cropped.rotation,
                            cropped.intrinsics.double().numpy())[0].numpy()
    assert np.all((part == 0.0) | (np.abs(part - 1.0) < 1e-6)) and 0.05 < part.mean() < 0.6
    assert part[45:75, 85:115].min() > 1.0 - 1e-6
