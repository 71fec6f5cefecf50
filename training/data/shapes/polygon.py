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
    if r <= 0.02 * min(hw, hh) or segments < 1:  # tiny corners would only make slivers
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
    """Triangulate a simple CCW polygon -> (N-2, 3) CCW index triples, no zero-area triangles.

    Collinear vertices (straight runs such as a flat car beltline) are taken out before
    ear clipping and put back by fanning the triangle that owns their edge; otherwise the
    last ear could be three collinear points.
    """
    pts = np.asarray(poly, dtype=np.float64)
    n = len(pts)
    scale = float(np.ptp(pts, axis=0).max()) or 1.0
    keep = list(range(n))
    changed = True
    while changed and len(keep) > 3:
        changed = False
        for k in range(len(keep)):
            a, b, c = pts[keep[k - 1]], pts[keep[k]], pts[keep[(k + 1) % len(keep)]]
            cr = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if abs(cr) < 1e-10 * scale * scale and np.dot(b - a, c - b) > 0:
                keep.pop(k)
                changed = True
                break
    tris = _flip_slivers(pts[keep], [list(t) for t in _ear_clip(pts[keep])])
    keep_arr = np.asarray(keep)
    tris = [list(t) for t in keep_arr[np.asarray(tris)]]
    if len(keep) == n:
        return np.asarray(tris, dtype=np.int64)
    owner = {}
    for ti, (a, b, c) in enumerate(tris):
        owner[(a, b)], owner[(b, c)], owner[(c, a)] = (ti, c), (ti, a), (ti, b)
    extra = []
    for k in range(len(keep)):
        u, w = keep[k], keep[(k + 1) % len(keep)]
        between = [(u + j) % n for j in range(1, (w - u) % n)]
        if not between:
            continue
        ti, o = owner[(u, w)]
        chain = [u] + between + [w]
        tris[ti] = [chain[0], chain[1], o]
        extra += [[chain[j], chain[j + 1], o] for j in range(1, len(chain) - 1)]
    return np.asarray(tris + extra, dtype=np.int64)


def _flip_slivers(pts: np.ndarray, tris: list[list[int]]) -> list[list[int]]:
    """Remove zero-area triangles (three collinear corners left by ear clipping) by
    flipping their long edge with the neighbouring triangle."""
    scale = float(np.ptp(pts, axis=0).max()) or 1.0

    def area2(t):
        a, b, c = pts[t[0]], pts[t[1]], pts[t[2]]
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    for _ in range(2 * len(tris)):
        bad = [i for i, t in enumerate(tris) if area2(t) <= 1e-12 * scale * scale]
        if not bad:
            break
        ti = bad[0]
        t = tris[ti]
        # the corner lying between the other two is the middle one; the edge opposite it is the long one
        for k in range(3):
            a, b, c = t[k], t[(k + 1) % 3], t[(k + 2) % 3]
            if np.dot(pts[b] - pts[a], pts[c] - pts[b]) > 0:
                break
        other = next((j for j, u in enumerate(tris) if j != ti and any(
            u[m] == a and u[(m + 1) % 3] == c for m in range(3))), None)
        if other is None:
            break
        u = tris[other]
        d = next(x for x in u if x != a and x != c)
        tris[ti], tris[other] = [a, b, d], [b, c, d]
    return tris


def _ear_clip(poly: np.ndarray) -> np.ndarray:
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
