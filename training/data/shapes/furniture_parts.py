"""Supports shared by chairs, tables, benches, sofas and cabinets.

Legs, stretchers, pedestals and the office-chair star base recur across furniture
categories; keeping them here keeps the category modules about proportions only.
Every support ends exactly at the underside height it is given, so it abuts the part
it carries instead of poking through it.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, box, cylinder, cylinder_between, frustum, lathe, rounded_box, rounded_cylinder, tube


def corner_positions(half_w: float, half_d: float) -> np.ndarray:
    """(x, y) of four corners, front-left first, counter-clockwise seen from above."""
    return np.array([[-half_w, -half_d], [half_w, -half_d], [half_w, half_d], [-half_w, half_d]])


def four_legs(rng: np.random.Generator, half_w: float, half_d: float, top_z: float,
              thickness: float, style: str | None = None, splay: float | None = None) -> tuple[list[TriMesh], np.ndarray]:
    """Four legs under a rectangle (leg centres at +-half_w, +-half_d).

    Styles: 'square' (straight box), 'round' (cylinder, maybe tapered), 'splayed'
    (round, feet pushed outward), 'tapered' (square tapering towards the floor).
    Returns the meshes and the (4, 3) foot points (for stretchers).
    """
    style = style or rng.choice(["square", "round", "splayed", "tapered"], p=[0.35, 0.3, 0.2, 0.15])
    meshes, feet = [], []
    taper = rng.uniform(0.55, 1.0)
    splay = rng.uniform(0.03, 0.09) * top_z if splay is None else splay
    for x, y in corner_positions(half_w, half_d):
        if style == "square":
            meshes.append(box((thickness, thickness, top_z), (x, y, 0.5 * top_z)))
            feet.append((x, y, 0.0))
        elif style == "tapered":
            sq = lathe([(0.5 * thickness * taper * np.sqrt(2), 0.0), (0.5 * thickness * np.sqrt(2), top_z)], 4)
            meshes.append(sq.rotated("z", np.pi / 4).translated((x, y, 0.0)))
            feet.append((x, y, 0.0))
        else:
            r = 0.5 * thickness
            if style == "splayed":
                foot = np.array([x, y]) + np.sign([x, y]) * splay
            else:
                foot = np.array([x, y])
            meshes.append(cylinder_between((foot[0], foot[1], 0.0), (x, y, top_z), r * taper, 14, r1=r))
            feet.append((foot[0], foot[1], 0.0))
    return meshes, np.asarray(feet, dtype=np.float64)


def leg_point(foot, top, z: float) -> np.ndarray:
    """Centre of a straight leg from foot to top at height z."""
    foot, top = np.asarray(foot, float), np.asarray(top, float)
    t = (z - foot[2]) / (top[2] - foot[2])
    return foot + t * (top - foot)


def stretchers(feet: np.ndarray, tops: np.ndarray, z: float, radius: float, leg_radius: float,
               pairs) -> list[TriMesh]:
    """Round rods between legs at height z, trimmed to end at the leg surfaces."""
    out = []
    for i, j in pairs:
        a, b = leg_point(feet[i], tops[i], z), leg_point(feet[j], tops[j], z)
        d = b - a
        length = np.linalg.norm(d)
        if length < 2.5 * leg_radius:
            continue
        u = d / length
        out.append(cylinder_between(a + u * 0.8 * leg_radius, b - u * 0.8 * leg_radius, radius, 10))
    return out


def h_stretcher(feet: np.ndarray, tops: np.ndarray, z: float, radius: float, leg_radius: float) -> list[TriMesh]:
    """H-shaped stretcher: a rod between the left legs, one between the right legs, and a
    centre rod joining their midpoints (ends sunk slightly into the side rods)."""
    out = stretchers(feet, tops, z, radius, leg_radius, [(0, 3), (1, 2)])
    mid_l = 0.5 * (leg_point(feet[0], tops[0], z) + leg_point(feet[3], tops[3], z))
    mid_r = 0.5 * (leg_point(feet[1], tops[1], z) + leg_point(feet[2], tops[2], z))
    d = (mid_r - mid_l) / np.linalg.norm(mid_r - mid_l)
    out.append(cylinder_between(mid_l + d * 0.5 * radius, mid_r - d * 0.5 * radius, 0.85 * radius, 8))
    return out


def pedestal(rng: np.random.Generator, top_z: float, column_r: float, base_r: float,
             style: str | None = None) -> list[TriMesh]:
    """Central column with a foot: 'disc' (flat round base), 'cone' (flared trumpet base)
    or 'cross' (four feet).  The column ends at top_z."""
    style = style or rng.choice(["disc", "cone", "cross"])
    if style == "disc":
        h = rng.uniform(0.015, 0.04)
        foot = rounded_cylinder(base_r, h, 0.4 * h, 32)
        col = cylinder(column_r, top_z - h, 20, (0, 0, h))
        return [foot, col]
    if style == "cone":
        t = np.linspace(0.0, 1.0, 7)
        flare_h = rng.uniform(0.2, 0.45) * top_z
        prof = [(base_r, 0.0)]
        prof += [(column_r + (base_r - column_r) * (1 - s) ** 2.5, 0.012 + s * flare_h) for s in t]
        prof += [(column_r, top_z)]
        return [lathe(prof, 28)]
    # cross: four feet (boxes) radiating from a short hub
    h = rng.uniform(0.03, 0.06)
    hub = cylinder(1.4 * column_r, h, 20)
    feet = [rounded_box((base_r, 0.9 * column_r * 2, h), 0.25 * h, 1,
                        (0.5 * base_r + 0.7 * column_r, 0, 0.5 * h)).rotated("z", a)
            for a in np.pi / 4 + np.arange(4) * np.pi / 2]
    col = cylinder(column_r, top_z - h, 20, (0, 0, h))
    return [hub, col] + feet


def star_base(rng: np.random.Generator, top_z: float, reach: float, n_spokes: int = 5) -> list[TriMesh]:
    """Office-chair base: spokes with casters, a hub and a gas column ending at top_z."""
    wheel_r = rng.uniform(0.022, 0.032)
    spoke_h = rng.uniform(0.025, 0.04)
    spoke_w = rng.uniform(0.035, 0.055)
    z0 = 2 * wheel_r + 0.012
    hub_r = rng.uniform(0.035, 0.05)
    parts = [cylinder(hub_r, spoke_h + 0.03, 20, (0, 0, z0))]
    droop = rng.uniform(0.0, 0.02)
    for k in range(n_spokes):
        a = 2 * np.pi * k / n_spokes + np.pi / 2
        spoke = rounded_box((reach, spoke_w, spoke_h), 0.3 * spoke_h, 1, (0.5 * reach + 0.6 * hub_r, 0, z0 + 0.5 * spoke_h))
        spoke = spoke.rotated("y", np.arctan2(droop, reach), about=(0, 0, z0))
        parts.append(spoke.rotated("z", a))
        end = np.array([np.cos(a), np.sin(a)]) * (reach + 0.6 * hub_r - 0.5 * spoke_w)
        fork_top = z0 - np.sin(np.arctan2(droop, reach)) * reach * 0.95
        parts.append(box((0.02, 0.02, fork_top - 2 * wheel_r + 0.004), (end[0], end[1], 0.5 * (fork_top + 2 * wheel_r - 0.004))))
        parts.append(cylinder(wheel_r, 0.024, 14, (end[0] - 0.012 * np.sin(a), end[1] + 0.012 * np.cos(a), wheel_r),
                              (np.sin(a), -np.cos(a), 0)))
    col_r = rng.uniform(0.018, 0.028)
    col_base = z0 + spoke_h + 0.03
    sleeve_top = col_base + rng.uniform(0.08, 0.16)
    parts.append(frustum(col_r * 1.5, col_r * 1.3, sleeve_top - col_base, 16, (0, 0, col_base)))
    parts.append(cylinder(col_r, top_z - sleeve_top, 16, (0, 0, sleeve_top)))
    return parts


def bar_path_legs(points_list, radius: float) -> list[TriMesh]:
    """Tubular frames (cantilever / sled chairs, metal benches) from polylines."""
    return [tube(p, radius, 10) for p in points_list]
