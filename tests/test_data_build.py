"""The training-data builder: convention, alignment of ground truth and images, splits, robustness."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataset_checks import dataset_views, fraction_inside_silhouette
from training.data.build import assign_splits, build
from training.data.convention import DataConvention
from training.data.dataset import P2MDataset

CATEGORIES = ["chair", "car", "lamp"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "procedural"
    build("procedural", out, views=3, workers=1, per_category=4, categories=CATEGORIES, seed=7,
          engine="workbench", command="test")
    return out


_views = dataset_views


def test_dataset_obeys_the_convention(dataset):
    conv = DataConvention()
    info = json.loads((dataset / "dataset.json").read_text())
    assert info["counts"]["total_objects"] == 12 and info["counts"]["total_views"] == 36
    focals = []
    for obj_dir, _meta, view in _views(dataset):
        with np.load(obj_dir / "surface.npz") as z:
            pts = z["points"]
        assert len(pts) >= 10_000
        lo, hi = pts.min(0), pts.max(0)
        # Points are sampled on the surface, so their box is within the mesh box (diag 0.57).
        assert np.linalg.norm(hi - lo) == pytest.approx(conv.bbox_diagonal, rel=0.03)
        m = np.asarray(view["world_to_camera"])
        centre_cam = m[:3, :3] @ np.zeros(3) + m[:3, 3]          # bbox centre = world origin
        assert abs(centre_cam[0]) < 1e-9 and abs(centre_cam[1]) < 1e-9
        assert 0.7 <= -centre_cam[2] <= 0.9
        assert 15 <= view["elevation"] <= 35
        # Elevation as seen from the pose: the camera looks down onto the object.
        cam_pos = -m[:3, :3].T @ m[:3, 3]
        elev = np.degrees(np.arcsin(cam_pos[2] / np.linalg.norm(cam_pos)))
        assert elev == pytest.approx(view["elevation"], abs=1e-6)
        # No roll: the camera's X axis is horizontal in the world.
        assert abs(m[0, 2]) < 1e-9
        assert view["fx"] == view["fy"] and view["cx"] == view["cy"] == 112
        focals.append(view["fx"])
        img = Image.open(obj_dir / view["image"])
        assert img.size == (224, 224) and img.mode == "RGBA"
    focals = np.array(focals)
    assert np.all((focals == 250) | ((focals >= 180) & (focals <= 360)))


def test_ground_truth_projects_into_the_silhouette(dataset):
    assert fraction_inside_silhouette(dataset) >= 0.995


def test_normals_are_unit_and_point_outward(dataset):
    for obj_dir in sorted((dataset / "objects").iterdir()):
        with np.load(obj_dir / "surface.npz") as z:
            pts, nrm = z["points"], z["normals"]
        assert np.allclose(np.linalg.norm(nrm, axis=1), 1, atol=1e-4)
        # Outward for closed surfaces (divergence theorem): the area-weighted mean of
        # (p - c) . n is 3 V / A > 0; inward normals would make it negative. With uniform
        # area sampling the sample mean estimates it.
        c = pts.mean(0)
        assert np.einsum("ij,ij->i", pts - c, nrm).mean() > 0.002


def test_splits_are_by_object_and_deterministic(dataset):
    info = json.loads((dataset / "dataset.json").read_text())
    s = {k: set(v) for k, v in info["splits"].items()}
    assert not (s["train"] & s["val"]) and not (s["train"] & s["test"]) and not (s["val"] & s["test"])
    ids = {c: [f"{c}_{i:04d}" for i in range(20)] for c in CATEGORIES}
    assert assign_splits(ids, 3) == assign_splits(ids, 3)
    assert assign_splits(ids, 3) != assign_splits(ids, 4)
    counts = {k: list(assign_splits(ids, 3).values()).count(k) for k in ("train", "val", "test")}
    assert counts == {"train": 48, "val": 6, "test": 6}


def test_same_seed_gives_the_same_dataset(dataset, tmp_path):
    again = tmp_path / "again"
    build("procedural", again, views=3, workers=1, per_category=4, categories=["lamp"], seed=7,
          engine="workbench")
    for obj_dir in sorted((again / "objects").iterdir()):
        ref = dataset / "objects" / obj_dir.name
        with np.load(obj_dir / "surface.npz") as a, np.load(ref / "surface.npz") as b:
            assert np.array_equal(a["points"], b["points"])
        assert json.loads((obj_dir / "meta.json").read_text()) == json.loads((ref / "meta.json").read_text())
        a = np.asarray(Image.open(obj_dir / "view_00.png"), dtype=np.int16)
        b = np.asarray(Image.open(ref / "view_00.png"), dtype=np.int16)
        assert np.abs(a - b).max() <= 2


def test_broken_meshes_are_reported_and_skipped(tmp_path):
    src = tmp_path / "meshes" / "box"
    src.mkdir(parents=True)
    (src / "good.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    (src / "garbage.obj").write_text("this is not an obj file\n\x00\x01")
    (src / "empty.ply").write_bytes(b"")
    (src / "nofaces.obj").write_text("v 0 0 0\nv 1 0 0\n")
    out = tmp_path / "ds"
    build(str(tmp_path / "meshes"), out, views=1, workers=1, engine="workbench")
    report = json.loads((out / "report.json").read_text())
    skipped = {r["id"] for r in report["skipped"]}
    assert len(skipped) == 3 and all(r["reason"] for r in report["skipped"])
    info = json.loads((out / "dataset.json").read_text())
    assert info["counts"]["total_objects"] == 1
    assert (out / "objects" / "box__good_obj" / "meta.json").exists()


def test_build_resumes_without_redoing(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    victim = sorted((copy / "objects").iterdir())[0]
    (victim / "meta.json").unlink()     # as if killed before this object finished
    mtimes = {p: p.stat().st_mtime_ns for p in (copy / "objects").glob("*/meta.json")}
    build("procedural", copy, views=3, workers=1, per_category=4, categories=CATEGORIES, seed=7,
          engine="workbench")
    assert (victim / "meta.json").exists()
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())


def test_loader_gives_camera_frame_samples(dataset):
    ds = P2MDataset(dataset, "train", input_size=64, points=500)
    sample = ds[0]
    assert sample["image"].shape == (3, 64, 64)
    assert sample["points"].shape == (500, 3) and sample["normals"].shape == (500, 3)
    assert float(sample["intrinsics"][2]) == pytest.approx(32)
    assert (sample["points"][:, 2] < -0.3).all()
