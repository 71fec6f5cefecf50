"""The bundled weights: safe loading, self-describing configuration, and real reconstructions
held to floors measured on them (weights/case_floors.json, by training.diagnostics.case_floors)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from blender_p2m.api import BUNDLED_WEIGHTS_NAME, Intrinsics, bundled_weights_path, load_model
from blender_p2m.model import ModelConfig, Pixel2Mesh
from training.diagnostics.case_floors import DEFAULT_CASES as CASES
from training.diagnostics.case_floors import (
    TEMPLATE_FACTOR,
    background_for,
    case_files,
    case_intrinsics,
    case_names,
    f_tau,
    meant_for,
    true_silhouette,
)
from training.file_hash import sha256_of

FLOORS_FILE = Path(__file__).resolve().parents[1] / "weights" / "case_floors.json"
MAX_BYTES = 25 * 1024 * 1024
# Whatever the floors say, a removed photo background must find most of the object.
MIN_MASK_IOU, MIN_IN_SILHOUETTE = 0.5, 0.5


@pytest.fixture(scope="module")
def weights() -> Path:
    path = bundled_weights_path()
    assert path is not None, f"weights/{BUNDLED_WEIGHTS_NAME} is missing: the bundled weights must ship"
    return path


def remeasure(weights: Path) -> str:
    return f"python -m training.diagnostics.case_floors --weights {weights} --out {FLOORS_FILE}"


@pytest.fixture(scope="module")
def floors(weights) -> dict:
    assert FLOORS_FILE.is_file(), f"{FLOORS_FILE} is missing: measure it with {remeasure(weights)}"
    return json.loads(FLOORS_FILE.read_text())


@pytest.fixture(scope="module")
def template(model) -> torch.Tensor:
    """(N, 3) the untrained starting mesh of this configuration, in the camera frame."""
    return Pixel2Mesh(model.config).template(2)


@pytest.fixture(scope="module")
def model(weights):
    return load_model(None, device="cpu")


def test_bundled_file_is_small_half_precision_and_safe(weights):
    assert weights.stat().st_size <= MAX_BYTES
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)   # no code can run
    floats = [v for v in ckpt["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    config = ModelConfig.from_dict(ckpt["config"])
    meta = ckpt["metadata"]
    assert meta["train_config"]["model"] == config.name and meta["data"]["counts"]["train"] > 0


def test_floors_were_measured_on_these_weights(weights, floors):
    """Floors of other weights must not pass silently: re-run training.diagnostics.case_floors."""
    assert floors["sha256"] == sha256_of(weights), \
        f"{FLOORS_FILE.name} belongs to other weights ({floors['weights']}): {remeasure(weights)}"
    assert floors["weights"] == weights.name
    assert sorted(floors["cases"]) == case_names(CASES), f"every committed case needs its floor: {remeasure(weights)}"


def _silhouette_share(vertices: np.ndarray, intr: Intrinsics, truth: np.ndarray) -> float:
    """Share of vertices whose pinhole projection falls on a true-silhouette pixel."""
    depth = -vertices[:, 2]
    u = intr.cx + intr.fx * vertices[:, 0] / depth
    v = intr.cy - intr.fy * vertices[:, 1] / depth
    col, row = np.floor(u).astype(int), np.floor(v).astype(int)
    ok = (depth > 0) & (col >= 0) & (col < truth.shape[1]) & (row >= 0) & (row < truth.shape[0])
    hit = np.zeros(len(vertices), bool)
    hit[ok] = truth[row[ok], col[ok]]
    return float(hit.mean())


@pytest.mark.parametrize("name", case_names(CASES))
def test_reconstructs_committed_view_above_its_floor(model, floors, template, name):
    files = case_files(CASES, name)
    intr = case_intrinsics(files["sidecar"])
    background = background_for(model, name)
    case = floors["cases"][name]
    assert "error" not in case["measured"], case["measured"]
    assert case["measured"]["background"] == background

    rec = model.reconstruct(files["image"], intr, background=background)
    gt = np.load(files["gt"])
    score = f_tau(rec.vertices, gt)
    assert score >= case["floors"]["f_tau"], score
    if meant_for(model, name):
        assert score >= TEMPLATE_FACTOR * f_tau(template, gt), score
    if background == "remove":
        # Own IoU and own pinhole projection: an oracle beside training.metrics, which the tool uses.
        truth = true_silhouette(files["truth_render"])                          # (H, W)
        made = rec.mask >= 0.5
        iou = (truth & made).sum() / max(1, (truth | made).sum())
        assert iou >= max(MIN_MASK_IOU, case["floors"]["mask_iou"]), iou
        inside = _silhouette_share(rec.vertices, intr, truth)
        assert inside >= max(MIN_IN_SILHOUETTE, case["floors"]["in_silhouette"]), inside
