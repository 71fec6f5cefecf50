"""python -m training.evaluate --weights FILE --data DIR --split test [--out DIR] [--photos LIB]

Scores a model with the Pixel2Mesh protocol (F-score at tau = 1e-4 and 2 tau, CD x 1000,
squared distances) per category and as the class mean, on the predicted vertices and on
points sampled on the predicted surface, beside the initial ellipsoid as a baseline.
Writes eval.md, eval.json and grid.png (input | prediction | prediction turned 60 degrees |
ground truth turned 60 degrees, rendered with Blender).

With --photos, the same views are scored again on held-out photos (the library's split
of the same name): each view composited on one photo chosen by a hash of (object, view),
the largest centred crop, in three ways (--photo-modes):
  keep    the composite as it is (what a network without background removal sees);
  remove  the background removed by the model's silhouette head, through the API's own
          path (LoadedModel.prepare_input); a view where no object is found is scored
          with the background kept, and counted;
  oracle  the background removed with the render's true alpha.
Each mode reports the class-mean F-scores and CD, the mask IoU (keep: the silhouette
head at its resolution; remove: the mask the API made, at the picture's resolution,
against the true alpha) and the fraction of predicted vertices projecting inside the true
silhouette. Models with a silhouette head also get its mask IoU on white. The grid then
shows every row again on its held-out photo (the prediction from the background removed
by the model when it can, else kept).
"""
from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from torch.utils.data import DataLoader, Dataset

from blender_p2m.api import LoadedModel
from blender_p2m.errors import P2MError
from blender_p2m.image_io import load_image_file
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.checkpoint import load_checkpoint
from blender_p2m.model.network import StageOutput
from blender_p2m.model.preprocess import prepare
from blender_p2m.model.silhouette_head import mask_iou, mask_target

from .data.backgrounds import composite_on_photo, photo_for_view
from .data.dataset import P2MDataset, _meta, camera_frame_surface
from .data.real.photos import photo_paths
from .denormals import flush_denormals
from .metrics import MetricAccumulator, align_depth, binary_iou, fraction_in_silhouette, point_metrics
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
              titles=("input", "prediction", "prediction, turned 60 deg", "ground truth, turned 60 deg"),
              photo_rows: list[tuple[Dataset, Dataset]] | None = None) -> None:
    """Input | mesh | mesh turned 60 degrees | ground truth turned 60 degrees, a row per category.

    Args:
        predict: callable(sample dict of `dataset`) -> (vertices (V, 3), faces (F, 3)) numpy,
            camera frame; `model_predictor(model)` for a network.
        photo_rows: (shown, fed) PhotoViews pairs over `dataset`: after the rows above, the
            same picks again on held-out photos, the input tile from `shown` (the picture a
            user has) and the prediction from `fed` (e.g. its background removed).
    """
    from blender_p2m.blender.quiet import quiet_blender_output

    from .mesh_render import CameraFrameRenderer, rotate_about

    picks, seen = [], {}
    for i, cat in enumerate(dataset.categories):
        if seen.get(cat, 0) < per_category and dataset.samples[i][1] == 0:
            picks.append(i)
            seen[cat] = seen.get(cat, 0) + 1
    passes = [(dataset[i], None, dataset.categories[i], i) for i in picks]
    for shown, fed in photo_rows or []:
        passes += [(fed[i], _tile(shown[i]["image"]), f"{dataset.categories[i]}, photo", i) for i in picks]
    with quiet_blender_output():
        renderer = CameraFrameRenderer(224)
        rows = []
        for sample, input_tile, label, i in passes:
            oid, k = dataset.samples[i]
            view = _meta(str(dataset.root / "objects" / oid))["views"][k]
            pv, pf = predict(sample)
            K = (view["fx"], view["fy"], view["cx"], view["cy"])
            centre = np.array([0.0, 0.0, -view["depth"]])
            gv, gf = ground_truth_mesh(dataset.root, oid, view)
            if input_tile is None:
                input_tile = np.asarray(Image.open(dataset.root / "objects" / oid / view["image"]).convert("RGBA"))
            tiles = [input_tile,
                     renderer.render(pv, pf, K),
                     renderer.render(rotate_about(pv, centre, 60), pf, K),
                     renderer.render(rotate_about(gv, centre, 60), gf, K, colour=(0.45, 0.6, 0.8))]
            rows.append((label, tiles))
    s = 224
    label_width = 110 if not photo_rows else 150
    grid = Image.new("RGB", (4 * s + label_width, len(rows) * s + 24), "white")
    draw = ImageDraw.Draw(grid)
    for j, title in enumerate(titles):
        draw.text((label_width + j * s + 6, 6), title, fill=(0, 0, 0))
    for r, (label, tiles) in enumerate(rows):
        draw.text((6, 24 + r * s + s // 2), label, fill=(0, 0, 0))
        for j, t in enumerate(tiles):
            tile = Image.new("RGBA", (s, s), (255, 255, 255, 255))
            tile.alpha_composite(Image.fromarray(t).resize((s, s)) if t.shape[:2] != (s, s) else Image.fromarray(t))
            grid.paste(tile.convert("RGB"), (label_width + j * s, 24 + r * s))
    grid.save(path)


def _tile(image: torch.Tensor) -> np.ndarray:
    """A (3, S, S) network image in [0, 1] -> (S, S, 4) uint8 opaque RGBA for a grid tile."""
    rgb = (image.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    return np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)


PHOTO_MODES = ("keep", "remove", "oracle")
PHOTO_MODE_TITLES = {"keep": "background kept", "remove": "background removed by the model",
                     "oracle": "background removed with the true alpha (oracle)"}
# Format of eval.json (readers such as the ablation check it before reusing a cached one).
EVAL_FORMAT = 2


class PhotoViews(Dataset):
    """The views of a dataset on held-out photos: each view on the photo hash(object, view)
    picks, largest centred crop (composite_on_photo), seen through the same virtual camera,
    with the background kept, removed by `model` (LoadedModel) or removed with the true alpha.
    Everything but "image" is the dataset's sample (the mask is the object's silhouette);
    "remove" adds "removal_iou" and "object_found"."""

    def __init__(self, dataset: P2MDataset, photos: list[Path], background: str = "keep",
                 model: LoadedModel | None = None):
        if not photos:
            raise P2MError("no photos to evaluate on (the library's split is empty)")
        if background not in PHOTO_MODES:
            raise ValueError(f"unknown photo mode {background!r}: use one of {PHOTO_MODES}")
        if background == "remove" and (model is None or not model.can_remove_background):
            raise P2MError("removing backgrounds needs a model with a silhouette head")
        self.dataset, self.photos = dataset, list(photos)
        self.background, self.model = background, model

    def __len__(self) -> int:
        return len(self.dataset)

    def photo_for(self, index: int) -> Path:
        oid, k = self.dataset.samples[index]
        return photo_for_view(self.photos, oid, k)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        oid, k = self.dataset.samples[index]
        view = _meta(str(self.dataset.root / "objects" / oid))["views"][k]
        rgba = load_image_file(self.dataset.root / "objects" / oid / view["image"])
        h, w = rgba.shape[:2]
        intr = Intrinsics(view["fx"], view["fy"], view["cx"], view["cy"], w, h)
        on_photo = composite_on_photo(rgba, _photo(self.photo_for(index)))    # (H, W, 4), opaque
        size, extra = self.dataset.input_size, {}
        if self.background == "keep":
            prepared = prepare(on_photo, intr, size)
        elif self.background == "oracle":
            prepared = prepare(np.concatenate([on_photo[..., :3], rgba[..., 3:]], axis=-1), intr, size)
        else:
            try:
                prepared, _, mask = self.model.prepare_input(on_photo, intr, None, "remove")
                found = True
            except P2MError:                 # "no object found": a user would keep the background
                prepared, mask, found = prepare(on_photo, intr, size), np.zeros((h, w), np.float32), False
            extra = {"removal_iou": binary_iou(rgba[..., 3] >= 0.5, mask >= 0.5), "object_found": found}
        if not torch.equal(prepared.intrinsics, sample["intrinsics"]):
            raise AssertionError("the virtual camera depends on the background")   # crop=None never does
        return {**sample, "image": prepared.image, **extra}


@lru_cache(maxsize=16)
def _photo(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


class SilhouetteScorer(nn.Module):
    """The network as `score` calls it, keeping the mask IoU of every batch (collect)."""

    def __init__(self, network):
        super().__init__()
        self.network, self.logits, self.ious = network, None, []

    def forward(self, images, intrinsics):
        outputs, self.logits = self.network(images, intrinsics, return_silhouette=True)
        return outputs

    def collect(self, batch, outputs) -> None:
        target = mask_target(batch["mask"].float(), self.logits.shape[-1])     # (B, 1, n, n)
        self.ious.extend(mask_iou(torch.sigmoid(self.logits.float()), target).tolist())

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious)) if self.ious else float("nan")


def score_with_masks(model, loader, surface_points: int = 0, collect=None):
    """score() plus the mean mask IoU (None without a silhouette head)."""
    if model.silhouette_head is None:
        return (*score(model, loader, "cpu", surface_points=surface_points, collect=collect), None)
    scorer = SilhouetteScorer(model)

    def both(batch, outputs):
        scorer.collect(batch, outputs)
        if collect is not None:
            collect(batch, outputs)
    on_vertices, on_surface = score(scorer, loader, "cpu", surface_points=surface_points, collect=both)
    return on_vertices, on_surface, scorer.mean_iou


def score_on_photos(model, loaded: LoadedModel, dataset: P2MDataset, photos: list[Path],
                    mode: str, batch_size: int) -> tuple[dict, MetricAccumulator]:
    """One photo mode's scores: the metrics, its mask IoU and the vertices in the silhouette."""
    views = PhotoViews(dataset, photos, mode, loaded if mode == "remove" else None)
    # The silhouette pass runs inside the dataset for "remove": no worker process then.
    loader = DataLoader(views, batch_size=batch_size, shuffle=False, num_workers=0 if mode == "remove" else 1)
    inside, removal, missed = [], [], 0

    def collect(batch, outputs):
        nonlocal missed
        inside.extend(fraction_in_silhouette(outputs[-1].vertices.float(), batch["intrinsics"].float(),
                                             batch["mask"].float()).tolist())
        if "removal_iou" in batch:
            removal.extend(batch["removal_iou"].tolist())
            missed += int((~batch["object_found"]).sum())
    on_vertices, _, head_iou = score_with_masks(model, loader, collect=collect)
    result = {"model": on_vertices.to_json(),
              "mask_iou": float(np.mean(removal)) if mode == "remove" else head_iou if mode == "keep" else None,
              "vertices_in_silhouette": float(np.mean(inside)),
              "no_object_found": missed if mode == "remove" else None}
    return result, on_vertices


def photo_mode_table(modes: dict) -> list[str]:
    """The photo evaluation's summary, one row per background mode (eval.md and the model card)."""
    rows = ["| background | F(tau) | F(2tau) | CD | mask IoU | vertices in the true silhouette | no object found |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for mode, r in modes.items():
        mean = r["model"]["class_mean"]
        iou = "-" if r["mask_iou"] is None else f"{r['mask_iou']:.3f}"
        missed = "-" if r.get("no_object_found") is None else f"{r['no_object_found']} views"
        rows.append(f"| {PHOTO_MODE_TITLES[mode]} | {mean['f_tau']:.1f} | {mean['f_2tau']:.1f} "
                    f"| {mean['cd']:.3f} | {iou} | {100 * r['vertices_in_silhouette']:.1f}% | {missed} |")
    return rows


def _photo_markdown(modes: dict, tables: dict, n_photos: int, split: str) -> list[str]:
    md = ["", f"## Model on {n_photos} held-out {split} photos, predicted vertices (2466)", "",
          "Each view composited on one photo (hash of object and view, largest centred crop). Mask IoU: "
          "kept, the silhouette head at its resolution; removed, the API's mask at the picture's "
          "resolution against the true alpha. In silhouette: predicted vertices projecting inside the "
          "true silhouette. No object found: views where removal found nothing and the background "
          "was kept, as a user would.", "", *photo_mode_table(modes)]
    for mode, table in tables.items():
        md += ["", f"### {PHOTO_MODE_TITLES[mode].capitalize()}", "", table.to_markdown()]
    return md


def evaluate(weights: Path, data: Path, split: str, out: Path, batch_size: int = 8,
             surface_points: int = 2466, grid: bool = True, max_objects=None, max_per_category=None,
             photos: Path | None = None, photo_modes: tuple[str, ...] = PHOTO_MODES,
             depth_aligned: bool = True) -> dict:
    """Score `weights` on a split; writes eval.md, eval.json (and grid.png) into `out`.

    depth_aligned: also compute the depth-aligned oracle (a search over scale factors: most
    of the evaluation's time; the ablation leaves it out)."""
    unknown = [m for m in photo_modes if m not in PHOTO_MODES]
    if unknown:
        raise P2MError(f"unknown photo mode(s) {', '.join(unknown)}: use {', '.join(PHOTO_MODES)}")
    path = resolve_checkpoint(weights)
    model, metadata = load_checkpoint(path)
    dataset = P2MDataset(data, split, model.config.input_size, points=None, augment=None,
                         max_objects=max_objects, max_per_category=max_per_category)
    if len(dataset) == 0:
        raise P2MError(f"the {split} split of {data} is empty")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=1)
    aligned_metrics, depth_scales = MetricAccumulator(), []

    def score_depth_aligned(batch, outputs):
        gt = batch["points"].float()
        aligned, factors = align_depth(outputs[-1].vertices.float(), gt)
        aligned_metrics.add(list(batch["category"]), point_metrics(aligned, gt))
        depth_scales.extend(factors.tolist())

    on_vertices, on_surface, iou = score_with_masks(model, loader, surface_points,
                                                    score_depth_aligned if depth_aligned else None)
    base_vertices, _ = score(EllipsoidBaseline(model), loader, "cpu")
    result = {"weights": str(path), "data": str(data), "split": split, "samples": len(dataset),
              "model": on_vertices.to_json(), "model_surface": on_surface.to_json() if on_surface else None,
              "ellipsoid": base_vertices.to_json(), "mask_iou": iou, "model_depth_aligned": None}
    if depth_aligned:
        depth_error = sorted(abs(f - 1.0) for f in depth_scales)
        result["model_depth_aligned"] = {**aligned_metrics.to_json(),
                                         "mean_abs_scale_error": sum(depth_error) / len(depth_error),
                                         "median_abs_scale_error": depth_error[len(depth_error) // 2]}
    result["format"] = EVAL_FORMAT
    photo_md, library, loaded = [], None, None
    if photos is not None:
        loaded = LoadedModel(model, torch.device("cpu"), metadata, str(path))
        if "remove" in photo_modes and not loaded.can_remove_background:
            print(f"[evaluate] {path.name} has no silhouette head: the 'remove' photo mode is skipped")
            photo_modes = tuple(m for m in photo_modes if m != "remove")
        library = photo_paths(photos, split)
        modes, tables = {}, {}
        for mode in photo_modes:
            modes[mode], tables[mode] = score_on_photos(model, loaded, dataset, library, mode, batch_size)
        result["photos"] = {"library": str(photos), "photos": len(library), "modes": modes}
        photo_md = _photo_markdown(modes, tables, len(library), split)
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# Evaluation: `{path.name}` on the {split} split of `{data}` ({len(dataset)} views)",
          "", "Pixel2Mesh protocol: squared distances; F-score at tau = 1e-4 and 2tau = 2e-4 (%), "
          "CD = (mean gt->pred + mean pred->gt) x 1000.", "",
          "## Model, predicted vertices (2466)", "",
          *([f"Transparent views on white. Mask IoU {iou:.3f} (silhouette head, threshold 0.5).", ""]
            if iou is not None else []),
          on_vertices.to_markdown()]
    md += photo_md
    if on_surface:
        md += ["", f"## Model, {surface_points} points sampled on the predicted surface", "", on_surface.to_markdown()]
    md += ["", "## Baseline: initial ellipsoid (no learning), its 2466 vertices", "", base_vertices.to_markdown()]
    if depth_aligned:
        md += ["", "## Diagnostic: predicted vertices rescaled about the camera centre to the best depth",
               "", "An oracle that uses the ground truth (`training.metrics.align_depth`): the shape error "
               "without the depth error. Median |scale - 1| = "
               f"{result['model_depth_aligned']['median_abs_scale_error']:.3f}, mean "
               f"{result['model_depth_aligned']['mean_abs_scale_error']:.3f}.", "", aligned_metrics.to_markdown()]
    (out / "eval.md").write_text("\n".join(md) + "\n")
    (out / "eval.json").write_text(json.dumps(result, indent=1))
    if grid:
        photo_rows = None
        if photos is not None:
            fed = PhotoViews(dataset, library, "remove", loaded) if loaded.can_remove_background \
                else PhotoViews(dataset, library)
            photo_rows = [(PhotoViews(dataset, library), fed)]
        make_grid(model_predictor(model), dataset, out / "grid.png", photo_rows=photo_rows)
    return result


def main(argv=None) -> int:
    flush_denormals()                 # before any thread exists (training.denormals)
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, type=Path, help="weights file, checkpoint or run folder")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, default=None, help="output folder (default: eval_<split> beside the weights)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-grid", action="store_true")
    p.add_argument("--photos", type=Path, default=None,
                   help="photo library (photos.json + train/val/test): also score the views on its held-out photos")
    p.add_argument("--photo-modes", default=",".join(PHOTO_MODES),
                   help="with --photos: which of keep,remove,oracle to score (remove needs a silhouette head)")
    p.add_argument("--surface-points", type=int, default=2466,
                   help="points sampled on the predicted surface for the second table (0 = skip it)")
    p.add_argument("--max-objects", type=int, default=None, help="only the split's first N objects")
    p.add_argument("--max-per-category", type=int, default=None,
                   help="only the first N objects of each category (e.g. to score training objects)")
    args = p.parse_args(argv)
    out = args.out or (args.weights if args.weights.is_dir() else args.weights.parent) / f"eval_{args.split}"
    try:
        evaluate(args.weights, args.data, args.split, out, args.batch_size, args.surface_points,
                 grid=not args.no_grid, max_objects=args.max_objects,
                 max_per_category=args.max_per_category, photos=args.photos,
                 photo_modes=tuple(m.strip() for m in args.photo_modes.split(",") if m.strip()))
    except (P2MError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((out / "eval.md").read_text())
    print(f"[evaluate] wrote {out / 'eval.md'}, eval.json" + ("" if args.no_grid else ", grid.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
