"""Telephones: smartphones, keypad (candy-bar) phones, open flip phones, desk phones
and cordless handsets in a cradle.

Mobile phones stand upright with the screen facing -Y: a bevelled rounded-rectangle
slab with a slightly raised screen, camera bump, side buttons.  Desk phones lie on the
table: a wedge base with a sloped keypad and a handset resting across the back.
"""
from __future__ import annotations

import numpy as np

from . import polygon as poly2d
from .mesh import TriMesh, box, cylinder, front_profile, merge, rounded_box, rounded_cylinder, side_profile


def _slab(W, H, T, radius, bevel, y_center=0.0, z0=0.0) -> TriMesh:
    """Upright phone body: rounded rectangle in (x, z), thickness T along y."""
    return front_profile(poly2d.rounded_rect(W, H, radius, 5, (0.0, z0 + H / 2)), T, bevel, y_center)


def _face_plate(W, H, radius, z_center, y_face, proud=0.0006) -> TriMesh:
    """Thin plate on the front face (screen, glass) standing proud by `proud`."""
    return front_profile(poly2d.rounded_rect(W, H, radius, 4, (0.0, z_center)), proud, 0.0, y_face - proud / 2)


def _keypad(rng, x_span, z_top, z_bottom, y_face, rows=4, cols=3) -> list[TriMesh]:
    parts = []
    bw = x_span / cols * rng.uniform(0.6, 0.8)
    bh = (z_top - z_bottom) / rows * rng.uniform(0.55, 0.75)
    for i in range(rows):
        for j in range(cols):
            x = -x_span / 2 + (j + 0.5) * x_span / cols
            z = z_top - (i + 0.5) * (z_top - z_bottom) / rows
            parts.append(rounded_box((bw, 0.002, bh), (min(0.3 * bw, 0.003), 0.0008, min(0.3 * bh, 0.003)), 1,
                                     (x, y_face - 0.0009, z)))
    return parts


def _smartphone(rng) -> TriMesh:
    W, H = rng.uniform(0.062, 0.08), rng.uniform(0.12, 0.165)
    T = rng.uniform(0.007, 0.011)
    r = W * rng.uniform(0.08, 0.2)
    parts = [_slab(W, H, T, r, T * rng.uniform(0.15, 0.4))]
    m_side = rng.uniform(0.002, 0.006)
    old = rng.random() < 0.3
    m_top = rng.uniform(0.012, 0.02) if old else rng.uniform(0.003, 0.008)
    m_bot = rng.uniform(0.012, 0.02) if old else m_top
    sh = H - m_top - m_bot
    parts.append(_face_plate(W - 2 * m_side, sh, max(r - m_side, 0.001), m_bot + sh / 2, -T / 2))
    if old:  # home button and earpiece
        parts.append(rounded_cylinder(0.0055, 0.0006, 0.0002, 16, 1, base=(0, -T / 2 + 0.0001, m_bot / 2), direction=(0, -1, 0)))
        parts.append(box((0.01, 0.0006, 0.0015), (0, -T / 2 - 0.0002, H - m_top / 2)))
    # camera bump on the back
    n_cam = int(rng.integers(1, 4))
    cam_r = rng.uniform(0.003, 0.006)
    bump = rng.random() < 0.6
    cx, cz = -W / 2 + rng.uniform(0.008, 0.014) + cam_r, H - rng.uniform(0.008, 0.014) - cam_r
    if bump and n_cam > 1:
        bw, bh = 2 * cam_r + 0.006 + (2.2 * cam_r if n_cam == 3 else 0), 2 * cam_r * n_cam / (1 if n_cam < 3 else 1.5) + 0.006
        parts.append(front_profile(poly2d.rounded_rect(bw, bh, 0.004, 4, (cx + bw / 2 - cam_r - 0.003, cz - bh / 2 + cam_r + 0.003)),
                                   0.0015, 0.0003, T / 2 + 0.0007))
        y_back = T / 2 + 0.0015
    else:
        y_back = T / 2
    for k in range(n_cam):
        z = cz - k * (2.3 * cam_r) if n_cam < 3 or k < 2 else cz - 0.5 * 2.3 * cam_r
        x = cx if n_cam < 3 or k < 2 else cx + 2.3 * cam_r
        parts.append(cylinder(cam_r, 0.001, 16, (x, y_back - 0.0002, z), (0, 1, 0)))
    # side buttons
    for z, h in ((H * 0.7, 0.012), (H * 0.55, 0.02) if rng.random() < 0.6 else (H * 0.62, 0.01)):
        parts.append(rounded_box((0.0016, 0.003, h), 0.0005, 1, (W / 2 + 0.0004, 0, z)))
    return merge(parts)


def _keypad_phone(rng) -> TriMesh:
    W, H = rng.uniform(0.045, 0.055), rng.uniform(0.1, 0.13)
    T = rng.uniform(0.013, 0.02)
    r = W * rng.uniform(0.1, 0.3)
    parts = [_slab(W, H, T, r, T * 0.3)]
    sh = H * rng.uniform(0.25, 0.35)
    parts.append(_face_plate(W * 0.75, sh, 0.002, H - H * 0.12 - sh / 2, -T / 2))
    z_nav = H - H * 0.12 - sh - 0.012
    parts.append(rounded_cylinder(0.006, 0.0015, 0.0005, 16, 1, base=(0, -T / 2 + 0.0002, z_nav), direction=(0, -1, 0)))
    parts += _keypad(rng, W * 0.8, z_nav - 0.01, H * 0.06, -T / 2)
    if rng.random() < 0.3:  # stub antenna
        parts.append(cylinder(0.004, 0.02, 10, (W / 2 - 0.01, 0, H - 0.002)))
    return merge(parts)


def _flip_phone(rng) -> TriMesh:
    W, h = rng.uniform(0.045, 0.055), rng.uniform(0.08, 0.1)
    T = rng.uniform(0.008, 0.012)
    r = W * 0.15
    open_angle = np.radians(rng.uniform(150, 170))
    hinge_r = T * 0.55
    lower = merge([_slab(W, h, T, r, T * 0.25)] + _keypad(rng, W * 0.8, h * 0.7, h * 0.08, -T / 2))
    upper = merge([_slab(W, h * 0.95, T * 0.8, r, T * 0.2), _face_plate(W * 0.8, h * 0.55, 0.002, h * 0.5, -T * 0.4)])
    # the lower half stands upright; the upper half folds back around the hinge axis (x) at the top
    hinge = (0.0, 0.0, h + hinge_r)
    upper = upper.translated((0, 0, h + 1.7 * hinge_r)).rotated("x", -(np.pi - open_angle), about=hinge)
    parts = [lower, upper, cylinder(hinge_r, W * 0.9, 16, (-W * 0.45, 0, h + hinge_r), (1, 0, 0))]
    return merge(parts)


def _desk_phone(rng) -> TriMesh:
    W, D = rng.uniform(0.18, 0.24), rng.uniform(0.18, 0.24)
    h_front, h_back = rng.uniform(0.03, 0.05), rng.uniform(0.07, 0.1)
    # side profile (y, z): low front, sloped keypad, raised cradle at the back
    y_slope_end = D * rng.uniform(0.05, 0.2)
    outline = [[-D / 2, 0.0], [D / 2, 0.0], [D / 2, h_back], [y_slope_end, h_back], [-D / 2, h_front]]
    parts = [side_profile(np.asarray(outline), W, bevel=0.006)]
    slope = np.arctan2(h_back - h_front, y_slope_end + D / 2)
    # keypad on the slope
    cols, rows = 3, 4
    for i in range(rows):
        for j in range(cols):
            s = (i + 0.7) / (rows + 0.6)
            y = -D / 2 + 0.015 + s * (y_slope_end + D / 2 - 0.03)
            z = h_front + (y + D / 2) * np.tan(slope)
            x = (j - 1) * 0.022 + W * 0.1
            key = rounded_box((0.016, 0.012, 0.006), 0.002, 1, (0, 0, 0.001))
            parts.append(key.rotated("x", slope).translated((x, y, z)))
    # handset across the back, resting on the cradle
    hl = W * rng.uniform(0.95, 1.15)
    hd = (D / 2 - y_slope_end) * 0.8
    hy = 0.5 * (D / 2 + y_slope_end)
    grip = rounded_box((hl * 0.7, hd * 0.5, 0.025), (0.01, 0.01, 0.01), 2, (0, hy, h_back + 0.0125 + 0.012))
    parts.append(grip)
    for sx in (-1, 1):
        parts.append(rounded_box((hl * 0.2, hd, 0.035), 0.012, 2, (sx * (hl * 0.35 + hl * 0.1 - 0.004), hy, h_back + 0.0175 - 0.0005)))
    return merge(parts)


def _cordless(rng) -> TriMesh:
    """Cordless handset standing in a small cradle."""
    W, H = rng.uniform(0.045, 0.055), rng.uniform(0.14, 0.18)
    T = rng.uniform(0.02, 0.03)
    parts = [rounded_box((W * 1.8, T * 2.4, 0.03), 0.01, 2, (0, 0, 0.015))]
    body = merge([_slab(W, H, T, W * 0.3, T * 0.3)] + _keypad(rng, W * 0.75, H * 0.45, H * 0.1, -T / 2)
                 + [_face_plate(W * 0.7, H * 0.2, 0.002, H * 0.65, -T / 2)])
    parts.append(body.rotated("x", -0.15).translated((0, 0, 0.03 - 0.004)))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["smartphone", "keypad", "flip", "desk", "cordless"], p=[0.55, 0.15, 0.1, 0.12, 0.08])
    return {"smartphone": _smartphone, "keypad": _keypad_phone, "flip": _flip_phone, "desk": _desk_phone,
            "cordless": _cordless}[kind](rng)
