"""Scoring a model on a data loader with the Pixel2Mesh protocol (used in training and evaluation)."""
from __future__ import annotations

import torch

from .metrics import MetricAccumulator, point_metrics, sample_surface


@torch.no_grad()
def score(model, loader, device, max_samples: int | None = None, surface_points: int = 0,
          collect=None) -> tuple[MetricAccumulator, MetricAccumulator | None]:
    """F-score(tau), F-score(2 tau) and CD per category on the final stage.

    Args:
        surface_points: if > 0, also score that many points sampled on the predicted
            surface (the second accumulator); vertices are always scored.
        collect: optional callable(batch, outputs) for grids and examples.
    Returns:
        (metrics on predicted vertices, metrics on surface samples or None).
    """
    was_training = model.training
    model.eval()
    on_vertices = MetricAccumulator()
    on_surface = MetricAccumulator() if surface_points else None
    seen = 0
    gen = torch.Generator().manual_seed(0)
    for batch in loader:
        images = batch["image"].to(device)
        intrinsics = batch["intrinsics"].to(device)
        gt = batch["points"].to(device).float()
        outputs = model(images, intrinsics)
        final = outputs[-1]
        pred = final.vertices.float()
        on_vertices.add(list(batch["category"]), {k: v.cpu() for k, v in point_metrics(pred, gt).items()})
        if on_surface is not None:
            faces = final.faces
            samples = torch.stack([sample_surface(v.cpu(), faces.cpu(), surface_points, generator=gen)[0]
                                   for v in pred]).to(device)
            on_surface.add(list(batch["category"]),
                           {k: v.cpu() for k, v in point_metrics(samples, gt).items()})
        if collect is not None:
            collect(batch, outputs)
        seen += len(images)
        if max_samples is not None and seen >= max_samples:
            break
    model.train(was_training)
    return on_vertices, on_surface
