"""Move term of the original Pixel2Mesh code: a block should refine, not relocate."""
from __future__ import annotations

import torch


def move_loss(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Mean squared displacement of the vertices across a deformation block.

    Args:
        before: (B, N, 3) block input (after unpooling).
        after: (B, N, 3) block output.

    Returns:
        Scalar: sum over xyz, mean over vertices and batch.
    """
    if before.shape != after.shape:
        raise ValueError(f"shapes differ: {tuple(before.shape)} and {tuple(after.shape)}")
    diff = after - before  # (B, N, 3)
    return (diff * diff).sum(-1).mean()  # ()
