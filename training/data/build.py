"""Building a dataset: meshes (procedural or a folder) -> renders + ground truth, by object.

Layout of a dataset folder:
    dataset.json            convention, parameters, splits, counts (the machine-readable card)
    DATASET_CARD.md         the same for humans
    report.json             meshes that were skipped, with the reason
    objects/<id>/view_KK.png  RGBA renders, transparent background
    objects/<id>/surface.npz  points, normals (float32, normalised object frame, world Z up)
    objects/<id>/meta.json    category, split, source, views (intrinsics, pose); written last

An object is finished when its meta.json exists, so a killed build resumes where it was.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from blender_p2m.errors import P2MError

from .convention import DataConvention
from .surface import normalise, sample_surface
from .views import sample_views

SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
REAL_SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


@dataclass(frozen=True)
class ObjectSpec:
    """One object to build: where its mesh comes from and which split it belongs to."""

    object_id: str
    category: str
    split: str
    source: str           # "procedural" or a mesh file path
    seed: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _share(n: int, fraction: float, at_least: bool) -> int:
    """Objects of a split: rounded up (real data: at least the fraction), else rounded, >= 1."""
    return math.ceil(n * fraction - 1e-9) if at_least else max(1, round(n * fraction))


def assign_splits(ids_by_category: dict[str, list[str]], seed: int,
                  fractions: dict[str, float] = SPLIT_FRACTIONS, round_up: bool = False) -> dict[str, str]:
    """Split every category's objects by object (never by view), deterministically.

    Procedural data: 80/10/10 (rounded). Real meshes (`REAL_SPLIT_FRACTIONS`, round_up):
    test and val get at least 15% of each category (rounded up), since real categories are
    small."""
    split_of = {}
    for category, ids in sorted(ids_by_category.items()):
        ids = sorted(ids)
        order = np.random.default_rng([seed, stable_hash(category)]).permutation(len(ids))
        n = len(ids)
        n_test = _share(n, fractions["test"], round_up) if n >= 3 else 0
        n_val = _share(n, fractions["val"], round_up) if n >= 3 else 0
        for rank, index in enumerate(order):
            split_of[ids[index]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return split_of


def procedural_specs(categories: list[str], per_category: int, seed: int) -> list[ObjectSpec]:
    ids = {c: [f"{c}_{i:04d}" for i in range(per_category)] for c in categories}
    split_of = assign_splits(ids, seed)
    return [ObjectSpec(oid, c, split_of[oid], "procedural", stable_hash(f"{seed}/{oid}"))
            for c in categories for oid in ids[c]]


def folder_specs(mesh_dir: Path, seed: int) -> list[ObjectSpec]:
    """Every mesh file under mesh_dir; the category is the first sub-folder's name.

    A real-mesh catalogue (`fetch-real`, with manifest.json) gives its models instead,
    split with at least 15% of each category in test."""
    from .mesh_import import MESH_EXTENSIONS

    if (mesh_dir / "manifest.json").is_file():
        return catalogue_specs(mesh_dir, seed)
    files = sorted(p for p in mesh_dir.rglob("*") if p.is_file() and p.suffix.lower() in MESH_EXTENSIONS)
    ids: dict[str, list[str]] = {}
    info = {}
    for p in files:
        rel = p.relative_to(mesh_dir)
        category = rel.parts[0] if len(rel.parts) > 1 else "object"
        oid = "__".join(rel.with_suffix("").parts).replace(" ", "_") + "_" + p.suffix.lower()[1:]
        ids.setdefault(category, []).append(oid)
        info[oid] = (category, str(p))
    split_of = assign_splits(ids, seed)
    return [ObjectSpec(oid, info[oid][0], split_of[oid], info[oid][1], stable_hash(f"{seed}/{oid}"))
            for oid in sorted(info)]


def catalogue_specs(mesh_dir: Path, seed: int) -> list[ObjectSpec]:
    """The models of a real-mesh catalogue, ids = catalogue keys."""
    from .real.catalogue import read_manifest

    models = read_manifest(mesh_dir)["models"]
    ids: dict[str, list[str]] = {}
    for m in models:
        ids.setdefault(m["category"], []).append(m["key"])
    split_of = assign_splits(ids, seed, REAL_SPLIT_FRACTIONS, round_up=True)
    return [ObjectSpec(m["key"], m["category"], split_of[m["key"]], str(mesh_dir / m["mesh"]),
                       stable_hash(f"{seed}/{m['key']}")) for m in sorted(models, key=lambda m: m["key"])]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- worker process
_renderer = None
_config: dict = {}
_init_error: str | None = None


def _without_bpy_internal_paths(paths: list[str]) -> list[str]:
    """Drop the folders the bpy module adds inside itself (scripts/modules, ...).

    A spawned worker inherits its parent's sys.path; when the parent already imported bpy,
    those folders would make `import bpy` find Blender's internal `bpy` package instead of
    the bpy module, and the worker would die before rendering anything.
    """
    return [p for p in paths if "/site-packages/bpy/" not in p.replace("\\", "/")]


def _init_worker(config: dict) -> None:
    global _renderer, _config, _init_error
    _config = config
    if config.get("quiet", True):   # Blender prints a line per render
        from blender_p2m.blender.quiet import silence_stdout_for_good

        silence_stdout_for_good()
    sys.path[:] = _without_bpy_internal_paths(sys.path)
    try:
        from .render import Renderer

        _renderer = Renderer(config["convention"]["image_size"], config["engine"], config["threads"])
    except Exception as e:  # reported by the first task instead of a silently dying pool
        _init_error = f"{type(e).__name__}: {e}"


def _place_object(spec: ObjectSpec, diagonal: float) -> tuple[np.ndarray, np.ndarray]:
    """Put the spec's object in the render scene; its normalised vertices and triangles.

    Procedural objects get the randomised material; mesh files keep their own materials,
    UVs and textures (parts without a material get the randomised one)."""
    if spec.source != "procedural":
        return _renderer.set_model_file(Path(spec.source), diagonal)
    from .shapes import generate

    mesh = generate(spec.category, seed=spec.seed)
    vertices = normalise(np.asarray(mesh.vertices, dtype=np.float64), diagonal)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(faces) == 0:
        raise ValueError("the mesh has no faces")
    _renderer.set_mesh(vertices, faces)
    return vertices, faces


def build_object(spec_dict: dict) -> dict:
    """Render and sample one object; returns {"id", "status", "reason", "views"}."""
    spec = ObjectSpec(**spec_dict)
    if _init_error is not None:
        return {"id": spec.object_id, "status": "worker_error", "reason": _init_error}
    conv = DataConvention.from_dict(_config["convention"])
    out = Path(_config["out"]) / "objects" / spec.object_id
    if (out / "meta.json").exists():
        return {"id": spec.object_id, "status": "done", "views": _config["views"]}
    try:
        vertices, faces = _place_object(spec, conv.bbox_diagonal)
        rng = np.random.default_rng([_config["seed"], spec.seed])
        points, normals = sample_surface(vertices, faces, conv.surface_points, rng)
    except Exception as e:  # a broken mesh is reported and skipped, never fatal
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return {"id": spec.object_id, "status": "skipped", "reason": reason, "source": spec.source}
    out.mkdir(parents=True, exist_ok=True)
    views = sample_views(rng, _config["views"], conv)
    view_records = []
    for k, view in enumerate(views):
        appearance = _renderer.randomise_appearance(rng)
        _renderer.render_view(view, out / f"view_{k:02d}.png")
        view_records.append({**view.to_dict(), "image": f"view_{k:02d}.png", "appearance": appearance})
    tmp = out / ".surface.tmp.npz"
    np.savez(tmp, points=points.astype(np.float32), normals=normals.astype(np.float32))
    os.replace(tmp, out / "surface.npz")
    meta = {"id": spec.object_id, "category": spec.category, "split": spec.split,
            "source": spec.source, "seed": spec.seed, "n_vertices": int(len(vertices)),
            "n_faces": int(len(faces)), "views": view_records}
    _atomic_write_text(out / "meta.json", json.dumps(meta))
    return {"id": spec.object_id, "status": "built", "views": len(views)}


# ---------------------------------------------------------------- main process
def build(source: str, out: Path, views: int = 4, workers: int = 2, per_category: int = 100,
          categories: list[str] | None = None, seed: int = 0, engine: str = "cycles",
          convention: DataConvention = DataConvention(), command: str = "", quiet: bool = True,
          only_split: str | None = None) -> dict:
    """Build (or resume building) a dataset; returns the summary written to dataset.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if source == "procedural":
        from .shapes import CATEGORIES

        cats = list(categories or CATEGORIES)
        unknown = set(cats) - set(CATEGORIES)
        if unknown:
            raise P2MError(f"unknown categories {sorted(unknown)}; choose from {', '.join(CATEGORIES)}")
        specs = procedural_specs(cats, per_category, seed)
    else:
        mesh_dir = Path(source)
        if not mesh_dir.is_dir():
            raise P2MError(f"--source must be 'procedural' or a folder of meshes; {source} is neither")
        specs = folder_specs(mesh_dir, seed)
        if categories:
            specs = [s for s in specs if s.category in categories]
        if not specs:
            raise P2MError(f"no mesh files found under {mesh_dir}")
    if only_split:
        specs = [s for s in specs if s.split == only_split]
    params = {"source": source, "views": views, "seed": seed, "engine": engine,
              "per_category": per_category if source == "procedural" else None,
              "convention": convention.to_dict()}
    if only_split:
        params["only_split"] = only_split
    params_path = out / "build_params.json"
    if params_path.exists():
        old = json.loads(params_path.read_text())
        if old != params:
            raise P2MError(f"{out} was built with other parameters ({old}); "
                           f"use a new --out folder or the same parameters to resume")
    else:
        _atomic_write_text(params_path, json.dumps(params, indent=2))

    config = {"out": str(out), "views": views, "seed": seed, "engine": engine,
              "convention": convention.to_dict(), "threads": 1 if workers > 1 else 0, "quiet": quiet}
    start = time.monotonic()
    results = []
    already = sum((out / "objects" / s.object_id / "meta.json").exists() for s in specs)
    progress = tqdm(total=len(specs), initial=already, desc="[build]", unit="object", mininterval=1.0)
    todo = [s.to_dict() for s in specs if not (out / "objects" / s.object_id / "meta.json").exists()]
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, workers), initializer=_init_worker, initargs=(config,)) as pool:
        for result in pool.imap_unordered(build_object, todo, chunksize=1):
            if result["status"] == "worker_error":
                pool.terminate()
                raise P2MError(f"a render worker could not start Blender: {result['reason']}")
            results.append(result)
            progress.update(1)
    progress.close()
    elapsed = time.monotonic() - start
    built_views = sum(r.get("views", 0) for r in results if r["status"] == "built")
    skipped = [r for r in results if r["status"] == "skipped"]
    report_path = out / "report.json"
    old_skipped = json.loads(report_path.read_text())["skipped"] if report_path.exists() else []
    skipped_ids = {r["id"] for r in skipped}
    skipped = skipped + [r for r in old_skipped if r["id"] not in skipped_ids]
    _atomic_write_text(report_path, json.dumps({"skipped": skipped}, indent=2))
    summary = write_card(out, specs, params, command, elapsed, built_views)
    rate = built_views / elapsed if elapsed > 0 else 0.0
    print(f"[build] {summary['counts']['total_objects']} objects, {summary['counts']['total_views']} views "
          f"in {out} ({len(skipped)} skipped, see report.json); this run rendered {built_views} views "
          f"in {tqdm.format_interval(elapsed)} ({rate:.1f} views/s)", file=sys.stderr)
    return summary


def _provenance_section(mesh_dir: Path, splits: dict[str, list[str]]) -> str:
    """Counts per category and source package, licences and attribution (real-mesh catalogues)."""
    if not (mesh_dir / "manifest.json").is_file():
        return ""
    from .real.catalogue import category_package_table, read_manifest

    built = {oid for ids in splits.values() for oid in ids}
    models = [m for m in read_manifest(mesh_dir)["models"] if m["key"] in built]
    licences = sorted({(m["package"], m["licence"]) for m in models})
    credits = sorted({(m["attribution"], m["licence"]) for m in models})
    return f"""
## Sources (objects per category and Debian package)

`other` = real furniture and vehicles outside the 13 categories: trained on, never in the
13-category class mean.

{category_package_table(models)}

## Licences and attribution

{chr(10).join(f'- `{p}`: {lic}' for p, lic in licences)}

Models by (CC-BY requires this attribution; CC0 models are credited too):

{chr(10).join(f'- {a} ({lic})' for a, lic in credits)}
"""


def write_card(out: Path, specs: list[ObjectSpec], params: dict, command: str,
               elapsed: float, built_views: int) -> dict:
    """dataset.json and DATASET_CARD.md from the objects that exist on disk."""
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    counts: dict[str, dict[str, int]] = {}
    n_views = 0
    for s in specs:
        meta_path = out / "objects" / s.object_id / "meta.json"
        if not meta_path.exists():
            continue
        splits[s.split].append(s.object_id)
        counts.setdefault(s.category, {"train": 0, "val": 0, "test": 0})[s.split] += 1
        n_views += params["views"]
    summary = {"format": "blender-p2m-dataset", "format_version": 1, **params,
               "command": command, "splits": splits, "counts_per_category": counts,
               "counts": {"total_objects": sum(len(v) for v in splits.values()), "total_views": n_views,
                          **{k: len(v) for k, v in splits.items()}},
               "last_build_seconds": round(elapsed, 1), "last_build_views": built_views}
    _atomic_write_text(out / "dataset.json", json.dumps(summary, indent=1))
    conv = params["convention"]
    rows = "\n".join(f"| {c} | {v['train']} | {v['val']} | {v['test']} |" for c, v in sorted(counts.items()))
    card = f"""# Dataset card

Built by blender-p2m's `training.data` with:

    {command or '(command not recorded)'}

Source: `{params['source']}`; {params['views']} views per object; seed {params['seed']};
renderer: {params['engine']}.

## Convention (docs/conventions.md)
- Camera frame: Blender's (X right, Y up, looking down -Z), metres.
- Bounding-box diagonal {conv['bbox_diagonal']} m; its centre on the optical axis at depth
  uniform in [{conv['depth_range'][0]}, {conv['depth_range'][1]}] m.
- Elevation {conv['elevation_range'][0]}..{conv['elevation_range'][1]} degrees, azimuth uniform, no roll; world +Z up.
- {conv['image_size']}x{conv['image_size']} RGBA, transparent background. {int(conv['default_focal_fraction'] * 100)}% of
  views fx = fy = {conv['default_focal']} px, the rest uniform in [{conv['focal_range'][0]}, {conv['focal_range'][1]}] px;
  principal point at the centre.
- Ground truth: {conv['surface_points']} surface points with outward normals per object
  (`surface.npz`, normalised object frame); the per-view world->camera transform in
  `meta.json` maps them into the camera frame.

## Counts (objects; splits are by object, never by view)

| category | train | val | test |
|---|---|---|---|
{rows}
| **total** | {len(splits['train'])} | {len(splits['val'])} | {len(splits['test'])} |

Total views: {n_views}. Skipped meshes and reasons: `report.json`.
{_provenance_section(Path(params['source']), splits) if params['source'] != 'procedural' else ''}"""
    _atomic_write_text(out / "DATASET_CARD.md", card)
    return summary
