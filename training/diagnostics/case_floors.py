"""python -m training.diagnostics.case_floors --weights W.pt [--cases tests/data/weights_case]
       [--out weights/case_floors.json]

Scores a weights file on the bundled-weights test's committed views and writes the floors
that `tests/test_bundled_weights.py` holds those weights to. A floor sits a margin below
the measured score: the test catches a reconstruction that got clearly worse (a broken
preprocessing step, a wrong camera, a bad export), not a change of a point or two; drift
across machines and BLAS builds is about 0.1 point. The file records the weights' SHA-256,
so floors measured on other weights fail the test instead of passing silently.
`training.diagnostics.release` calls this for every release (writing into its --out); run
it by hand after exporting weights some other way.

A case is a view `NAME.png` with `NAME.json` (intrinsics) and ground truth `NAME_gt.npy`
(camera-frame surface points; the transparent render of a photo case shares the photo's).
A case ending in `_photo` is a real object composited on a held-out photo; its transparent
render (the name without `_photo`) gives the true silhouette. Weights with a silhouette
head reconstruct photo cases with `background="remove"` (the product's path for photos),
and the file then also holds floors for the mask IoU and the share of vertices projecting
into the true silhouette; weights without one keep the background, as the add-on does.

Each case also records the untrained template's score: the test asks trained weights to
beat it by TEMPLATE_FACTOR on every case they are meant for (white backgrounds always,
photos when they can remove the background), and this tool says when they do not.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from blender_p2m.api import Intrinsics, LoadedModel, load_model
from blender_p2m.atomic_files import write_bytes
from blender_p2m.errors import P2MError
from blender_p2m.model import Pixel2Mesh

from ..file_hash import sha256_of
from ..metrics import binary_iou, fraction_in_silhouette, point_metrics

# The committed test views (test data of the repository; the tool is a development tool).
DEFAULT_CASES = Path(__file__).resolve().parents[2] / "tests" / "data" / "weights_case"
F_MARGIN = 0.85           # floor = 85% of the measured F-score(tau), rounded down to 0.5
IOU_MARGIN = 0.05         # floor = measured mask IoU - 0.05
INSIDE_MARGIN = 0.05      # floor = measured share of vertices in the silhouette - 0.05
TEMPLATE_FACTOR = 1.25    # trained weights score at least 1.25 x the untrained template
PHOTO_SUFFIX = "_photo"


def case_names(cases: Path) -> list[str]:
    """Every view in the folder with ground truth: its own, or, for the transparent render
    of a photo case, the photo's (the same view of the same object), sorted."""
    names = {p.name[: -len("_gt.npy")] for p in cases.glob("*_gt.npy")}
    names |= {n[: -len(PHOTO_SUFFIX)] for n in names
              if n.endswith(PHOTO_SUFFIX) and (cases / f"{n[: -len(PHOTO_SUFFIX)]}.png").is_file()}
    return sorted(names)


def case_files(cases: Path, name: str) -> dict:
    """The image, intrinsics, ground truth and (photo cases) the transparent render of a case."""
    gt = cases / f"{name}_gt.npy"
    files = {"image": cases / f"{name}.png", "sidecar": cases / f"{name}.json",
             "gt": gt if gt.is_file() or name.endswith(PHOTO_SUFFIX) else cases / f"{name}{PHOTO_SUFFIX}_gt.npy"}
    if name.endswith(PHOTO_SUFFIX):
        files["truth_render"] = cases / f"{name[: -len(PHOTO_SUFFIX)]}.png"
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise P2MError(f"Test case {name} is incomplete: missing {', '.join(missing)}.")
    return files


def case_intrinsics(sidecar: Path) -> Intrinsics:
    try:
        s = json.loads(sidecar.read_text())
        return Intrinsics(s["fx"], s["fy"], s["cx"], s["cy"], s["width"], s["height"])
    except (ValueError, KeyError, TypeError) as e:
        raise P2MError(f"{sidecar} does not hold the view's intrinsics (fx, fy, cx, cy, width, "
                       f"height in pixels): {e!r}.") from None


def true_silhouette(render: Path) -> np.ndarray:
    """(H, W) bool: the object in a transparent render (alpha >= 0.5)."""
    return np.asarray(Image.open(render).convert("RGBA"))[..., 3] >= 128


def f_tau(points: np.ndarray | torch.Tensor, gt: np.ndarray) -> float:
    """F-score(tau) in percent of (N, 3) points against (M, 3) ground-truth points."""
    pred = torch.as_tensor(points).float()[None]
    return float(point_metrics(pred, torch.from_numpy(gt).float()[None])["f_tau"][0])


def background_for(model: LoadedModel, name: str) -> str:
    """Photo cases go through background removal when the weights can do it."""
    return "remove" if name.endswith(PHOTO_SUFFIX) and model.can_remove_background else "keep"


def meant_for(model: LoadedModel, name: str) -> bool:
    """Whether these weights are meant to reconstruct this case well (photos need a head)."""
    return not name.endswith(PHOTO_SUFFIX) or model.can_remove_background


def score_case(model: LoadedModel, template: torch.Tensor, cases: Path, name: str) -> dict:
    """F-score(tau) of one case and of the untrained template, plus mask IoU and vertices in
    the true silhouette when the background was removed. Raises P2MError when the
    reconstruction itself fails (e.g. the silhouette head finds no object)."""
    files = case_files(cases, name)
    intr = case_intrinsics(files["sidecar"])
    background = background_for(model, name)
    rec = model.reconstruct(files["image"], intr, background=background)
    gt = np.load(files["gt"])                                                    # (P, 3)
    row = {"background": background, "f_tau": round(f_tau(rec.vertices, gt), 2),
           "template_f_tau": round(f_tau(template, gt), 2), "meant_for": meant_for(model, name)}
    if background == "remove":
        truth = true_silhouette(files["truth_render"])                          # (H, W)
        row["mask_iou"] = round(binary_iou(truth, rec.mask >= 0.5), 4)
        inside = fraction_in_silhouette(
            torch.from_numpy(rec.vertices).float()[None],                        # (1, N, 3)
            torch.tensor([[intr.fx, intr.fy, intr.cx, intr.cy]]),
            torch.from_numpy(truth).float()[None, None])                        # (1, 1, H, W)
        row["in_silhouette"] = round(float(inside[0]), 4)
    return row


def floors_of(row: dict) -> dict:
    if "error" in row:
        return {}
    floors = {"f_tau": math.floor(2 * F_MARGIN * row["f_tau"]) / 2}
    if "mask_iou" in row:
        floors["mask_iou"] = round(max(0.0, row["mask_iou"] - IOU_MARGIN), 3)
        floors["in_silhouette"] = round(max(0.0, row["in_silhouette"] - INSIDE_MARGIN), 3)
    return floors


def problems(result: dict) -> list[str]:
    """What would make the bundled-weights test fail for these weights."""
    found = []
    for name, c in result["cases"].items():
        m = c["measured"]
        if "error" in m:
            found.append(f"{name}: {m['error']}")
        elif m["meant_for"] and m["f_tau"] < TEMPLATE_FACTOR * m["template_f_tau"]:
            found.append(f"{name}: F(tau) {m['f_tau']:.1f} is below {TEMPLATE_FACTOR} x the untrained "
                         f"template's {m['template_f_tau']:.1f}")
    return found


def measure(weights: Path, cases: Path = DEFAULT_CASES) -> dict:
    """The floors file's content for these weights (scored on the CPU, as CI runs)."""
    names = case_names(cases)
    if not names:
        raise P2MError(f"No test cases (NAME_gt.npy) in {cases}.")
    for name in names:                        # bad test data stops here, before any scoring
        case_intrinsics(case_files(cases, name)["sidecar"])
    model = load_model(weights, device="cpu")
    template = Pixel2Mesh(model.config).template(2)                              # (N, 3)
    measured = {}
    for name in names:
        try:
            measured[name] = score_case(model, template, cases, name)
        except P2MError as e:          # e.g. the head finds no object: a result; the test fails on it
            measured[name] = {"error": str(e)}
    return {"weights": weights.name, "sha256": sha256_of(weights), "config": model.config.name,
            "margins": {"f_tau": F_MARGIN, "mask_iou": IOU_MARGIN, "in_silhouette": INSIDE_MARGIN},
            "cases": {name: {"measured": row, "floors": floors_of(row)} for name, row in measured.items()}}


def table(result: dict) -> str:
    lines = [f"Cases of `{result['weights']}` ({result['config']})", "",
             "| case | background | F(tau) | floor | template | mask IoU | floor | in silhouette | floor |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, c in result["cases"].items():
        m, f = c["measured"], c["floors"]
        if "error" in m:
            lines.append(f"| {name} | failed: {m['error']} | | | | | | | |")
            continue
        extra = (f"| {m['mask_iou']:.3f} | {f['mask_iou']:.3f} | {100 * m['in_silhouette']:.1f}% "
                 f"| {100 * f['in_silhouette']:.1f}% |" if "mask_iou" in m else "| - | - | - | - |")
        lines.append(f"| {name} | {m['background']} | {m['f_tau']:.1f} | {f['f_tau']:.1f} "
                     f"| {m['template_f_tau']:.1f} " + extra)
    found = problems(result)
    if found:
        lines += ["", "The bundled-weights test would FAIL for these weights:"] + [f"- {p}" for p in found]
    return "\n".join(lines)


def write_floors(weights: Path, out: Path, cases: Path = DEFAULT_CASES) -> dict:
    if not out.parent.is_dir():
        raise P2MError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    if out.is_dir():
        raise P2MError(f"Cannot write {out}: it is a folder; give a file name such as case_floors.json.")
    result = measure(weights, cases)
    write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.case_floors", description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    p.add_argument("--out", type=Path, help="write the floors here (e.g. weights/case_floors.json); "
                                            "without it, only print the table")
    a = p.parse_args(argv)
    try:
        result = write_floors(a.weights, a.out, a.cases) if a.out else measure(a.weights, a.cases)
    except (P2MError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(result))
    if a.out:
        print(f"\nwrote {a.out}")
    return 1 if problems(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
