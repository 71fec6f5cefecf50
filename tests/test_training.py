"""The training package end to end on a small real dataset: learning, resuming, torchrun, export, evaluation."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from blender_p2m.api import load_model
from blender_p2m.model import Pixel2Mesh, get_config
from training.data.build import build
from training.data.dataset import P2MDataset
from training.losses.pixel2mesh_loss import LossWeights, pixel2mesh_loss
from training.metrics import point_metrics
from training.train import recorded_commands

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train_ds") / "ds"
    build("procedural", out, views=2, workers=1, per_category=5, categories=["chair", "table"], seed=1,
          engine="workbench")
    return out


def run_train(*args, env=None, torchrun=False):
    cmd = ([PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "training.train"] if torchrun
           else [PY, "-m", "training.train"]) + [str(a) for a in args]
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    r = subprocess.run(cmd, cwd=REPO, env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def read_log(run: Path, kind="train"):
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == kind]


def test_overfitting_one_sample_beats_the_ellipsoid(small_dataset):
    torch.manual_seed(0)
    ds = P2MDataset(small_dataset, "train", input_size=64, points=2000)
    sample = ds[0]
    images, intr = sample["image"][None], sample["intrinsics"][None]
    pts, nrm = sample["points"][None], sample["normals"][None]
    model = Pixel2Mesh(get_config("tiny"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = point_metrics(model(images, intr)[-1].vertices, pts)["f_tau"].item()
    for _ in range(250):
        total, _ = pixel2mesh_loss(model(images, intr), pts, nrm, LossWeights())
        opt.zero_grad()
        total.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = point_metrics(model(images, intr)[-1].vertices, pts)["f_tau"].item()
    assert after > before + 25, (before, after)
    assert after > 2 * max(before, 1.0)   # measured: 12.8 -> 49.9 on this sample


def test_resumed_run_matches_uninterrupted(small_dataset, tmp_path):
    common = ["--config", "tiny", "--data", small_dataset, "--epochs", "2", "--batch-size", "2",
              "--log-every", "1", "--val-every", "1000", "--checkpoint-every", "1000"]
    run_train(*common, "--out", tmp_path / "full")
    run_train(*common, "--out", tmp_path / "split", "--stop-after-steps", "3")
    assert len(read_log(tmp_path / "split")) == 3
    run_train(*common, "--out", tmp_path / "split", "--resume")
    full, split = read_log(tmp_path / "full"), read_log(tmp_path / "split")
    assert [r["step"] for r in full] == [r["step"] for r in split] and len(full) > 3
    for a, b in zip(full, split):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-9), (a, b)
    # The run keeps every invocation's command, typed as a user would type it again,
    # so a model card can list the whole history of a resumed run.
    commands = json.loads((tmp_path / "split" / "train_config.json").read_text())["commands"]
    assert len(commands) == 2 and all(c.startswith("python -m training.train --config tiny") for c in commands)
    assert "--stop-after-steps 3" in commands[0] and commands[1].endswith("--resume")


def test_recorded_commands_read_runs_from_before_the_history():
    # Runs written before `commands` existed kept one `command` starting with the script's
    # file path (sys.argv[0] under -m); they are read back as a retypeable command.
    legacy = {"command": "/somewhere/training/train.py --config compact --out runs/x --resume"}
    assert recorded_commands(legacy) == ["python -m training.train --config compact --out runs/x --resume"]
    mixed = {"commands": ["/a/training/train.py --config tiny", "python -m training.train --config tiny --resume"]}
    assert recorded_commands(mixed) == ["python -m training.train --config tiny",
                                        "python -m training.train --config tiny --resume"]
    assert recorded_commands({}) == []


def test_resume_skips_a_damaged_newest_checkpoint(small_dataset, tmp_path):
    run = tmp_path / "run"
    common = ["--config", "tiny", "--data", small_dataset, "--epochs", "1", "--batch-size", "2",
              "--val-every", "1000", "--checkpoint-every", "2", "--keep-checkpoints", "5"]
    run_train(*common, "--out", run, "--stop-after-steps", "4")
    newest = run / "checkpoints" / "step_0000004.pt"
    newest.write_bytes(newest.read_bytes()[:1000])      # as if killed while copying
    # A kill during a checkpoint write leaves atomic_save's temporary file; a kill during a
    # log write leaves half a JSON line.
    leftover = run / "checkpoints" / ".step_0000006.pt.abc123.tmp"
    leftover.write_bytes(b"PK\x03\x04 half a checkpoint")
    with (run / "log.jsonl").open("a") as f:
        f.write('{"kind": "train", "step": 5, "lo')
    r = run_train(*common, "--out", run, "--resume")
    assert "skipping step_0000004.pt" in r.stdout and "at step 2" in r.stdout
    assert not leftover.exists()                          # cleaned at the next checkpoint
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert steps == sorted(steps) and steps[-1] > 4
    for ckpt in (run / "checkpoints").glob("step_*.pt"):
        assert ckpt.stat().st_mode & 0o044 == 0o044       # readable like any file, not 0600


def test_torchrun_two_processes_match_single_process(small_dataset, tmp_path):
    # A small learning rate keeps Adam from amplifying float summation-order differences
    # (different reduction order across processes) into visibly different trajectories.
    common = ["--config", "tiny", "--data", small_dataset, "--epochs", "1", "--log-every", "1",
              "--val-every", "1000", "--checkpoint-every", "1000", "--workers", "0", "--lr", "1e-4"]
    run_train(*common, "--batch-size", "2", "--out", tmp_path / "single")
    run_train(*common, "--batch-size", "1", "--out", tmp_path / "ddp", torchrun=True)
    single, ddp = read_log(tmp_path / "single"), read_log(tmp_path / "ddp")
    assert [r["step"] for r in single] == [r["step"] for r in ddp]
    for a, b in zip(single, ddp):
        assert a["loss"] == pytest.approx(b["loss"], rel=2e-3), (a["loss"], b["loss"])
    wa = torch.load(next((tmp_path / "single" / "checkpoints").glob("*.pt")), weights_only=True)["state_dict"]
    wb = torch.load(next((tmp_path / "ddp" / "checkpoints").glob("*.pt")), weights_only=True)["state_dict"]
    # Adam turns float-summation-order differences of near-zero gradients into whole
    # lr-sized steps, so single weights may differ by ~lr; on average they agree closely.
    diff = torch.cat([(wa[k] - wb[k]).abs().flatten() for k in wa])
    assert diff.max() < 3e-3 and diff.mean() < 2e-5, (diff.max(), diff.mean())


def run_module(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained_run(small_dataset, tmp_path_factory) -> Path:
    """One epoch of the tiny recipe on 2 objects per category (the split has more)."""
    run = tmp_path_factory.mktemp("run") / "run"
    run_train("--config", "tiny", "--data", small_dataset, "--epochs", "1", "--batch-size", "2",
              "--val-every", "1000", "--max-per-category", "2", "--out", run)
    return run


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "weights.pt"
    r = run_module("training.export", trained_run, "-o", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def evaluation(exported, small_dataset, tmp_path_factory) -> tuple[Path, dict]:
    """(folder, eval.json) of the exported weights on the test split."""
    ev = tmp_path_factory.mktemp("eval")
    r = run_module("training.evaluate", "--weights", exported, "--data", small_dataset, "--split", "test", "--out", ev)
    assert r.returncode == 0, r.stderr[-2000:]
    return ev, json.loads((ev / "eval.json").read_text())


@pytest.fixture(scope="module")
def training_objects_evaluation(exported, small_dataset, tmp_path_factory) -> dict:
    """eval.json of 2 training objects per category (the underfitting measurement)."""
    ev = tmp_path_factory.mktemp("eval_train")
    r = run_module("training.evaluate", "--weights", exported, "--data", small_dataset, "--split", "train",
                   "--max-per-category", "2", "--no-grid", "--out", ev)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((ev / "eval.json").read_text())


def test_export_writes_half_precision_weights_with_the_runs_metadata(exported, small_dataset):
    ckpt = torch.load(exported, weights_only=True)
    # --max-per-category 2: 2 objects x 2 categories x 2 views in batches of 2 (the split has more).
    assert len(json.loads((small_dataset / "dataset.json").read_text())["splits"]["train"]) > 4
    assert ckpt["metadata"]["step"] == 2 * 2 * 2 // 2
    assert all(v.dtype == torch.float16 for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert ckpt["metadata"]["train_config"]["model"] == "tiny" and "training" not in ckpt
    assert load_model(exported, device="cpu").config.name == "tiny"


def test_evaluation_scores_the_model_and_the_untrained_template(evaluation, exported, small_dataset):
    """Every number is recomputed here from the weights, the template and the stored ground truth."""
    from torch.utils.data import DataLoader

    from training.metrics import MetricAccumulator, align_depth

    _, result = evaluation
    network = load_model(exported, device="cpu").network
    dataset = P2MDataset(small_dataset, "test", network.config.input_size, points=None)
    assert result["samples"] == len(dataset) and set(result["model"]["per_category"]) == {"chair", "table"}
    model, ellipsoid, aligned, factors = MetricAccumulator(), MetricAccumulator(), MetricAccumulator(), []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=8):                   # evaluate's batches: same float sums
            gt, categories = batch["points"].float(), list(batch["category"])
            pred = network(batch["image"], batch["intrinsics"])[-1].vertices.float()
            model.add(categories, point_metrics(pred, gt))
            template = network.template(2).expand(len(gt), -1, -1)
            ellipsoid.add(categories, point_metrics(template, gt))
            moved, factor = align_depth(pred, gt)
            aligned.add(categories, point_metrics(moved, gt))
            factors += (factor - 1.0).abs().tolist()
    for name, acc in (("model", model), ("ellipsoid", ellipsoid), ("model_depth_aligned", aligned)):
        for key in ("f_tau", "f_2tau", "cd"):
            assert result[name]["class_mean"][key] == pytest.approx(acc.class_mean()[key], rel=1e-4, abs=1e-4), (name, key)
    assert result["model_depth_aligned"]["median_abs_scale_error"] == pytest.approx(sorted(factors)[len(factors) // 2])
    assert "class mean" in (evaluation[0] / "eval.md").read_text()


def test_evaluation_grid_shows_each_category_and_the_prediction_where_it_projects(evaluation, exported, small_dataset):
    """A row per test category: input | prediction | turned | ground truth turned, each tile
    drawn, and the prediction tile's mesh where the predicted vertices project."""
    from PIL import Image

    from training.data.dataset import _meta
    from training.evaluate import model_predictor

    grid = np.asarray(Image.open(evaluation[0] / "grid.png").convert("L"))
    assert grid.shape == (2 * 224 + 24, 4 * 224 + 110)                    # chair and table rows
    network = load_model(exported, device="cpu").network
    dataset = P2MDataset(small_dataset, "test", network.config.input_size, points=None)
    firsts = [dataset.categories.index(c) for c in ("chair", "table")]   # view 0 of each category's first object
    for row, index in enumerate(firsts):
        tiles = [grid[24 + row * 224:24 + (row + 1) * 224, 110 + j * 224:110 + (j + 1) * 224] for j in range(4)]
        assert all(0.01 < (tile < 200).mean() < 0.9 for tile in tiles), row
        vertices, _ = model_predictor(network)(dataset[index])
        oid, k = dataset.samples[index]
        view = _meta(str(small_dataset / "objects" / oid))["views"][k]
        u = view["cx"] + view["fx"] * vertices[:, 0] / -vertices[:, 2]
        v = view["cy"] - view["fy"] * vertices[:, 1] / -vertices[:, 2]
        drawn_rows, drawn_cols = np.nonzero(tiles[1] < 200)
        inside = ((drawn_cols >= u.min() - 3) & (drawn_cols <= u.max() + 3) &
                  (drawn_rows >= v.min() - 3) & (drawn_rows <= v.max() + 3))
        assert inside.mean() > 0.98
        assert len(drawn_rows) > 0.3 * (u.max() - u.min()) * (v.max() - v.min())


def test_evaluation_of_training_objects_counts_the_chosen_views(training_objects_evaluation):
    per_cat = training_objects_evaluation["model"]["per_category"]
    assert {c: m["count"] for c, m in per_cat.items()} == {"chair": 2 * 2, "table": 2 * 2}  # 2 objects x 2 views


def test_model_card_is_written_from_the_artefacts(exported, evaluation, training_objects_evaluation, trained_run,
                                                  small_dataset, tmp_path):
    """Its numbers are the evaluation's, its commands the run's; a second evaluation fills
    the 512 px section."""
    ev, result = evaluation
    (tmp_path / "eval_512.json").write_text(json.dumps(training_objects_evaluation))
    card = tmp_path / "MODEL_CARD.md"
    (tmp_path / "ablation.md").write_text("| arm | data | F(tau) |\n|---|---|---:|\n| lite0_finetune | procedural | 12.3 |\n")
    r = run_module("training.diagnostics.model_card", "--weights", exported, "--eval", ev / "eval.json",
                   "--eval-512", tmp_path / "eval_512.json", "--run", trained_run, "--data", small_dataset,
                   "--ablation", tmp_path / "ablation.md", "-o", card, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    text = card.read_text()
    cm = result["model"]["class_mean"]
    assert f"Class mean: F(tau) {cm['f_tau']:.1f}, F(2tau) {cm['f_2tau']:.1f}, CD {cm['cd']:.3f}" in text
    assert json.loads((trained_run / "train_config.json").read_text())["commands"][0] in text
    c5 = training_objects_evaluation["model"]["class_mean"]
    assert f"F(tau) **{c5['f_tau']:.1f}**, F(2tau) **{c5['f_2tau']:.1f}**" in text    # the 512 px section
    assert all(f"| {c} | {m['count']} | {m['f_tau']:.1f} |" in text for c, m in result["model"]["per_category"].items())
    assert "configuration **tiny**" in text and "float16" in text
    assert "ablation at equal wall-clock" in text and "| lite0_finetune | procedural | 12.3 |" in text


def test_compare_pairs_the_views_of_two_weights(exported, evaluation, small_dataset):
    """The weights against themselves differ by exactly 0 and score what the evaluation
    scored; objects another build trained on are left out."""
    from training.diagnostics.compare import compare

    cm = evaluation[1]["model"]["class_mean"]
    same = compare([exported, exported], small_dataset, "test")
    assert same["views"] == evaluation[1]["samples"] and same["paired_f_tau_difference"]["mean"] == 0
    assert same["class_mean"][0]["f_tau"] == pytest.approx(cm["f_tau"], abs=1e-4)
    first_views = compare([exported, exported], small_dataset, "test", views_per_object=1)
    assert first_views["views"] == len({oid for oid, _ in P2MDataset(small_dataset, "test", 64, None).samples})
    r = run_module("training.diagnostics.compare", "--weights", exported, exported, "--data", small_dataset)
    assert r.returncode == 0 and "B - A: +0.00 (standard error 0.00)" in r.stdout, r.stdout + r.stderr
    assert f"| {cm['f_tau']:.2f} | {cm['f_2tau']:.2f} | {cm['cd']:.3f} |" in r.stdout
    r = run_module("training.diagnostics.compare", "--weights", exported, exported, "--data", small_dataset,
                   "--split", "train", "--unseen-by", small_dataset)
    assert r.returncode == 2 and "every object is in the training split" in r.stderr and "Traceback" not in r.stderr


def test_compare_pairs_models_of_different_input_sizes(exported, evaluation, small_dataset, tmp_path):
    """The old bundled network saw 128 px and Lite0 sees 224 px: each model scores the views at
    its own size, and each side's class mean is what training.evaluate gives that model alone."""
    from training.diagnostics.compare import compare

    ckpt = torch.load(exported, map_location="cpu", weights_only=True)
    ckpt["config"]["input_size"] = 96                # the same fully convolutional weights at 96 px
    larger = tmp_path / "weights_96.pt"
    torch.save(ckpt, larger)
    r = run_module("training.evaluate", "--weights", larger, "--data", small_dataset, "--split", "test",
                   "--out", tmp_path / "eval_96", "--no-grid")
    assert r.returncode == 0, r.stderr[-2000:]
    alone = json.loads((tmp_path / "eval_96" / "eval.json").read_text())["model"]["class_mean"]
    pair = compare([exported, larger], small_dataset, "test")
    assert pair["views"] == evaluation[1]["samples"]
    assert pair["class_mean"][0]["f_tau"] == pytest.approx(evaluation[1]["model"]["class_mean"]["f_tau"], abs=1e-4)
    assert pair["class_mean"][1]["f_tau"] == pytest.approx(alone["f_tau"], abs=1e-4)
    assert pair["class_mean"][1]["cd"] == pytest.approx(alone["cd"], rel=1e-5)
    assert pair["paired_f_tau_difference"]["mean"] != 0      # 96 px input is a different prediction


def test_training_limits_that_leave_no_views_say_so(small_dataset, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run([PY, "-m", "training.train", "--config", "tiny", "--data", str(small_dataset),
                        "--out", str(run), "--max-per-category", "0"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no training views" in r.stderr and "Traceback" not in r.stderr
    assert not run.exists()


def test_dataset_subsets_take_the_first_objects_of_each_category(small_dataset):
    ids = json.loads((small_dataset / "dataset.json").read_text())["splits"]["train"]
    ds = P2MDataset(small_dataset, "train", input_size=64, points=None, max_per_category=1)
    firsts = {}
    for oid in ids:
        firsts.setdefault(oid.rsplit("_", 1)[0], oid)
    assert sorted({oid for oid, _ in ds.samples}) == sorted(firsts.values())
    assert len(P2MDataset(small_dataset, "train", input_size=64, points=None, max_objects=3).samples) == 3 * 2


def test_shapenet_p2m_format_and_restricted_unpickling(tmp_path):
    from PIL import Image

    from training.data.shapenet import ShapeNetP2MDataset, UnsafePickleError, load_numpy_pickle

    view_dir = tmp_path / "ShapeNetP2M" / "02691156" / "abc123" / "rendering"
    view_dir.mkdir(parents=True)
    pts = np.random.default_rng(0).normal(size=(3000, 6)).astype(np.float32) * 0.1
    (view_dir / "00.dat").write_bytes(pickle.dumps(pts, protocol=2))
    Image.new("RGBA", (137, 137), (200, 10, 10, 255)).save(view_dir / "00.png")
    (tmp_path / "train_list.txt").write_text("ShapeNetP2M/02691156/abc123/rendering/00.dat\n")
    ds = ShapeNetP2MDataset(tmp_path, tmp_path / "train_list.txt", input_size=64, points=1000)
    sample = ds[0]
    assert sample["category"] == "02691156" and sample["points"].shape == (1000, 3)
    assert float(sample["points"][:, 2].mean()) == pytest.approx(-0.8, abs=0.02)
    assert float(sample["intrinsics"][0]) == pytest.approx(250 * 64 / 224, rel=1e-4)

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (view_dir / "01.dat").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(UnsafePickleError, match="refused"):
        load_numpy_pickle(view_dir / "01.dat")
    assert not marker.exists()
    (view_dir / "02.dat").write_bytes(pickle.dumps({"not": "an array"}, protocol=2))
    with pytest.raises(UnsafePickleError):
        load_numpy_pickle(view_dir / "02.dat")


def test_learning_rate_schedule_of_the_compact_recipe_and_older_configs():
    from training.config import RECIPES, TrainConfig
    from training.train import parse_args

    compact = RECIPES["compact"]
    total = 1560 * compact.epochs                        # 12,480 training views / batch 8
    rates = {s: compact.lr_at(s, total) for s in (0, 5241, 5242, 9827, 9828, total - 1)}
    assert rates[0] == rates[5241] == pytest.approx(3e-4)
    assert rates[5242] == rates[9827] == pytest.approx(1e-4)
    assert rates[9828] == rates[total - 1] == pytest.approx(1e-4 / 3)
    # Checkpoints written before multi-step schedules stored one number.
    old = TrainConfig.from_dict({**compact.to_dict(), "lr_drop_at": 0.8})
    assert old.lr_drop_at == (0.8,) and old.lr_at(799, 1000) == old.lr > old.lr_at(800, 1000)
    assert TrainConfig.from_dict(json.loads(json.dumps(compact.to_dict()))) == compact
    _, cfg = parse_args(["--data", "d", "--out", "o", "--lr-drop-at", "0.9,0.5", "--amp", "no"])
    assert cfg.lr_drop_at == (0.5, 0.9) and cfg.amp is False


def test_metric_ceiling_of_the_vertex_metric(small_dataset):
    from training.diagnostics.metric_ceiling import ceiling

    dense, sparse = ceiling(small_dataset, "test", 2466), ceiling(small_dataset, "test", 100)
    assert len(dense) == len(sparse) > 0
    # Exact GT points: every "predicted" point is on the surface, so precision is perfect;
    # fewer points leave more of the GT farther than tau from any of them.
    assert dense.class_mean()["precision_tau"] > 99
    assert dense.class_mean()["f_tau"] > 80 > sparse.class_mean()["f_tau"]


def test_mask_ceiling_of_background_removal(small_dataset):
    """A perfect head at the input's own resolution loses nothing; at 56 x 56 it loses the
    thin parts; at 7 x 7 much more; a smooth outline (a disc) keeps nearly all of it."""
    from blender_p2m.intrinsics import Intrinsics
    from training.diagnostics.mask_ceiling import ceiling, view_ceiling

    full, head, coarse = (ceiling(small_dataset, "test", size).class_mean()["mask_iou"] for size in (224, 56, 7))
    assert full > 0.98 and 0.98 > head > coarse and coarse < 0.85
    yy, xx = np.mgrid[:224, :224] + 0.5
    disc = np.zeros((224, 224, 4), np.float32)
    disc[..., 3] = ((xx - 112) ** 2 + (yy - 112) ** 2 <= 60 ** 2)
    assert view_ceiling(disc, Intrinsics(250, 250, 112, 112, 224, 224), 224, 56) > 0.97   # a smooth outline survives


def test_template_fitted_directly_to_the_ground_truth(small_dataset, capsys, tmp_path):
    """The fit ceiling: the network's template and loss, optimised per object with no network."""
    from PIL import Image

    from training.data.dataset import _meta, camera_frame_surface, read_dataset_json
    from training.diagnostics.fit_ceiling import LOSS_SETS, TemplateFit, fit, main
    from training.losses.edge import edge_length_loss

    oid = read_dataset_json(small_dataset)["splits"]["test"][0]
    view = _meta(str(small_dataset / "objects" / oid))["views"][0]
    pts, nrm = (torch.from_numpy(a)[None] for a in camera_frame_surface(small_dataset / "objects" / oid, view))
    template = TemplateFit("compact")
    start = template.stages([torch.zeros(1, n, 3) for n in template.sizes])[-1]
    fitted = {name: fit(template, pts, nrm, LOSS_SETS[name], steps=150, lr=3e-3, loss_points=2000)
              for name in ("training", "chamfer")}
    before = point_metrics(start.vertices, pts)["f_tau"].item()
    after = {name: point_metrics(v, pts)["f_tau"].item() for name, v in fitted.items()}
    # Free vertices reach the surface: far above the undeformed ellipsoid.
    assert after["training"] > 70 and after["training"] > before + 40, (before, after)
    # The regularisers are in the objective: the training weights keep edges shorter.
    edges = template.edges[-1]
    assert edge_length_loss(fitted["training"], edges) < 0.8 * edge_length_loss(fitted["chamfer"], edges)

    grid = tmp_path / "fit.png"
    assert main(["--data", str(small_dataset), "--objects-per-category", "1", "--steps", "20",
                 "--grid", str(grid)]) == 0
    out = capsys.readouterr().out
    assert "## Loss: training" in out and "## Loss: chamfer" in out and out.count("| class mean |") == 4
    # One row per category (chair, table) of 224 px tiles under a title line, meshes drawn.
    img = np.asarray(Image.open(grid).convert("L"))
    assert img.shape[0] == 2 * 224 + 24
    assert (img[24:24 + 224, 110 + 224:110 + 2 * 224] < 200).mean() > 0.02
    assert main(["--data", str(small_dataset / "missing")]) == 2
    assert "not a blender-p2m dataset" in capsys.readouterr().err


def test_training_curves_plot_the_logged_data_with_legends_under_the_plots(tmp_path):
    from PIL import Image

    from training.plot import plot_training_curves, training_curves_figure

    train_steps, val_steps = list(range(10, 1000, 10)), list(range(100, 1000, 100))
    records = [{"kind": "train", "step": s, "loss": 1.0 / s, "chamfer": 0.5 / s} for s in train_steps]
    records += [{"kind": "val", "step": s, "f_tau": 20 + s / 100, "f_2tau": 30 + s / 100, "cd": 2.0} for s in val_steps]
    records += [{"kind": "val", "step": 1000, "f_tau": None}, {"step": 5, "loss": 9.0}]   # skipped
    figure = training_curves_figure(records)
    losses, scores = figure.axes
    drawn = {axes: {line.get_label(): line for line in axes.get_lines()} for axes in (losses, scores)}
    # Exactly the logged series (no term that was not logged, no CD), each with its data.
    assert set(drawn[losses]) == {"loss", "chamfer"} and set(drawn[scores]) == {"f_tau", "f_2tau"}
    np.testing.assert_array_equal(drawn[losses]["loss"].get_xdata(), train_steps)
    np.testing.assert_allclose(drawn[losses]["chamfer"].get_ydata(), [0.5 / s for s in train_steps])
    np.testing.assert_array_equal(drawn[scores]["f_tau"].get_xdata(), val_steps)
    np.testing.assert_allclose(drawn[scores]["f_2tau"].get_ydata(), [30 + s / 100 for s in val_steps])
    assert losses.get_yscale() == "log" and scores.get_yscale() == "linear"
    # Each legend names its panel's curves and lies wholly under its plot, hiding none of them.
    figure.draw_without_rendering()
    for axes in (losses, scores):
        legend = axes.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == list(drawn[axes])
        assert legend.get_window_extent().y1 < axes.get_window_extent().y0
    path = tmp_path / "curves.png"
    plot_training_curves(records, path)
    assert Image.open(path).size == (1000, 440) and [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_run_hours_count_every_process_of_a_torchrun_run(tmp_path):
    # Windows log samples/s over all processes: 10 steps of batch 2 on 2 processes at
    # 16 samples/s took 10 x 4 / 16 = 2.5 s, then 10 more at 8 samples/s took 5 s.
    from training.diagnostics.model_card import run_hours
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"kind": "train", "step": 10, "samples_per_s": 16.0}, {"kind": "val", "step": 10, "f_tau": 1.0},
        {"kind": "train", "step": 20, "samples_per_s": 8.0}]) + "\n")
    hours, steps = run_hours(tmp_path, {"train": {"batch_size": 2}, "world_size": 2})
    assert steps == 20 and hours * 3600 == pytest.approx(7.5)
    hours, _ = run_hours(tmp_path, {"train": {"batch_size": 2}, "world_size": 1})
    assert hours * 3600 == pytest.approx(3.75)
