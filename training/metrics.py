"""Evaluation as in the Pixel2Mesh line of work: F-score at tau and 2 tau, and chamfer x 1000.

Distances are squared Euclidean nearest-neighbour distances between points sampled on the
predicted and GT surfaces; tau = 1e-4 is a threshold on the squared distance. Results are
averaged per category, then over categories ("class mean"), as the papers report them.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch

from training.data import surface
from training.losses.chamfer import nearest_squared_distances

METRIC_LABELS = {
    "f_tau": "F(tau)",
    "f_2tau": "F(2tau)",
    "cd": "CD",
    "precision_tau": "P(tau)",
    "recall_tau": "R(tau)",
    "precision_2tau": "P(2tau)",
    "recall_2tau": "R(2tau)",
}


def sample_surface(vertices: torch.Tensor, faces: torch.Tensor, n: int,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Points drawn uniformly by area on a triangle mesh, with the normals of their faces.

    A torch front end to `training.data.surface.sample_surface`, the sampler the ground
    truth was drawn with, so predictions and ground truth are sampled the same way.

    Args:
        vertices: (V, 3) vertex positions of one mesh (not batched).
        faces: (F, 3) vertex indices; normals follow the winding by the right-hand rule.
        n: number of points.
        generator: optional torch.Generator for reproducible samples (it seeds the draw).

    Returns:
        points: (n, 3) tensor (float32 unless vertices are floating already), on the
        device of `vertices`; normals: (n, 3) unit normals of the faces the points lie on.
    """
    if vertices.dim() != 2 or vertices.shape[-1] != 3 or faces.dim() != 2 or faces.shape[-1] != 3:
        raise ValueError(f"expected (V, 3) vertices and (F, 3) faces, got "
                         f"{tuple(vertices.shape)} and {tuple(faces.shape)}")
    dtype = vertices.dtype if vertices.is_floating_point() else torch.float32
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    points, normals = surface.sample_surface(vertices.detach().cpu().to(dtype).numpy(),
                                             faces.detach().cpu().long().numpy(), n,
                                             np.random.default_rng(seed))
    as_tensor = lambda a: torch.from_numpy(a).to(device=vertices.device, dtype=dtype)  # noqa: E731
    return as_tensor(points), as_tensor(normals)


@torch.no_grad()
def point_metrics(pred_points: torch.Tensor, gt_points: torch.Tensor,
                  taus: tuple[float, float] = (1e-4, 2e-4), chunk_size: int = 1024
                  ) -> dict[str, torch.Tensor]:
    """F-scores and chamfer distance of the Pixel2Mesh evaluation protocol, per sample.

    Args:
        pred_points: (B, N, 3) points on the prediction (the papers use its vertices or
            points sampled on it).
        gt_points: (B, M, 3) points sampled on the GT surface.
        taus: the two thresholds on the squared distance (tau, 2 tau).
        chunk_size: passed to `nearest_squared_distances`.

    Returns:
        dict of (B,) float tensors: "f_tau", "f_2tau" (percent), "cd" ((mean gt->pred +
        mean pred->gt) x 1000), "precision_tau", "recall_tau", "precision_2tau",
        "recall_2tau" (percent).
    """
    if len(taus) != 2:
        raise ValueError(f"taus must be (tau, 2 tau), got {taus}")
    d_pred, _ = nearest_squared_distances(pred_points, gt_points, chunk_size)  # (B, N)
    d_gt, _ = nearest_squared_distances(gt_points, pred_points, chunk_size)  # (B, M)
    out = {}
    for suffix, tau in zip(("tau", "2tau"), taus):
        precision = 100.0 * (d_pred <= tau).to(d_pred.dtype).mean(dim=1)  # (B,)
        recall = 100.0 * (d_gt <= tau).to(d_gt.dtype).mean(dim=1)  # (B,)
        denom = precision + recall  # (B,)
        f = torch.where(denom > 0, 2.0 * precision * recall / denom.clamp(min=1e-12),
                        torch.zeros_like(denom))  # (B,)
        out[f"f_{suffix}"] = f
        out[f"precision_{suffix}"] = precision
        out[f"recall_{suffix}"] = recall
    out["cd"] = 1000.0 * (d_gt.mean(dim=1) + d_pred.mean(dim=1))  # (B,)
    return {k: out[k] for k in ("f_tau", "f_2tau", "cd", "precision_tau", "recall_tau",
                                "precision_2tau", "recall_2tau")}


@torch.no_grad()
def align_depth(pred_points: torch.Tensor, gt_points: torch.Tensor,
                scales: torch.Tensor | None = None, search_points: int = 2000
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagnostic oracle: the prediction rescaled about the camera centre to fit the GT.

    Scaling camera-frame points about the origin leaves their image unchanged, so one
    picture cannot tell an object from a larger one farther away; the data convention
    fixes the size (0.57 m diagonal), and the network must read the depth from it.
    Scoring the prediction after the best such scale (the one with the lowest chamfer,
    found on a subset of the GT points) separates shape error from depth error. It uses
    the ground truth, so it is a diagnostic, never a result.

    Args:
        pred_points: (B, N, 3) camera-frame points; gt_points: (B, M, 3).
        scales: (S,) candidate factors; default 0.85..1.15 in steps of 0.01.
        search_points: GT points used to choose the factor (every `M // search_points`-th).

    Returns:
        aligned (B, N, 3) and the chosen factors (B,).
    """
    if scales is None:
        scales = torch.linspace(0.85, 1.15, 31, dtype=pred_points.dtype, device=pred_points.device)
    stride = max(1, gt_points.shape[1] // search_points)
    gt_subset = gt_points[:, ::stride]  # (B, M', 3)
    costs = []
    for s in scales:
        d_pred, _ = nearest_squared_distances(pred_points * s, gt_subset)  # (B, N)
        d_gt, _ = nearest_squared_distances(gt_subset, pred_points * s)  # (B, M')
        costs.append(d_pred.mean(dim=1) + d_gt.mean(dim=1))  # (B,)
    best = scales[torch.stack(costs, dim=1).argmin(dim=1)]  # (B,)
    return pred_points * best[:, None, None], best


def fraction_in_silhouette(vertices: torch.Tensor, intrinsics: torch.Tensor,
                           mask: torch.Tensor) -> torch.Tensor:
    """Per sample (B,), the fraction of vertices that project inside the silhouette.

    Args:
        vertices: (B, N, 3) camera frame (X right, Y up, looking down -Z).
        intrinsics: (B, 4) fx, fy, cx, cy in the mask's pixels.
        mask: (B, 1, S, S) silhouette; object where >= 0.5. Outside the picture counts as out.
    """
    fx, fy, cx, cy = intrinsics.float().unbind(-1)                          # (B,) each
    depth = (-vertices[..., 2]).clamp(min=1e-9)                             # (B, N)
    u = cx[:, None] + fx[:, None] * vertices[..., 0] / depth
    v = cy[:, None] - fy[:, None] * vertices[..., 1] / depth
    size_y, size_x = mask.shape[-2:]
    col, row = u.floor().long(), v.floor().long()
    in_picture = (col >= 0) & (col < size_x) & (row >= 0) & (row < size_y) & (vertices[..., 2] < 0)
    flat = mask[:, 0].flatten(1)                                            # (B, S * S)
    index = (row.clamp(0, size_y - 1) * size_x + col.clamp(0, size_x - 1))
    inside = (flat.gather(1, index) >= 0.5) & in_picture
    return inside.float().mean(dim=1)


def binary_iou(truth: np.ndarray, made: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape; two empty masks agree (1.0)."""
    union = (truth | made).sum()
    return float((truth & made).sum() / union) if union else 1.0


def _as_floats(value) -> list[float]:
    if isinstance(value, torch.Tensor):
        return [float(x) for x in value.detach().reshape(-1).tolist()]
    if isinstance(value, (int, float)):
        return [float(value)]
    return [float(x) for x in value]


NOT_IN_CLASS_MEAN = frozenset({"other"})


class MetricAccumulator:
    """Running per-category means of per-sample metrics.

    `class_mean()` averages the per-category means, so every category weighs the same
    whatever its number of test samples (the figure the papers report); `sample_mean()` is
    the plain mean over samples.
    """

    def __init__(self) -> None:
        self._sums: dict[str, dict[str, float]] = {}  # category -> metric -> sum
        self._counts: dict[str, dict[str, int]] = {}  # category -> metric -> samples
        self._samples: dict[str, int] = {}  # category -> samples
        self._metric_names: list[str] = []  # in order of first appearance

    def add(self, category: str | Sequence[str], metrics: Mapping[str, object]) -> None:
        """Record one sample, or a batch.

        Args:
            category: a category name for one sample, or a list of B names for a batch.
            metrics: metric name -> a number or one-element tensor (one sample), or a (B,)
                tensor / sequence (batch), e.g. the output of `point_metrics`.
        """
        categories = [category] if isinstance(category, str) else list(category)
        values = {name: _as_floats(v) for name, v in metrics.items()}
        for name, vals in values.items():
            if len(vals) != len(categories):
                raise ValueError(f"metric {name!r} has {len(vals)} values for "
                                 f"{len(categories)} categories")
            if name not in self._metric_names:
                self._metric_names.append(name)
        for k, cat in enumerate(categories):
            sums = self._sums.setdefault(cat, {})
            counts = self._counts.setdefault(cat, {})
            self._samples[cat] = self._samples.get(cat, 0) + 1
            for name, vals in values.items():
                sums[name] = sums.get(name, 0.0) + vals[k]
                counts[name] = counts.get(name, 0) + 1

    def __len__(self) -> int:
        return sum(self._samples.values())

    def counts(self) -> dict[str, int]:
        """Number of samples per category."""
        return {cat: self._samples[cat] for cat in sorted(self._samples)}

    def per_category(self) -> dict[str, dict[str, float]]:
        """Mean of every metric within each category (categories sorted by name)."""
        return {cat: {name: self._sums[cat][name] / self._counts[cat][name]
                      for name in self._metric_names if name in self._sums[cat]}
                for cat in sorted(self._sums)}

    def class_mean(self) -> dict[str, float]:
        """Mean over categories of the per-category means; `other` objects do not count.

        `other` holds real furniture and vehicles outside the 13 categories: they help
        training, but the class mean is the 13 categories' figure, comparable to the papers.
        """
        per_cat = self.per_category()
        out = {}
        for name in self._metric_names:
            means = [m[name] for cat, m in per_cat.items() if name in m and cat not in NOT_IN_CLASS_MEAN]
            out[name] = sum(means) / len(means) if means else math.nan
        return out

    def sample_mean(self) -> dict[str, float]:
        """Mean over all samples, whatever their category."""
        out = {}
        for name in self._metric_names:
            total = sum(s.get(name, 0.0) for s in self._sums.values())
            count = sum(c.get(name, 0) for c in self._counts.values())
            out[name] = total / count if count else math.nan
        return out

    def to_markdown(self, digits: int = 3) -> str:
        """A table with a row per category, then "class mean", with a sample count column."""
        names = self._metric_names
        header = ["category", "count"] + [METRIC_LABELS.get(n, n) for n in names]
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]

        def row(label: str, count: int, means: Mapping[str, float]) -> str:
            cells = [label, str(count)] + [f"{means[n]:.{digits}f}" if n in means else ""
                                           for n in names]
            return "| " + " | ".join(cells) + " |"

        for cat, means in self.per_category().items():
            lines.append(row(cat, self._samples[cat], means))
        lines.append(row("class mean", len(self), self.class_mean()))
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        """Plain dict (JSON-serialisable) with per-category means and counts, the class mean,
        the sample mean and the total count."""
        per_cat = self.per_category()
        return {
            "per_category": {cat: {"count": self._samples[cat], **per_cat[cat]} for cat in per_cat},
            "class_mean": self.class_mean(),
            "sample_mean": self.sample_mean(),
            "count": len(self),
        }
