"""Perceptual feature pooling: project vertices with the intrinsics, sample the CNN maps.

Pixel convention (used everywhere in the project): continuous image coordinates
(u = column, v = row) have their origin at the top-left corner of the top-left pixel,
so pixel (row i, column j) covers [j, j+1) x [i, i+1) and its centre is (j + 0.5, i + 0.5).
With the camera frame X right, Y up, looking down -Z:

    u = cx + fx * X / (-Z)        v = cy - fy * Y / (-Z)

A feature map of stride s samples the image point (u, v) at (u / s, v / s) in its own
continuous coordinates; bilinear interpolation between the 4 nearest pixel centres
(grid_sample with align_corners=False uses exactly this convention). Points outside the
image read zeros; points behind (or almost on) the camera plane read zeros, not NaN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_DEPTH = 1e-3  # metres; nearer (or behind) points are treated as invisible


def project(vertices: torch.Tensor, intrinsics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pinhole projection into continuous pixel coordinates.

    Args:
        vertices: (B, N, 3) camera frame.
        intrinsics: (B, 4) fx, fy, cx, cy in pixels.
    Returns:
        uv (B, N, 2) pixel coordinates (column, row) and visible (B, N) bool (in front of
        the camera). Behind-camera points get finite placeholder coordinates.
    """
    depth = -vertices[..., 2]                                      # (B, N)
    visible = depth > MIN_DEPTH
    safe_depth = torch.where(visible, depth, torch.ones_like(depth))
    fx, fy, cx, cy = (intrinsics[:, i:i + 1] for i in range(4))    # each (B, 1)
    u = cx + fx * vertices[..., 0] / safe_depth                    # (B, N)
    v = cy - fy * vertices[..., 1] / safe_depth
    return torch.stack([u, v], dim=-1), visible


def sample_bilinear(feature_map: torch.Tensor, uv: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinearly sample a feature map covering the whole square image.

    Args:
        feature_map: (B, C, h, w), covering image pixels [0, image_size)^2.
        uv: (B, N, 2) continuous pixel coordinates of the image (not of the map).
    Returns:
        (B, N, C) features; zeros outside the image. Computed in float32 at least (float64
        for float64 maps): a half-precision grid, as under autocast, would move the sampling
        points by up to half a pixel.
    """
    dtype = torch.promote_types(feature_map.dtype, torch.float32)
    # Points more than a pixel outside read zeros (with zero gradient) either way; clamping
    # them keeps grid_sample finite for points projected near infinity.
    uv = uv.to(dtype).clamp(-float(image_size), 2.0 * image_size)
    grid = (2.0 * uv / image_size - 1.0).unsqueeze(1)              # (B, 1, N, 2) in [-1, 1]
    out = F.grid_sample(feature_map.to(dtype), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)                       # (B, C, 1, N)
    return out.squeeze(2).transpose(1, 2)                          # (B, N, C)


def perceptual_pool(feature_maps: list[torch.Tensor], vertices: torch.Tensor,
                    intrinsics: torch.Tensor, image_size: int) -> torch.Tensor:
    """Concatenate the features of every map at every vertex's projection.

    Returns:
        (B, N, sum of channels); zero rows for vertices behind the camera.
    """
    uv, visible = project(vertices, intrinsics)                    # (B, N, 2), (B, N)
    pooled = torch.cat([sample_bilinear(m, uv, image_size) for m in feature_maps], dim=-1)
    return pooled * visible.unsqueeze(-1).to(pooled.dtype)
