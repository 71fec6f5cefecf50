"""Rifles: assault rifle, bolt-action hunting rifle, sniper rifle, pump shotgun, SMG.

Positions are measured by u, the distance forward from the butt; the muzzle points to
-Y (y = -u).  The bore axis is z = 0.  Side-profile parts (stocks, grips, magazines)
are extruded across x; round parts (barrel, scope, tube magazine) are lathed along y.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, bend, box, cylinder, cylinder_between, lathe, merge, rounded_box, rounded_path, side_profile, tube

_FORWARD = (0.0, -1.0, 0.0)


def _profile(points_uz, width: float, bevel: float = 0.0) -> TriMesh:
    """Extrude a side outline given in (u, z)."""
    p = np.asarray(points_uz, dtype=np.float64)
    return side_profile(np.column_stack([-p[:, 0], p[:, 1]]), width, bevel)


def _rod(u0: float, u1: float, r: float, z: float = 0.0, segments: int = 14) -> TriMesh:
    return cylinder(r, u1 - u0, segments, (0.0, -u0, z), _FORWARD)


def _block(u0, u1, z0, z1, w, radius=0.0) -> TriMesh:
    if radius > 0:
        return rounded_box((w, u1 - u0, z1 - z0), radius, 2, (0, -0.5 * (u0 + u1), 0.5 * (z0 + z1)))
    return box((w, u1 - u0, z1 - z0), (0, -0.5 * (u0 + u1), 0.5 * (z0 + z1)))


def _scope(rng, u0, u1, z_axis, mount_z) -> list[TriMesh]:
    """Telescopic sight: eyepiece, tube, objective bell, two mounts down to mount_z."""
    L = u1 - u0
    rt = rng.uniform(0.011, 0.016)
    re, ro = rt * rng.uniform(1.3, 1.7), rt * rng.uniform(1.4, 2.2)
    prof = [(0.0, 0.0), (re, 0.0), (re, 0.06 * L), (rt, 0.18 * L), (rt, 0.62 * L), (ro, 0.8 * L), (ro, L), (0.0, L)]
    scope = lathe(prof, 16).rotated("x", np.pi / 2).translated((0, -u0, z_axis))
    parts = [scope]
    for f in (0.3, 0.58):
        u = u0 + f * L
        parts.append(_block(u - 0.012, u + 0.012, mount_z, z_axis - rt * 0.9, 0.018))
    return parts


def _grip(ug, z_top, gh, gw, slant, width) -> TriMesh:
    """Pistol grip hanging from z_top, raked backwards; ug is its front edge."""
    return _profile([[ug, z_top], [ug - gw, z_top], [ug - gw - slant, z_top - gh], [ug - slant * 0.9, z_top - gh]],
                    width, 0.006)


def _trigger_guard(u0, u1, z, depth) -> TriMesh:
    path = np.array([[0, -u0, z + 0.002], [0, -u0, z - depth], [0, -u1, z - depth], [0, -u1, z + 0.002]])
    return tube(rounded_path(path, 0.012, 3), 0.0035, 6)


def _magazine(rng, u_front, z_top, width, curved: bool) -> TriMesh:
    mh = rng.uniform(0.12, 0.25)
    ml = rng.uniform(0.05, 0.08)
    m = rounded_box((width, ml, mh), 0.006, 1, (0, 0, -mh / 2), divisions=(1, 1, 6))
    if curved:
        m = bend(m, 2, 1, -rng.uniform(0.04, 0.08), mh)
    return m.translated((0, -(u_front - ml / 2), z_top + 0.005))


def _assault(rng) -> TriMesh:
    rb = rng.uniform(0.008, 0.011)
    rec_len = rng.uniform(0.22, 0.32)
    stock_len = rng.uniform(0.22, 0.32)
    rec_top, rec_bot = rng.uniform(0.02, 0.04), -rng.uniform(0.04, 0.06)
    w = rng.uniform(0.03, 0.04)
    u_rec0, u_rec1 = stock_len, stock_len + rec_len
    parts = [_block(u_rec0, u_rec1, rec_bot, rec_top, w, 0.004)]
    # stock: straight (AR) or dropped (AK)
    butt_h = rng.uniform(0.1, 0.15)
    drop = rng.uniform(0.0, 0.05)
    top0 = rec_top - 0.01 - drop
    parts.append(_profile([[0.0, top0], [0.0, top0 - butt_h], [u_rec0 + 0.002, rec_bot + 0.005],
                           [u_rec0 + 0.002, rec_top - 0.012], [u_rec0 * 0.4, top0 + 0.002]], w * 0.9, 0.006))
    # pistol grip, trigger guard, magazine
    ug = u_rec0 + rng.uniform(0.03, 0.06)
    parts.append(_grip(ug, rec_bot + 0.002, rng.uniform(0.09, 0.12), 0.035, rng.uniform(0.02, 0.04), w * 0.85))
    parts.append(_trigger_guard(ug + 0.004, ug + 0.055, rec_bot, 0.03))
    parts.append(_magazine(rng, ug + 0.07 + rng.uniform(0.0, 0.05), rec_bot, w * 0.7, rng.random() < 0.6))
    # handguard around the barrel, then the exposed barrel
    hg_len = rng.uniform(0.15, 0.3)
    hg_r = rng.uniform(0.02, 0.03)
    if rng.random() < 0.5:
        parts.append(rounded_box((hg_r * 2, hg_len, hg_r * 2.2), hg_r * 0.5, 2, (0, -(u_rec1 + hg_len / 2), -0.005)))
    else:
        parts.append(cylinder(hg_r, hg_len, 16, (0, -u_rec1, -0.003), _FORWARD))
    barrel_len = rng.uniform(0.12, 0.3)
    u_b = u_rec1 + hg_len
    parts.append(_rod(u_b, u_b + barrel_len, rb))
    parts.append(_rod(u_b + barrel_len, u_b + barrel_len + 0.05, rb * 1.5))  # flash hider
    # front sight block and optic / carry handle
    parts.append(_block(u_b + 0.01, u_b + 0.03, rb * 0.9, rb + 0.05, 0.012))
    r = rng.random()
    if r < 0.4:
        parts += _scope(rng, u_rec0 + 0.03, u_rec0 + 0.03 + rng.uniform(0.14, 0.22), rec_top + 0.04, rec_top)
    elif r < 0.7:  # carry handle
        parts.append(_block(u_rec0 + 0.04, u_rec1 - 0.03, rec_top + 0.03, rec_top + 0.045, 0.015))
        for u in (u_rec0 + 0.05, u_rec1 - 0.05):
            parts.append(_block(u - 0.01, u + 0.01, rec_top, rec_top + 0.03, 0.012))
    if rng.random() < 0.15:  # bipod
        for sx in (-1, 1):
            parts.append(cylinder_between((sx * 0.01, -(u_b - 0.02), -hg_r), (sx * 0.06, -(u_b + 0.05), -hg_r - 0.2), 0.005, 6))
    return merge(parts)


def _bolt_action(rng, sniper: bool) -> TriMesh:
    rb = rng.uniform(0.009, 0.013)
    rec_len = rng.uniform(0.18, 0.26)
    stock_len = rng.uniform(0.28, 0.36)
    w = rng.uniform(0.035, 0.045)
    rec_top, rec_bot = rng.uniform(0.012, 0.02), -rng.uniform(0.02, 0.03)
    fore = rng.uniform(0.2, 0.4)
    barrel_len = rng.uniform(0.45, 0.7) if sniper else rng.uniform(0.35, 0.55)
    u0, u1 = stock_len, stock_len + rec_len
    drop = rng.uniform(0.03, 0.06)
    butt_h = rng.uniform(0.11, 0.15)
    grip_u = u0 - rng.uniform(0.0, 0.04)
    grip_d = rng.uniform(0.04, 0.1)  # how far the wrist / pistol grip hangs down
    heel = rec_bot - drop + 0.03
    outline = [[0.0, heel], [0.0, heel - butt_h], [grip_u - 0.08, rec_bot - grip_d * 0.6],
               [grip_u - 0.02, rec_bot - grip_d], [grip_u + 0.04, rec_bot - grip_d * 0.9],
               [grip_u + 0.08, rec_bot - 0.035], [u1 + fore, rec_bot - 0.02], [u1 + fore + 0.01, -rb - 0.002],
               [u1, -rb - 0.002], [u1, rec_bot], [u0 - 0.02, rec_bot], [u0 - 0.06, rec_bot + 0.012],
               [u0 * 0.45, heel + 0.012]]
    parts = [_profile(outline, w, 0.008)]
    parts.append(_rod(u0 - 0.02, u1, (rec_top - rec_bot) / 2, 0.5 * (rec_top + rec_bot), 16))
    parts.append(_rod(u1, u1 + fore + barrel_len, rb))
    if rng.random() < 0.5:
        parts.append(_rod(u1 + fore + barrel_len, u1 + fore + barrel_len + 0.06, rb * 1.4))
    # bolt handle sticking out to the right
    bu = u0 + 0.03
    parts.append(cylinder_between((0.0, -bu, 0.0), (0.05, -(bu - 0.01), -0.015), 0.004, 6))
    parts.append(_block(bu - 0.008, bu + 0.008, -0.022, -0.006, 0.016).translated((0.05, 0, 0)))
    parts.append(_trigger_guard(u0 + 0.01, u0 + 0.07, rec_bot - 0.03, 0.03))
    if sniper or rng.random() < 0.6:
        parts += _scope(rng, u0, u0 + rng.uniform(0.25, 0.38), rec_top + rng.uniform(0.03, 0.045), rec_top - 0.002)
    if sniper and rng.random() < 0.7:
        uf = u1 + fore - 0.03
        for sx in (-1, 1):
            parts.append(cylinder_between((sx * 0.012, -uf, rec_bot - 0.02), (sx * 0.07, -(uf + 0.08), rec_bot - 0.24), 0.006, 6))
    return merge(parts)


def _shotgun(rng) -> TriMesh:
    rb = rng.uniform(0.011, 0.014)
    stock_len, rec_len = rng.uniform(0.3, 0.36), rng.uniform(0.18, 0.24)
    w = rng.uniform(0.035, 0.045)
    rec_top, rec_bot = 0.02, -0.045
    u0, u1 = stock_len, stock_len + rec_len
    barrel_len = rng.uniform(0.45, 0.7)
    parts = [_block(u0, u1, rec_bot, rec_top, w, 0.006)]
    butt_h = rng.uniform(0.12, 0.15)
    heel = rec_top - rng.uniform(0.02, 0.05)
    parts.append(_profile([[0.0, heel], [0.0, heel - butt_h], [u0 - 0.06, rec_bot - 0.03], [u0 + 0.002, rec_bot],
                           [u0 + 0.002, rec_top - 0.01], [u0 - 0.08, heel + 0.005]], w * 0.95, 0.008))
    parts.append(_trigger_guard(u0 + 0.02, u0 + 0.08, rec_bot, 0.03))
    parts.append(_rod(u1, u1 + barrel_len, rb, 0.002))
    tz = -rb - 0.014
    pump0 = u1 + rng.uniform(0.04, 0.1)
    pump_len = rng.uniform(0.15, 0.22)
    parts.append(_rod(u1, pump0, 0.01, tz, 12))  # magazine tube behind the pump
    parts.append(rounded_box((0.04, pump_len, 0.045), 0.012, 2, (0, -(pump0 + pump_len / 2), tz)))
    parts.append(_rod(pump0 + pump_len, u1 + barrel_len * rng.uniform(0.75, 0.95), 0.01, tz, 12))
    return merge(parts)


def _smg(rng) -> TriMesh:
    rb = rng.uniform(0.008, 0.01)
    rec_len = rng.uniform(0.22, 0.3)
    w = rng.uniform(0.035, 0.045)
    rec_top, rec_bot = 0.03, -rng.uniform(0.04, 0.055)
    u0 = rng.uniform(0.15, 0.25)
    u1 = u0 + rec_len
    parts = [_block(u0, u1, rec_bot, rec_top, w, 0.006)]
    # wire stock: a bent rod loop
    path = np.array([[0, -u0, rec_top - 0.012], [0, 0.0, rec_top - 0.02], [0, 0.0, rec_bot - 0.04], [0, -u0, rec_bot + 0.01]])
    parts.append(tube(rounded_path(path, 0.02, 3), 0.006, 8))
    parts.append(_block(-0.01, 0.012, rec_bot - 0.05, rec_top - 0.005, w * 0.8, 0.004))  # butt plate
    ug = u0 + rng.uniform(0.05, 0.1)
    parts.append(_grip(ug, rec_bot, 0.1, 0.034, 0.02, w * 0.85))
    parts.append(_trigger_guard(ug + 0.003, ug + 0.05, rec_bot, 0.028))
    parts.append(_magazine(rng, ug + 0.11, rec_bot, w * 0.6, False))
    parts.append(_rod(u1, u1 + rng.uniform(0.08, 0.2), rb * 1.6 if rng.random() < 0.5 else rb))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["assault", "hunting", "sniper", "shotgun", "smg"], p=[0.35, 0.2, 0.2, 0.15, 0.1])
    if kind == "assault":
        return _assault(rng)
    if kind in ("hunting", "sniper"):
        return _bolt_action(rng, kind == "sniper")
    return _shotgun(rng) if kind == "shotgun" else _smg(rng)
