"""Airplanes: airliner, business jet, propeller plane, fighter, glider.

Fuselage is a loft of elliptic rings along y (nose at -Y) with a rounded or pointed
nose and an upswept tail.  Wings, tailplanes and fins are lofts of NACA-style airfoil
sections, mirrored for the left side; their roots are sunk slightly into the fuselage
surface.  Engines are lathed nacelles on pylons, props are spinner + blades.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, box, ellipsoid, frustum, lathe, loft, merge, rounded_box

_SPAN_TO_Z = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # local span axis x -> world z


def _airfoil(n: int, thickness: float) -> np.ndarray:
    """Closed symmetric NACA 00xx outline (chord 0..1 along u, thickness along v)."""
    x = 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n)))
    t = 5 * thickness * (0.2969 * np.sqrt(x) - 0.126 * x - 0.3516 * x ** 2 + 0.2843 * x ** 3 - 0.1015 * x ** 4)
    upper = np.stack([x[::-1], t[::-1]], 1)
    lower = np.stack([x[1:], -t[1:]], 1)
    return np.concatenate([upper, lower])


def lifting_surface(stations, thickness: float, n: int = 9) -> TriMesh:
    """Wing-like loft; each station is (x_span, y_leading_edge, z, chord) in a frame with
    span along +x, chord along +y (backwards) and thickness along z."""
    foil = _airfoil(n, thickness)
    rings = []
    for x, y_le, z, chord in stations:
        rings.append(np.column_stack([np.full(len(foil), x), y_le + chord * foil[:, 0], z + chord * foil[:, 1]]))
    return loft(np.asarray(rings))


class Fuselage:
    """Radius profile of the fuselage, so wings and engines can find its surface."""

    def __init__(self, rng, length, radius, nose_frac, tail_frac, pointed, upsweep, squash):
        self.L, self.R = length, radius
        self.nose_frac, self.tail_frac = nose_frac, tail_frac
        self.pointed, self.upsweep, self.squash = pointed, upsweep, squash
        self.tail_r = rng.uniform(0.08, 0.2)

    def y(self, t):
        return -0.5 * self.L + t * self.L

    def scale(self, t):
        t = np.asarray(t, dtype=np.float64)
        s_n = np.clip(t / self.nose_frac, 0, 1)
        nose = s_n ** 0.75 if self.pointed else np.sqrt(1 - (1 - s_n) ** 2)
        s_t = np.clip((1 - t) / self.tail_frac, 0, 1)
        tail = self.tail_r + (1 - self.tail_r) * np.sqrt(1 - (1 - s_t) ** 2) ** 0.8
        return np.minimum(nose, tail)

    def center_z(self, t):
        s = np.clip((np.asarray(t, float) - (1 - self.tail_frac)) / self.tail_frac, 0, 1)
        return self.R * self.upsweep * s ** 1.5

    def half_width(self, t, z):
        """Surface x at height z (relative to the axis) for station t."""
        r = self.R * self.scale(t)
        rz = r * self.squash
        dz = np.clip((z - self.center_z(t)) / max(rz, 1e-9), -0.98, 0.98)
        return r * np.sqrt(1 - dz * dz)

    def top(self, t):
        return self.center_z(t) + self.R * self.scale(t) * self.squash

    def mesh(self, stations: int = 28, segments: int = 20) -> TriMesh:
        t = np.linspace(0.0, 1.0, stations + 2)[1:-1]
        t = 0.5 - 0.5 * np.cos(np.pi * t)  # denser at nose and tail
        a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
        r = self.R * self.scale(t)
        rings = np.stack([np.outer(r, np.cos(a)), np.repeat(self.y(t)[:, None], segments, 1),
                          self.center_z(t)[:, None] + np.outer(r * self.squash, np.sin(a))], -1)
        return loft(rings, start=(0, self.y(0.0), self.center_z(0.0)), end=(0, self.y(1.0), self.center_z(1.0)))


def _wing_pair(fus: Fuselage, t_root, z_rel, root_chord, tip_chord, semi_span, sweep, dihedral, thickness,
               crank=None) -> tuple[list[TriMesh], callable]:
    """Right and left wing; returns meshes and a function x -> (y_le, z_center, chord)."""
    y_le0 = fus.y(t_root)
    z0 = fus.center_z(t_root + root_chord / fus.L * 0.5) + z_rel
    x0 = 0.8 * fus.half_width(t_root + root_chord / fus.L * 0.5, z0)
    tan_sw, tan_di = np.tan(sweep), np.tan(dihedral)

    def at(x):
        s = np.clip((x - x0) / semi_span, 0, 1)
        chord = root_chord + (tip_chord - root_chord) * s
        if crank is not None:  # extra chord near the root (delta strakes / inboard trailing-edge kink)
            chord = chord + crank * root_chord * np.clip(1 - s / 0.35, 0, 1)
        return y_le0 + (x - x0) * tan_sw, z0 + (x - x0) * tan_di, chord

    xs = x0 + semi_span * (np.array([0.0, 0.35, 1.0]) if crank is not None else np.array([0.0, 1.0]))
    stations = [(x, *at(x)) for x in xs]
    w = lifting_surface(stations, thickness)
    return [w, w.mirrored(0)], at


def _fin(fus: Fuselage, t_root, root_chord, tip_chord, height, sweep, thickness, x=0.0, cant=0.0) -> TriMesh:
    """Vertical tail standing on the fuselage top (built span-along-x, then turned up)."""
    z0 = fus.top(min(t_root + 0.5 * root_chord / fus.L, 0.999)) - 0.25 * fus.R * fus.scale(t_root)
    y0 = fus.y(t_root)
    st = [(0.0, y0, 0.0, root_chord), (height, y0 + height * np.tan(sweep), 0.0, tip_chord)]
    fin = lifting_surface(st, thickness).transformed(_SPAN_TO_Z).translated((0, 0, z0))
    if cant:
        fin = fin.rotated("y", cant, about=(0, 0, z0))
    return fin.translated((x, 0, 0))


def _nacelle(length, radius, center, segments=18) -> TriMesh:
    """Jet engine pod along y: inlet lip, bulge, tapering exhaust."""
    prof = [(0.0, 0.0), (radius * 0.85, 0.0), (radius, 0.12 * length), (radius, 0.6 * length),
            (radius * 0.65, length), (0.0, length)]
    return lathe(prof, segments).rotated("x", -np.pi / 2).translated(center)


def _propeller(rng, center, radius, n_blades, direction_y=-1) -> list[TriMesh]:
    """Spinner cone plus flat blades in the x-z plane, facing -Y."""
    cy = center[1]
    sp_len = radius * rng.uniform(0.25, 0.4)
    sp_r = radius * rng.uniform(0.12, 0.2)
    spinner = frustum(sp_r, 0.0, sp_len, 16, center, (0, direction_y, 0))
    parts = [spinner]
    chord = radius * rng.uniform(0.12, 0.2)
    for k in range(n_blades):
        a = 2 * np.pi * k / n_blades + rng.uniform(0, np.pi)
        blade = rounded_box((radius - 0.5 * sp_r, chord * 0.25, chord), (0.1 * radius, 0.1 * chord, 0.45 * chord), 2,
                            (0.5 * (radius + 0.5 * sp_r), 0, 0))
        blade = blade.rotated("x", 0.35).rotated("y", a)
        parts.append(blade.translated((center[0], cy + direction_y * 0.3 * sp_len, center[2])))
    return parts


def _airliner(rng, bizjet=False) -> TriMesh:
    L = rng.uniform(25, 65) if not bizjet else rng.uniform(14, 25)
    R = L * rng.uniform(0.04, 0.06) if not bizjet else L * rng.uniform(0.045, 0.06)
    fus = Fuselage(rng, L, R, rng.uniform(0.08, 0.14), rng.uniform(0.25, 0.33), False,
                   rng.uniform(0.3, 0.6), rng.uniform(0.95, 1.1))
    parts = [fus.mesh()]
    span = L * rng.uniform(0.85, 1.15)
    root = L * rng.uniform(0.14, 0.2)
    sweep = np.radians(rng.uniform(20, 38))
    wing_t = rng.uniform(0.5, 0.55)
    low = rng.random() < 0.85
    z_rel = -0.55 * R if low else 0.65 * R
    dihed = np.radians(rng.uniform(3, 7) if low else rng.uniform(-3, 1))
    wings, wing_at = _wing_pair(fus, wing_t - 0.5 * root / L, z_rel, root, root * rng.uniform(0.2, 0.35),
                                span / 2 - R, sweep, dihed, rng.uniform(0.1, 0.14), crank=rng.uniform(0.0, 0.4))
    parts += wings
    t_tail = True if bizjet and rng.random() < 0.6 else rng.random() < 0.15
    fin_h = R * rng.uniform(2.0, 3.2)
    fin_root = L * rng.uniform(0.13, 0.2)
    fin_sweep = np.radians(rng.uniform(30, 50))
    t_fin = 1 - fin_root / L - 0.02
    parts.append(_fin(fus, t_fin, fin_root, fin_root * rng.uniform(0.35, 0.6), fin_h, fin_sweep, 0.12))
    h_span = span * rng.uniform(0.15, 0.22)
    h_root = fin_root * rng.uniform(0.55, 0.8)
    if t_tail:
        z_top = fus.top(t_fin + 0.5 * fin_root / L) - 0.25 * R + fin_h
        y_le = fus.y(t_fin) + fin_h * np.tan(fin_sweep)
        st = [(0.0, y_le, z_top, h_root * 0.7), (h_span, y_le + h_span * np.tan(fin_sweep * 0.8), z_top, h_root * 0.35)]
        tp = lifting_surface(st, 0.1)
        parts += [tp, tp.mirrored(0)]
    else:
        tw, _ = _wing_pair(fus, 1 - h_root / L - 0.04, 0.0, h_root, h_root * 0.4, h_span - fus.R * 0.3,
                           fin_sweep * 0.85, np.radians(rng.uniform(0, 7)), 0.1)
        parts += tw
    if bizjet:  # engines on the rear fuselage sides
        nl, nr = L * rng.uniform(0.13, 0.18), R * rng.uniform(0.45, 0.6)
        t_e = rng.uniform(0.68, 0.74)
        z_e = fus.center_z(t_e) + 0.3 * R
        x_e = fus.half_width(t_e, z_e) + nr + 0.15 * R
        for sx in (-1, 1):
            parts.append(_nacelle(nl, nr, (sx * x_e, fus.y(t_e), z_e)))
            parts.append(box((x_e - nr * 0.8 - fus.half_width(t_e, z_e) * 0.8, nl * 0.4, nr * 0.4),
                             (sx * 0.5 * (x_e - nr * 0.8 + fus.half_width(t_e, z_e) * 0.8), fus.y(t_e) + nl * 0.55, z_e)))
        return merge(parts)
    n_eng = 2 if rng.random() < 0.75 else 4
    nl = L * rng.uniform(0.08, 0.12)
    nr = R * rng.uniform(0.38, 0.6)
    xs = [span / 2 * rng.uniform(0.3, 0.38)] if n_eng == 2 else [span / 2 * 0.3, span / 2 * 0.55]
    for x in xs:
        y_le, z_c, chord = wing_at(x)
        z_under = z_c - 0.06 * chord
        gap = nr * rng.uniform(0.25, 0.5)
        zc = z_under - gap - nr
        yc = y_le - 0.55 * nl
        for sx in (-1, 1):
            parts.append(_nacelle(nl, nr, (sx * x, yc, zc)))
            parts.append(box((nr * 0.3, nl * 0.7, gap + 0.5 * nr + 0.08 * chord),
                             (sx * x, yc + 0.55 * nl, zc + 0.5 * nr + 0.5 * (gap + 0.5 * nr) + 0.02 * chord)))
    return merge(parts)


def _prop_plane(rng) -> TriMesh:
    L = rng.uniform(7, 16)
    R = L * rng.uniform(0.05, 0.07)
    fus = Fuselage(rng, L, R, rng.uniform(0.12, 0.2), rng.uniform(0.35, 0.45), False,
                   rng.uniform(0.2, 0.5), rng.uniform(1.0, 1.2))
    parts = [fus.mesh()]
    span = L * rng.uniform(1.1, 1.5)
    chord = span * rng.uniform(0.1, 0.15)
    high = rng.random() < 0.45
    wings, wing_at = _wing_pair(fus, 0.25, 0.8 * R if high else -0.6 * R, chord, chord * rng.uniform(0.5, 1.0),
                                span / 2 - R, np.radians(rng.uniform(-2, 5)), np.radians(rng.uniform(0, 6)),
                                rng.uniform(0.12, 0.16))
    parts += wings
    fin_root = L * rng.uniform(0.12, 0.18)
    parts.append(_fin(fus, 1 - fin_root / L - 0.01, fin_root, fin_root * 0.5, R * rng.uniform(2.0, 3.0),
                      np.radians(rng.uniform(20, 40)), 0.12))
    h_root = fin_root * 0.8
    tw, _ = _wing_pair(fus, 1 - h_root / L - 0.02, 0.0, h_root, h_root * 0.6, span * 0.18,
                       np.radians(rng.uniform(0, 15)), 0.0, 0.1)
    parts += tw
    twin = rng.random() < 0.4
    if twin:  # engines on the wings
        x = span / 2 * rng.uniform(0.28, 0.36)
        y_le, z_c, ch = wing_at(x)
        nl, nr = ch * rng.uniform(1.2, 1.6), R * rng.uniform(0.35, 0.5)
        for sx in (-1, 1):
            parts.append(_nacelle(nl, nr, (sx * x, y_le - 0.35 * nl, z_c)))
            parts += _propeller(rng, (sx * x, y_le - 0.35 * nl, z_c), span * rng.uniform(0.1, 0.13), int(rng.integers(2, 5)))
    else:
        parts += _propeller(rng, (0, fus.y(0.0) + 0.02 * R, 0.0), R * rng.uniform(2.2, 3.0), int(rng.integers(2, 5)))
    if rng.random() < 0.6:  # cockpit glazing hump
        t = 0.2
        parts.append(ellipsoid((0.75 * R, 0.12 * L, 0.45 * R), (0, fus.y(t + 0.06), fus.top(t) - 0.15 * R), 16, 8))
    return merge(parts)


def _fighter(rng) -> TriMesh:
    L = rng.uniform(14, 21)
    R = L * rng.uniform(0.045, 0.06)
    fus = Fuselage(rng, L, R, rng.uniform(0.28, 0.38), rng.uniform(0.12, 0.2), True,
                   rng.uniform(0.0, 0.2), rng.uniform(0.75, 0.95))
    fus.tail_r = rng.uniform(0.55, 0.8)  # open jet exhaust, not a tapered tail
    parts = [fus.mesh()]
    delta = rng.random() < 0.45
    semi = L * rng.uniform(0.28, 0.36)
    root = L * (rng.uniform(0.4, 0.55) if delta else rng.uniform(0.25, 0.35))
    tip = root * (rng.uniform(0.05, 0.12) if delta else rng.uniform(0.2, 0.35))
    sweep = np.arctan((root - tip) / semi * rng.uniform(0.8, 1.0)) if delta else np.radians(rng.uniform(30, 45))
    t_root = 1 - root / L - rng.uniform(0.03, 0.1)
    wings, _ = _wing_pair(fus, t_root, 0.0, root, tip, semi - R, sweep, np.radians(rng.uniform(-5, 0)),
                          rng.uniform(0.04, 0.06), crank=rng.uniform(0.1, 0.4) if rng.random() < 0.5 else None)
    parts += wings
    fin_root = L * rng.uniform(0.16, 0.22)
    fin_h = R * rng.uniform(2.0, 3.0)
    fin_sweep = np.radians(rng.uniform(35, 55))
    if rng.random() < 0.5:  # twin canted fins
        xf = 0.55 * R
        for sx in (-1, 1):
            parts.append(_fin(fus, 1 - fin_root / L - 0.02, fin_root, fin_root * 0.4, fin_h, fin_sweep, 0.05,
                              sx * xf, -sx * np.radians(rng.uniform(10, 25))))
    else:
        parts.append(_fin(fus, 1 - fin_root / L - 0.02, fin_root, fin_root * 0.35, fin_h * 1.2, fin_sweep, 0.05))
    if not delta or rng.random() < 0.3:
        h_root = fin_root * 0.9
        tw, _ = _wing_pair(fus, 1 - h_root / L - 0.005, 0.0, h_root, h_root * 0.3, semi * 0.45,
                           np.radians(40), np.radians(-3), 0.04)
        parts += tw
    # canopy bubble and side intakes
    tc = rng.uniform(0.17, 0.25)
    parts.append(ellipsoid((0.55 * R, 0.11 * L, 0.6 * R), (0, fus.y(tc), fus.top(tc) - 0.2 * R), 16, 8))
    if rng.random() < 0.8:
        ti = tc + 0.08
        il = L * rng.uniform(0.2, 0.3)
        for sx in (-1, 1):
            x = fus.half_width(ti + 0.1, 0.0) * 0.85
            parts.append(rounded_box((0.7 * R, il, 1.1 * R), (0.1 * R, 0.05 * il, 0.2 * R), 2,
                                     (sx * (x + 0.3 * R), fus.y(ti) + 0.5 * il, -0.15 * R)))
    return merge(parts)


def _glider(rng) -> TriMesh:
    L = rng.uniform(6.5, 9)
    R = L * rng.uniform(0.045, 0.06)
    fus = Fuselage(rng, L, R, rng.uniform(0.12, 0.2), rng.uniform(0.55, 0.65), False,
                   rng.uniform(0.3, 0.6), rng.uniform(1.1, 1.3))
    fus.tail_r = rng.uniform(0.2, 0.3)
    parts = [fus.mesh()]
    semi = L * rng.uniform(0.9, 1.2)
    chord = semi * rng.uniform(0.06, 0.09)
    wings, _ = _wing_pair(fus, 0.3, rng.uniform(0.2, 0.7) * R, chord, chord * rng.uniform(0.35, 0.5), semi,
                          np.radians(rng.uniform(-1, 3)), np.radians(rng.uniform(1, 4)), 0.13)
    parts += wings
    fin_root = L * 0.13
    fin_h = L * rng.uniform(0.13, 0.18)
    fin_sweep = np.radians(rng.uniform(10, 30))
    t_fin = 1 - fin_root / L - 0.01
    parts.append(_fin(fus, t_fin, fin_root, fin_root * 0.6, fin_h, fin_sweep, 0.12))
    z_top = fus.top(t_fin + 0.5 * fin_root / L) - 0.25 * R * fus.scale(t_fin) + fin_h
    y_le = fus.y(t_fin) + fin_h * np.tan(fin_sweep)
    h = L * rng.uniform(0.15, 0.2)
    st = [(0.0, y_le, z_top, fin_root * 0.55), (h, y_le + 0.05 * h, z_top, fin_root * 0.3)]
    tp = lifting_surface(st, 0.1)
    parts += [tp, tp.mirrored(0)]
    parts.append(ellipsoid((0.8 * R, 0.16 * L, 0.6 * R), (0, fus.y(0.2), fus.top(0.2) - 0.3 * R), 16, 8))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["airliner", "bizjet", "prop", "fighter", "glider"], p=[0.35, 0.12, 0.2, 0.23, 0.1])
    if kind == "airliner":
        return _airliner(rng)
    if kind == "bizjet":
        return _airliner(rng, bizjet=True)
    return {"prop": _prop_plane, "fighter": _fighter, "glider": _glider}[kind](rng)
