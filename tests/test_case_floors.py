"""training.diagnostics.case_floors: which views are cases, and floors below what was measured."""
from __future__ import annotations

import shutil

import pytest

from blender_p2m.errors import P2MError
from training.diagnostics.case_floors import DEFAULT_CASES, case_files, case_names, floors_of, main


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


def test_cli_reports_a_missing_case_folder_without_a_traceback(tmp_path, capsys):
    from blender_p2m.api import bundled_weights_path

    assert main(["--weights", str(bundled_weights_path()), "--cases", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No test cases") and "Traceback" not in err
