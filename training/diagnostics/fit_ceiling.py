"""python -m training.diagnostics.fit_ceiling --data DIR [--split test] [--objects-per-category 2] [--losses training chamfer]

What the template and the training objective allow, with no network in the way: the
ellipsoid's vertices are fitted directly to each view's ground truth by gradient descent on
the training loss (the same three stages, unpooling and loss terms as the network), then
scored with the Pixel2Mesh protocol like a prediction.

A network can only approach this per-object optimum (it must also read the shape from the
picture), so it tells which limit a score is up against:
- far above the model's score: capacity or training time;
- close to it: the genus-0 template and the loss's regularisers, which more training or a
  bigger network cannot lift.
`--losses chamfer` drops the regularisers (normal, edge, Laplacian, move) to separate the two.
Like `training.metrics.align_depth` it uses the ground truth: a diagnostic, never a result.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from blender_p2m.errors import P2MError
from blender_p2m.model.config import get_config
from blender_p2m.model.network import Pixel2Mesh, StageOutput

from ..data.dataset import P2MDataset, _meta, camera_frame_surface
from ..losses import LossWeights, pixel2mesh_loss
from ..metrics import MetricAccumulator, point_metrics, sample_surface

LOSS_SETS = {
    "training": LossWeights(),
    "chamfer": replace(LossWeights(), normal=0.0, edge=0.0, laplacian=0.0, move=0.0),
}


class TemplateFit:
    """The network's template and stage topology, with free per-stage displacements.

    Stage s's vertices are the network's unpooling of stage s-1's + d_s, exactly the
    structure its blocks produce, so `pixel2mesh_loss` applies unchanged.
    """

    def __init__(self, config_name: str = "compact"):
        self.network = Pixel2Mesh(get_config(config_name))      # its template, not a rebuilt copy
        stages = range(self.network.n_stages)
        self.input_size = self.network.config.input_size
        self.faces = [self.network.faces(i) for i in stages]
        self.edges = [self.network.edges(i) for i in stages]
        self.sizes = [len(self.network.template(i)) for i in stages]

    def stages(self, displacements: list[torch.Tensor]) -> list[StageOutput]:
        net, b = self.network, displacements[0].shape[0]
        vertices = net.template(0).unsqueeze(0).expand(b, -1, -1)
        out = []
        for i, d in enumerate(displacements):
            if i > 0:
                vertices = net.unpool(i, vertices)
            new = vertices + d
            out.append(StageOutput(new, vertices, self.faces[i], self.edges[i]))
            vertices = new
        return out


def fit(template: TemplateFit, points: torch.Tensor, normals: torch.Tensor, weights: LossWeights,
        steps: int, lr: float, loss_points: int, seed: int = 0) -> torch.Tensor:
    """Fit the template to a batch of ground truths; returns the final stage's vertices (B, N, 3).

    Args:
        points, normals: (B, M, 3) camera-frame ground truth.
        loss_points: GT points per step, drawn afresh each step as in training.
    """
    b, m = points.shape[:2]
    gen = torch.Generator().manual_seed(seed)
    ds = [torch.zeros(b, n, 3, requires_grad=True) for n in template.sizes]
    opt = torch.optim.Adam(ds, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 0.02)
    for _ in range(steps):
        pick = torch.randint(0, m, (loss_points,), generator=gen) if loss_points < m else slice(None)
        loss, _ = pixel2mesh_loss(template.stages(ds), points[:, pick], normals[:, pick], weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return template.stages(ds)[-1].vertices.detach()


def fit_ceiling(template: TemplateFit, data: Path, split: str, objects_per_category: int,
                weights: LossWeights, steps: int, lr: float, batch_size: int = 8,
                loss_points: int = 4000, surface_points: int = 2466, progress=None
                ) -> tuple[MetricAccumulator, MetricAccumulator, dict[str, np.ndarray]]:
    """Fit the first view of the first N objects of each category.

    Returns the metrics on the fitted vertices, those on points sampled on the fitted surface
    (which also counts triangles stretched across gaps, as the vertex metric does not), and
    the fitted vertices (V, 3) by object id (faces: `TemplateFit.faces[-1]`).
    """
    views = P2MDataset(data, split, template.input_size, points=None, max_per_category=objects_per_category)
    picked = [(oid, cat) for (oid, k), cat in zip(views.samples, views.categories) if k == 0]
    if not picked:
        raise P2MError(f"the {split} split of {data} is empty")
    on_vertices, on_surface, meshes = MetricAccumulator(), MetricAccumulator(), {}
    gen = torch.Generator().manual_seed(0)
    for start in range(0, len(picked), batch_size):
        chunk = picked[start:start + batch_size]
        clouds = [camera_frame_surface(data / "objects" / oid, _meta(str(data / "objects" / oid))["views"][0])
                  for oid, _ in chunk]
        m = min(len(p) for p, _ in clouds)          # equal sizes to batch; scoring uses all points
        points = torch.from_numpy(np.stack([p[:m] for p, _ in clouds]))
        normals = torch.from_numpy(np.stack([n[:m] for _, n in clouds]))
        fitted = fit(template, points, normals, weights, steps, lr, loss_points, seed=start)
        for (oid, cat), v, (p, _) in zip(chunk, fitted, clouds):
            gt = torch.from_numpy(p)[None]
            on_vertices.add(cat, point_metrics(v[None], gt))
            samples, _ = sample_surface(v, template.faces[-1], surface_points, generator=gen)
            on_surface.add(cat, point_metrics(samples[None], gt))
            meshes[oid] = v.numpy()
        if progress:
            progress(start + len(chunk), len(picked))
    return on_vertices, on_surface, meshes


def draw_grid(template: TemplateFit, data: Path, split: str, meshes: dict[str, np.ndarray], path: Path) -> None:
    """evaluate's grid (input | mesh | turned 60 degrees | ground truth) with fitted meshes."""
    from ..evaluate import make_grid

    faces = template.faces[-1].numpy()
    dataset = P2MDataset(data, split, template.input_size, points=None, max_per_category=1)
    make_grid(lambda sample: (meshes[sample["object_id"]], faces), dataset, path,
              titles=("input", "fitted to the ground truth", "fitted, turned 60 deg",
                      "ground truth, turned 60 deg"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.fit_ceiling", description=__doc__.splitlines()[2])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--objects-per-category", type=int, default=2, help="first N objects of each category (view 0)")
    p.add_argument("--losses", nargs="+", default=["training", "chamfer"], choices=sorted(LOSS_SETS),
                   help="training: the training loss weights; chamfer: chamfer terms only")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--config", default="compact", help="model configuration whose template is fitted")
    p.add_argument("--grid", type=Path, default=None,
                   help="also draw the first object of each category, fitted with the first --losses, to this PNG")
    args = p.parse_args(argv)
    if args.objects_per_category < 1 or args.steps < 1:
        print("error: --objects-per-category and --steps must be at least 1", file=sys.stderr)
        return 2
    try:
        template = TemplateFit(args.config)
        results = {}
        for name in args.losses:
            results[name] = fit_ceiling(
                template, args.data, args.split, args.objects_per_category, LOSS_SETS[name], args.steps,
                args.lr, args.batch_size,
                progress=lambda done, total, name=name: print(f"[fit_ceiling] {name}: {done}/{total} views",
                                                              file=sys.stderr, flush=True))
    except (P2MError, FileNotFoundError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"# Template fitted directly to the ground truth ({args.split} split of {args.data}, "
          f"view 0 of {args.objects_per_category} objects per category, {args.steps} Adam steps)\n")
    if args.grid:
        draw_grid(template, args.data, args.split, results[args.losses[0]][2], args.grid)
    for name, (on_vertices, on_surface, _) in results.items():
        print(f"## Loss: {name} `{LOSS_SETS[name].to_dict()}`\n")
        print("Fitted vertices:\n")
        print(on_vertices.to_markdown(1))
        print("\n2466 points sampled on the fitted surface:\n")
        print(on_surface.to_markdown(1))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
