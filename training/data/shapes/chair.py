"""Chairs: dining (legs, panel/rail/slat/spindle backs, optional arms and stretchers),
office (star base, cushions, arms), club armchair, stool, cantilever/sled tube frames,
and pedestal (tulip) chairs.

Seat top at height H, seat spans x in [-W/2, W/2], y in [-D/2, D/2]; the back is built
upright in a local frame (origin at the seat's rear top edge) and tilted backwards.
"""
from __future__ import annotations

import numpy as np

from . import furniture_parts as fp
from .mesh import TriMesh, bend, box, cylinder, cylinder_between, merge, rounded_box, rounded_cylinder, rounded_path, torus, tube
from .sofa import upholstered

_SQUARE = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def _tilt(mesh: TriMesh, tilt: float, pivot) -> TriMesh:
    """Rotate a back built upright at the origin backwards by `tilt` and move it to pivot."""
    return mesh.rotated("x", -tilt).translated(pivot)


def _curved_panel(width, height, thickness, curve, radius, center) -> TriMesh:
    """Back panel whose middle bows backwards (ends stay in place) for a seated body."""
    p = rounded_box((width, thickness, height), (radius, 0.45 * thickness, radius), 2, (0, 0, 0), divisions=(8, 1, 1))
    p = bend(p, 0, 1, -curve, 0.5 * width).translated((0, curve, 0))
    return p.translated(center)


def _seat(rng, W, D, H, t) -> TriMesh:
    r = rng.uniform(0.003, 0.06)
    return rounded_box((W, D, t), (r, r, min(0.45 * t, r)), 2, (0, 0, H - 0.5 * t))


def _dining(rng) -> TriMesh:
    W, D = rng.uniform(0.4, 0.54), rng.uniform(0.38, 0.5)
    H, t = rng.uniform(0.42, 0.48), rng.uniform(0.02, 0.06)
    Hb = rng.uniform(0.3, 0.55)
    tilt = rng.uniform(0.02, 0.22)
    s = rng.uniform(0.025, 0.048)
    parts = [_seat(rng, W, D, H, t)]
    if rng.random() < 0.25:  # loose cushion on the seat
        ct = rng.uniform(0.03, 0.06)
        parts.append(rounded_box((W * 0.94, D * 0.92, ct), (0.03, 0.03, 0.45 * ct), 2, (0, -0.02 * D, H + 0.5 * ct)))
    back_style = rng.choice(["panel", "rails", "slats", "spindles", "shell"], p=[0.3, 0.17, 0.2, 0.13, 0.2])
    round_legs = rng.random() < 0.45
    post_y = D / 2 + s / 2
    hx = W / 2 - s / 2
    arms = back_style != "shell" and rng.random() < 0.2

    if back_style == "shell":
        legs, _ = fp.four_legs(rng, W / 2 - s / 2 - rng.uniform(0, 0.04), D / 2 - s / 2 - rng.uniform(0, 0.04), H - t, s)
        parts += legs
        bt = rng.uniform(0.015, 0.035)
        bw = W * rng.uniform(0.75, 1.0)
        h0 = rng.uniform(0.0, 0.12)
        panel = _curved_panel(bw, Hb - h0, bt, rng.uniform(0.0, 0.05), rng.uniform(0.01, 0.08), (0, 0, h0 + 0.5 * (Hb - h0)))
        parts.append(_tilt(panel, tilt, (0, D / 2 - bt / 2, H)))
        if h0 > 0.02:  # two uprights carry the floating panel
            for x in (-0.3 * bw, 0.3 * bw):
                parts.append(_tilt(box((0.03, bt * 0.8, h0 + 0.06), (x, 0, 0.5 * (h0 + 0.06))), tilt, (0, D / 2 - bt / 2, H)))
        return merge(parts)

    # rear posts run from the floor to the top of the back, bending at the seat
    top = np.array([0.0, post_y + Hb * np.sin(tilt), H + Hb * np.cos(tilt)])
    for x in (-hx, hx):
        path = np.array([[x, post_y, 0.0], [x, post_y, H], [x, top[1], top[2]]])
        path = rounded_path(path, 0.05, 3)
        sec = None if round_legs else _SQUARE
        parts.append(tube(path, s / 2, 10 if round_legs else 4, section=sec))
    # front legs end under the seat; with arms a short post continues above the seat
    fx, fy = hx - rng.uniform(0, 0.02), -D / 2 + s / 2 + rng.uniform(0, 0.02)

    def post(x, z0, z1):
        if round_legs:
            return cylinder(s / 2, z1 - z0, 12, (x, fy, z0))
        return box((s, s, z1 - z0), (x, fy, 0.5 * (z0 + z1)))

    parts += [post(x, 0.0, H - t) for x in (-fx, fx)]
    if arms:
        arm_z = H + rng.uniform(0.17, 0.24)
        arm_back = post_y - s / 2 + (arm_z - H) * np.tan(tilt)
        aw = s * rng.uniform(1.0, 1.8)
        for x in (-fx, fx):
            parts.append(post(x, H, arm_z))
            parts.append(rounded_box((aw, arm_back - fy + s, 0.025), 0.008, 1,
                                     (x, 0.5 * (arm_back + fy - s), arm_z + 0.0125)))

    # back between the posts, built upright in the local frame then tilted
    inner = 2 * hx - s
    back: list[TriMesh] = []
    rail_t = rng.uniform(0.015, 0.025)
    if back_style == "panel":
        h0 = rng.uniform(0.05, 0.25) * Hb
        h1 = Hb - rng.uniform(0.0, 0.06)
        back.append(box((inner, rail_t, h1 - h0), (0, 0, 0.5 * (h0 + h1))))
    elif back_style == "rails":
        n = int(rng.integers(2, 5))
        rh = rng.uniform(0.03, 0.08)
        for z in np.linspace(Hb - rh / 2 - 0.01, Hb * rng.uniform(0.3, 0.6), n):
            back.append(box((inner, rail_t, rh), (0, 0, z)))
    else:
        top_h = rng.uniform(0.04, 0.1)
        back.append(box((inner, rail_t * 1.3, top_h), (0, 0, Hb - top_h / 2 - 0.005)))
        low = 0.0 if back_style == "spindles" else rng.uniform(0.05, 0.15)
        if low > 0:
            back.append(box((inner, rail_t * 1.3, 0.03), (0, 0, low + 0.015)))
            low += 0.03
        n = int(rng.integers(3, 8)) if back_style == "slats" else int(rng.integers(4, 9))
        xs = np.linspace(-inner / 2, inner / 2, n + 2)[1:-1]
        sw = min(rng.uniform(0.012, 0.05), 0.8 * inner / (n + 1))
        for x in xs:
            if back_style == "slats":
                back.append(box((sw, rail_t * 0.7, Hb - top_h - low - 0.005), (x, 0, 0.5 * (low + Hb - top_h - 0.005))))
            else:
                back.append(cylinder(0.008, Hb - top_h - 0.005, 8, (x, 0, 0)))
    parts += [_tilt(m, tilt, (0, post_y, H)) for m in back]

    if rng.random() < 0.35:  # stretchers between the legs
        z = rng.uniform(0.1, 0.2)
        r = s * 0.28
        for x in (-fx, fx):
            parts.append(cylinder_between((x, fy + s / 2, z), (x, post_y - s / 2, z), r, 8))
        parts.append(cylinder_between((-fx + s / 2, fy, z + 0.04), (fx - s / 2, fy, z + 0.04), r, 8))
    return merge(parts)


def _office(rng) -> TriMesh:
    W, D = rng.uniform(0.45, 0.56), rng.uniform(0.42, 0.52)
    H, t = rng.uniform(0.44, 0.52), rng.uniform(0.06, 0.11)
    parts = [rounded_box((W, D, t), (rng.uniform(0.03, 0.07), rng.uniform(0.03, 0.07), 0.4 * t), 3, (0, 0, H - t / 2))]
    mech_h = rng.uniform(0.03, 0.06)
    mech_top = H - t
    parts.append(box((0.18, 0.2, mech_h), (0, 0.02, mech_top - mech_h / 2)))
    parts += fp.star_base(rng, mech_top - mech_h, rng.uniform(0.26, 0.34))
    # back
    tilt = rng.uniform(0.05, 0.25)
    bh = rng.uniform(0.4, 0.75)
    bw = W * rng.uniform(0.8, 1.02)
    bt = rng.uniform(0.04, 0.09)
    gap = rng.uniform(0.03, 0.12)
    by = D / 2 + 0.05
    panel = _curved_panel(bw, bh, bt, rng.uniform(0.02, 0.08), rng.uniform(0.03, 0.1), (0, 0, gap + bh / 2))
    parts.append(_tilt(panel, tilt, (0, by, H)))
    # spine from the mechanism up the back of the panel
    spine_sec = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]) * [0.012, 0.03]
    sy = by + bt / 2 + 0.012
    path = [[0, 0.1, mech_top - mech_h / 2], [0, sy, mech_top - mech_h / 2],
            [0, sy + (gap + 0.15) * np.sin(tilt), H + (gap + 0.15) * np.cos(tilt)]]
    parts.append(tube(rounded_path(np.array(path), 0.06, 4), 1.0, section=spine_sec))
    if rng.random() < 0.25:  # headrest on two rods
        hh = rng.uniform(0.1, 0.16)
        hw = bw * rng.uniform(0.5, 0.7)
        hr = rounded_box((hw, bt * 0.9, hh), (0.04, 0.4 * bt, 0.04), 2, (0, 0, gap + bh + 0.06 + hh / 2))
        parts.append(_tilt(hr, tilt, (0, by, H)))
        for x in (-0.25 * hw, 0.25 * hw):
            parts.append(_tilt(cylinder(0.007, 0.07, 8, (x, 0, gap + bh - 0.005)), tilt, (0, by, H)))
    if rng.random() < 0.6:  # armrests on L-shaped brackets
        ah = rng.uniform(0.18, 0.26)
        pad_l = rng.uniform(0.2, 0.3)
        x_arm = W / 2 + rng.uniform(0.02, 0.05)
        sec = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]) * [0.01, 0.025]
        for sx in (-1, 1):
            path = np.array([[sx * W * 0.3, 0.05, mech_top - 0.015], [sx * x_arm, 0.05, mech_top - 0.015],
                             [sx * x_arm, 0.05, H + ah]])
            parts.append(tube(rounded_path(path, 0.05, 4), 1.0, section=sec))
            parts.append(rounded_box((0.07, pad_l, 0.03), (0.02, 0.02, 0.012), 2, (sx * x_arm, 0.02, H + ah + 0.015)))
    return merge(parts)


def _stool(rng) -> TriMesh:
    H = rng.uniform(0.45, 0.8)
    t = rng.uniform(0.03, 0.07)
    R = rng.uniform(0.15, 0.21)
    parts = []
    if rng.random() < 0.6:
        parts.append(rounded_cylinder(R, t, rng.uniform(0.005, 0.025), 32, base=(0, 0, H - t)))
    else:
        parts.append(rounded_box((2 * R, 2 * R, t), (0.03, 0.03, 0.01), 2, (0, 0, H - t / 2)))
    n = int(rng.choice([3, 4]))
    lr = rng.uniform(0.012, 0.022)
    top_r, foot_r = R * rng.uniform(0.55, 0.75), R * rng.uniform(0.8, 1.25)
    a0 = np.pi / 4 if n == 4 else np.pi / 2
    for k in range(n):
        a = a0 + 2 * np.pi * k / n
        d = np.array([np.cos(a), np.sin(a)])
        parts.append(cylinder_between((*(d * foot_r), 0.0), (*(d * top_r), H - t), lr, 10))
    if H > 0.55 and rng.random() < 0.7:  # foot ring touching the legs
        z = rng.uniform(0.22, 0.35)
        ring_r = foot_r + (top_r - foot_r) * z / (H - t)
        parts.append(torus(ring_r, lr * 0.6, 32, 8, (0, 0, z)))
    if rng.random() < 0.3:  # low back on two rods
        bh = rng.uniform(0.12, 0.25)
        for x in (-0.5 * R, 0.5 * R):
            parts.append(cylinder(0.009, bh, 8, (x, 0.75 * R, H)))
        parts.append(_curved_panel(1.5 * R, 0.08, 0.02, 0.04, 0.02, (0, 0.75 * R, H + bh)))
    return merge(parts)


def _tube_frame(rng) -> TriMesh:
    """Cantilever or sled chair: bent-tube frame carrying a seat and back."""
    W, D = rng.uniform(0.42, 0.52), rng.uniform(0.4, 0.5)
    H, t = rng.uniform(0.43, 0.48), rng.uniform(0.02, 0.06)
    Hb = rng.uniform(0.3, 0.5)
    tilt = rng.uniform(0.05, 0.22)
    rt = rng.uniform(0.009, 0.014)
    x = W / 2 - rt
    parts = [_seat(rng, W, D, H, t)]
    under = H - t - rt
    yb = D / 2 - 0.03
    top = (yb + Hb * np.sin(tilt), H + Hb * np.cos(tilt))
    sled = rng.random() < 0.45
    for sx in (-x, x):
        if sled:
            fy = -D / 2 + 0.04
            runner = [[sx, -D / 2 - 0.04, rt + 0.03], [sx, fy, rt], [sx, D / 2 + 0.02, rt]]
            parts.append(tube(rounded_path(np.array(runner), 0.05, 3), rt, 10))
            frame = [[sx, fy, 2 * rt], [sx, fy, under], [sx, yb, under], [sx, yb, 2 * rt]]
            parts.append(tube(rounded_path(np.array(frame), 0.04, 3), rt, 10))
            post = [[sx, yb + rt, under + rt], [sx, top[0] + rt, top[1]]]
            parts.append(tube(np.array(post), rt, 10))
        else:
            lean = rng.uniform(-0.02, 0.05)
            path = [[sx, top[0] + rt, top[1]], [sx, yb + rt, under], [sx, -D / 2 + 0.03, under],
                    [sx, -D / 2 - lean, rt], [sx, D / 2 - 0.02, rt]]
            parts.append(tube(rounded_path(np.array(path), 0.06, 4), rt, 10))
    bt = rng.uniform(0.015, 0.03)
    h0 = rng.uniform(0.08, 0.2)
    panel = _curved_panel(W, Hb - h0, bt, rng.uniform(0.0, 0.04), rng.uniform(0.005, 0.05), (0, 0, h0 + (Hb - h0) / 2))
    parts.append(_tilt(panel, tilt, (0, yb - bt / 2, H)))
    return merge(parts)


def _pedestal(rng) -> TriMesh:
    H, t = rng.uniform(0.42, 0.48), rng.uniform(0.04, 0.08)
    R = rng.uniform(0.22, 0.28)
    parts = [rounded_cylinder(R, t, rng.uniform(0.01, 0.03), 36, base=(0, 0, H - t))]
    parts += fp.pedestal(rng, H - t, rng.uniform(0.025, 0.045), rng.uniform(0.2, 0.28), rng.choice(["disc", "cone", "cross"]))
    bh = rng.uniform(0.3, 0.5)
    bt = rng.uniform(0.015, 0.03)
    tilt = rng.uniform(0.05, 0.25)
    panel = _curved_panel(2 * R * rng.uniform(0.8, 1.0), bh, bt, rng.uniform(0.06, 0.15), 0.05, (0, 0, bh / 2))
    parts.append(_tilt(panel, tilt, (0, R * 0.75, H)))
    return merge(parts)


def _armchair(rng) -> TriMesh:
    return upholstered(rng, 1, rng.uniform(0.48, 0.65), rng.uniform(0.7, 0.9), rng.uniform(0.75, 1.1))


_KINDS = {"dining": _dining, "office": _office, "armchair": _armchair, "stool": _stool,
          "tube_frame": _tube_frame, "pedestal": _pedestal}
_WEIGHTS = {"dining": 0.4, "office": 0.18, "armchair": 0.15, "stool": 0.07, "tube_frame": 0.12, "pedestal": 0.08}


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(list(_KINDS), p=list(_WEIGHTS.values()))
    return _KINDS[kind](rng)
