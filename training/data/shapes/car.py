"""Cars: sedan, hatchback, SUV, pickup, sports car, van.

The body is two extrusions of side profiles (y forward-back, z up): a wide lower body
with wheel-arch notches and a narrower, more strongly bevelled cabin (greenhouse) that
sits on the flat beltline.  Wheels are rounded cylinders with hub caps placed inside
the arch notches.  Front faces -Y.
"""
from __future__ import annotations

import numpy as np

from . import polygon as poly2d
from .mesh import TriMesh, box, cylinder, ellipsoid, merge, rounded_box, rounded_cylinder, side_profile

# (length, width, height, wheel radius, ground clearance, belt fraction)
_DIMS = {
    "sedan": ((4.3, 5.0), (1.72, 1.9), (1.38, 1.5), (0.3, 0.34), (0.13, 0.17), (0.58, 0.64)),
    "hatchback": ((3.6, 4.3), (1.65, 1.8), (1.42, 1.56), (0.28, 0.32), (0.13, 0.17), (0.56, 0.62)),
    "suv": ((4.3, 5.0), (1.8, 2.0), (1.65, 1.9), (0.35, 0.41), (0.19, 0.25), (0.58, 0.64)),
    "pickup": ((5.0, 5.8), (1.85, 2.0), (1.75, 1.95), (0.36, 0.42), (0.21, 0.27), (0.56, 0.62)),
    "sports": ((4.1, 4.7), (1.85, 2.0), (1.08, 1.26), (0.31, 0.35), (0.09, 0.12), (0.6, 0.68)),
    "van": ((4.6, 5.4), (1.85, 2.0), (1.85, 2.15), (0.32, 0.36), (0.15, 0.2), (0.42, 0.5)),
}


def _arch(center_y: float, wheel_r: float, arch_r: float, clear: float, n: int = 11) -> np.ndarray:
    """Wheel-arch notch along the bottom edge, traversed front to back over the wheel."""
    s = np.clip((clear - wheel_r) / arch_r, -0.95, 0.95)
    a0 = np.arcsin(s)  # below the horizontal where the arch meets the sill
    ang = np.linspace(np.pi - a0, a0, n)
    return np.stack([center_y + arch_r * np.cos(ang), wheel_r + arch_r * np.sin(ang)], 1)


def _lower_profile(kind, L, clear, belt, wheel_r, arch_r, y_fw, y_rw, y_ws, y_cab_end, hood_drop,
                   trunk_h, rng) -> np.ndarray:
    yf, yr = -L / 2, L / 2
    nose = min(rng.uniform(0.15, 0.35), y_fw - arch_r - yf - 0.06)
    pts = [[yf + 0.05, clear + 0.12], [yf + nose, clear]]
    front_arch = _arch(y_fw, wheel_r, arch_r, clear)
    rear_arch = _arch(y_rw, wheel_r, arch_r, clear)
    pts += front_arch.tolist() + rear_arch.tolist()
    tail = min(rng.uniform(0.12, 0.3), yr - y_rw - arch_r - 0.06)
    pts += [[yr - tail, clear], [yr - 0.03, clear + 0.12]]
    if kind == "sedan" or kind == "sports":
        pts += [[yr, belt + trunk_h - 0.12], [yr - 0.08, belt + trunk_h], [y_cab_end + 0.05, belt]]
    else:
        pts += [[yr, belt - 0.05], [yr - 0.03, belt]]
    hood_front = belt - hood_drop
    hood = y_ws - 0.05 - yf  # the van's hood is short, so stations scale with it
    pts += [[y_ws - 0.05, belt], [yf + 0.5 * hood, hood_front + 0.03], [yf + 0.12 * hood, hood_front],
            [yf, hood_front - 0.12]]
    return poly2d.drop_duplicates(np.asarray(pts, dtype=np.float64))


def _cabin_profile(y0, y1, y_roof0, y_roof1, z0, z1, bulge) -> np.ndarray:
    """Greenhouse: windshield base y0, rear base y1, roof from y_roof0 to y_roof1."""
    t = np.linspace(0.0, 1.0, 7)[1:-1]
    roof = np.stack([y_roof1 + (y_roof0 - y_roof1) * t, z1 + bulge * np.sin(np.pi * t)], 1)
    pts = np.concatenate([[[y0, z0], [y1, z0], [y_roof1, z1]], roof, [[y_roof0, z1]]])
    return pts


def _wheel(rng, x_out: float, y: float, r: float, tw: float, side: int) -> list[TriMesh]:
    d = (side, 0.0, 0.0)
    base = (x_out - side * tw, y, r)
    tyre = rounded_cylinder(r, tw, 0.3 * tw, 28, 3, base=base, direction=d)
    hub = cylinder(r * rng.uniform(0.5, 0.7), 0.012, 20, base=(x_out, y, r), direction=d)
    return [tyre, hub]


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(list(_DIMS), p=[0.28, 0.17, 0.2, 0.1, 0.15, 0.1])
    (L, W, H, wheel_r, clear, belt_f) = [rng.uniform(*r) for r in _DIMS[kind]]
    belt = H * belt_f
    arch_r = wheel_r + rng.uniform(0.02, 0.06)
    front_oh = rng.uniform(0.17, 0.23) * L
    rear_oh = rng.uniform(0.18, 0.25) * L
    y_fw, y_rw = -L / 2 + front_oh, L / 2 - rear_oh
    if kind == "van":
        y_fw, y_rw = -L / 2 + 0.16 * L, L / 2 - 0.17 * L

    # greenhouse stations
    if kind == "sedan":
        y_ws = y_fw + rng.uniform(0.2, 0.5)
        y_rb = y_rw - rng.uniform(0.0, 0.3)
        run_f, run_r = rng.uniform(0.65, 0.95), rng.uniform(0.5, 0.8)
    elif kind == "sports":
        y_ws = y_fw + rng.uniform(0.45, 0.8)
        y_rb = L / 2 - rng.uniform(0.15, 0.6)
        run_f, run_r = rng.uniform(0.75, 1.0), rng.uniform(0.9, 1.4)
    elif kind == "hatchback" or kind == "suv":
        y_ws = y_fw + rng.uniform(0.15, 0.45)
        y_rb = L / 2 - 0.05
        run_f, run_r = rng.uniform(0.55, 0.9), rng.uniform(0.1, 0.3)
    elif kind == "pickup":
        y_ws = y_fw + rng.uniform(0.2, 0.4)
        y_rb = y_ws + rng.uniform(1.4, 2.2)
        run_f, run_r = rng.uniform(0.5, 0.75), rng.uniform(0.02, 0.08)
    else:  # van
        y_ws = -L / 2 + rng.uniform(0.2, 0.5)
        y_rb = L / 2 - 0.03
        run_f, run_r = rng.uniform(0.5, 0.8), rng.uniform(0.02, 0.1)
    hood_drop = rng.uniform(0.05, 0.2) * (H - clear)
    trunk_h = rng.uniform(0.0, 0.08)
    y_cab_end = y_rb
    outline = _lower_profile(kind, L, clear, belt, wheel_r, arch_r, y_fw, y_rw, y_ws, y_cab_end, hood_drop,
                             trunk_h, rng)
    body_bevel = rng.uniform(0.03, 0.09)
    parts = [side_profile(outline, W, body_bevel)]
    cab_w = W * rng.uniform(0.8, 0.92)
    run_f = min(run_f, 0.45 * (y_rb - y_ws))
    run_r = min(run_r, 0.45 * (y_rb - y_ws))
    cabin = _cabin_profile(y_ws, y_rb, y_ws + run_f, y_rb - run_r, belt, H, rng.uniform(0.0, 0.04))
    cab_bevel = rng.uniform(0.04, 0.1) * (cab_w / 1.6)
    cab = side_profile(cabin, cab_w, cab_bevel)
    tumble = rng.uniform(0.1, 0.25)  # roof narrower than the beltline (keeps the end caps planar)
    cab.vertices[:, 0] *= 1.0 - tumble * np.clip((cab.vertices[:, 2] - belt) / (H - belt), 0.0, 1.0)
    parts.append(cab)

    if kind == "pickup":  # open bed: side walls and tailgate on the beltline
        bed_h = rng.uniform(0.12, 0.25)
        wall = 0.05
        y0, y1 = y_rb + 0.03, L / 2 - 0.03
        for sx in (-1, 1):
            parts.append(box((wall, y1 - y0, bed_h), (sx * (W / 2 - body_bevel - wall / 2), 0.5 * (y0 + y1), belt + bed_h / 2)))
        parts.append(box((W - 2 * body_bevel, wall, bed_h), (0, y1 - wall / 2, belt + bed_h / 2)))
    if kind == "sports" and y_rb < L / 2 - 0.35 and rng.random() < 0.6:  # rear wing on two posts
        wy = 0.5 * (y_rb + L / 2) + 0.05
        s_lid = np.clip((wy - (y_rb + 0.05)) / (L / 2 - 0.08 - (y_rb + 0.05)), 0.0, 1.0)
        trunk_top = belt + trunk_h * s_lid  # the lid slopes up from the cabin to the tail
        for sx in (-0.35, 0.35):
            parts.append(box((0.04, 0.08, 0.18), (sx * W, wy, trunk_top + 0.09 - 0.02)))
        parts.append(rounded_box((W * 0.9, 0.3, 0.03), (0.01, 0.1, 0.012), 2, (0, wy + 0.02, trunk_top + 0.175)))
    if rng.random() < 0.7:  # side mirrors, just touching the (bevelled, tumbled-in) cabin side
        x_cab = (cab_w / 2 - cab_bevel) * (1.0 - tumble * 0.08 / (H - belt))
        for sx in (-1, 1):
            parts.append(rounded_box((0.14, 0.08, 0.09), 0.03, 2, (sx * (x_cab + 0.06), y_ws + 0.15, belt + 0.08)))
    if kind in ("suv", "van") and rng.random() < 0.4:  # roof rails
        for sx in (-1, 1):
            parts.append(box((0.04, (y_rb - run_r) - (y_ws + run_f) - 0.2, 0.04),
                             (sx * cab_w * 0.33, 0.5 * (y_rb - run_r + y_ws + run_f), H + 0.02)))

    # head and tail lights: flattened ellipsoids half sunk into the nose and tail
    hood_front = belt - hood_drop
    lw, lh = rng.uniform(0.12, 0.25), rng.uniform(0.05, 0.1)
    for sx in (-1, 1):
        x = sx * (W / 2 - body_bevel - lw * 0.6)
        parts.append(ellipsoid((lw, 0.05, lh / 2), (x, -L / 2 + 0.02, hood_front - 0.1), 12, 6))
        z_tail = belt - 0.1 if kind not in ("sedan", "sports") else belt + trunk_h - 0.14
        parts.append(ellipsoid((lw * 0.8, 0.04, lh / 2), (x, L / 2 - 0.015, z_tail), 12, 6))
    tw = rng.uniform(0.18, 0.28)
    x_out = W / 2 - body_bevel * 0.5
    for y in (y_fw, y_rw):
        for side in (-1, 1):
            parts += _wheel(rng, side * x_out, y, wheel_r, tw, side)
    return merge(parts)
