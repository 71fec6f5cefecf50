"""The panel's Placement option: put the mesh at the 3D cursor's depth instead of the
predicted one, by scaling it about the camera centre (so it still lines up with the image)."""
from __future__ import annotations

import numpy as np

from ..errors import P2MError


def check_target_depth(target_depth: float) -> None:
    """The 3D cursor must be in front of the camera to place the mesh at its depth."""
    if not target_depth > 0.0:
        raise P2MError("The 3D cursor is behind the camera (or level with it), so the mesh "
                       "cannot be placed at its depth. Move the 3D cursor in front of the "
                       "camera, or set Placement to 'As Predicted'.")


def scale_to_depth(vertices_cam: np.ndarray, target_depth: float) -> np.ndarray:
    """Scale a mesh about the camera centre so its bounding-box centre lies at target_depth.

    Scaling about the camera centre moves every point along its own viewing ray, so the
    mesh still lines up with the image; only its size and distance change.
    """
    check_target_depth(target_depth)
    z = vertices_cam[:, 2]                                          # (N,)
    centre_depth = -0.5 * (z.min() + z.max())
    if not centre_depth > 0.0:
        raise P2MError("The predicted mesh is not in front of the camera; it cannot be scaled "
                       "to the 3D cursor's depth. Use Placement 'As Predicted'.")
    return (vertices_cam * (target_depth / centre_depth)).astype(np.float32)
