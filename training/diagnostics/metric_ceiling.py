"""python -m training.diagnostics.metric_ceiling --data DIR [--split test] [--points 2466]

What a perfect prediction with N vertices could score: N ground-truth surface points taken
as the "prediction" and scored against the remaining ones with the Pixel2Mesh protocol.
The gap between this ceiling and a model's score is error of the model, not of the metric's
point density (the vertex metric scores only 2466 points).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import _meta, _surface, read_dataset_json
from ..metrics import MetricAccumulator, point_metrics


def ceiling(data: Path, split: str, points: int, seed: int = 0) -> MetricAccumulator:
    rng = np.random.default_rng(seed)
    acc = MetricAccumulator()
    for object_id in read_dataset_json(data)["splits"][split]:
        object_dir = str(data / "objects" / object_id)
        surface, _ = _surface(object_dir)
        if len(surface) <= points:
            raise ValueError(f"{object_id} has only {len(surface)} surface points")
        order = rng.permutation(len(surface))
        pred = torch.from_numpy(surface[order[:points]])[None]
        rest = torch.from_numpy(surface[order[points:]])[None]
        acc.add(_meta(object_dir)["category"], point_metrics(pred, rest))
    return acc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.metric_ceiling", description=__doc__.splitlines()[2])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--points", type=int, default=2466, help="points of the perfect prediction")
    args = p.parse_args(argv)
    if not (args.data / "dataset.json").exists():
        print(f"error: {args.data} is not a dataset (no dataset.json)", file=sys.stderr)
        return 2
    acc = ceiling(args.data, args.split, args.points)
    print(f"# Ceiling of the vertex metric: {args.points} GT points scored against the rest "
          f"({args.split} split of {args.data}, {len(acc)} objects)\n")
    print(acc.to_markdown(1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
