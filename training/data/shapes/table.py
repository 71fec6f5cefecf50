"""Tables: dining / coffee / bar / side tables and desks.

Tops are rectangular, square, round or oval, thin or chunky; supports are four legs
(with or without apron and lower shelf), a pedestal, trestle ends, solid panel ends,
or a drawer pedestal for desks.  Supports end at the top's underside.
"""
from __future__ import annotations

import numpy as np

from . import furniture_parts as fp
from . import polygon as poly2d
from .mesh import TriMesh, box, merge, plate, rounded_box, rounded_cylinder


def _top(rng, shape: str, L: float, Wd: float, t: float, z: float) -> TriMesh:
    """Table top with its underside at z."""
    if shape == "round":
        return rounded_cylinder(0.5 * L, t, rng.uniform(0.002, 0.5 * t), 48, 2, base=(0, 0, z))
    if shape == "oval":
        outline = poly2d.superellipse(0.5 * L, 0.5 * Wd, rng.uniform(2.0, 4.0), 48)
        return plate(outline, t, z, bevel=rng.uniform(0.002, 0.4 * t))
    r = rng.uniform(0.0, 0.02) if rng.random() < 0.7 else rng.uniform(0.03, 0.15)
    outline = poly2d.rounded_rect(L, Wd, r, 4)
    return plate(outline, t, z, bevel=rng.uniform(0.0, 0.45 * t) if rng.random() < 0.6 else 0.0)


def _legs_with_apron(rng, hx, hy, z_top, leg_t, H, parts):
    legs, feet = fp.four_legs(rng, hx, hy, z_top, leg_t)
    parts += legs
    tops = np.column_stack([fp.corner_positions(hx, hy), np.full(4, z_top)])
    if rng.random() < 0.55:  # apron rails between the legs, just under the top
        ah = rng.uniform(0.05, 0.12) * min(1.0, H / 0.75)
        at = rng.uniform(0.015, 0.025)
        inset = 0.5 * leg_t - 0.5 * at - rng.uniform(0.0, 0.01)
        parts.append(box((2 * hx - leg_t, at, ah), (0, -hy - inset, z_top - ah / 2)))
        parts.append(box((2 * hx - leg_t, at, ah), (0, hy + inset, z_top - ah / 2)))
        parts.append(box((at, 2 * hy - leg_t, ah), (-hx - inset, 0, z_top - ah / 2)))
        parts.append(box((at, 2 * hy - leg_t, ah), (hx + inset, 0, z_top - ah / 2)))
    r = rng.random()
    if r < 0.2:  # lower shelf resting between the legs
        z = rng.uniform(0.1, 0.3) * H
        st = rng.uniform(0.015, 0.03)
        parts.append(box((2 * hx - leg_t, 2 * hy - leg_t, st), (0, 0, z)))
    elif r < 0.45:  # stretchers
        z = rng.uniform(0.1, 0.3) * H
        if rng.random() < 0.5:  # box stretcher: a rod between every pair of neighbouring legs
            parts += fp.stretchers(feet, tops, z, 0.3 * leg_t, 0.5 * leg_t, [(0, 1), (1, 2), (2, 3), (3, 0)])
        else:
            parts += fp.h_stretcher(feet, tops, z, 0.3 * leg_t, 0.5 * leg_t)


def _trestle(rng, hx, hy, z_top, parts):
    """Two end frames (post + foot + top bar) joined by a stretcher."""
    post_w = rng.uniform(0.05, 0.12)
    post_d = rng.uniform(0.03, 0.06)
    foot_h = rng.uniform(0.03, 0.06)
    bar_h = rng.uniform(0.03, 0.05)
    ys = [0.0] if rng.random() < 0.6 else [-0.5 * hy, 0.5 * hy]  # one or two posts per end
    for x in (-hx, hx):
        parts.append(rounded_box((post_d * 1.5, 2 * hy, foot_h), 0.01, 1, (x, 0, foot_h / 2)))
        parts.append(rounded_box((post_d * 1.5, 2 * hy * 0.9, bar_h), 0.01, 1, (x, 0, z_top - bar_h / 2)))
        for y in ys:
            parts.append(box((post_d, post_w, z_top - bar_h - foot_h), (x, y, 0.5 * (z_top - bar_h + foot_h))))
    sz = rng.uniform(0.25, 0.5) * z_top
    for y in ys:  # stretcher between the posts of the two ends
        parts.append(box((2 * hx - post_d, 0.04, 0.06), (0, y, sz)))


def _panel_ends(rng, hx, hy, z_top, parts):
    """Slab ends (waterfall / desk style), optional modesty panel."""
    pt = rng.uniform(0.02, 0.05)
    for x in (-hx, hx):
        parts.append(box((pt, 2 * hy, z_top), (x, 0, z_top / 2)))
    if rng.random() < 0.5:
        ph = rng.uniform(0.15, 0.4) * z_top
        parts.append(box((2 * hx - pt, 0.018, ph), (0, hy * 0.6, z_top - ph / 2)))


def _desk(rng, L, Wd, z_top, parts):
    """Drawer pedestal on one side, a pair of legs or a panel on the other."""
    cw = rng.uniform(0.35, 0.45)
    side = 1 if rng.random() < 0.5 else -1
    cx = side * (L / 2 - cw / 2 - 0.01)
    parts.append(box((cw, Wd - 0.04, z_top), (cx, 0, z_top / 2)))
    n = int(rng.integers(2, 5))
    gap = 0.006
    dh = (z_top - 0.06) / n
    for i in range(n):
        z0 = 0.04 + i * dh
        parts.append(box((cw - 0.03, 0.015, dh - gap), (cx, -(Wd - 0.04) / 2 - 0.0075, z0 + dh / 2)))
        parts.append(box((0.1, 0.02, 0.015), (cx, -(Wd - 0.04) / 2 - 0.025, z0 + dh * 0.6)))
    ox = -side * (L / 2 - 0.04)
    if rng.random() < 0.5:
        parts.append(box((0.03, Wd - 0.04, z_top), (ox, 0, z_top / 2)))
    else:
        for y in (-(Wd / 2 - 0.05), Wd / 2 - 0.05):
            parts.append(box((0.04, 0.04, z_top), (ox, y, z_top / 2)))


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["dining", "coffee", "side", "bar", "desk"], p=[0.45, 0.2, 0.15, 0.07, 0.13])
    H = {"dining": rng.uniform(0.7, 0.78), "coffee": rng.uniform(0.33, 0.5), "side": rng.uniform(0.48, 0.68),
         "bar": rng.uniform(0.9, 1.06), "desk": rng.uniform(0.72, 0.78)}[kind]
    if kind == "side" or kind == "bar":
        L = rng.uniform(0.4, 0.75)
        Wd = L * rng.uniform(0.8, 1.0)
    elif kind == "coffee":
        L = rng.uniform(0.7, 1.4)
        Wd = L * rng.uniform(0.4, 0.9)
    else:
        L = rng.uniform(0.9, 2.2)
        Wd = min(L, rng.uniform(0.6, 1.05))
    shape = "rect"
    if kind != "desk":
        shape = rng.choice(["rect", "round", "oval"], p=[0.6, 0.28, 0.12])
    if shape == "round":
        Wd = L = min(L, rng.uniform(0.6, 1.3))
    t = rng.uniform(0.02, 0.05) if rng.random() < 0.85 else rng.uniform(0.06, 0.1)
    z_top = H - t
    parts = [_top(rng, shape, L, Wd, t, z_top)]

    if kind == "desk":
        _desk(rng, L, Wd, z_top, parts)
        return merge(parts)
    if shape == "rect":
        support = rng.choice(["legs", "trestle", "panels", "pedestal"], p=[0.68, 0.1, 0.12, 0.1])
    else:
        support = rng.choice(["legs", "pedestal"], p=[0.5, 0.5])
    if support == "pedestal":
        if shape == "rect" or (shape == "oval" and L > 1.2 * Wd):
            # two pedestals under long tops
            for x in (-0.3 * L, 0.3 * L):
                parts += [m.translated((x, 0, 0)) for m in
                          fp.pedestal(rng, z_top, rng.uniform(0.03, 0.06), 0.35 * Wd, "cross" if rng.random() < 0.5 else "disc")]
        else:
            parts += fp.pedestal(rng, z_top, rng.uniform(0.03, 0.08) * min(1.0, L / 0.8), rng.uniform(0.3, 0.45) * L)
        return merge(parts)
    if support == "trestle":
        _trestle(rng, 0.5 * L - rng.uniform(0.08, 0.2), 0.5 * Wd - rng.uniform(0.04, 0.1), z_top, parts)
        return merge(parts)
    if support == "panels":
        _panel_ends(rng, 0.5 * L - rng.uniform(0.0, 0.12), 0.5 * Wd - rng.uniform(0.0, 0.06), z_top, parts)
        return merge(parts)
    leg_t = rng.uniform(0.03, 0.08) * (1.0 if kind != "coffee" else 0.8)
    inset = rng.uniform(0.0, 0.1) + leg_t / 2
    if shape == "rect":
        hx, hy = 0.5 * L - inset, 0.5 * Wd - inset
    else:  # legs inside the round/oval outline
        hx, hy = (0.5 * L - inset) * 0.68, (0.5 * Wd - inset) * 0.68
    _legs_with_apron(rng, hx, hy, z_top, leg_t, H, parts)
    return merge(parts)
