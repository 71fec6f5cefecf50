"""Silhouette head: the object's mask predicted from the encoder's maps, as an auxiliary
training signal (the encoder learns where the object is) and a cheap diagnostic.

A light top-down decoder (FPN-like): each stride through a 1x1 lateral convolution, the
coarser result resampled onto the next finer grid and added, one 3x3 convolution at the
finest stride, a 1x1 to logits, resampled onto an output_size x output_size grid that
covers the image in the project's pixel convention (docs/conventions.md): mask pixel
(i, j) covers image pixels [j S/n, (j+1) S/n) x [i S/n, (i+1) S/n). Resampling honours the
maps' receptive-field shifts (efficientnet_lite.FEATURE_SHIFT).

Masks here are (B, 1, n, n): 1 = object. Targets may be soft (area-averaged alpha).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .multiscale_pooling import check_feature_maps, resample_map

DEFAULT_OUTPUT_SIZE = 56


class SilhouetteHead(nn.Module):
    """Mask logits from multi-stride feature maps.

    Args:
        in_channels: {stride: channels} of the maps used (e.g. EfficientNetLite0.out_channels).
        shifts: {stride: pixels} receptive-field shift of each map (default 0).
        hidden: channels of the decoder.
        output_size: side n of the predicted mask.

    forward({stride: (B, C_s, S/s, S/s)}) -> logits (B, 1, n, n).
    """

    def __init__(self, in_channels: Mapping[int, int], shifts: Mapping[int, float] | None = None,
                 hidden: int = 32, output_size: int = DEFAULT_OUTPUT_SIZE):
        super().__init__()
        if not in_channels:
            raise ValueError("SilhouetteHead needs at least one feature map")
        if output_size < 1 or hidden < 1:
            raise ValueError(f"output_size and hidden must be positive, got {output_size}, {hidden}")
        self.strides = tuple(sorted(in_channels))
        self.shifts = {s: float((shifts or {}).get(s, 0.0)) for s in self.strides}
        self.output_size = output_size
        self.lateral = nn.ModuleDict({str(s): nn.Conv2d(in_channels[s], hidden, 1)
                                      for s in self.strides})
        self.smooth = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, bias=False),
                                    nn.GroupNorm(min(8, hidden), hidden), nn.ReLU(inplace=True))
        self.predict = nn.Conv2d(hidden, 1, 1)

    def forward(self, feature_maps: Mapping[int, torch.Tensor]) -> torch.Tensor:
        size = check_feature_maps(feature_maps, self.strides)           # image side S
        coarse = self.strides[-1]
        x = self.lateral[str(coarse)](feature_maps[coarse])             # (B, hidden, S/32, S/32)
        for s in reversed(self.strides[:-1]):
            x = resample_map(x, coarse, self.shifts[coarse], size // s, s, self.shifts[s])
            x = x + self.lateral[str(s)](feature_maps[s])               # (B, hidden, S/s, S/s)
            coarse = s
        logits = self.predict(self.smooth(x))                           # (B, 1, S/s0, S/s0)
        return resample_map(logits, coarse, self.shifts[coarse], self.output_size,
                            size / self.output_size)                    # (B, 1, n, n)


def upsample_logits(logits: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 1, n, n) mask logits -> (B, 1, size, size), bilinear, same image coverage."""
    _check_mask(logits, "logits")
    return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)


def mask_target(alpha: torch.Tensor, size: int = DEFAULT_OUTPUT_SIZE) -> torch.Tensor:
    """Object coverage (B, 1, size, size) in [0, 1] from the input's alpha (B, S, S) or
    (B, 1, S, S), by area averaging: the soft target of silhouette_loss."""
    if alpha.dim() == 3:
        alpha = alpha.unsqueeze(1)
    _check_mask(alpha, "alpha")
    return F.interpolate(alpha.float(), size=(size, size), mode="area")


def soft_iou(probabilities: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Differentiable IoU per image (B,): sum(p t) / sum(p + t - p t)."""
    inter = (probabilities * target).flatten(1).sum(1)
    union = (probabilities + target - probabilities * target).flatten(1).sum(1)
    return (inter + eps) / (union + eps)


def silhouette_loss(logits: torch.Tensor, target: torch.Tensor, iou_weight: float = 0.0) -> torch.Tensor:
    """Mean binary cross-entropy (+ iou_weight * (1 - soft IoU)) of mask logits (B, 1, n, n)
    against a target of the same shape with values in [0, 1]."""
    _check_mask(logits, "logits")
    if target.shape != logits.shape:
        raise ValueError(f"target {tuple(target.shape)} and logits {tuple(logits.shape)} differ "
                         f"in shape (mask_target(alpha, n) makes the target)")
    if not ((target >= 0) & (target <= 1)).all():
        raise ValueError("mask targets must lie in [0, 1]")
    target = target.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target)
    if iou_weight:
        loss = loss + iou_weight * (1.0 - soft_iou(torch.sigmoid(logits), target)).mean()
    return loss


def mask_iou(prediction: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union per image (B,) of two masks (B, 1, n, n).

    Boolean masks are used as they are; float ones (probabilities, soft targets; not logits)
    count as object where >= threshold. Two empty masks are identical: IoU 1.
    """
    _check_mask(prediction, "prediction")
    if prediction.shape != target.shape:
        raise ValueError(f"masks differ in shape: {tuple(prediction.shape)} and {tuple(target.shape)}")
    a, b = (m if m.dtype == torch.bool else m >= threshold for m in (prediction, target))
    inter = (a & b).flatten(1).sum(1)
    union = (a | b).flatten(1).sum(1)
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter, dtype=torch.float32))


def _check_mask(mask: torch.Tensor, name: str) -> None:
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"{name} must be (B, 1, H, W), got shape {tuple(mask.shape)}")
