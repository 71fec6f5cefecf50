"""Displays: LCD monitors, TVs, all-in-one computers and CRT monitors.

The screen faces -Y.  A thin panel carries a raised bezel frame so the screen reads as
recessed; stands are a neck with a plate / disc / V-feet base, TV side feet or a
pedestal, or nothing (wall TV).  CRTs get a tapered back lofted from the bezel.
"""
from __future__ import annotations

import numpy as np

from . import polygon as poly2d
from .mesh import TriMesh, box, cylinder, loft, merge, plate, rounded_box, rounded_cylinder, rounded_path, tube


def _panel(rng, W, H, D, z0, bezel, chin=0.0, y0=0.0) -> list[TriMesh]:
    """Panel with its bottom at z0, front face at y0 - D/2; bezel bars proud of the front."""
    r = rng.uniform(0.002, 0.012)
    parts = [rounded_box((W, D, H), (r, min(r, 0.4 * D), r), 2, (0, y0, z0 + H / 2))]
    bt = rng.uniform(0.002, 0.006)
    yb = y0 - D / 2 - bt / 2
    bot = bezel + chin
    parts.append(box((W - 2 * r, bt, bezel), (0, yb, z0 + H - bezel / 2)))
    parts.append(box((W - 2 * r, bt, bot), (0, yb, z0 + bot / 2)))
    for sx in (-1, 1):
        parts.append(box((bezel, bt, H - bezel - bot), (sx * (W / 2 - bezel / 2), yb, z0 + bot + (H - bezel - bot) / 2)))
    if rng.random() < 0.5:  # electronics bulge on the back
        bw, bh = W * rng.uniform(0.4, 0.8), H * rng.uniform(0.4, 0.8)
        bd = rng.uniform(0.01, 0.04)
        parts.append(rounded_box((bw, bd + 0.01, bh), (0.02, bd * 0.4, 0.02), 2, (0, y0 + D / 2 + bd / 2 - 0.005, z0 + H * 0.5)))
    return parts


def _base(rng, style, size, thickness) -> TriMesh:
    if style == "disc":
        return rounded_cylinder(size, thickness, 0.4 * thickness, 32)
    if style == "oval":
        return plate(poly2d.superellipse(size, size * 0.65, 2.5, 32), thickness, 0.0, 0.3 * thickness)
    return rounded_box((2 * size, 1.3 * size, thickness), (0.02, 0.02, 0.4 * thickness), 2, (0, 0, thickness / 2))


def _monitor(rng, tv=False) -> TriMesh:
    W = rng.uniform(0.45, 0.75) if not tv else rng.uniform(0.9, 1.6)
    H = W * rng.uniform(0.5, 0.65)
    D = rng.uniform(0.015, 0.05)
    bezel = rng.uniform(0.006, 0.03) * (W / 0.6) ** 0.5
    stand = rng.choice(["neck", "feet", "pedestal", "wall"], p=[0.2, 0.4, 0.25, 0.15]) if tv else "neck"
    parts = []
    if stand == "neck":
        base_t = rng.uniform(0.01, 0.025)
        bs = rng.uniform(0.1, 0.16)
        z_panel = rng.uniform(0.06, 0.16)
        panel = merge(_panel(rng, W, H, D, z_panel, bezel))
        back_y = panel.bounds()[1][1]  # behind the optional electronics bulge
        neck_h = z_panel + H * rng.uniform(0.3, 0.5)
        nw = rng.uniform(0.03, 0.08)
        if rng.random() < 0.5:  # flat neck
            yn = back_y + 0.012 - 0.002
            neck = rounded_box((nw, 0.024, neck_h - base_t + 0.002), 0.008, 2, (0, yn, base_t + (neck_h - base_t) / 2 - 0.001))
        else:  # round neck
            yn = back_y + nw * 0.3 - 0.002
            neck = cylinder(nw * 0.3, neck_h - base_t + 0.002, 16, (0, yn, base_t - 0.002))
        base = _base(rng, rng.choice(["disc", "oval", "plate"]), bs, base_t).translated((0, yn, 0))
        return merge([base, neck, panel])
    z_panel = rng.uniform(0.04, 0.1) if stand == "feet" else rng.uniform(0.06, 0.15)
    if stand == "wall":
        z_panel = 0.0
    panel = merge(_panel(rng, W, H, D, z_panel, bezel))
    if stand == "feet":
        fx = W / 2 * rng.uniform(0.6, 0.9)
        fl = rng.uniform(0.15, 0.25)
        for sx in (-1, 1):
            parts.append(rounded_box((0.03, fl, 0.02), 0.008, 1, (sx * fx, 0, 0.01)))
            parts.append(box((0.025, 0.02, z_panel + 0.02), (sx * fx, D / 2 + 0.01, 0.02 + (z_panel + 0.02) / 2)))
    elif stand == "pedestal":
        # the post overlaps only the panel's lowest 4 cm, below any back bulge
        parts.append(_base(rng, rng.choice(["plate", "oval"]), W * 0.2, 0.02).translated((0, D / 2, 0)))
        parts.append(box((0.08, 0.03, z_panel + 0.02), (0, D / 2 + 0.013, 0.02 + (z_panel + 0.02) / 2)))
    return merge(parts + [panel])


def _all_in_one(rng) -> TriMesh:
    W = rng.uniform(0.5, 0.7)
    H = W * rng.uniform(0.6, 0.72)
    D = rng.uniform(0.01, 0.03)
    chin = H * rng.uniform(0.1, 0.18)
    z_panel = rng.uniform(0.08, 0.14)
    tilt = rng.uniform(0.05, 0.15)
    # L-shaped bent stand: a foot plate and an upright parallel to the tilted panel's back
    w = W * rng.uniform(0.25, 0.35)
    sec = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]) * [w / 2, 0.005]  # (x, normal)
    h = 0.45 * H
    up = np.array([0.0, D / 2 + 0.005 + h * np.sin(tilt), z_panel + h * np.cos(tilt)])
    knee = np.array([0.0, up[1] - (up[2] - 0.005) * np.tan(tilt), 0.005])
    path = np.array([knee + [0, 0.2, 0], knee, up])  # foot runs backwards
    stand = tube(rounded_path(path, 0.04, 4), 1.0, section=sec)
    panel = merge(_panel(rng, W, H, D, 0.0, rng.uniform(0.008, 0.02), chin))
    panel = panel.rotated("x", -tilt).translated((0, 0, z_panel))
    return merge([stand, panel])


def _crt(rng) -> TriMesh:
    W = rng.uniform(0.35, 0.5)
    H = W * rng.uniform(0.8, 0.95)
    fd = rng.uniform(0.04, 0.08)
    depth = W * rng.uniform(0.8, 1.1)
    parts = []
    z0 = 0.0
    if rng.random() < 0.7:  # swivel foot
        z0 = rng.uniform(0.03, 0.06)
        parts.append(rounded_cylinder(W * 0.3, z0, 0.01, 28, base=(0, depth * 0.35, 0)))
    parts.append(rounded_box((W, fd, H), 0.015, 2, (0, 0, z0 + H / 2)))
    # tapered back: loft of rounded rectangles shrinking away from the screen
    rings = []
    for t, s in ((0.0, 0.96), (0.35, 0.85), (1.0, 0.5)):
        rr = poly2d.rounded_rect(W * s, H * s, 0.03, 3)
        rings.append(np.column_stack([rr[:, 0], np.full(len(rr), fd / 2 + t * (depth - fd)),
                                      z0 + H / 2 + (rr[:, 1] - (1 - s) * H * 0.25)]))
    rings[0][:, 1] -= 0.002
    parts.append(loft(np.asarray(rings)))
    parts.append(rounded_box((W * 0.8, 0.006, H * 0.75), 0.02, 2, (0, -fd / 2 - 0.003, z0 + H * 0.55)))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["monitor", "tv", "all_in_one", "crt"], p=[0.42, 0.3, 0.13, 0.15])
    if kind == "monitor":
        return _monitor(rng)
    if kind == "tv":
        return _monitor(rng, tv=True)
    return _all_in_one(rng) if kind == "all_in_one" else _crt(rng)
