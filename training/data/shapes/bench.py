"""Benches: park benches (side frames, slatted seat and back, optional arms), backless
slab/slat benches on legs or panel ends, and upholstered storage benches.

Length runs along x; the seat spans y in [-D/2, D/2], its top at H.
"""
from __future__ import annotations

import numpy as np

from . import furniture_parts as fp
from .mesh import TriMesh, box, merge, rounded_box, rounded_path, tube

_RECT = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])


def _seat_surface(rng, L, D, H, t, slatted: bool) -> list[TriMesh]:
    if not slatted:
        r = rng.uniform(0.003, 0.03)
        return [rounded_box((L, D, t), (r, r, min(r, 0.45 * t)), 2, (0, 0, H - t / 2))]
    n = int(rng.integers(3, 8))
    gap = rng.uniform(0.008, 0.025)
    sw = (D - (n - 1) * gap) / n
    r = min(rng.uniform(0.002, 0.012), 0.45 * t, 0.45 * sw)
    return [rounded_box((L, sw, t), r, 1, (0, -D / 2 + sw / 2 + i * (sw + gap), H - t / 2)) for i in range(n)]


def _park_bench(rng) -> TriMesh:
    L, D = rng.uniform(1.1, 2.0), rng.uniform(0.38, 0.5)
    H, t = rng.uniform(0.4, 0.47), rng.uniform(0.02, 0.035)
    Hb = rng.uniform(0.3, 0.5)
    tilt = rng.uniform(0.1, 0.3)
    fw, fd = rng.uniform(0.03, 0.06), rng.uniform(0.03, 0.06)  # frame bar width (x) / depth
    sec = _RECT * [0.5 * fd, 0.5 * fw]
    # slats end at the front of the rear posts, which rise behind them
    parts = [m.translated((0, -0.5 * fd, 0)) for m in _seat_surface(rng, L, D - fd, H, t, True)]
    under = H - t - 0.5 * fd
    yr = D / 2 - 0.5 * fd
    top = (yr + Hb * np.sin(tilt), H + Hb * np.cos(tilt))
    n_frames = 2 if L < 1.5 else 3
    inset = rng.uniform(0.05, 0.2)
    xs = np.linspace(-(L / 2 - inset), L / 2 - inset, n_frames)
    has_arms = rng.random() < 0.5
    for x in xs:
        front = [[x, -D / 2 + 0.5 * fd - rng.uniform(0.0, 0.04), 0.0], [x, -D / 2 + 0.5 * fd + 0.02, under]]
        parts.append(tube(np.array(front), 1.0, section=sec))
        rear = [[x, yr + rng.uniform(0.0, 0.05), 0.0], [x, yr, under + 0.5 * fd], [x, top[0], top[1]]]
        parts.append(tube(rounded_path(np.array(rear), 0.08, 3), 1.0, section=sec))
        parts.append(box((fw, D - 2 * fd - 0.01, fd), (x, 0, under)))
    # back slats in front of the rear posts
    n = int(rng.integers(2, 6))
    bh = Hb * rng.uniform(0.6, 0.95)
    gap = rng.uniform(0.01, 0.03)
    sh = (bh - (n - 1) * gap) / n
    for i in range(n):
        h = Hb - sh / 2 - i * (sh + gap)
        slat = box((L, t, sh), (0, -0.5 * (fd + t), h))
        parts.append(slat.rotated("x", -tilt).translated((0, yr, H)))
    if has_arms:
        ah = rng.uniform(0.18, 0.26)
        for x in (xs[0], xs[-1]):
            y_post = yr + ah * np.tan(tilt) - 0.5 * fd
            parts.append(box((fw, 0.04, ah), (x, -D / 2 + 0.05, H + ah / 2)))
            parts.append(rounded_box((fw * 1.4, y_post + D / 2 + 0.02, 0.03), 0.01, 1,
                                     (x, 0.5 * (y_post - D / 2 - 0.02), H + ah + 0.015)))
    return merge(parts)


def _backless(rng) -> TriMesh:
    L, D = rng.uniform(0.9, 2.0), rng.uniform(0.3, 0.5)
    H = rng.uniform(0.38, 0.48)
    t = rng.uniform(0.025, 0.08)
    slatted = rng.random() < 0.45
    parts = _seat_surface(rng, L, D, H, t, slatted)
    support = rng.choice(["legs", "panels", "frames"], p=[0.5, 0.3, 0.2])
    if slatted:  # cross bars under the slats hold them together
        for x in (-(L / 2 - 0.12), L / 2 - 0.12):
            parts.append(box((0.05, D, 0.03), (x, 0, H - t - 0.015)))
        top = H - t - 0.03
    else:
        top = H - t
    if support == "legs":
        thick = rng.uniform(0.03, 0.07)
        legs_hx, legs_hy = L / 2 - rng.uniform(0.04, 0.2), D / 2 - thick / 2 - rng.uniform(0, 0.04)
        legs, feet = fp.four_legs(rng, legs_hx, legs_hy, top, thick)
        parts += legs
        if rng.random() < 0.5:
            hx, hy = abs(legs_hx), abs(legs_hy)
            tops = np.column_stack([fp.corner_positions(hx, hy), np.full(4, top)])
            parts += fp.h_stretcher(feet, tops, rng.uniform(0.08, 0.2), 0.3 * thick, 0.5 * thick)
        if L > 1.6:
            for y in (-(D / 2 - thick / 2 - 0.02), D / 2 - thick / 2 - 0.02):
                parts.append(box((thick, thick, top), (0, y, top / 2)))
    elif support == "panels":
        pt = rng.uniform(0.025, 0.06)
        inset = rng.uniform(0.0, 0.2)
        for x in (-(L / 2 - inset - pt / 2), L / 2 - inset - pt / 2):
            parts.append(box((pt, D * rng.uniform(0.85, 1.0), top), (x, 0, top / 2)))
    else:  # metal loop frames
        r = rng.uniform(0.01, 0.018)
        for x in (-(L / 2 - 0.1), L / 2 - 0.1):
            path = np.array([[x, -D / 2 + 0.04, r], [x, -D / 2 + 0.04, top - r], [x, D / 2 - 0.04, top - r],
                             [x, D / 2 - 0.04, r]])
            parts.append(tube(rounded_path(path, 0.05, 3), r, 10))
            parts.append(tube(np.array([[x, -D / 2 + 0.01, r], [x, D / 2 - 0.01, r]]), r, 10))
    return merge(parts)


def _storage(rng) -> TriMesh:
    """Box bench with a cushion, sometimes with a back."""
    L, D = rng.uniform(0.8, 1.6), rng.uniform(0.35, 0.5)
    H = rng.uniform(0.4, 0.5)
    ct = rng.uniform(0.04, 0.1)
    plinth = rng.uniform(0.0, 0.08)
    parts = []
    if plinth > 0.02:
        parts.append(box((L - 0.04, D - 0.04, plinth), (0, 0, plinth / 2)))
    parts.append(rounded_box((L, D, H - ct - plinth), 0.01, 1, (0, 0, plinth + (H - ct - plinth) / 2)))
    parts.append(rounded_box((L - 0.01, D - 0.01, ct), (0.04, 0.04, 0.45 * ct), 3, (0, 0, H - ct / 2)))
    if rng.random() < 0.4:
        bh = rng.uniform(0.25, 0.45)
        z0 = 0.0 if plinth <= 0.02 else plinth
        parts.append(rounded_box((L, 0.05, H + bh - z0), 0.015, 2, (0, D / 2 + 0.025, 0.5 * (z0 + H + bh))))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["park", "backless", "storage"], p=[0.45, 0.43, 0.12])
    return {"park": _park_bench, "backless": _backless, "storage": _storage}[kind](rng)
