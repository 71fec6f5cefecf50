"""A preview PNG per image: the input (and, when the background was removed, the silhouette
the network used) beside a Blender render of the mesh seen from the same camera, so
misalignment or a wrong shape shows at a glance.

The render uses Workbench (blender_p2m.blender.render: fast, no GPU needed, about 0.05 s
per image) on a transparent film; both halves are composited on white and scaled to the
same size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_files import write_bytes
from ..blender.render import render_rgba, use_workbench
from .png import png_bytes

PREVIEW_SIDE = 384                  # pixels of the longer side of each half
GAP = 8                             # white pixels between the halves
MESH_COLOR = (0.85, 0.55, 0.3)


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) straight alpha -> (H, W, 3)."""
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + (1.0 - alpha)


def resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sample pixel centres: enough for a preview, needs nothing but numpy."""
    def centres(count: int, source: int) -> np.ndarray:
        return np.minimum(((np.arange(count) + 0.5) * source / count).astype(int), source - 1)

    return image[centres(height, image.shape[0])][:, centres(width, image.shape[1])]


def side_by_side(*panels: np.ndarray) -> np.ndarray:
    """(H, W, 3) float images, left to right with white gaps -> (H, n W + (n-1) GAP, 3) uint8."""
    gap = np.ones((panels[0].shape[0], GAP, 3), dtype=np.float32)
    parts = [part for panel in panels for part in (gap, panel)][1:]
    joined = np.concatenate(parts, axis=1)
    return (np.clip(joined, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render_scene(scene) -> np.ndarray:
    """Render the scene through its camera, longer side PREVIEW_SIDE -> (h, w, 4) RGBA."""
    longest = max(scene.render.resolution_x, scene.render.resolution_y)
    use_workbench(scene, MESH_COLOR)
    scene.render.resolution_percentage = max(1, round(PREVIEW_SIDE * 100 / longest))
    scene.display.render_aa = 'FXAA'            # 1.5x faster than 8 samples; fine for a preview
    return render_rgba(scene)


def write_preview(path: Path, input_rgba: np.ndarray, scene, mask: np.ndarray | None = None) -> None:
    """The preview PNG for one image's scene (see build_scene), written atomically:
    input | mask | render with a mask (H, W) in [0, 1], else input | render."""
    render = composite_on_white(render_scene(scene))
    height, width = render.shape[:2]
    picture = resize_nearest(composite_on_white(input_rgba), height, width)
    panels = [picture, render]
    if mask is not None:
        panels.insert(1, np.repeat(resize_nearest(mask[..., None], height, width), 3, axis=-1))
    write_bytes(Path(path), png_bytes(side_by_side(*panels)))


def mask_png(mask: np.ndarray) -> bytes:
    """(H, W) silhouette in [0, 1] -> a greyscale-looking RGB PNG (white = object)."""
    grey = (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return png_bytes(np.repeat(grey[..., None], 3, axis=-1))

