"""training.diagnostics.case_floors: which views are cases, and floors below what was measured."""
from __future__ import annotations

import json
import shutil

import pytest

from blender_p2m.errors import P2MError
from blender_p2m.model import Pixel2Mesh
from constant_head import constant_head_model
from training.diagnostics.case_floors import DEFAULT_CASES, case_files, case_names, floors_of, main, score_case, true_silhouette


def test_every_committed_view_with_ground_truth_is_a_case_and_photos_pair_with_their_render():
    names = case_names(DEFAULT_CASES)
    assert "sofa_0009_view0" in names and "sh3d-blendswap-cc-0-armchair_view1_photo" in names
    # The transparent render of a photo case is a case too, scored against the photo's ground truth.
    white = case_files(DEFAULT_CASES, "sh3d-blendswap-cc-0-armchair_view1")
    photo = case_files(DEFAULT_CASES, "sh3d-blendswap-cc-0-armchair_view1_photo")
    assert white["gt"] == photo["gt"] and photo["truth_render"] == white["image"]


def test_floors_sit_below_the_measured_scores_by_the_margins():
    floors = floors_of({"f_tau": 40.3, "mask_iou": 0.91, "in_silhouette": 0.8})
    assert floors == {"f_tau": 34.0, "mask_iou": 0.86, "in_silhouette": 0.75}
    assert floors_of({"f_tau": 24.3}) == {"f_tau": 20.5}
    assert floors_of({"error": "No object found"}) == {}


def test_an_incomplete_case_is_named(tmp_path):
    shutil.copy(DEFAULT_CASES / "sofa_0009_view0_gt.npy", tmp_path)
    shutil.copy(DEFAULT_CASES / "sofa_0009_view0.png", tmp_path)
    with pytest.raises(P2MError, match=r"sofa_0009_view0 is incomplete: missing .*sofa_0009_view0\.json"):
        case_files(tmp_path, "sofa_0009_view0")


def test_cli_reports_bad_input_in_one_line_before_scoring(tmp_path, capsys):
    weights = str(tmp_path / "unused.pt")               # never opened: the input is checked first
    assert main(["--weights", weights, "--cases", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: No test cases")
    for suffix in (".png", ".json", "_gt.npy"):
        shutil.copy(DEFAULT_CASES / f"sofa_0009_view0{suffix}", tmp_path)
    (tmp_path / "sofa_0009_view0.json").write_text('{"fx": 250}')
    assert main(["--weights", weights, "--cases", str(tmp_path)]) == 2
    assert "does not hold the view's intrinsics" in capsys.readouterr().err
    assert main(["--weights", weights, "--cases", str(tmp_path), "--out", str(tmp_path / "no" / "f.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_photo_cases_go_through_removal_and_report_mask_and_alignment(tmp_path):
    """A head that calls everything object: the mask is the whole picture, so its IoU with
    the true silhouette is the silhouette's share of the picture."""
    model = constant_head_model(tmp_path, logit=20.0)
    template = Pixel2Mesh(model.config).template(2)
    name = "sh3d-blendswap-cc-0-armchair_view1_photo"
    row = score_case(model, template, DEFAULT_CASES, name)
    truth = true_silhouette(case_files(DEFAULT_CASES, name)["truth_render"])
    assert row["background"] == "remove" and row["meant_for"]
    assert row["mask_iou"] == pytest.approx(truth.mean(), abs=1e-4)
    assert 0.0 <= row["in_silhouette"] <= 1.0 and row["template_f_tau"] > 0
    white = score_case(model, template, DEFAULT_CASES, name.removesuffix("_photo"))
    assert white["background"] == "keep" and "mask_iou" not in white


def test_a_case_the_weights_fail_is_recorded_and_named(tmp_path, capsys):
    """A head that finds nothing: the photo cases fail, the CLI says which and exits 1."""
    model = constant_head_model(tmp_path, logit=-20.0)
    out = tmp_path / "floors.json"
    assert main(["--weights", str(model.weights_path), "--out", str(out)]) == 1
    result = json.loads(out.read_text())
    failed = [n for n, c in result["cases"].items() if "error" in c["measured"]]
    assert failed and all(n.endswith("_photo") for n in failed)
    assert all(result["cases"][n]["floors"] == {} for n in failed)
    assert "would FAIL" in capsys.readouterr().out
