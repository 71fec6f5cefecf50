"""Contact sheet of generated shapes: the quickest way to judge the library by eye.

A tiny software renderer (orthographic 3/4 view from above, flat Lambert shading,
vectorised z-buffer with back-face culling, supersampled) so no GPU or Blender is
needed.  Run:  python -m training.data.shapes.preview docs/shapes_preview.png
"""
from __future__ import annotations

import argparse
import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from . import CATEGORIES, generate
from .mesh import TriMesh

_BACKGROUND = (245, 245, 242)


def _camera(azimuth_deg: float, elevation_deg: float):
    """Unit vectors (toward camera, screen right, screen up) for a view from the front-right."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    to_cam = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    right = np.cross(-to_cam, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, -to_cam)
    return to_cam, right, up


def _part_colours(n: int) -> np.ndarray:
    """Distinct soft colours so separate parts read as separate pieces."""
    hues = (0.08 + 0.61803 * np.arange(max(n, 1))) % 1.0
    return np.array([colorsys.hsv_to_rgb(h, 0.35, 0.95) for h in hues])


def _rasterize(px, py, depth, faces, colours, big: int) -> np.ndarray:
    """Vectorised z-buffer: every triangle's bounding-box pixels are tested at once."""
    x, y, z = px[faces], py[faces], depth[faces]  # (F, 3)
    x0 = np.clip(np.floor(x.min(1)), 0, big - 1).astype(np.int64)
    x1 = np.clip(np.ceil(x.max(1)), 0, big - 1).astype(np.int64)
    y0 = np.clip(np.floor(y.min(1)), 0, big - 1).astype(np.int64)
    y1 = np.clip(np.ceil(y.max(1)), 0, big - 1).astype(np.int64)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    counts = w * h
    tri = np.repeat(np.arange(len(faces)), counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    qx = x0[tri] + local % w[tri] + 0.5
    qy = y0[tri] + local // w[tri] + 0.5
    ax, ay, bx, by, cx, cy = x[tri, 0], y[tri, 0], x[tri, 1], y[tri, 1], x[tri, 2], y[tri, 2]
    den = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    l0 = ((by - cy) * (qx - cx) + (cx - bx) * (qy - cy)) / den
    l1 = ((cy - ay) * (qx - cx) + (ax - cx) * (qy - cy)) / den
    l2 = 1.0 - l0 - l1
    eps = -1e-6
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    tri, qx, qy = tri[inside], qx[inside], qy[inside]
    d = (l0[inside] * z[tri, 0] + l1[inside] * z[tri, 1] + l2[inside] * z[tri, 2])
    pix = qy.astype(np.int64) * big + qx.astype(np.int64)
    order = np.lexsort((-d, pix))  # per pixel, nearest (largest depth) first
    pix, tri = pix[order], tri[order]
    first = np.concatenate([[True], pix[1:] != pix[:-1]])
    img = np.empty((big * big, 3), dtype=np.uint8)
    img[:] = _BACKGROUND
    img[pix[first]] = colours[tri[first]]
    return img.reshape(big, big, 3)


def render(mesh: TriMesh, size: int = 128, supersample: int = 2,
           azimuth_deg: float = 35.0, elevation_deg: float = 25.0) -> Image.Image:
    """Render one mesh into a size x size RGB image."""
    to_cam, right, up = _camera(azimuth_deg, elevation_deg)
    v = mesh.vertices
    sx, sy, depth = v @ right, v @ up, v @ to_cam
    big = size * supersample
    span = max(np.ptp(sx), np.ptp(sy), 1e-9)
    scale = 0.9 * big / span
    px = (sx - 0.5 * (sx.max() + sx.min())) * scale + 0.5 * big
    py = 0.5 * big - (sy - 0.5 * (sy.max() + sy.min())) * scale

    tri = v[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    visible = normals @ to_cam > 0
    light = to_cam + np.array([-0.5, 0.0, 0.9])
    light /= np.linalg.norm(light)
    shade = 0.3 + 0.7 * np.clip(normals @ light, 0.0, 1.0)
    colours = _part_colours(mesh.n_parts)[mesh.parts % max(mesh.n_parts, 1)] * shade[:, None]
    colours = (np.clip(colours, 0, 1) * 255).astype(np.uint8)
    img = _rasterize(px, py, depth, mesh.faces[visible], colours[visible], big)
    return Image.fromarray(img).resize((size, size), Image.LANCZOS)


def preview_grid(path, seeds_per_category: int = 6, categories=CATEGORIES, cell: int = 128,
                 first_seed: int = 0) -> Path:
    """Write a PNG grid: one labelled row per category, one column per seed."""
    label_w = 96
    grid = Image.new("RGB", (label_w + cell * seeds_per_category, cell * len(categories)), _BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for row, cat in enumerate(categories):
        draw.text((6, row * cell + cell // 2 - 6), cat, fill=(20, 20, 20))
        for col in range(seeds_per_category):
            seed = first_seed + col
            im = render(generate(cat, seed), cell)
            grid.paste(im, (label_w + col * cell, row * cell))
            draw.text((label_w + col * cell + 3, row * cell + 2), f"seed {seed}", fill=(150, 150, 150))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="docs/shapes_preview.png")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--categories", nargs="*", default=list(CATEGORIES))
    ap.add_argument("--cell", type=int, default=128)
    args = ap.parse_args(argv)
    print(preview_grid(args.path, args.seeds, tuple(args.categories), args.cell, args.first_seed))


if __name__ == "__main__":
    main()
