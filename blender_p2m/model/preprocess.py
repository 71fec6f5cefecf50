"""Preprocessing: any image + its intrinsics -> the square network input + its intrinsics.

One mechanism covers every case: the network looks through a *virtual camera* that shares
the real camera's centre. It may be rotated (R) and has its own intrinsics K'. Because the
centre is shared, the network image is an exact homography of the input image,

    source pixel  ~  K  R^T  K'^-1  network pixel,

and a mesh predicted in the virtual camera frame maps back with v = R^T v' into the real
camera frame, where it lines up with the original image.

- crop=None: R = I and the square is centred on the principal point, large enough to hold
  the whole image (padded with white), then resized to S x S.
- crop="object": the object is found (alpha, or difference from the border colour), the
  virtual camera turns to look at its centre (yaw then pitch, no roll) and zooms so that it
  fills the frame the way training objects do (OBJECT_HALF_EXTENT of the side).

Pixel convention: see perceptual_pooling (pixel centres at +0.5). Alpha is composited on
white. All arrays are float32 RGBA in [0, 1], shape (H, W, 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import P2MError
from ..intrinsics import Intrinsics

# Training objects (bounding-box diagonal 0.57 m at 0.7..0.9 m, f = 250 px on 224 px)
# span about 0.25..0.4 of the image side from their centre; crop="object" aims here.
OBJECT_HALF_EXTENT = 0.32
# Pixels whose colour differs from the border colour by more than this are "object".
BACKGROUND_TOLERANCE = 0.08


@dataclass(frozen=True)
class Prepared:
    """The network's view of one image.

    Attributes:
        image: (3, S, S) float32 RGB in [0, 1].
        intrinsics: (4,) float32 fx, fy, cx, cy of the network image.
        rotation: (3, 3) float64 R, real camera frame -> virtual camera frame.
        alpha: (1, S, S) float32 in [0, 1], the input's alpha seen through the same virtual
            camera (0 outside the input): the object's silhouette in the network image.
    """

    image: torch.Tensor
    intrinsics: torch.Tensor
    rotation: np.ndarray
    alpha: torch.Tensor | None = None


def find_object(rgba: np.ndarray) -> tuple[float, float, float, float] | None:
    """Bounding box (u0, v0, u1, v1) of the object in continuous pixel coordinates, or None.

    Uses alpha where the image has transparency, otherwise pixels that differ from the
    median border colour. Robust to a few stray pixels (0.2% / 99.8% quantiles).
    """
    alpha = rgba[..., 3]
    if alpha.min() < 0.99:
        mask = alpha > 0.5
    else:
        rgb = rgba[..., :3]
        border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]], axis=0)  # (2W+2H, 3)
        background = np.median(border, axis=0)
        mask = np.abs(rgb - background).max(axis=-1) > BACKGROUND_TOLERANCE
    if mask.sum() < 4:
        return None
    rows, cols = np.nonzero(mask)
    u0, u1 = np.quantile(cols, [0.002, 0.998])
    v0, v1 = np.quantile(rows, [0.002, 0.998])
    return float(u0), float(v0), float(u1) + 1.0, float(v1) + 1.0


def look_at_rotation(direction: np.ndarray) -> np.ndarray:
    """Rotation R (real -> virtual camera) whose -Z axis looks along `direction`, no roll."""
    forward = direction / np.linalg.norm(direction)
    z = -forward
    x = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])                                   # rows: virtual axes


def _ray(intr: Intrinsics, u: float, v: float) -> np.ndarray:
    return np.array([(u - intr.cx) / intr.fx, -(v - intr.cy) / intr.fy, -1.0])


def virtual_camera(intr: Intrinsics, size: int, crop: str | None,
                   rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Choose R and K' = (fx', fy', cx', cy') for the network image."""
    if crop is None:
        half = max(intr.cx, intr.width - intr.cx, intr.cy, intr.height - intr.cy)
        s = size / (2.0 * half)
        return np.eye(3), np.array([intr.fx * s, intr.fy * s, size / 2, size / 2])
    if crop != "object":
        raise P2MError(f"Unknown crop mode {crop!r}: use None or 'object'.")
    box = find_object(rgba)
    if box is None:
        raise P2MError("No object found to crop to: the image is empty or uniform. Turn off "
                       "'crop to object' or give an image with a visible object.")
    u0, v0, u1, v1 = box
    rotation = look_at_rotation(_ray(intr, (u0 + u1) / 2, (v0 + v1) / 2))
    corners = np.array([_ray(intr, u, v) for u in (u0, u1) for v in (v0, v1)]) @ rotation.T
    extent = np.abs(corners[:, :2] / -corners[:, 2:3]).max()     # tan of the half angle
    f = OBJECT_HALF_EXTENT * size / max(extent, 1e-6)
    return rotation, np.array([f, f, size / 2, size / 2])


def resample(rgba: np.ndarray, intr: Intrinsics, rotation: np.ndarray, k_net: np.ndarray,
             size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Render the network image through the virtual camera; white outside the source.

    Returns the (3, S, S) RGB composited on white and the (1, S, S) alpha it was
    composited with.

    The source is first shrunk with an antialiasing filter when the network image samples
    it more sparsely than every other pixel, so that small inputs are not aliased.
    """
    src = torch.from_numpy(np.ascontiguousarray(rgba, dtype=np.float32)).permute(2, 0, 1)[None]
    src = torch.cat([src[:, :3] * src[:, 3:], src[:, 3:]], dim=1)  # premultiplied (1, 4, H, W)
    fx, fy, cx, cy = intr.fx, intr.fy, intr.cx, intr.cy
    h, w = rgba.shape[:2]
    scale = min(k_net[0] / fx, k_net[1] / fy)
    if scale < 0.5:
        new_w, new_h = max(1, round(w * 2 * scale)), max(1, round(h * 2 * scale))
        src = F.interpolate(src, size=(new_h, new_w), mode="bilinear", antialias=True,
                            align_corners=False)
        sx, sy = new_w / w, new_h / h
        fx, cx, fy, cy, w, h = fx * sx, cx * sx, fy * sy, cy * sy, new_w, new_h
    centres = torch.arange(size, dtype=torch.float64) + 0.5
    v_net, u_net = torch.meshgrid(centres, centres, indexing="ij")  # (S, S)
    rays = torch.stack([(u_net - k_net[2]) / k_net[0], -(v_net - k_net[3]) / k_net[1],
                        -torch.ones_like(u_net)], dim=-1)           # (S, S, 3) virtual frame
    rays = rays @ torch.from_numpy(rotation)                         # R^T d, as row vectors
    depth = -rays[..., 2]
    valid = depth > 1e-9
    depth = torch.where(valid, depth, torch.ones_like(depth))
    u_src = cx + fx * rays[..., 0] / depth
    v_src = cy - fy * rays[..., 1] / depth
    grid = torch.stack([2 * u_src / w - 1, 2 * v_src / h - 1], dim=-1)
    grid = torch.where(valid[..., None], grid, torch.full_like(grid, -3.0))  # outside
    out = F.grid_sample(src, grid[None].float(), mode="bilinear", padding_mode="zeros",
                        align_corners=False)[0]                      # (4, S, S)
    return (out[:3] + (1.0 - out[3:])).clamp(0.0, 1.0), out[3:].clamp(0.0, 1.0)   # on white; alpha


def prepare(rgba: np.ndarray, intrinsics: Intrinsics | None, size: int,
            crop: str | None = None) -> Prepared:
    """The network input for one image: see the module docstring.

    `intrinsics` are those of this very image (None: the default camera); intrinsics given
    by a user are checked and rescaled first, once, by Intrinsics.for_image (the API does).
    """
    h, w = rgba.shape[:2]
    intr = Intrinsics.default(w, h) if intrinsics is None else intrinsics
    if (intr.width, intr.height) != (w, h):
        raise ValueError(f"intrinsics for {intr.width}x{intr.height} given with a {w}x{h} image; "
                         f"use Intrinsics.for_image({w}, {h})")
    rotation, k_net = virtual_camera(intr, size, crop, rgba)
    image, alpha = resample(rgba, intr, rotation, k_net, size)
    return Prepared(image, torch.tensor(k_net, dtype=torch.float32), rotation, alpha)


def network_to_image(values: torch.Tensor, intr: Intrinsics, rotation: np.ndarray, k_net: np.ndarray,
                     ) -> torch.Tensor:
    """Bring a map of the network image back onto the input image's pixels (the inverse of
    resample): for each input pixel centre, the bilinear value at its network-image position.

    Args:
        values: (C, S', S') over the network image (any resolution S': a 56 x 56 mask too).
        intr, rotation, k_net: the input's intrinsics and the virtual camera (Prepared).
    Returns:
        (C, H, W) float32; 0 where the input pixel lies outside the network image.
    """
    size = float(2.0 * k_net[2])                                     # the network image side S
    rows = torch.arange(intr.height, dtype=torch.float64) + 0.5
    cols = torch.arange(intr.width, dtype=torch.float64) + 0.5
    v_src, u_src = torch.meshgrid(rows, cols, indexing="ij")         # (H, W)
    rays = torch.stack([(u_src - intr.cx) / intr.fx, -(v_src - intr.cy) / intr.fy,
                        -torch.ones_like(u_src)], dim=-1)            # (H, W, 3) real frame
    rays = rays @ torch.from_numpy(rotation).T                       # R d: the virtual frame
    depth = -rays[..., 2]
    valid = depth > 1e-9
    depth = torch.where(valid, depth, torch.ones_like(depth))
    u_net = k_net[2] + k_net[0] * rays[..., 0] / depth
    v_net = k_net[3] - k_net[1] * rays[..., 1] / depth
    grid = torch.stack([2 * u_net / size - 1, 2 * v_net / size - 1], dim=-1)
    inside = valid & (grid.abs() <= 1.0).all(dim=-1)                 # (H, W) within the network image
    # Border padding: a pixel inside the network image's outer half-cell takes the edge
    # cell's value instead of fading towards the zeros beyond it.
    out = F.grid_sample(values[None].float(), grid[None].float(), mode="bilinear",
                        padding_mode="border", align_corners=False)[0]
    return torch.where(inside[None], out, torch.zeros_like(out))
