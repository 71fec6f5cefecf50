"""python -m training.diagnostics.export_examples --data DIR --ids ID[:VIEW] ... --out examples/
       [--gt-points N] [--photos LIB --catalogue MANIFEST]

Copies test-split views of a dataset into a folder as `ID_viewK.png` with a sidecar
`ID_viewK.json` holding the view's intrinsics (the format the batch tool reads) and,
optionally, `ID_viewK_gt.npy`: ground-truth surface points in that camera frame (for
regression tests).

With --photos, each view is instead composited on the held-out test photo evaluation
shows it on (training.data.backgrounds.photo_for_view, largest centred crop) and saved
opaque as `ID_viewK_photo.png`: a photo-like picture without transparency, as a user
would bring. Its sidecar names the photo and, with --catalogue (the real-mesh manifest),
the model, with their licences and authors.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from blender_p2m.image_io import load_image_file

from ..data.backgrounds import composite_on_photo, photo_for_view
from ..data.dataset import _meta, camera_frame_surface
from ..data.real.photos import photo_paths


def _photo_record(library: Path, photo: Path) -> dict:
    manifest = json.loads((library / "photos.json").read_text())
    rel = photo.relative_to(library).as_posix()
    return next(r for r in manifest["photos"] if r["file"] == rel)


def _model_record(catalogue: Path | None, object_id: str) -> dict | None:
    if catalogue is None:
        return None
    models = json.loads(catalogue.read_text())["models"]
    return next((m for m in models if m["key"] == object_id), None)


def export_view(data: Path, object_id: str, view_index: int, out: Path, gt_points: int = 0,
                photos: Path | None = None, catalogue: Path | None = None) -> Path:
    obj = data / "objects" / object_id
    meta = _meta(str(obj))
    view = meta["views"][view_index]
    out.mkdir(parents=True, exist_ok=True)
    name = f"{object_id}_view{view_index}"
    dataset = json.loads((data / "dataset.json").read_text())
    size = dataset["convention"]["image_size"]
    note = (f"{meta['category']} {object_id}, view {view_index}, {meta['split']} split of the blender-p2m "
            f"dataset {data.name} (camera frame: X right, Y up, looking down -Z)")
    sidecar = {"fx": view["fx"], "fy": view["fy"], "cx": view["cx"], "cy": view["cy"],
               "width": size, "height": size}
    if photos is None:
        image = out / f"{name}.png"
        shutil.copyfile(obj / view["image"], image)
    else:
        name += "_photo"
        photo = photo_for_view(photo_paths(photos, "test"), object_id, view_index)
        with Image.open(photo) as img:
            background = np.asarray(img.convert("RGB"))
        rgba = composite_on_photo(load_image_file(obj / view["image"]), background)    # opaque
        image = out / f"{name}.png"
        Image.fromarray((np.clip(rgba[..., :3], 0, 1) * 255 + 0.5).astype(np.uint8)).save(image)
        record = _photo_record(photos, photo)
        sidecar["photo"] = {"file": photo.name, "package": record["package"], "licence": record["licence"],
                            "attribution": record["attribution"]}
        note += ", composited on a held-out test photo"
        model = _model_record(catalogue, object_id)
        if model is not None:
            sidecar["model"] = {"name": model["name"], "package": model["package"],
                                "licence": model["licence"], "attribution": model["attribution"]}
    sidecar["note"] = note
    (out / f"{name}.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    if gt_points:
        pts, _ = camera_frame_surface(obj, view)
        np.save(out / f"{name}_gt.npy", pts[:gt_points].astype(np.float32))
    return image


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.export_examples")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--ids", nargs="+", required=True, help="OBJECT_ID or OBJECT_ID:VIEW")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--gt-points", type=int, default=0, help="also save this many ground-truth points")
    p.add_argument("--photos", type=Path, default=None, help="photo library: composite on its test photos")
    p.add_argument("--catalogue", type=Path, default=None,
                   help="the real-mesh manifest.json, to name each model's licence and authors")
    a = p.parse_args(argv)
    for item in a.ids:
        oid, _, view = item.partition(":")
        print(export_view(a.data, oid, int(view or 0), a.out, a.gt_points, a.photos, a.catalogue))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
