"""Watercraft: sailboat, motorboat, yacht, cargo ship, warship, submarine, canoe/kayak.

Hulls are lofts of cross-sections along y (bow at -Y): a superellipse bottom (round,
V or boxy) under vertical topsides, closed by a flat deck that rises towards the bow.
The bow is closed at the stem point, the stern by a flat transom.  Deck furniture is
placed on the deck height at its position so it neither floats nor sinks in.
"""
from __future__ import annotations

import numpy as np

from . import polygon as poly2d
from .airplane import lifting_surface
from .mesh import TriMesh, box, cylinder, cylinder_between, ellipsoid, extrude_in_plane, lathe, loft, merge, rounded_box, side_profile

_SPAN_TO_Z = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class Hull:
    """Parametric hull; t = 0 at the bow, 1 at the stern."""

    def __init__(self, L, B, depth, freeboard, bow_frac, stern_frac, transom, exponent, bow_exponent, sheer,
                 double_ended=False):
        self.L, self.B, self.D, self.F = L, B, depth, freeboard
        self.bow_frac, self.stern_frac, self.transom = bow_frac, stern_frac, transom
        self.n, self.n_bow, self.sheer = exponent, bow_exponent, sheer
        self.double_ended = double_ended

    def y(self, t):
        return -0.5 * self.L + np.asarray(t, float) * self.L

    def half_breadth(self, t):
        t = np.asarray(t, float)
        bow = np.clip(t / self.bow_frac, 0, 1) ** 0.6
        s = np.clip((t - (1 - self.stern_frac)) / self.stern_frac, 0, 1)
        if self.double_ended:
            stern = np.clip((1 - t) / self.stern_frac, 0, 1) ** 0.6
        else:
            stern = 1 - (1 - self.transom) * s ** 2
        return self.B * 0.5 * np.minimum(bow, stern)

    def keel(self, t):
        """Depth of the keel below the waterline (z = 0); rises towards the bow."""
        t = np.asarray(t, float)
        d = self.D * (0.35 + 0.65 * np.clip(t / self.bow_frac, 0, 1) ** 0.5)
        if self.double_ended:
            d = np.minimum(d, self.D * (0.35 + 0.65 * np.clip((1 - t) / self.stern_frac, 0, 1) ** 0.5))
        return d

    def deck(self, t):
        t = np.asarray(t, float)
        rise = self.sheer * (1 - np.clip(t / 0.5, 0, 1)) ** 2
        if self.double_ended:
            rise = rise + self.sheer * np.clip((t - 0.5) / 0.5, 0, 1) ** 2
        return self.F + rise

    def t_of(self, y):
        return (np.asarray(y, float) + 0.5 * self.L) / self.L

    def deck_at(self, y0, y1):
        """Lowest deck height over a y-range (place deck furniture there)."""
        return float(np.min(self.deck(self.t_of(np.linspace(y0, y1, 9)))))

    def mesh(self, stations: int = 26, k: int = 14) -> TriMesh:
        if self.double_ended:  # pointed at both ends, stations denser there
            t = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, stations + 2)[1:-1])
        else:  # denser towards the bow, last station is the transom
            t = np.linspace(0.0, 1.0, stations + 1)[1:] ** 1.4
        phi = np.linspace(0.0, -np.pi, k)
        rings = []
        for ti in t:
            b, d, h = self.half_breadth(ti), self.keel(ti), self.deck(ti)
            b = max(b, 0.004 * self.B)
            mix = np.clip(ti / self.bow_frac, 0, 1)
            if self.double_ended:
                mix = min(mix, np.clip((1 - ti) / self.stern_frac, 0, 1))
            e = 2.0 / (self.n_bow + (self.n - self.n_bow) * mix)
            c, s = np.cos(phi), np.sin(phi)
            x = b * np.sign(c) * np.abs(c) ** e
            z = -d * np.abs(s) ** e
            x[0], x[-1] = b, -b  # exact vertical topsides at the waterline
            ring = np.column_stack([np.concatenate([[b], x, [-b]]), np.full(k + 2, self.y(ti)),
                                    np.concatenate([[h], z, [h]])])
            rings.append(ring)
        rings = np.asarray(rings)
        stem = (0.0, self.y(0.0), 0.5 * (self.deck(0.0) - self.keel(0.0)))
        end = None
        if self.double_ended:
            end = (0.0, self.y(1.0), 0.5 * (self.deck(1.0) - self.keel(1.0)))
        return loft(rings, start=stem, end=end)


def _on_deck(hull: Hull, size, y: float, x: float = 0.0, radius=0.0, sink: float = 0.02) -> TriMesh:
    """Box-like deckhouse of full size (w, length, h) resting on the deck around y."""
    w, length, h = size
    z0 = hull.deck_at(y - length / 2, y + length / 2) - sink * h
    if radius > 0:
        return rounded_box((w, length, h), radius, 2, (x, y, z0 + h / 2))
    return box((w, length, h), (x, y, z0 + h / 2))


def _sail(points_yz, thickness=0.03) -> TriMesh:
    return side_profile(np.asarray(points_yz), thickness)


def _sailboat(rng) -> TriMesh:
    L = rng.uniform(6, 16)
    B = L * rng.uniform(0.28, 0.36)
    hull = Hull(L, B, L * 0.05, L * rng.uniform(0.05, 0.08), rng.uniform(0.35, 0.5), 0.4, rng.uniform(0.5, 0.8),
                rng.uniform(2.0, 3.0), 1.2, L * rng.uniform(0.01, 0.03))
    parts = [hull.mesh()]
    # keel fin and rudder under the hull
    kd = L * rng.uniform(0.12, 0.2)
    kc = L * rng.uniform(0.12, 0.2)
    ky = rng.uniform(-0.05, 0.05) * L
    z_keel = -hull.keel(hull.t_of(ky)) * 0.8
    st = [(0.0, ky - kc / 2, 0.0, kc), (kd, ky - kc / 2 + 0.3 * kc, 0.0, kc * 0.6)]
    parts.append(lifting_surface(st, 0.1).transformed(_SPAN_TO_Z).mirrored(2).translated((0, 0, z_keel)))
    # cabin trunk
    cl = L * rng.uniform(0.25, 0.4)
    cy = rng.uniform(-0.05, 0.1) * L
    ch = L * rng.uniform(0.03, 0.06)
    parts.append(_on_deck(hull, (B * 0.55, cl, ch), cy, radius=ch * 0.3))
    # mast, boom, sails
    mast_h = L * rng.uniform(0.85, 1.25)
    my = cy - cl / 2 - 0.02 * L
    deck_m = hull.deck_at(my, my)
    mr = L * 0.006
    parts.append(cylinder(mr, mast_h, 10, (0, my, deck_m - 0.01)))
    boom_z = deck_m + max(ch * 1.4, L * 0.08)
    boom_l = L * rng.uniform(0.35, 0.45)
    parts.append(cylinder_between((0, my + mr, boom_z), (0, my + boom_l, boom_z), mr * 0.8, 8))
    if rng.random() < 0.85:
        top = deck_m + mast_h * 0.97
        parts.append(_sail([[my + mr, boom_z + 2 * mr], [my + boom_l * 0.97, boom_z + 2 * mr], [my + mr, top]], 0.02))
        if rng.random() < 0.7:
            bow_y = hull.y(0.03)
            parts.append(_sail([[bow_y + 0.02 * L, hull.deck(0.05) + 0.1], [my - mr, deck_m + 0.15],
                                [my - mr, deck_m + 0.88 * mast_h]], 0.02))
    return merge(parts)


def _motorboat(rng) -> TriMesh:
    L = rng.uniform(5, 12)
    B = L * rng.uniform(0.3, 0.38)
    hull = Hull(L, B, L * 0.04, L * rng.uniform(0.06, 0.09), rng.uniform(0.4, 0.55), 0.15, rng.uniform(0.8, 0.95),
                rng.uniform(2.5, 4.0), 1.0, L * rng.uniform(0.01, 0.04))
    parts = [hull.mesh()]
    # console / cuddy cabin with a raked windscreen
    cl = L * rng.uniform(0.2, 0.35)
    cy = rng.uniform(-0.1, 0.1) * L
    ch = L * rng.uniform(0.05, 0.09)
    z0 = hull.deck_at(cy - cl / 2, cy + cl / 2) - 0.02
    prof = np.array([[cy - cl / 2, z0], [cy + cl / 2, z0], [cy + cl / 2, z0 + ch], [cy - cl / 2 + 0.45 * cl, z0 + ch]])
    parts.append(side_profile(prof, B * rng.uniform(0.5, 0.75), bevel=0.04 * ch / 0.5))
    if rng.random() < 0.5:  # T-top roof on poles
        rz = z0 + ch + L * rng.uniform(0.08, 0.12)
        rw, rl = B * 0.6, cl * 0.7
        for sx in (-0.4, 0.4):
            parts.append(cylinder(0.025, rz - z0 - ch, 8, (sx * rw, cy + cl * 0.25, z0 + ch)))
        parts.append(box((rw, rl, 0.05), (0, cy + cl * 0.15, rz + 0.025)))
    if rng.random() < 0.7:  # outboard engine on the transom
        ys = hull.y(1.0)
        eh = L * 0.09
        parts.append(rounded_box((0.35, 0.45, eh), 0.08, 2, (0, ys + 0.22, hull.deck(1.0) - 0.2 * eh + eh / 2)))
        parts.append(box((0.12, 0.18, hull.D + 0.3), (0, ys + 0.2, hull.deck(1.0) - 0.2 * eh - (hull.D + 0.3) / 2)))
    return merge(parts)


def _yacht(rng) -> TriMesh:
    L = rng.uniform(15, 45)
    B = L * rng.uniform(0.2, 0.26)
    hull = Hull(L, B, L * 0.05, L * rng.uniform(0.06, 0.09), rng.uniform(0.35, 0.5), 0.2, rng.uniform(0.75, 0.9),
                rng.uniform(2.0, 3.5), 1.1, L * rng.uniform(0.01, 0.03))
    parts = [hull.mesh()]
    levels = int(rng.integers(1, 4))
    y_front = rng.uniform(-0.2, -0.05) * L
    y_back = rng.uniform(0.3, 0.42) * L
    w = B * rng.uniform(0.7, 0.85)
    lh = L * rng.uniform(0.035, 0.05)
    z = hull.deck_at(y_front, y_back) - 0.05
    for _ in range(levels):
        outline = np.array([[y_front, 0.0], [y_back, 0.0], [y_back, lh], [y_front + 0.35 * lh / 0.5 * 0.4, lh]])
        m = side_profile(outline, w, bevel=min(0.2, 0.2 * lh)).translated((0, 0, z))
        parts.append(m)
        z += lh
        y_front += (y_back - y_front) * rng.uniform(0.12, 0.25)
        y_back -= (y_back - y_front) * rng.uniform(0.05, 0.25)
        w *= rng.uniform(0.8, 0.95)
    if rng.random() < 0.7:  # radar arch / mast
        parts.append(cylinder(0.08, L * 0.06, 8, (0, 0.5 * (y_front + y_back), z - 0.02)))
        parts.append(ellipsoid((0.3, 0.3, 0.15), (0, 0.5 * (y_front + y_back), z + L * 0.06 - 0.05), 12, 6))
    return merge(parts)


def _cargo(rng) -> TriMesh:
    L = rng.uniform(90, 220)
    B = L * rng.uniform(0.13, 0.17)
    hull = Hull(L, B, L * 0.06, L * rng.uniform(0.04, 0.06), rng.uniform(0.15, 0.25), 0.2, rng.uniform(0.6, 0.85),
                rng.uniform(5.0, 10.0), 2.0, L * rng.uniform(0.005, 0.015))
    parts = [hull.mesh(stations=30)]
    # bridge block near the stern
    bl, bh = L * rng.uniform(0.06, 0.1), L * rng.uniform(0.1, 0.15)
    by = L * rng.uniform(0.3, 0.38)
    parts.append(_on_deck(hull, (B * 0.9, bl, bh), by, sink=0.01))
    wing_z = hull.deck_at(by - bl / 2, by + bl / 2) - 0.01 * bh + 0.85 * bh
    for sx in (-1, 1):  # bridge wings
        parts.append(box((B * 0.1, bl * 0.4, bh * 0.08), (sx * B * 0.5, by - bl * 0.3, wing_z)))
    parts.append(rounded_box((B * 0.2, bl * 0.5, bh * 0.7), B * 0.05, 2, (0, by + bl * 0.8, hull.deck_at(by, by + bl) + bh * 0.33)))
    if rng.random() < 0.75:  # container stacks
        y0, y1 = hull.y(0.14), by - bl / 2 - 0.01 * L
        n_bays = int((y1 - y0) / (L * 0.045))
        bay = (y1 - y0) / n_bays
        n_rows = int(rng.integers(4, 8))
        cw = B * 0.85 / n_rows
        for i in range(n_bays):
            y = y0 + (i + 0.5) * bay
            t = hull.t_of(y)
            rows = max(1, int(min(n_rows, 2 * hull.half_breadth(t) * 0.9 / cw)))
            h = rng.integers(1, 5) * L * 0.012
            parts.append(_on_deck(hull, (rows * cw, bay * 0.92, h), y, sink=0.0))
    else:  # bulk carrier hatches
        for y in np.linspace(hull.y(0.18), by - bl, 6)[:-1]:
            parts.append(_on_deck(hull, (B * 0.6, L * 0.07, L * 0.012), y + L * 0.04, radius=L * 0.002))
    return merge(parts)


def _warship(rng) -> TriMesh:
    L = rng.uniform(80, 170)
    B = L * rng.uniform(0.1, 0.13)
    hull = Hull(L, B, L * 0.04, L * rng.uniform(0.045, 0.06), rng.uniform(0.35, 0.5), 0.2, rng.uniform(0.6, 0.8),
                rng.uniform(2.0, 3.0), 1.0, L * rng.uniform(0.01, 0.025))
    parts = [hull.mesh(stations=30)]
    # stepped superstructure amidships
    sy = rng.uniform(-0.12, 0.05) * L
    sl = L * rng.uniform(0.25, 0.35)
    sh = L * rng.uniform(0.03, 0.05)
    parts.append(_on_deck(hull, (B * 0.75, sl, sh), sy, sink=0.05))
    top = hull.deck_at(sy - sl / 2, sy + sl / 2) - 0.05 * sh + sh
    parts.append(box((B * 0.5, sl * 0.45, sh * 0.9), (0, sy - sl * 0.2, top + sh * 0.45 - 0.01)))
    mast_z = top + sh * 0.9
    parts.append(cylinder_between((0, sy - sl * 0.2, mast_z - 0.1), (0, sy - sl * 0.2, mast_z + L * 0.1),
                                                  L * 0.006, 8, r1=L * 0.002))
    parts.append(rounded_box((B * 0.25, sl * 0.15, sh * 1.2), B * 0.05, 2, (0, sy + sl * 0.25, top + sh * 0.6 - 0.01)))
    # gun turrets fore and aft
    for t, facing in ((0.2, -1), (0.82, 1)):
        if t > 0.5 and rng.random() < 0.4:
            continue
        y = hull.y(t)
        z = hull.deck_at(y, y)
        tr = B * rng.uniform(0.12, 0.18)
        parts.append(lathe([(tr, 0.0), (tr, tr * 0.5), (tr * 0.6, tr * 0.8), (0.0, tr * 0.8)], 16).translated((0, y, z - 0.05)))
        parts.append(cylinder_between((0, y + facing * tr * 0.5, z + tr * 0.4), (0, y + facing * tr * 3.2, z + tr * 0.55),
                                      tr * 0.12, 8))
    if rng.random() < 0.6:  # funnel
        parts.append(rounded_box((B * 0.2, sl * 0.12, sh * 1.3), B * 0.04, 2, (0, sy + sl * 0.05, top + sh * 0.65 - 0.01)))
    return merge(parts)


def _submarine(rng) -> TriMesh:
    L = rng.uniform(50, 120)
    R = L * rng.uniform(0.045, 0.065)
    z = np.linspace(0, 1, 24)
    nose, tail = rng.uniform(0.1, 0.18), rng.uniform(0.25, 0.35)
    r = np.minimum(np.sqrt(1 - (1 - np.clip(z / nose, 0, 1)) ** 2),
                   np.clip((1 - z) / tail, 0, 1) ** rng.uniform(0.7, 1.2))
    prof = np.column_stack([R * r, L * z])
    prof[0, 0] = prof[-1, 0] = 0.0
    parts = [lathe(prof, 24).rotated("x", -np.pi / 2).translated((0, -L / 2, 0))]  # nose at -Y
    # sail (conning tower)
    sl, sh = L * rng.uniform(0.08, 0.13), R * rng.uniform(1.0, 1.6)
    syy = -L * rng.uniform(0.15, 0.25)
    sail = lifting_surface([(0.0, syy, 0.0, sl), (sh, syy + 0.15 * sl, 0.0, sl * 0.8)], 0.22)
    parts.append(sail.transformed(_SPAN_TO_Z).translated((0, 0, R * 0.85)))
    fin_y = L / 2 - tail * L * 0.55
    fin_r = lambda y: R * np.clip((L / 2 - y) / (tail * L), 0, 1) ** 1.0  # noqa: E731
    fc = L * 0.06
    for ang in (0, np.pi / 2, np.pi, 3 * np.pi / 2):
        st = [(fin_r(fin_y + fc / 2) * 0.8, fin_y, 0.0, fc), (R * 1.3, fin_y + 0.3 * fc, 0.0, fc * 0.6)]
        parts.append(lifting_surface(st, 0.1).rotated("y", ang))
    if rng.random() < 0.6:  # sail planes
        for sx in (-1, 1):
            st = [(0.0, syy + 0.2 * sl, 0.0, sl * 0.35), (R * 0.9, syy + 0.25 * sl, 0.0, sl * 0.25)]
            plane = lifting_surface(st, 0.1).translated((0, 0, R * 0.85 + sh * 0.6))
            parts.append(plane if sx > 0 else plane.mirrored(0))
    return merge(parts)


def _canoe(rng) -> TriMesh:
    L = rng.uniform(3.5, 6)
    B = L * rng.uniform(0.12, 0.2)
    kayak = rng.random() < 0.5
    hull = Hull(L, B, L * 0.04, L * (0.035 if kayak else 0.06), 0.45, 0.45, 0.0, rng.uniform(1.8, 2.4), 1.5,
                L * rng.uniform(0.01, 0.04), double_ended=True)
    parts = [hull.mesh(stations=24)]
    if kayak:
        rim = poly2d.superellipse(B * 0.3, L * 0.12, 2.5, 24)
        parts.append(extrude_in_plane(rim, "xy", hull.deck(0.5) - 0.01, hull.deck(0.5) + 0.04, 0.01))
    else:
        for y in (-0.22 * L, 0.0, 0.22 * L):  # thwarts as low bars across the deck
            parts.append(_on_deck(hull, (2 * hull.half_breadth(hull.t_of(y)) * 0.95, 0.07, 0.03), y, sink=-0.1))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["sailboat", "motorboat", "yacht", "cargo", "warship", "submarine", "canoe"],
                      p=[0.22, 0.17, 0.15, 0.13, 0.15, 0.1, 0.08])
    return {"sailboat": _sailboat, "motorboat": _motorboat, "yacht": _yacht, "cargo": _cargo,
            "warship": _warship, "submarine": _submarine, "canoe": _canoe}[kind](rng)
