"""Sofas: upholstered frame, seat and back cushions, varied arms, legs or plinth, L-shapes.

`upholstered` is also used by the chair generator for club armchairs (one seat).
Layout: seat spans y in [-D/2, D/2 - back thickness], the back sits behind it, the
arms flank the whole depth; legs (if any) carry everything from below.
"""
from __future__ import annotations

import numpy as np

from . import furniture_parts as fp
from . import polygon as poly2d
from .mesh import TriMesh, front_profile, merge, rounded_box, side_profile

ARM_STYLES = ("box", "rounded", "rolled", "slope", "thin", "none")


def _arm(rng, style: str, x_in: float, x_out: float, z0: float, height: float, y0: float, y1: float,
         seat_top: float) -> TriMesh:
    """One arm between x_in and x_out (x_out further from the centre), z0..height, y0..y1."""
    w = abs(x_out - x_in)
    s = np.sign(x_out - x_in)
    depth = y1 - y0
    yc = 0.5 * (y0 + y1)
    if style in ("box", "thin"):
        r = rng.uniform(0.005, 0.03)
        return rounded_box((w, depth, height - z0), min(r, 0.3 * w), 2, (0.5 * (x_in + x_out), yc, 0.5 * (z0 + height)))
    if style == "rounded":
        r = min(0.5 * w, rng.uniform(0.04, 0.1))
        return rounded_box((w, depth, height - z0), (r, 0.6 * r, r), 3, (0.5 * (x_in + x_out), yc, 0.5 * (z0 + height)))
    if style == "rolled":
        flare = rng.uniform(0.0, 0.05)
        roll_r = 0.5 * (w + flare)
        body_top = height - z0 - roll_r
        arc = poly2d.arc((0.5 * (w + flare), body_top), roll_r, 0.0, np.pi, 12)
        outline = poly2d.drop_duplicates(np.concatenate([[[0.0, 0.0], [w, 0.0], [w, body_top]], arc]))
        m = front_profile(outline, depth, bevel=0.015, y_center=yc)
        if s < 0:
            m = m.mirrored(0)
        return m.translated((x_in, 0.0, z0))
    # slope: arm top descends toward the front
    drop = rng.uniform(0.05, 0.15) * (height - seat_top + 0.1)
    outline = np.array([[y0, 0.0], [y1, 0.0], [y1, height - z0], [y0 + 0.12 * depth, height - z0 - drop * 0.3],
                        [y0, height - z0 - drop]])
    m = side_profile(outline, w, bevel=min(0.02, 0.2 * w))
    return m.translated((0.5 * (x_in + x_out), 0.0, z0))


def upholstered(rng: np.random.Generator, n_seats: int, seat_width: float, depth: float,
                back_height: float, arm_style: str | None = None, chaise: bool = False) -> TriMesh:
    """Sofa-like seating: frame, cushions, back, arms, legs. Also makes armchairs."""
    arm_style = arm_style or rng.choice(ARM_STYLES, p=[0.25, 0.2, 0.2, 0.1, 0.15, 0.1])
    aw = {"box": rng.uniform(0.1, 0.22), "rounded": rng.uniform(0.12, 0.25), "rolled": rng.uniform(0.12, 0.2),
          "slope": rng.uniform(0.1, 0.18), "thin": rng.uniform(0.03, 0.07), "none": 0.0}[arm_style]
    wi = n_seats * seat_width
    W = wi + 2 * aw
    D = depth
    leg_h = 0.0 if rng.random() < 0.3 else rng.uniform(0.04, 0.2)
    base_top = leg_h + rng.uniform(0.14, 0.3)
    cushion_t = rng.uniform(0.08, 0.18)
    seat_top = base_top + cushion_t
    back_t = rng.uniform(0.12, 0.25)
    back_top = max(back_height, seat_top + 0.25)
    arm_top = min(seat_top + rng.uniform(0.1, 0.3), back_top - 0.05) if aw > 0 else seat_top
    y_back = D / 2 - back_t
    round_r = rng.uniform(0.01, 0.05)
    parts: list[TriMesh] = []

    # frame under the cushions and the back
    parts.append(rounded_box((wi, y_back + D / 2, base_top - leg_h), min(round_r, 0.4 * (base_top - leg_h)), 2,
                             (0, 0.5 * (y_back - D / 2), 0.5 * (leg_h + base_top))))
    back_w = wi if rng.random() < 0.7 else W
    back_r = rng.uniform(0.02, 0.08)
    parts.append(rounded_box((back_w, back_t, back_top - leg_h), (min(back_r, 0.3 * back_t), min(back_r, 0.45 * back_t), back_r),
                             3, (0, y_back + 0.5 * back_t, 0.5 * (leg_h + back_top))))

    # seat cushions
    n_cush = n_seats if rng.random() < 0.75 else 1
    gap = 0.006
    cw = wi / n_cush
    cr = rng.uniform(0.02, 0.06)
    for i in range(n_cush):
        x = -wi / 2 + (i + 0.5) * cw
        parts.append(rounded_box((cw - gap, y_back + D / 2 - gap, cushion_t), (cr, cr, min(cr, 0.45 * cushion_t)), 3,
                                 (x, 0.5 * (y_back - D / 2) - 0.5 * gap, base_top + 0.5 * cushion_t)))

    # back cushions leaning on the back
    if rng.random() < 0.6 and back_top - seat_top > 0.3:
        bct = rng.uniform(0.08, 0.18)
        n_bc = n_cush if rng.random() < 0.7 else n_seats
        bw = wi / n_bc
        top = back_top - rng.uniform(-0.02, 0.08)
        for i in range(n_bc):
            x = -wi / 2 + (i + 0.5) * bw
            parts.append(rounded_box((bw - gap, bct, top - seat_top - gap), (cr, 0.45 * bct, cr), 3,
                                     (x, y_back - 0.5 * bct, 0.5 * (seat_top + top) + 0.5 * gap)))

    # chaise longue extension (L-shape)
    ext = 0.0
    side = 1 if rng.random() < 0.5 else -1
    if chaise:
        ext = rng.uniform(0.5, 0.8)
        x0 = side * (wi / 2 - 0.5 * seat_width)
        parts.append(rounded_box((seat_width, ext, base_top - leg_h), min(round_r, 0.4 * (base_top - leg_h)), 2,
                                 (x0, -D / 2 - 0.5 * ext, 0.5 * (leg_h + base_top))))
        parts.append(rounded_box((seat_width - gap, ext - gap, cushion_t), (cr, cr, min(cr, 0.45 * cushion_t)), 3,
                                 (x0, -D / 2 - 0.5 * ext - 0.5 * gap, base_top + 0.5 * cushion_t)))

    # arms
    if aw > 0:
        arm_y0 = -D / 2 - rng.uniform(-0.03, 0.03)
        for s in (-1, 1):
            y0 = arm_y0 - (ext if (chaise and s == side) else 0.0)
            x_in, x_out = s * wi / 2, s * (wi / 2 + aw)
            y1 = D / 2 if back_w < W else y_back  # a full-width back takes the arms' rear end
            parts.append(_arm(rng, arm_style, x_in, x_out, leg_h, arm_top, y0, y1, seat_top))

    # legs under the corners (and under the chaise's front corners)
    if leg_h > 0:
        thick = rng.uniform(0.03, 0.06)
        inset = rng.uniform(0.02, 0.06) + thick / 2
        style = rng.choice(["square", "round", "tapered"])
        hx = W / 2 - inset
        hy = D / 2 - inset
        legs, _ = fp.four_legs(rng, hx, hy, leg_h, thick, style)
        parts += legs
        spots = []
        if n_seats >= 3:
            spots += [(0.0, -hy), (0.0, hy)]
        if chaise:
            y_c = -D / 2 - ext + inset
            spots += [(side * hx, y_c), (side * (wi / 2 - seat_width + inset), y_c)]
        for x, y in spots:
            leg, _ = fp.four_legs(rng, 0.0, 0.0, leg_h, thick, style, splay=0.0)
            parts.append(leg[0].translated((x, y, 0)))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    n_seats = int(rng.choice([1, 2, 3, 4], p=[0.08, 0.35, 0.45, 0.12]))
    chaise = n_seats >= 2 and rng.random() < 0.18
    return upholstered(rng, n_seats, rng.uniform(0.5, 0.72), rng.uniform(0.75, 1.0),
                       rng.uniform(0.65, 0.95), chaise=chaise)
