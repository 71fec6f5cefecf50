"""python -m training.diagnostics.export_examples --data DIR --ids ID[:VIEW] ... --out examples/ [--with-ground-truth]

Copies test-split views of a dataset into a folder as `ID.png` with a sidecar `ID.json`
holding the view's intrinsics (the format the batch tool reads) and, optionally,
`ID_gt.npy`: ground-truth surface points in that camera frame (for regression tests).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from ..data.dataset import _meta, camera_frame_surface


def export_view(data: Path, object_id: str, view_index: int, out: Path, gt_points: int = 0) -> Path:
    obj = data / "objects" / object_id
    meta = _meta(str(obj))
    view = meta["views"][view_index]
    out.mkdir(parents=True, exist_ok=True)
    name = f"{object_id}_view{view_index}"
    shutil.copyfile(obj / view["image"], out / f"{name}.png")
    size = json.loads((data / "dataset.json").read_text())["convention"]["image_size"]
    sidecar = {"fx": view["fx"], "fy": view["fy"], "cx": view["cx"], "cy": view["cy"],
               "width": size, "height": size,
               "note": f"{meta['category']} {object_id}, view {view_index}, {meta['split']} split of a "
                       f"blender-p2m procedural dataset (camera frame: X right, Y up, looking down -Z)"}
    (out / f"{name}.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    if gt_points:
        pts, _ = camera_frame_surface(obj, view)
        np.save(out / f"{name}_gt.npy", pts[:gt_points].astype(np.float32))
    return out / f"{name}.png"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.export_examples")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--ids", nargs="+", required=True, help="OBJECT_ID or OBJECT_ID:VIEW")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--gt-points", type=int, default=0, help="also save this many ground-truth points")
    a = p.parse_args(argv)
    for item in a.ids:
        oid, _, view = item.partition(":")
        print(export_view(a.data, oid, int(view or 0), a.out, a.gt_points))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
