"""The full Pixel2Mesh training objective over the three deformation stages."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import torch

from blender_p2m.model.network import StageOutput
from training.losses.chamfer import chamfer_loss
from training.losses.edge import edge_length_loss
from training.losses.laplacian import laplacian_loss
from training.losses.move import move_loss
from training.losses.normal import normal_loss
from training.losses.surface_chamfer import surface_chamfer_loss

TERMS = ("chamfer", "normal", "edge", "laplacian", "move")


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms, relative to the chamfer gt->pred term.

    The defaults are the original code's weights divided by its chamfer weight (3000). There:
    chamfer gt->pred 3000 and pred->gt 0.55 x 3000, normal 0.5, edge 300, Laplacian 1500
    (x0.1 in block 1), move 100 in blocks 2 and 3. `LossWeights.paper()` gives the weights
    printed in the paper.

    Attributes:
        chamfer_gt_to_pred: weight of the mean gt->pred squared distance.
        chamfer_pred_to_gt: weight of the mean pred->gt squared distance.
        normal: weight of the normal (|cos|) loss.
        edge: weight of the squared edge length.
        laplacian: weight of the Laplacian-coordinate change.
        laplacian_first_block_scale: extra factor on the Laplacian term of the first block,
            which starts from the ellipsoid and must change shape a lot.
        move: weight of the vertex displacement, applied to blocks 2 and 3 only.
        surface: weight of the chamfer on points sampled on the predicted surface (both
            directions weigh 1 inside it), used when pixel2mesh_loss gets surface_points > 0.
    """

    chamfer_gt_to_pred: float = 1.0
    chamfer_pred_to_gt: float = 0.55
    normal: float = 1.67e-4
    edge: float = 0.1
    laplacian: float = 0.5
    laplacian_first_block_scale: float = 0.1
    move: float = 0.033
    surface: float = 1.0

    @classmethod
    def paper(cls) -> "LossWeights":
        """The weights given in the ECCV 2018 paper (no move term, same Laplacian everywhere)."""
        return cls(chamfer_gt_to_pred=1.0, chamfer_pred_to_gt=1.0, normal=1.6e-4, edge=0.1,
                   laplacian=0.3, laplacian_first_block_scale=1.0, move=0.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LossWeights":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown loss weight fields: {sorted(unknown)}")
        return cls(**{k: float(v) for k, v in d.items()})


def pixel2mesh_loss(stages: Sequence[StageOutput], gt_points: torch.Tensor, gt_normals: torch.Tensor,
                    weights: LossWeights = LossWeights(), surface_points: int = 0
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of all loss terms over all stages.

    Per stage s: chamfer (both directions, weighted) + normal + edge + Laplacian (scaled in
    the first stage) + move (stages after the first).

    Args:
        stages: the network's output per deformation block (or the same built by hand:
            evaluation's baseline, fit_ceiling); `.vertices` (B, N_s, 3), `.vertices_before`
            (B, N_s, 3) and `.edges` (E_s, 2) are read.
        gt_points: (B, M, 3) points sampled on the GT surface.
        gt_normals: (B, M, 3) unit normals at those points.
        weights: loss weights.
        surface_points: if > 0, also a chamfer term ("surface") on that many points sampled
            on each stage's predicted surface (faces read from `.faces`).

    Returns:
        total: scalar to back-propagate.
        terms: detached scalars for logging, each the weighted contribution to `total`:
            "chamfer", "normal", "edge", "laplacian", "move" (summed over stages), the same
            per stage as "chamfer/0", "normal/0", ..., and "total"; with surface_points,
            "surface" too. The summed terms add up to "total".
    """
    if len(stages) == 0:
        raise ValueError("pixel2mesh_loss needs at least one stage")
    total = gt_points.new_zeros(())
    names = TERMS + (("surface",) if surface_points > 0 else ())
    terms: dict[str, torch.Tensor] = {name: gt_points.new_zeros(()) for name in names}
    for s, stage in enumerate(stages):
        verts = stage.vertices  # (B, N_s, 3)
        before = stage.vertices_before  # (B, N_s, 3)
        edges = stage.edges  # (E_s, 2)
        cham = chamfer_loss(verts, gt_points, weights.chamfer_pred_to_gt,
                            weights.chamfer_gt_to_pred)
        lap_weight = weights.laplacian * (weights.laplacian_first_block_scale if s == 0 else 1.0)
        move_weight = weights.move if s > 0 else 0.0
        stage_terms = {
            "chamfer": cham.loss,
            "normal": weights.normal * normal_loss(verts, edges, gt_normals,
                                                   cham.pred_nearest_idx),
            "edge": weights.edge * edge_length_loss(verts, edges),
            "laplacian": lap_weight * laplacian_loss(before, verts, edges),
            "move": move_weight * move_loss(before, verts),
        }
        if surface_points > 0:
            stage_terms["surface"] = weights.surface * surface_chamfer_loss(
                verts, stage.faces, gt_points, surface_points).loss
        for name, value in stage_terms.items():
            total = total + value
            terms[name] = terms[name] + value.detach()
            terms[f"{name}/{s}"] = value.detach()
    terms["total"] = total.detach()
    return total, terms
