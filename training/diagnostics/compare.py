"""python -m training.diagnostics.compare --weights A.pt B.pt --data DIR [--split test] [--unseen-by OTHER_DATASET]

Is B better than A? Both score the same views (Pixel2Mesh protocol, class mean on vertices),
each model at its own input size (say the 128 px compact network against the 224 px Lite0),
and the per-view F(tau) difference B - A is reported with its standard error: two class
means from different held-out sets cannot answer that question, a paired difference can.
`--unseen-by` keeps only objects outside the training split of another dataset build, for
weights trained on different builds (object ids name the same procedural object in builds
with the same seed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from blender_p2m.errors import P2MError
from blender_p2m.model.checkpoint import load_checkpoint

from ..data.dataset import P2MDataset, read_dataset_json
from ..metrics import MetricAccumulator, point_metrics
from ..run_checkpoints import resolve_checkpoint


def chosen_views(dataset: P2MDataset, views_per_object: int | None, unseen_by: Path | None) -> list[int]:
    """Indices of the samples to score: the first views of each object, minus objects another build trained on."""
    trained = set(read_dataset_json(unseen_by)["splits"]["train"]) if unseen_by else set()
    return [i for i, (oid, k) in enumerate(dataset.samples)
            if (views_per_object is None or k < views_per_object) and oid not in trained]


@torch.no_grad()
def compare(weights: list[Path], data: Path, split: str = "test", views_per_object: int | None = None,
            unseen_by: Path | None = None, batch_size: int = 8) -> dict:
    models = [load_checkpoint(resolve_checkpoint(w))[0] for w in weights]
    # Each model sees the views at its own input size (the dataset scales the intrinsics
    # with the image); the order of the views, and so the pairing, is the same at every size.
    datasets = {size: P2MDataset(data, split, size, points=None, augment=None)
                for size in sorted({m.config.input_size for m in models})}
    keep = chosen_views(next(iter(datasets.values())), views_per_object, unseen_by)
    if not keep:
        raise P2MError(f"no view of the {split} split of {data} is left to compare"
                       + (f" (every object is in the training split of {unseen_by})" if unseen_by else ""))
    loaders = {size: DataLoader(Subset(d, keep), batch_size=batch_size, shuffle=False, num_workers=1)
               for size, d in datasets.items()}
    accumulators = [MetricAccumulator() for _ in models]
    per_view = [[] for _ in models]
    for batches in zip(*loaders.values()):
        batch_at = dict(zip(loaders, batches))
        for model, acc, scores in zip(models, accumulators, per_view):
            batch = batch_at[model.config.input_size]
            metrics = point_metrics(model(batch["image"], batch["intrinsics"])[-1].vertices.float(), batch["points"].float())
            acc.add(list(batch["category"]), metrics)
            scores.extend(metrics["f_tau"].tolist())
    diff = np.asarray(per_view[1]) - np.asarray(per_view[0])
    return {"data": str(data), "split": split, "views": len(keep), "unseen_by": str(unseen_by) if unseen_by else None,
            "weights": [str(w) for w in weights],
            "class_mean": [{k: float(acc.class_mean()[k]) for k in ("f_tau", "f_2tau", "cd")} for acc in accumulators],
            "paired_f_tau_difference": {"mean": float(diff.mean()),
                                        "standard_error": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan"),
                                        "b_better_share": float((diff > 0).mean())}}


def to_markdown(result: dict) -> str:
    rows = [f"Views: {result['views']} of the {result['split']} split of `{result['data']}`"
            + (f", objects outside the training split of `{result['unseen_by']}`" if result["unseen_by"] else ""),
            "", "| weights | F(tau) | F(2tau) | CD |", "|---|---:|---:|---:|"]
    for name, weights, m in zip("AB", result["weights"], result["class_mean"]):
        rows.append(f"| {name}: `{weights}` | {m['f_tau']:.2f} | {m['f_2tau']:.2f} | {m['cd']:.3f} |")
    d = result["paired_f_tau_difference"]
    rows += ["", f"Per-view F(tau), B - A: {d['mean']:+.2f} (standard error {d['standard_error']:.2f}); "
                 f"B better on {100 * d['b_better_share']:.0f}% of views."]
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.compare", description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, type=Path, nargs=2, metavar=("A", "B"))
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--views-per-object", type=int, default=None, help="only each object's first N views")
    p.add_argument("--unseen-by", type=Path, default=None,
                   help="another dataset build: leave out the objects of its training split")
    args = p.parse_args(argv)
    try:
        result = compare(args.weights, args.data, args.split, args.views_per_object, args.unseen_by)
    except (P2MError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
