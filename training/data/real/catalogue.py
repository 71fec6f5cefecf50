"""`fetch-real`: Debian packages -> a folder of upright, deduplicated meshes by category.

Layout of the output folder:
    manifest.json             every kept model: source package, licence, attribution,
                              category, vertex and face counts, geometry hash, folder
    dropped.json              every model left out, with the reason
    CATALOGUE.md              counts per category and source, licences and attribution
    photos/                   real photographs for backgrounds, split train/val/test
                              (training.data.real.photos; photos.json gives their licences)
    <category>/<key>/model.obj, model.mtl, textures/   (+Y up, the OBJ convention)

The catalogue is assembled in `OUT.partial/` and renamed to OUT when complete, so an
interrupted run leaves the previous catalogue (or nothing) in place; downloads, unpacked
packages and AC3D conversions stay in the cache and make a re-run quick.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from blender_p2m.errors import P2MError

from . import debian
from .ac3d import ConversionError
from .obj_files import ObjFormatError, assemble
from .photos import PACKAGE_VERSIONS, extract_photos
from .sources import PACKAGES, Candidate, candidates

PHOTO_PACKAGES = tuple(PACKAGE_VERSIONS)     # the background photographs' packages

MIN_FACES = 12            # fewer: a placeholder or a marker, not a model
MIN_THICKNESS = 0.01      # smallest box side / box diagonal below this: a ground plane or decal
FORMAT = "blender-p2m-real-meshes"


def _describe(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__


def catalogue_one(candidate: Candidate, dest: Path, seen: dict[str, str]) -> tuple[dict | None, str | None]:
    """Assemble one model into `dest` (created); returns (manifest record, None) or (None, reason)."""
    if candidate.category.startswith("drop:"):
        return None, candidate.category[5:]
    with tempfile.TemporaryDirectory(prefix="p2m-real-") as scratch:
        try:
            parts = candidate.parts(Path(scratch))
            if not parts:
                return None, "broken: no geometry parts"
            dest.mkdir(parents=True)
            geometry = assemble(parts, dest)
        except (ConversionError, ObjFormatError, OSError, ValueError, KeyError, IndexError) as e:
            shutil.rmtree(dest, ignore_errors=True)
            return None, f"broken: {_describe(e)}"
    extent = geometry.extent
    diagonal = float(np.linalg.norm(extent))
    reason = None
    if len(geometry.triangles) < MIN_FACES:
        reason = f"tiny: {len(geometry.triangles)} faces"
    elif not np.isfinite(diagonal) or diagonal <= 0:
        reason = "broken: no extent"
    elif extent.min() / diagonal < MIN_THICKNESS:
        reason = f"flat: {extent.min() / diagonal:.4f} of its diagonal thick (a ground plane, decal or sign)"
    else:
        digest = geometry.geometry_hash()
        if digest in seen:
            reason = f"duplicate of {seen[digest]} (same geometry)"
        else:
            seen[digest] = candidate.key
    if reason is not None:
        shutil.rmtree(dest, ignore_errors=True)
        return None, reason
    record = {"key": candidate.key, "name": candidate.name, "category": candidate.category,
              "package": candidate.package, "origin": candidate.origin, "licence": candidate.licence,
              "attribution": candidate.attribution, "n_vertices": int(len(geometry.vertices)),
              "n_faces": int(len(geometry.triangles)), "geometry_hash": digest,
              "extent": [round(float(x), 6) for x in extent],
              "textured": (dest / "textures").is_dir(),
              "ground_faces_removed": geometry.ground_faces_removed,
              "mesh": f"{candidate.category}/{candidate.key}/model.obj"}
    return record, None


def category_package_table(models: list[dict]) -> str:
    """Markdown: models per category (rows, `other` last) and source package (columns),
    with totals. Shared by the catalogue's card and the dataset card of a real build."""
    categories = sorted({r["category"] for r in models}, key=lambda c: (c == "other", c))
    packages = sorted({r["package"] for r in models})
    counts = Counter((r["category"], r["package"]) for r in models)
    header = "| category | " + " | ".join(packages) + " | total |\n|---|" + "---:|" * (len(packages) + 1)
    rows = [f"| {c} | " + " | ".join(str(counts[(c, p)]) for p in packages) +
            f" | {sum(counts[(c, p)] for p in packages)} |" for c in categories]
    total = (f"| **total** | {' | '.join(str(sum(1 for r in models if r['package'] == p)) for p in packages)} "
             f"| {len(models)} |")
    return "\n".join([header, *rows, total])


def write_card(out: Path, kept: list[dict], dropped: list[dict]) -> None:
    reasons = Counter("duplicate (same geometry as a kept model)" if d["reason"].startswith("duplicate")
                      else d["reason"].split(":")[0] for d in dropped)
    licences = sorted({(r["package"], r["licence"]) for r in kept})
    attributions = sorted({(r["attribution"], r["licence"]) for r in kept if r["licence"] != "CC0-1.0"})
    text = f"""# Real-mesh catalogue

Built by `python -m training.data fetch-real` from Debian main packages (nothing else is
downloaded). {len(kept)} models kept, {len(dropped)} left out (`dropped.json` gives each one
with its reason). `other` = furniture and vehicles outside the 13 categories: used in
training, never in the 13-category class mean.

## Models per category and source package

{category_package_table(kept)}

## Left out

{chr(10).join(f'- {reason}: {n}' for reason, n in reasons.most_common())}

## Licences

{chr(10).join(f'- `{p}`: {lic}' for p, lic in licences)}

## Attribution (CC-BY and GPL models; CC0 models need none but are listed in manifest.json)

{chr(10).join(f'- {a} — {lic}' for a, lic in attributions)}
"""
    (out / "CATALOGUE.md").write_text(text)


def build_catalogue(roots: dict[str, Path], out: Path, cache: Path, log=sys.stderr) -> dict:
    """Catalogue the unpacked packages into OUT (replacing it only when complete)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    offered = candidates(roots, cache)
    offered.sort(key=lambda c: (c.package, c.key))
    kept, dropped, seen = [], [], {}
    for i, candidate in enumerate(offered, 1):
        record, reason = catalogue_one(candidate, partial / candidate.category / candidate.key, seen)
        if record is not None:
            kept.append(record)
        else:
            dropped.append({"key": candidate.key, "name": candidate.name, "package": candidate.package,
                            "origin": candidate.origin, "reason": reason})
            print(f"[fetch-real] dropped {candidate.key}: {reason}", file=log)
        if i % 50 == 0 or i == len(offered):
            print(f"[fetch-real] {i}/{len(offered)} models looked at, {len(kept)} kept", file=log)
    summary = {"format": FORMAT, "format_version": 1, "models": kept,
               "counts": dict(Counter(r["category"] for r in kept))}
    (partial / "manifest.json").write_text(json.dumps(summary, indent=1))
    (partial / "dropped.json").write_text(json.dumps(dropped, indent=1))
    write_card(partial, kept, dropped)
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(out)
    return summary


def fetch_real(out: Path, cache: Path, packages: tuple[str, ...] = tuple(PACKAGES), log=sys.stderr) -> dict:
    """Download (or reuse), unpack and catalogue the real-mesh packages."""
    debian.require_tools()
    unknown = set(packages) - set(PACKAGES)
    if unknown:
        raise P2MError(f"unknown source packages {sorted(unknown)}; choose from {', '.join(PACKAGES)}")
    roots, photo_roots = {}, {}
    for package in packages:
        print(f"[fetch-real] {package}: downloading / unpacking (cached in {cache})", file=log)
        roots[package] = debian.fetch(package, cache, PACKAGES[package])
    for package in PHOTO_PACKAGES:
        print(f"[fetch-real] {package} (photographs): downloading / unpacking", file=log)
        photo_roots[package] = debian.fetch(package, cache)
    summary = build_catalogue(roots, out, cache, log)
    photos = extract_photos(photo_roots, out / "photos")
    summary["photos"] = {split: sum(1 for p in photos["photos"] if p["split"] == split)
                         for split in ("train", "val", "test")}
    print(f"[fetch-real] {len(photos['photos'])} background photographs in {out / 'photos'}: "
          + ", ".join(f"{k} {v}" for k, v in summary["photos"].items()), file=log)
    return summary


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise P2MError(f"{folder} has no manifest.json: build it with `python -m training.data fetch-real --out {folder}`")
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise P2MError(f"{path} is not a real-mesh catalogue")
    return data
