"""Lamps: table lamp, floor lamp (upright or arc), desk lamp with jointed arm,
pendant lamp and chandelier.

Shades are thin lathed shells (drum, empire cone, dome, bell, bowl), open at the
bottom so the bulb inside is visible from below; table-lamp bodies are lathed vase
profiles drawn from random control radii.
"""
from __future__ import annotations

import numpy as np

from .mesh import TriMesh, cylinder, cylinder_between, lathe, merge, rounded_box, rounded_cylinder, rounded_path, sphere, tube


def shade(rng, style: str, r_bottom: float, height: float, thickness: float | None = None, segments: int = 32) -> TriMesh:
    """Lamp shade with its lower rim at z = 0 and opening downwards."""
    t = thickness or max(0.003, 0.015 * r_bottom)
    if style in ("drum", "empire"):
        r_top = r_bottom * (rng.uniform(0.9, 1.0) if style == "drum" else rng.uniform(0.45, 0.75))
        # closed loop: outer wall up, inner wall down
        loop = [(r_bottom, 0.0), (r_top, height), (r_top - t, height), (r_bottom - t, 0.0)]
        return lathe(loop, segments, closed_loop=True)
    if style == "cone":  # closed-top cone (desk / pendant)
        top = rng.uniform(0.08, 0.3) * r_bottom
        return lathe([(0.0, height + t), (top, height + t), (r_bottom, 0.0), (r_bottom - t, 0.0),
                      (top - 0.5 * t, height), (0.0, height)], segments)
    # dome / bell: shell closed at the top, inner wall a scaled copy of the outer one
    a = np.linspace(0.5 * np.pi, 0.0, 10)
    flare = 0.0 if style == "dome" else rng.uniform(0.15, 0.35)
    outer = np.column_stack([r_bottom * (np.cos(a) + flare * (1 - np.sin(a)) ** 3), height * np.sin(a)])
    outer[0, 0] = 0.0
    rim = outer[-1, 0]
    inner = outer[::-1] * [(rim - t) / rim, (height - t) / height]
    return lathe(np.concatenate([outer, inner]), segments)


def _vase_base(rng, height: float, max_r: float) -> TriMesh:
    """Table-lamp body: a lathed vase / column profile through random radii."""
    n = 7
    z = np.linspace(0.0, height, n)
    style = rng.choice(["vase", "column", "gourd", "cone"])
    s = np.linspace(0, 1, n)
    if style == "vase":
        r = max_r * (0.55 + 0.45 * np.sin(np.pi * (0.15 + 0.7 * s)) ** 2) * (1 - 0.55 * s ** 3)
    elif style == "column":
        r = max_r * np.full(n, rng.uniform(0.3, 0.55))
        r[0] = max_r
    elif style == "gourd":
        r = max_r * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * s + 0.3)))
    else:
        r = max_r * (1 - 0.8 * s)
    r[-1] = min(r[-1], 0.35 * max_r)
    r = np.maximum(r, 0.012)
    return lathe(np.concatenate([[[0.0, 0.0]], np.column_stack([r, z]), [[0.0, height]]]), 28)


def _table_lamp(rng) -> TriMesh:
    body_h = rng.uniform(0.2, 0.45)
    body_r = rng.uniform(0.06, 0.14)
    parts = []
    foot_h = 0.0
    if rng.random() < 0.4:
        foot_h = rng.uniform(0.015, 0.04)
        parts.append(rounded_cylinder(body_r * rng.uniform(1.0, 1.4), foot_h, 0.008, 28))
    parts.append(_vase_base(rng, body_h, body_r).translated((0, 0, foot_h)))
    neck_h = rng.uniform(0.04, 0.12)
    z = foot_h + body_h
    parts.append(cylinder(0.008, neck_h, 10, (0, 0, z)))
    z += neck_h
    parts.append(sphere(rng.uniform(0.025, 0.035), (0, 0, z + 0.02), 12, 8))  # bulb
    sr = rng.uniform(0.12, 0.25)
    sh = sr * rng.uniform(0.7, 1.2)
    z_shade = z + 0.02 - 0.35 * sh
    parts.append(shade(rng, rng.choice(["drum", "empire"]), sr, sh).translated((0, 0, z_shade)))
    return merge(parts)


def _floor_lamp(rng) -> TriMesh:
    H = rng.uniform(1.3, 1.85)
    base_r = rng.uniform(0.12, 0.2)
    base_h = rng.uniform(0.02, 0.05)
    parts = [rounded_cylinder(base_r, base_h, 0.4 * base_h, 32)]
    pole_r = rng.uniform(0.008, 0.016)
    style = rng.choice(["drum", "empire", "torchiere", "tripod"], p=[0.35, 0.25, 0.2, 0.2])
    if style == "tripod":  # three legs instead of a base plate
        parts = []
        top = H * 0.55
        for k in range(3):
            a = 2 * np.pi * k / 3 + np.pi / 2
            parts.append(cylinder_between((0.35 * H * 0.5 * np.cos(a), 0.35 * H * 0.5 * np.sin(a), 0.0),
                                          (0.02 * np.cos(a), 0.02 * np.sin(a), top), 0.012, 8))
        parts.append(cylinder(0.02, 0.03, 12, (0, 0, top - 0.01)))
        parts.append(cylinder(pole_r, H - 0.25 - top - 0.02, 10, (0, 0, top + 0.02)))
        style = "drum"
        z_pole_top = H - 0.25
    else:
        z_pole_top = H - (0.02 if style == "torchiere" else 0.25)
        parts.append(cylinder(pole_r, z_pole_top - base_h, 10, (0, 0, base_h)))
    if style == "torchiere":  # bowl opening upwards
        bowl_r = rng.uniform(0.15, 0.25)
        bowl = shade(rng, "dome", bowl_r, bowl_r * rng.uniform(0.4, 0.7)).mirrored(2)
        parts.append(bowl.translated((0, 0, z_pole_top + bowl_r * 0.55)))
        return merge(parts)
    sr = rng.uniform(0.16, 0.26)
    sh = sr * rng.uniform(0.8, 1.3)
    parts.append(sphere(0.03, (0, 0, z_pole_top + 0.03), 12, 8))
    parts.append(shade(rng, style, sr, sh).translated((0, 0, z_pole_top + 0.03 - 0.3 * sh)))
    return merge(parts)


def _arc_lamp(rng) -> TriMesh:
    H = rng.uniform(1.6, 2.1)
    reach = rng.uniform(0.8, 1.5)
    parts = []
    if rng.random() < 0.5:
        parts.append(rounded_box((0.3, 0.3, 0.12), 0.02, 2, (0, 0, 0.06)))
        z0 = 0.12
    else:
        parts.append(rounded_cylinder(0.2, 0.05, 0.02, 32))
        z0 = 0.05
    th_max = rng.uniform(0.7, 0.85) * np.pi  # rises, arcs over and comes down to the shade
    th = np.linspace(0.0, th_max, 16)
    path = np.column_stack([np.zeros_like(th), -reach * (1 - np.cos(th)) / (1 - np.cos(th_max)),
                            z0 - 0.005 + (H - z0) * np.sin(th) + 0.3 * (H - z0) * np.minimum(th, 0.5 * np.pi) / np.pi])
    parts.append(tube(path, 0.012, 10))
    end = path[-1]
    sr = rng.uniform(0.18, 0.28)
    style = rng.choice(["dome", "bell"])
    sh = sr * rng.uniform(0.5, 0.8)
    parts.append(cylinder_between(end, end - [0, 0, 0.1], 0.006, 6))
    parts.append(shade(rng, style, sr, sh).translated(end - [0, 0, 0.1 + sh - 0.01]))
    return merge(parts)


def _desk_lamp(rng) -> TriMesh:
    parts = []
    if rng.random() < 0.5:
        br = rng.uniform(0.07, 0.11)
        parts.append(rounded_cylinder(br, 0.025, 0.01, 28))
    else:
        bl = rng.uniform(0.14, 0.2)
        parts.append(rounded_box((bl, bl * rng.uniform(0.8, 1.2), 0.03), 0.01, 2, (0, 0, 0.015)))
    r = rng.uniform(0.007, 0.012)
    j0 = np.array([0.0, 0.0, 0.03])
    a1 = np.radians(rng.uniform(50, 85))
    l1, l2 = rng.uniform(0.25, 0.4), rng.uniform(0.25, 0.4)
    j1 = j0 + l1 * np.array([0.0, -np.cos(a1), np.sin(a1)]) * [1, -1, 1]  # leans backwards (+Y)
    a2 = np.radians(rng.uniform(-20, 25))
    j2 = j1 + l2 * np.array([0.0, -np.cos(a2), np.sin(a2)])  # reaches forward (-Y)
    twin = rng.random() < 0.5
    for p, q in ((j0, j1), (j1, j2)):
        if twin:  # parallel rods like an architect lamp
            for sx in (-1.5 * r, 1.5 * r):
                parts.append(cylinder_between(p + [sx, 0, 0], q + [sx, 0, 0], 0.6 * r, 8))
        else:
            parts.append(cylinder_between(p, q, r, 10))
    for j in (j1, j2):
        parts.append(sphere(2.4 * r, j, 12, 6))
    parts.append(cylinder(2.6 * r, 0.03, 12, (0, 0, 0.02)))
    sr = rng.uniform(0.06, 0.11)
    sh = sr * rng.uniform(0.9, 1.5)
    style = rng.choice(["cone", "dome", "bell"])
    tilt = np.radians(rng.uniform(20, 60))
    s = shade(rng, style, sr, sh)  # opening at z=0, closed top at z=sh
    s = s.translated((0, 0, -sh - 2 * r))  # top of the shade meets the joint
    s = s.rotated("x", -tilt)  # opening turns towards -Y and down
    parts.append(s.translated(j2))
    return merge(parts)


def _pendant(rng) -> TriMesh:
    drop = rng.uniform(0.3, 1.0)
    sr = rng.uniform(0.12, 0.3)
    sh = sr * rng.uniform(0.5, 1.2)
    style = rng.choice(["dome", "bell", "cone", "drum"])
    parts = [rounded_cylinder(rng.uniform(0.05, 0.09), 0.025, 0.008, 24, base=(0, 0, drop)),  # ceiling canopy
             cylinder(0.004, drop - sh + 0.005, 6, (0, 0, sh - 0.005)),  # cord
             shade(rng, style, sr, sh)]
    if style != "drum":
        parts.append(sphere(min(0.05, 0.4 * sr), (0, 0, sh * 0.45), 12, 6))
    return merge(parts)


def _chandelier(rng) -> TriMesh:
    n = int(rng.integers(3, 9))
    R = rng.uniform(0.25, 0.45)
    drop = rng.uniform(0.3, 0.7)
    parts = [rounded_cylinder(0.08, 0.03, 0.01, 24, base=(0, 0, drop + 0.3))]
    parts.append(cylinder(0.012, drop + 0.3 - 0.15, 8, (0, 0, 0.15)))
    parts.append(sphere(0.05, (0, 0, 0.15), 16, 8))
    style = rng.choice(["candle", "shade"])
    for k in range(n):
        a = 2 * np.pi * k / n
        d = np.array([np.cos(a), np.sin(a), 0.0])
        path = np.array([d * 0.03 + [0, 0, 0.15], d * R * 0.6 + [0, 0, 0.1], d * R + [0, 0, 0.2]])
        parts.append(tube(rounded_path(path, 0.1, 4), 0.008, 6))
        cup = d * R + [0, 0, 0.2]
        parts.append(cylinder(0.025, 0.02, 10, cup))
        if style == "candle":
            parts.append(cylinder(0.012, 0.1, 8, cup + [0, 0, 0.02]))
        else:
            parts.append(shade(rng, "empire", 0.07, 0.08).translated(cup + [0, 0, 0.02]))
    return merge(parts)


def build(rng: np.random.Generator) -> TriMesh:
    kind = rng.choice(["table", "floor", "arc", "desk", "pendant", "chandelier"], p=[0.27, 0.2, 0.08, 0.2, 0.15, 0.1])
    return {"table": _table_lamp, "floor": _floor_lamp, "arc": _arc_lamp, "desk": _desk_lamp, "pendant": _pendant,
            "chandelier": _chandelier}[kind](rng)
