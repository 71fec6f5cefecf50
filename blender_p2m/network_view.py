"""What the network saw, as a picture for people: its input with the object's silhouette
outlined, so that a wrong background removal or crop shows at a glance (the add-on's
panel preview). Pure numpy."""
from __future__ import annotations

import numpy as np

OUTLINE_COLOUR = (1.0, 0.45, 0.0)      # orange: stands out on white and on most photos


def _shifted(inside: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """inside moved by (dy, dx), False where it moved in from outside the picture."""
    out = np.zeros_like(inside)
    h, w = inside.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        inside[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def outline(mask: np.ndarray) -> np.ndarray:
    """(S, S) bool: a two-pixel line along the silhouette's edge (mask > 0.5), one pixel on
    each side of it."""
    inside = np.asarray(mask) > 0.5
    neighbours = [_shifted(inside, dy, dx) for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    grown = inside | np.logical_or.reduce(neighbours)
    shrunk = inside & np.logical_and.reduce(neighbours)
    return grown & ~shrunk


def network_view(image: np.ndarray, mask: np.ndarray | None,
                 colour: tuple[float, float, float] = OUTLINE_COLOUR) -> np.ndarray:
    """(S, S, 4) float32 RGBA top-down: the network's (S, S, 3) input with the silhouette
    outlined in `colour` (no outline without a mask)."""
    rgba = np.ones((*image.shape[:2], 4), dtype=np.float32)
    rgba[..., :3] = np.clip(image[..., :3], 0.0, 1.0)
    if mask is not None:
        rgba[outline(mask), :3] = colour
    return rgba
