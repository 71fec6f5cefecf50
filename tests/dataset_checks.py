"""Checks shared by the tests of built datasets (procedural and real meshes)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.data.dataset import camera_frame_surface


def dataset_views(root: Path):
    """(object folder, meta, view) for every view of a built dataset."""
    for meta_path in sorted((Path(root) / "objects").glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        for view in meta["views"]:
            yield meta_path.parent, meta, view


def fraction_inside_silhouette(root: Path) -> float:
    """Share of ground-truth points that project, by the stored intrinsics, onto a pixel of
    the render with alpha > 0 (the render and the ground truth line up)."""
    inside = total = 0
    for obj_dir, _meta, view in dataset_views(root):
        pts, _ = camera_frame_surface(obj_dir, view)
        alpha = np.asarray(Image.open(obj_dir / view["image"]))[..., 3]
        height, width = alpha.shape
        u = view["cx"] + view["fx"] * pts[:, 0] / -pts[:, 2]
        v = view["cy"] - view["fy"] * pts[:, 1] / -pts[:, 2]
        cols, rows = np.floor(u).astype(int), np.floor(v).astype(int)
        ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        hit = np.zeros(len(pts), bool)
        hit[ok] = alpha[rows[ok], cols[ok]] > 0
        inside += hit.sum()
        total += len(pts)
    return inside / total
