"""Loudspeakers: bookshelf, tower, centre channel, subwoofer, PA wedge and cylindrical
(smart) speakers.

Drivers are lathed shallow solids (frame ring, cone, dust cap) sitting on the front
face (-Y), arranged per type; bass ports are tori; towers stand on feet or a plinth,
bookshelf speakers sometimes on a pedestal stand.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, box, cylinder, lathe, merge, rounded_box, rounded_cylinder, side_profile, torus

_OUT = (0.0, -1.0, 0.0)


def driver(R: float, depth: float, center, dome: bool = False, segments: int = 24) -> TriMesh:
    """Woofer (cone + dust cap) or tweeter (dome) on a face, protruding along -Y by `depth`."""
    a = np.linspace(0.0, 0.5 * np.pi, 5)
    if dome:
        prof = [(0.0, 0.0), (R, 0.0), (R, 0.4 * depth), (0.75 * R, 0.4 * depth)]
        prof += [(0.7 * R * np.cos(t), 0.4 * depth + 0.6 * depth * np.sin(t)) for t in a[1:]]
    else:
        prof = [(0.0, 0.0), (R, 0.0), (R, depth), (0.86 * R, depth), (0.3 * R, 0.3 * depth)]
        prof += [(0.28 * R * np.cos(t), 0.3 * depth + 0.35 * depth * np.sin(t)) for t in a[1:]]
    prof[-1] = (0.0, prof[-1][1])
    m = lathe(np.asarray(prof), segments)
    return m.transformed(np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]), center)  # +z -> -y


def _front_drivers(rng, W, H, z0, y_face, layout: str) -> list[TriMesh]:
    parts = []
    dz = 0.006
    if layout == "vertical":  # woofers below, tweeter on top
        n_w = int(rng.integers(1, 4)) if H > 0.6 else 1
        Rw = min(0.42 * W, 0.22 * H / n_w * 2.0)
        Rt = min(0.3 * Rw, 0.025)
        zt = z0 + H - max(0.08 * H, 2 * Rt)
        parts.append(driver(Rt * 1.6, dz * 0.8, (0, y_face, zt), dome=True))
        top = zt - 2.2 * Rt
        zs = [top - Rw - i * (2.1 * Rw) for i in range(n_w)]
        for z in zs:
            if z - Rw > z0 + 0.02:
                parts.append(driver(Rw, dz * 2, (0, y_face, z)))
        if rng.random() < 0.4 and zs[-1] - 2.2 * Rw - 0.04 > z0:
            pr = rng.uniform(0.015, 0.03)
            parts.append(torus(pr, 0.006, 20, 8, (0, y_face, zs[-1] - Rw - pr - 0.04), (0, 1, 0)))
    elif layout == "horizontal":  # centre channel: woofer, tweeter, woofer
        Rw = 0.38 * H
        parts.append(driver(0.35 * Rw, dz * 0.8, (0, y_face, z0 + H / 2), dome=True))
        for sx in (-1, 1):
            parts.append(driver(Rw, dz * 2, (sx * (0.45 * Rw + Rw + 0.01), y_face, z0 + H / 2)))
    else:  # single big driver
        R = 0.4 * min(W, H)
        parts.append(driver(R, dz * 3, (0, y_face, z0 + H / 2)))
    return parts


def _box_speaker(rng, kind: str) -> TriMesh:
    W, H, D = {
        "bookshelf": (rng.uniform(0.14, 0.25), rng.uniform(0.24, 0.4), rng.uniform(0.18, 0.3)),
        "tower": (rng.uniform(0.17, 0.28), rng.uniform(0.8, 1.2), rng.uniform(0.22, 0.35)),
        "center": (rng.uniform(0.4, 0.6), rng.uniform(0.14, 0.2), rng.uniform(0.18, 0.28)),
        "sub": (rng.uniform(0.28, 0.45), 0.0, rng.uniform(0.28, 0.45)),
    }[kind]
    if kind == "sub":
        H = W * rng.uniform(0.9, 1.15)
    parts = []
    z0 = 0.0
    if kind == "tower":
        r = rng.random()
        if r < 0.4:  # plinth
            z0 = rng.uniform(0.02, 0.05)
            parts.append(rounded_box((W * 1.3, D * 1.1, z0), 0.006, 1, (0, 0, z0 / 2)))
        elif r < 0.8:  # spikes / feet
            z0 = rng.uniform(0.02, 0.04)
            for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                parts.append(cylinder(0.012, z0, 10, (x * (W / 2 - 0.02), y * (D / 2 - 0.02), 0)))
    elif kind == "bookshelf" and rng.random() < 0.25:  # pedestal stand
        sh = rng.uniform(0.5, 0.7)
        parts.append(box((W * 1.4, D * 1.2, 0.02), (0, 0, 0.01)))
        parts.append(box((0.06, 0.06, sh - 0.04), (0, 0, 0.02 + (sh - 0.04) / 2)))
        parts.append(box((W * 0.9, D * 0.8, 0.02), (0, 0, sh - 0.01)))
        z0 = sh
    elif kind == "sub" and rng.random() < 0.5:
        z0 = 0.03
        for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            parts.append(rounded_cylinder(0.025, z0, 0.008, 12, 2, base=(x * (W / 2 - 0.04), y * (D / 2 - 0.04), 0)))
    r = rng.uniform(0.003, 0.04) if rng.random() < 0.8 else rng.uniform(0.05, 0.08)
    r = min(r, 0.3 * min(W, D))
    parts.append(rounded_box((W, D, H), r, 2, (0, 0, z0 + H / 2)))
    y_face = -D / 2
    if rng.random() < 0.2 and kind != "sub":  # grille cover hides the drivers
        parts.append(rounded_box((W - 2 * r - 0.004, 0.012, H - 2 * r - 0.004), 0.004, 1, (0, y_face - 0.006, z0 + H / 2)))
        return merge(parts)
    layout = {"bookshelf": "vertical", "tower": "vertical", "center": "horizontal", "sub": "single"}[kind]
    parts += _front_drivers(rng, W, H, z0, y_face, layout)
    return merge(parts)


def _pa_wedge(rng) -> TriMesh:
    """Trapezoid PA cabinet standing upright with a handle on top."""
    W, H, D = rng.uniform(0.35, 0.55), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.45)
    back = D * rng.uniform(0.55, 0.8)
    outline = np.array([[-D / 2, 0.0], [-D / 2 + back, 0.0], [D / 2, 0.1 * H], [D / 2, 0.9 * H],
                        [-D / 2 + back, H], [-D / 2, H]])
    parts = [side_profile(outline, W, bevel=0.01)]
    parts.append(rounded_box((W * 0.35, 0.03, 0.03), 0.01, 2, (0, -D / 2 + back * 0.5, H + 0.015)))
    R = 0.4 * W
    parts.append(driver(R, 0.018, (0, -D / 2, 0.35 * H)))
    parts.append(box((W * 0.35, 0.02, 0.12 * H), (0, -D / 2 - 0.01, 0.78 * H)))  # horn tweeter plate
    return merge(parts)


def _cylindrical(rng) -> TriMesh:
    """Smart speaker / portable: lathed body with a top ring, or a lying capsule."""
    R = rng.uniform(0.05, 0.1)
    H = R * rng.uniform(1.2, 3.0)
    edge = R * rng.uniform(0.1, 0.6)
    if rng.random() < 0.7:
        parts = [rounded_cylinder(R, H, edge, 32, 4)]
        parts.append(torus(min(0.6 * R, 0.8 * (R - edge)), 0.004, 24, 6, (0, 0, H)))  # control ring on the flat top
        return merge(parts)
    L = R * rng.uniform(2.5, 4.0)
    body = rounded_cylinder(R, L, R * 0.3, 28, 3, base=(-L / 2, 0, R), direction=(1, 0, 0))
    parts = [body]
    for sx in (-1, 1):
        parts.append(driver(R * 0.55, 0.17 * R + 0.006, (sx * L / 4, -0.83 * R, R)))  # base sunk into the curve
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["bookshelf", "tower", "center", "sub", "pa", "cylinder"], p=[0.32, 0.25, 0.1, 0.13, 0.1, 0.1])
    if kind == "pa":
        return _pa_wedge(rng)
    if kind == "cylinder":
        return _cylindrical(rng)
    return _box_speaker(rng, kind)
