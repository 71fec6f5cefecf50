"""Cabinets: sideboards, dressers, wardrobes, nightstands, file cabinets, bookcases.

A carcass (solid box or open board construction) stands on a plinth, legs or feet;
its front is divided into columns of drawers and doors, drawn as thin fronts proud of
the carcass (optionally with a raised panel) plus knobs or bar handles.
"""
from __future__ import annotations

import numpy as np

from . import furniture_parts as fp
from .mesh import TriMesh, box, merge, rounded_box, rounded_cylinder


def _handle(rng, style: str, x: float, y_face: float, z: float, horizontal: bool, size: float) -> list[TriMesh]:
    """Knob or bar handle fixed to a front whose face is at y_face (facing -Y)."""
    if style == "knob":
        r = rng.uniform(0.01, 0.018)
        return [rounded_cylinder(r, 0.025, 0.006, 12, 2, base=(x, y_face, z), direction=(0, -1, 0))]
    if style == "bar":
        L = min(size, 0.18)
        d = 0.022
        bar = (L, 0.012, 0.012) if horizontal else (0.012, 0.012, L)
        out = [box(bar, (x, y_face - d, z))]
        for s in (-0.4, 0.4):
            off = (s * L, 0, 0) if horizontal else (0, 0, s * L)
            out.append(box((0.01, d - 0.006, 0.01), (x + off[0], y_face - 0.5 * (d - 0.006), z + off[2])))
        return out
    # recessed-pull look: a flat plate slightly proud of the front
    L = min(size, 0.12)
    return [box((L, 0.006, 0.02) if horizontal else (0.02, 0.006, L), (x, y_face - 0.003, z))]


def _front_panel(rng, x0, x1, z0, z1, y_face, thickness, raised: bool) -> list[TriMesh]:
    """Door or drawer front covering [x0,x1] x [z0,z1] on the carcass face y_face."""
    out = [box((x1 - x0, thickness, z1 - z0), (0.5 * (x0 + x1), y_face - thickness / 2, 0.5 * (z0 + z1)))]
    if raised and min(x1 - x0, z1 - z0) > 0.12:
        m = min(0.06, 0.18 * min(x1 - x0, z1 - z0))
        out.append(box((x1 - x0 - 2 * m, 0.008, z1 - z0 - 2 * m),
                       (0.5 * (x0 + x1), y_face - thickness - 0.004, 0.5 * (z0 + z1))))
    return out


def _closed_front(rng, W, z0, z1, y_face, kind) -> list[TriMesh]:
    """Divide the front into columns of drawers and doors."""
    parts = []
    gap = rng.uniform(0.003, 0.008)
    thick = rng.uniform(0.012, 0.022)
    raised = rng.random() < 0.35
    handle = rng.choice(["knob", "bar", "plate"], p=[0.4, 0.45, 0.15])
    if kind == "file":
        n_cols, layout = 1, ["drawers"]
    elif kind == "wardrobe":
        n_cols = int(rng.integers(2, 4))
        layout = ["door"] * n_cols
        if rng.random() < 0.4:
            layout = ["door_drawer"] * n_cols
    elif kind == "dresser":
        n_cols = int(rng.choice([1, 2, 3], p=[0.4, 0.45, 0.15]))
        layout = ["drawers"] * n_cols
    elif kind == "nightstand":
        n_cols, layout = 1, [rng.choice(["drawers", "drawer_door", "door"])]
    else:  # sideboard
        n_cols = int(rng.integers(2, 5))
        layout = [rng.choice(["door", "drawers", "drawer_door"], p=[0.55, 0.2, 0.25]) for _ in range(n_cols)]
    edges = np.linspace(-W / 2, W / 2, n_cols + 1)
    for c in range(n_cols):
        x0, x1 = edges[c] + gap / 2, edges[c + 1] - gap / 2
        cx = 0.5 * (x0 + x1)
        H = z1 - z0
        style = layout[c]
        cells = []  # (z0, z1, is_drawer)
        if style == "drawers":
            n = int(rng.integers(2, 6)) if kind != "file" else int(rng.integers(2, 5))
            hs = np.linspace(z0, z1, n + 1)
            cells = [(hs[i], hs[i + 1], True) for i in range(n)]
        elif style == "door":
            cells = [(z0, z1, False)]
        elif style == "drawer_door":
            zd = z1 - min(0.22, 0.3 * H)
            cells = [(z0, zd, False), (zd, z1, True)]
        else:  # door_drawer: drawer at the bottom of a wardrobe
            zd = z0 + min(0.25, 0.2 * H)
            cells = [(z0, zd, True), (zd, z1, False)]
        for a, b, drawer in cells:
            a, b = a + gap / 2, b - gap / 2
            parts += _front_panel(rng, x0, x1, a, b, y_face, thick, raised and not drawer)
            face = y_face - thick - (0.008 if raised and not drawer and min(x1 - x0, b - a) > 0.12 else 0.0)
            if drawer:
                parts += _handle(rng, handle, cx, face, 0.5 * (a + b) + 0.15 * (b - a) * (kind == "file"), True, 0.4 * (x1 - x0))
            else:
                hx = x1 - 0.05 if c % 2 == 0 else x0 + 0.05
                if n_cols == 1:
                    hx = x1 - 0.05
                parts += _handle(rng, handle, hx, face, a + 0.5 * (b - a) if b - a < 0.9 else a + 0.9, False, 0.3 * (b - a))
    return parts


def _open_shelves(rng, W, D, z0, Hc) -> list[TriMesh]:
    """Bookcase-like carcass from boards: sides, top, bottom, back, shelves, maybe doors."""
    bt = rng.uniform(0.015, 0.03)
    parts = [box((bt, D, Hc), (-W / 2 + bt / 2, 0, z0 + Hc / 2)), box((bt, D, Hc), (W / 2 - bt / 2, 0, z0 + Hc / 2)),
             box((W - 2 * bt, D, bt), (0, 0, z0 + bt / 2)), box((W - 2 * bt, D, bt), (0, 0, z0 + Hc - bt / 2)),
             box((W - 2 * bt, 0.008, Hc - 2 * bt), (0, D / 2 - 0.004, z0 + Hc / 2))]
    n_sh = max(1, int(round(Hc / rng.uniform(0.25, 0.4))) - 1)
    zs = np.linspace(z0 + bt, z0 + Hc - bt, n_sh + 2)[1:-1]
    for z in zs:
        parts.append(box((W - 2 * bt, D - 0.008, bt * 0.9), (0, -0.004, z)))
    if W > 0.8 and rng.random() < 0.5:  # vertical divider, one piece per compartment
        lows = np.concatenate([[z0 + bt], zs + 0.45 * bt])
        highs = np.concatenate([zs - 0.45 * bt, [z0 + Hc - bt]])
        for lo, hi in zip(lows, highs):
            parts.append(box((bt, D - 0.008, hi - lo), (0, -0.004, 0.5 * (lo + hi))))
    if rng.random() < 0.35 and len(zs):  # doors close the lowest compartment
        zt = zs[0] - bt * 0.45
        edges = np.linspace(-W / 2 + bt, W / 2 - bt, 3)
        for i in range(2):
            parts.append(box((edges[i + 1] - edges[i] - 0.004, 0.018, zt - z0 - bt - 0.004),
                             (0.5 * (edges[i] + edges[i + 1]), -D / 2 - 0.009, 0.5 * (z0 + bt + zt))))
            parts += _handle(rng, "knob", edges[i + 1] - 0.04 if i == 0 else edges[i] + 0.04, -D / 2 - 0.018,
                             0.5 * (z0 + bt + zt), False, 0.1)
    return parts


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["sideboard", "dresser", "wardrobe", "nightstand", "file", "shelves"],
                      p=[0.25, 0.18, 0.15, 0.14, 0.1, 0.18])
    W, D, H = {
        "sideboard": (rng.uniform(1.0, 2.0), rng.uniform(0.4, 0.55), rng.uniform(0.6, 0.95)),
        "dresser": (rng.uniform(0.6, 1.4), rng.uniform(0.4, 0.55), rng.uniform(0.7, 1.3)),
        "wardrobe": (rng.uniform(0.8, 1.8), rng.uniform(0.5, 0.65), rng.uniform(1.7, 2.2)),
        "nightstand": (rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.45), rng.uniform(0.45, 0.7)),
        "file": (rng.uniform(0.38, 0.5), rng.uniform(0.5, 0.7), rng.uniform(0.7, 1.4)),
        "shelves": (rng.uniform(0.6, 1.6), rng.uniform(0.25, 0.45), rng.uniform(0.8, 2.1)),
    }[kind]
    base = rng.choice(["plinth", "legs", "feet", "none"], p=[0.35, 0.3, 0.15, 0.2])
    if kind == "file":
        base = "none"
    parts: list[TriMesh] = []
    zb = 0.0
    if base == "plinth":
        zb = rng.uniform(0.04, 0.12)
        inset = rng.uniform(0.0, 0.04)
        parts.append(box((W - 2 * inset, D - 2 * inset, zb), (0, 0, zb / 2)))
    elif base == "legs":
        zb = rng.uniform(0.08, 0.3) * (0.5 if kind == "wardrobe" else 1.0)
        thick = rng.uniform(0.03, 0.05)
        legs, _ = fp.four_legs(rng, W / 2 - thick / 2 - rng.uniform(0, 0.05), D / 2 - thick / 2 - rng.uniform(0, 0.04), zb, thick)
        parts += legs
    elif base == "feet":
        zb = rng.uniform(0.03, 0.07)
        for x, y in fp.corner_positions(W / 2 - 0.05, D / 2 - 0.05):
            parts.append(rounded_cylinder(0.035, zb, 0.01, 12, 2, base=(x, y, 0)))
    top_t = rng.uniform(0.02, 0.04) if rng.random() < 0.5 else 0.0
    overhang = rng.uniform(0.0, 0.03)
    Hc = H - zb - top_t
    if kind == "shelves":
        parts += _open_shelves(rng, W, D, zb, Hc)
    else:
        parts.append(box((W, D, Hc), (0, 0, zb + Hc / 2)))
        margin = rng.uniform(0.0, 0.03)
        parts += _closed_front(rng, W - 2 * margin, zb + margin, zb + Hc - margin, -D / 2, kind)
    if top_t > 0:
        parts.append(rounded_box((W + 2 * overhang, D + 2 * overhang, top_t), (0.006, 0.006, 0.006), 1,
                                 (0, -overhang * 0.5, H - top_t / 2)))
    return merge(parts)
