"""Multi-stride perceptual pooling: each stride through a learned 1x1 bottleneck, sampled
bilinearly at the projected vertices, concatenated.

Uses the project's projection and sampling (perceptual_pooling.project, sample_bilinear:
continuous pixel coordinates with the origin at the top-left corner, grid_sample with
align_corners=False, zeros outside the image and behind the camera). One addition: a map may
be shifted. `shifts[s]` says how far (pixels, right and down) the receptive-field centres of
the stride-s map lie from the convention's s (j + 0.5): 0 for centred encoders, (s - 1) / 2
for TensorFlow-padded ones (efficientnet_lite.FEATURE_SHIFT). The image point (u, v) is
then read at ((u - shift) / s, (v - shift) / s) in the map's own coordinates.

The bottleneck is applied to the maps (reduce, once per image), not to the sampled points:
sampling is linear, so it computes the same inside the image, and the maps have fewer
pixels (4,165 at 224 px over four strides) than the three stages have vertex lookups
(3,240 per stride).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .perceptual_pooling import project, sample_bilinear


def check_feature_maps(feature_maps: Mapping[int, torch.Tensor], strides: tuple[int, ...],
                image_size: int | None = None) -> int:
    """Check that the maps are those expected and cover one square image; return its size."""
    if sorted(feature_maps) != sorted(strides):
        raise ValueError(f"expected feature maps at strides {sorted(strides)}, got {sorted(feature_maps)}")
    for s in strides:
        shape = tuple(feature_maps[s].shape)
        if len(shape) != 4 or shape[-1] != shape[-2]:
            raise ValueError(f"the stride-{s} map must be square (B, C, h, h), got {shape}")
        size = shape[-1] * s
        if image_size is None:
            image_size = size
        if size != image_size:
            raise ValueError(f"the stride-{s} map is {shape[-1]} x {shape[-1]}: it covers a "
                             f"{size} px image, not {image_size} px")
    return image_size


def resample_map(feature_map: torch.Tensor, stride: float, shift: float, out_size: int,
                 out_stride: float, out_shift: float = 0.0) -> torch.Tensor:
    """Bilinearly resample a map onto another grid over the same image.

    A map of stride s and shift d has pixel j centred on image coordinate s (j + 0.5) + d
    (both axes). Outside the source's pixel centres the edge values are repeated (decoders
    want no dark border).

    Args:
        feature_map: (B, C, h, h).
    Returns:
        (B, C, out_size, out_size) on the grid of stride out_stride and shift out_shift.
    """
    b, _, h, w = feature_map.shape
    if h != w:
        raise ValueError(f"expected a square map, got {tuple(feature_map.shape)}")
    k = torch.arange(out_size, device=feature_map.device,
                     dtype=torch.promote_types(feature_map.dtype, torch.float32))
    image = out_stride * (k + 0.5) + out_shift                     # (out,) image coordinates
    coord = (image - shift) / stride                               # source coordinates
    g = 2.0 * coord / h - 1.0                                      # align_corners=False
    grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), dim=-1)    # (out, out, 2): (x, y)
    grid = grid.unsqueeze(0).expand(b, -1, -1, -1)
    return F.grid_sample(feature_map.to(grid.dtype), grid, mode="bilinear",
                         padding_mode="border", align_corners=False).to(feature_map.dtype)


def _bottleneck(in_channels: int, out_channels: int, norm: bool) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, 1)
    return nn.Sequential(conv, nn.GroupNorm(min(8, out_channels), out_channels)) if norm else conv


class MultiScalePooling(nn.Module):
    """Pool several feature maps at projected vertices through per-stride 1x1 bottlenecks.

    Args:
        in_channels: {stride: channels} of the encoder's maps.
        out_channels: channels after each bottleneck (one number, or {stride: channels}).
        shifts: {stride: pixels} receptive-field shift of each map (default 0, centred).
        norm: follow each bottleneck by a group norm (8 groups), per image: pretrained maps
            have rms 3-9 while the vertex coordinates beside them are ~0.1, and the norm
            brings every stride to the same scale whatever the batch.

    forward(feature_maps {stride: (B, C_s, S/s, S/s)}, vertices (B, N, 3) camera frame,
            intrinsics (B, 4) fx, fy, cx, cy in pixels of the S x S input)
        -> (B, N, out_features); zero rows for vertices behind the camera. Call reduce once
    and sample per deformation stage to avoid recomputing the bottlenecks.
    """

    def __init__(self, in_channels: Mapping[int, int], out_channels: int | Mapping[int, int],
                 shifts: Mapping[int, float] | None = None, norm: bool = False):
        super().__init__()
        self.strides = tuple(sorted(in_channels))
        if not self.strides:
            raise ValueError("MultiScalePooling needs at least one stride")
        if isinstance(out_channels, int):
            out_channels = {s: out_channels for s in self.strides}
        shifts = shifts or {}
        unknown = (set(out_channels) | set(shifts)) - set(self.strides)
        if unknown or set(out_channels) != set(self.strides):
            raise ValueError(f"out_channels and shifts must cover the strides {list(self.strides)}, "
                             f"got {sorted(out_channels)} and {sorted(shifts)}")
        self.shifts = {s: float(shifts.get(s, 0.0)) for s in self.strides}
        self.out_channels = {s: int(out_channels[s]) for s in self.strides}
        self.out_features = sum(self.out_channels.values())
        self.bottlenecks = nn.ModuleDict(
            {str(s): _bottleneck(in_channels[s], self.out_channels[s], norm) for s in self.strides})

    def reduce(self, feature_maps: Mapping[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        """{stride: (B, C_s, h, h)} -> {stride: (B, out_channels[s], h, h)}."""
        check_feature_maps(feature_maps, self.strides)
        return {s: self.bottlenecks[str(s)](feature_maps[s]) for s in self.strides}

    def sample(self, reduced: Mapping[int, torch.Tensor], vertices: torch.Tensor,
               intrinsics: torch.Tensor, image_size: int) -> torch.Tensor:
        """Reduced maps -> (B, N, out_features), strides in increasing order."""
        check_feature_maps(reduced, self.strides, image_size)
        uv, visible = project(vertices, intrinsics)                    # (B, N, 2), (B, N)
        parts = [sample_bilinear(reduced[s], uv - self.shifts[s], image_size)   # (B, N, out_s)
                 for s in self.strides]
        pooled = torch.cat(parts, dim=-1)
        return pooled * visible.unsqueeze(-1).to(pooled.dtype)

    def forward(self, feature_maps: Mapping[int, torch.Tensor], vertices: torch.Tensor,
                intrinsics: torch.Tensor, image_size: int) -> torch.Tensor:
        return self.sample(self.reduce(feature_maps), vertices, intrinsics, image_size)
