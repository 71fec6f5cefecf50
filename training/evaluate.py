"""python -m training.evaluate --weights FILE --data DIR --split test [--out DIR]

Scores a model with the Pixel2Mesh protocol (F-score at tau = 1e-4 and 2 tau, CD x 1000,
squared distances) per category and as the class mean, on the predicted vertices and on
points sampled on the predicted surface, beside the initial ellipsoid as a baseline.
Writes eval.md, eval.json and grid.png (input | prediction | prediction turned 60 degrees |
ground truth turned 60 degrees, rendered with Blender).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from torch.utils.data import DataLoader

from blender_p2m.errors import P2MError
from blender_p2m.model.checkpoint import load_checkpoint
from blender_p2m.model.network import StageOutput

from .data.dataset import P2MDataset, _meta, camera_frame_surface
from .metrics import MetricAccumulator, align_depth, point_metrics
from .run_checkpoints import resolve_checkpoint
from .validate import score


class EllipsoidBaseline(nn.Module):
    """The initial ellipsoid, unpooled to every stage with no deformation (no learning)."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, images, intrinsics):
        net, outputs = self.network, []
        for i in range(net.n_stages):
            template = net.template(i).unsqueeze(0).expand(images.shape[0], -1, -1)
            outputs.append(StageOutput(template, template, net.faces(i), net.edges(i)))
        return outputs


def ground_truth_mesh(root: Path, object_id: str, view: dict):
    """The ground truth as the dataset stores it: surface points, drawn as small dots.

    (Regenerating procedural meshes would show the generator's current code, which may
    have changed since the dataset was built; the stored points are what was scored.)
    """
    from .mesh_render import point_cloud_mesh

    pts, _ = camera_frame_surface(root / "objects" / object_id, view)
    return point_cloud_mesh(pts[:6000], radius=0.003)


def model_predictor(model, device="cpu"):
    """`make_grid`'s predictor for a network: a sample -> its final mesh (vertices, faces) in numpy."""
    def predict(sample: dict):
        with torch.no_grad():
            out = model(sample["image"][None].to(device), sample["intrinsics"][None].to(device))[-1]
        return out.vertices[0].float().cpu().numpy(), out.faces.cpu().numpy()
    return predict


def make_grid(predict, dataset: P2MDataset, path: Path, per_category: int = 1,
              titles=("input", "prediction", "prediction, turned 60 deg", "ground truth, turned 60 deg")) -> None:
    """Input | mesh | mesh turned 60 degrees | ground truth turned 60 degrees, a row per category.

    Args:
        predict: callable(sample dict of `dataset`) -> (vertices (V, 3), faces (F, 3)) numpy,
            camera frame; `model_predictor(model)` for a network.
    """
    from blender_p2m.blender.quiet import quiet_blender_output

    from .mesh_render import CameraFrameRenderer, rotate_about

    picks, seen = [], {}
    for i, cat in enumerate(dataset.categories):
        if seen.get(cat, 0) < per_category and dataset.samples[i][1] == 0:
            picks.append(i)
            seen[cat] = seen.get(cat, 0) + 1
    with quiet_blender_output():
        renderer = CameraFrameRenderer(224)
        rows = []
        for i in picks:
            sample = dataset[i]
            oid, k = dataset.samples[i]
            view = _meta(str(dataset.root / "objects" / oid))["views"][k]
            pv, pf = predict(sample)
            K = (view["fx"], view["fy"], view["cx"], view["cy"])
            centre = np.array([0.0, 0.0, -view["depth"]])
            gv, gf = ground_truth_mesh(dataset.root, oid, view)
            tiles = [np.asarray(Image.open(dataset.root / "objects" / oid / view["image"]).convert("RGBA")),
                     renderer.render(pv, pf, K),
                     renderer.render(rotate_about(pv, centre, 60), pf, K),
                     renderer.render(rotate_about(gv, centre, 60), gf, K, colour=(0.45, 0.6, 0.8))]
            rows.append((dataset.categories[i], tiles))
    s = 224
    grid = Image.new("RGB", (4 * s + 110, len(rows) * s + 24), "white")
    draw = ImageDraw.Draw(grid)
    for j, title in enumerate(titles):
        draw.text((110 + j * s + 6, 6), title, fill=(0, 0, 0))
    for r, (cat, tiles) in enumerate(rows):
        draw.text((6, 24 + r * s + s // 2), cat, fill=(0, 0, 0))
        for j, t in enumerate(tiles):
            tile = Image.new("RGBA", (s, s), (255, 255, 255, 255))
            tile.alpha_composite(Image.fromarray(t))
            grid.paste(tile.convert("RGB"), (110 + j * s, 24 + r * s))
    grid.save(path)


def evaluate(weights: Path, data: Path, split: str, out: Path, batch_size: int = 8,
             surface_points: int = 2466, grid: bool = True, max_objects=None, max_per_category=None) -> dict:
    path = resolve_checkpoint(weights)
    model, metadata = load_checkpoint(path)
    dataset = P2MDataset(data, split, model.config.input_size, points=None, augment=None,
                         max_objects=max_objects, max_per_category=max_per_category)
    if len(dataset) == 0:
        raise P2MError(f"the {split} split of {data} is empty")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=1)
    depth_aligned, depth_scales = MetricAccumulator(), []

    def score_depth_aligned(batch, outputs):
        gt = batch["points"].float()
        aligned, factors = align_depth(outputs[-1].vertices.float(), gt)
        depth_aligned.add(list(batch["category"]), point_metrics(aligned, gt))
        depth_scales.extend(factors.tolist())

    on_vertices, on_surface = score(model, loader, "cpu", surface_points=surface_points,
                                    collect=score_depth_aligned)
    base_vertices, _ = score(EllipsoidBaseline(model), loader, "cpu")
    depth_error = [abs(f - 1.0) for f in depth_scales]
    result = {"weights": str(path), "data": str(data), "split": split, "samples": len(dataset),
              "model": on_vertices.to_json(), "model_surface": on_surface.to_json() if on_surface else None,
              "ellipsoid": base_vertices.to_json(),
              "model_depth_aligned": {**depth_aligned.to_json(),
                                      "mean_abs_scale_error": sum(depth_error) / len(depth_error),
                                      "median_abs_scale_error": sorted(depth_error)[len(depth_error) // 2]}}
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# Evaluation: `{path.name}` on the {split} split of `{data}` ({len(dataset)} views)",
          "", "Pixel2Mesh protocol: squared distances; F-score at tau = 1e-4 and 2tau = 2e-4 (%), "
          "CD = (mean gt->pred + mean pred->gt) x 1000.", "",
          "## Model, predicted vertices (2466)", "", on_vertices.to_markdown()]
    if on_surface:
        md += ["", f"## Model, {surface_points} points sampled on the predicted surface", "", on_surface.to_markdown()]
    md += ["", "## Baseline: initial ellipsoid (no learning), its 2466 vertices", "", base_vertices.to_markdown()]
    md += ["", "## Diagnostic: predicted vertices rescaled about the camera centre to the best depth",
           "", "An oracle that uses the ground truth (`training.metrics.align_depth`): the shape error "
           "without the depth error. Median |scale - 1| = "
           f"{result['model_depth_aligned']['median_abs_scale_error']:.3f}, mean "
           f"{result['model_depth_aligned']['mean_abs_scale_error']:.3f}.", "", depth_aligned.to_markdown()]
    (out / "eval.md").write_text("\n".join(md) + "\n")
    (out / "eval.json").write_text(json.dumps(result, indent=1))
    if grid:
        make_grid(model_predictor(model), dataset, out / "grid.png")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, type=Path, help="weights file, checkpoint or run folder")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, default=None, help="output folder (default: eval_<split> beside the weights)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-grid", action="store_true")
    p.add_argument("--max-objects", type=int, default=None, help="only the split's first N objects")
    p.add_argument("--max-per-category", type=int, default=None,
                   help="only the first N objects of each category (e.g. to score training objects)")
    args = p.parse_args(argv)
    out = args.out or (args.weights if args.weights.is_dir() else args.weights.parent) / f"eval_{args.split}"
    try:
        evaluate(args.weights, args.data, args.split, out, args.batch_size,
                 grid=not args.no_grid, max_objects=args.max_objects,
                 max_per_category=args.max_per_category)
    except (P2MError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((out / "eval.md").read_text())
    print(f"[evaluate] wrote {out / 'eval.md'}, eval.json" + ("" if args.no_grid else ", grid.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
