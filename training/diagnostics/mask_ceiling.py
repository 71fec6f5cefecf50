"""python -m training.diagnostics.mask_ceiling --data DIR [--split test] [--size 56]

What mask IoU background removal could reach if the silhouette head were perfect: each view's
true alpha, reduced to the head's training target (`mask_target`, size x size), is taken as
the head's "prediction" and mapped back to the picture exactly as the API maps a prediction
(`network_to_image` through the uncropped virtual camera, then `MASK_SHARPNESS`), then
compared with the true alpha. The gap between a model's removal IoU and this ceiling is the
head's error; the ceiling's gap to 1 is the cost of predicting the mask at size x size.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from blender_p2m.api import mask_in_picture
from blender_p2m.image_io import load_image_file
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.preprocess import prepare
from blender_p2m.model.silhouette_head import mask_target

from ..data.dataset import _meta, read_dataset_json
from ..metrics import MetricAccumulator, binary_iou


def view_ceiling(rgba: np.ndarray, intr: Intrinsics, input_size: int, size: int) -> float:
    """IoU with the true alpha of the API's mask made from a perfect size x size prediction."""
    whole = prepare(rgba, intr, input_size, None)                              # the head's view
    target = mask_target(whole.alpha[None], size)[0]                            # (1, size, size)
    return binary_iou(rgba[..., 3] >= 0.5, mask_in_picture(target, intr, whole) >= 0.5)


def ceiling(data: Path, split: str, size: int, input_size: int = 224) -> MetricAccumulator:
    acc = MetricAccumulator()
    for object_id in read_dataset_json(data)["splits"][split]:
        object_dir = data / "objects" / object_id
        meta = _meta(str(object_dir))
        for view in meta["views"]:
            rgba = load_image_file(object_dir / view["image"])                  # (H, W, 4) in [0, 1]
            h, w = rgba.shape[:2]
            intr = Intrinsics(view["fx"], view["fy"], view["cx"], view["cy"], w, h)
            acc.add(meta["category"], {"mask_iou": torch.tensor([view_ceiling(rgba, intr, input_size, size)])})
    return acc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.mask_ceiling",
                                description="The mask IoU a perfect silhouette head would reach.")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--size", type=int, default=56, help="side of the silhouette head's mask")
    p.add_argument("--input-size", type=int, default=224, help="the network's input side")
    args = p.parse_args(argv)
    if not (args.data / "dataset.json").exists():
        print(f"error: {args.data} is not a dataset (no dataset.json)", file=sys.stderr)
        return 2
    acc = ceiling(args.data, args.split, args.size, args.input_size)
    print(f"# Ceiling of background removal's mask IoU: a perfect {args.size} x {args.size} head "
          f"({args.split} split of {args.data}; `other` is not in the class mean)\n")
    print(acc.to_markdown(3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
