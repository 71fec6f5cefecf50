"""2-D polygon helpers: outlines that get extruded or lofted into 3-D parts.

Everything here works on (N, 2) float arrays describing a simple closed polygon
(the last point is NOT repeated).  Extrusion needs counter-clockwise outlines and a
triangulation of the caps, so those two live here too.
"""
from __future__ import annotations

import numpy as np


def signed_area(poly: np.ndarray) -> float:
    """Shoelace area; positive for counter-clockwise outlines."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def ensure_ccw(poly: np.ndarray) -> np.ndarray:
    """Return the outline counter-clockwise (extrusion relies on it for winding)."""
    poly = np.asarray(poly, dtype=np.float64)
    return poly if signed_area(poly) > 0 else poly[::-1].copy()


def drop_duplicates(poly: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Remove consecutive (cyclically) coincident points, which would make zero-area faces."""
    poly = np.asarray(poly, dtype=np.float64)
    keep = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1) > tol
    return poly[keep]


def circle(radius: float, segments: int, center=(0.0, 0.0), start: float = 0.0) -> np.ndarray:
    """Regular polygon approximating a circle, counter-clockwise."""
    t = start + np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    return np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)], axis=1)


def arc(center, radius: float, a0: float, a1: float, segments: int) -> np.ndarray:
    """Points on an arc from angle a0 to a1 (both included)."""
    t = np.linspace(a0, a1, segments + 1)
    return np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)], axis=1)


def rounded_rect(width: float, height: float, radius: float, segments: int = 4,
                 center=(0.0, 0.0)) -> np.ndarray:
    """Axis-aligned rectangle with circular corners (radius clamped to fit), CCW."""
    hw, hh = 0.5 * width, 0.5 * height
    r = float(min(max(radius, 0.0), 0.999 * min(hw, hh)))
    if r <= 1e-6 or segments < 1:
        pts = np.array([[hw, -hh], [hw, hh], [-hw, hh], [-hw, -hh]])
    else:
        corners = [(hw - r, -hh + r, -0.5 * np.pi), (hw - r, hh - r, 0.0),
                   (-hw + r, hh - r, 0.5 * np.pi), (-hw + r, -hh + r, np.pi)]
        pts = np.concatenate([arc((cx, cy), r, a, a + 0.5 * np.pi, segments)
                              for cx, cy, a in corners])
    return drop_duplicates(pts + np.asarray(center, dtype=np.float64))


def superellipse(rx: float, ry: float, exponent: float, segments: int) -> np.ndarray:
    """|x/rx|^n + |y/ry|^n = 1: n=2 ellipse, large n a rounded rectangle, CCW."""
    t = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / exponent
    return np.stack([rx * np.sign(c) * np.abs(c) ** e, ry * np.sign(s) * np.abs(s) ** e], axis=1)


def offset(poly: np.ndarray, distance: float) -> np.ndarray:
    """Move every edge of a CCW outline outward by `distance` (negative = inset).

    Mitre joins with the mitre length clamped, good enough for the small bevels this
    library uses; it does not resolve self-intersections of large insets.
    """
    poly = np.asarray(poly, dtype=np.float64)
    prev_pt, next_pt = np.roll(poly, 1, axis=0), np.roll(poly, -1, axis=0)
    e_in = poly - prev_pt
    e_out = next_pt - poly
    e_in /= np.linalg.norm(e_in, axis=1, keepdims=True)
    e_out /= np.linalg.norm(e_out, axis=1, keepdims=True)
    # Outward normal of a CCW edge direction (dx, dy) is (dy, -dx).
    n_in = np.stack([e_in[:, 1], -e_in[:, 0]], axis=1)
    n_out = np.stack([e_out[:, 1], -e_out[:, 0]], axis=1)
    bis = n_in + n_out
    norm = np.linalg.norm(bis, axis=1, keepdims=True)
    bis = np.where(norm > 1e-9, bis / np.maximum(norm, 1e-12), n_in)
    cos_half = np.clip(np.sum(bis * n_in, axis=1, keepdims=True), 0.35, 1.0)
    return poly + bis * (distance / cos_half)


def _point_in_triangle(p, a, b, c) -> bool:
    d1 = (p[0] - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (p[1] - b[1])
    d2 = (p[0] - c[0]) * (b[1] - c[1]) - (b[0] - c[0]) * (p[1] - c[1])
    d3 = (p[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (p[1] - a[1])
    has_neg = d1 < -1e-14 or d2 < -1e-14 or d3 < -1e-14
    has_pos = d1 > 1e-14 or d2 > 1e-14 or d3 > 1e-14
    return not (has_neg and has_pos)


def triangulate(poly: np.ndarray) -> np.ndarray:
    """Ear-clipping triangulation of a simple CCW polygon -> (N-2, 3) CCW index triples.

    Plain Python is fine here: outlines have at most ~100 points.  Ear status is only
    recomputed for the two neighbours of a clipped vertex (O(n^2) overall), and the
    best-shaped ear is clipped first, which avoids slivers on long thin outlines.
    """
    pts = [tuple(p) for p in np.asarray(poly, dtype=np.float64)]
    n = len(pts)
    if n < 3:
        raise ValueError("a polygon needs at least 3 points")
    prev = [(i - 1) % n for i in range(n)]
    nxt = [(i + 1) % n for i in range(n)]

    def cross(a, b, c):
        pa, pb, pc = pts[a], pts[b], pts[c]
        return (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0])

    reflex = {i for i in range(n) if cross(prev[i], i, nxt[i]) <= 0}

    def ear_score(b):
        """Shape quality of the ear at b, or None when b is not an ear."""
        a, c = prev[b], nxt[b]
        if b in reflex:
            return None
        pa, pb, pc = pts[a], pts[b], pts[c]
        for r in reflex:
            if r != a and r != c and _point_in_triangle(pts[r], pa, pb, pc):
                return None
        perim2 = ((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2 + (pb[0] - pc[0]) ** 2
                  + (pb[1] - pc[1]) ** 2 + (pc[0] - pa[0]) ** 2 + (pc[1] - pa[1]) ** 2)
        return cross(a, b, c) / max(perim2, 1e-30)

    scores = {i: ear_score(i) for i in range(n)}
    alive = n
    tris: list[tuple[int, int, int]] = []
    while alive > 3:
        candidates = [(s, i) for i, s in scores.items() if s is not None]
        if candidates:
            b = max(candidates)[1]
        else:  # numerically degenerate outline: clip the most convex vertex
            b = max(scores, key=lambda i: cross(prev[i], i, nxt[i]))
        a, c = prev[b], nxt[b]
        tris.append((a, b, c))
        nxt[a], prev[c] = c, a
        del scores[b]
        reflex.discard(b)
        alive -= 1
        for v in (a, c):
            if cross(prev[v], v, nxt[v]) > 0:
                reflex.discard(v)
            else:
                reflex.add(v)
        for v in (a, c):
            scores[v] = ear_score(v)
    a = next(iter(scores))
    tris.append((prev[a], a, nxt[a]))
    return np.asarray(tris, dtype=np.int64)
