"""python -m training.diagnostics.model_card --weights W --eval E.json [--eval-real R.json]
    [--eval-512 E512.json] [--ablation ablation.md] --run RUN --data DIR [DIR ...] -o MODEL_CARD.md

Writes the model card from the artefacts themselves (weights metadata, evaluation JSON,
run log, dataset card), so its numbers cannot drift from what was measured; that includes
the issues' targets against the evaluations. The bundled card's hand-written part (status,
run history, speed, limits) is `weights/card_notes.md`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..evaluate import EVAL_FORMAT, photo_mode_table
from ..train import DEFAULT_BACKGROUND_MIX, recorded_commands


def _table(per_cat: dict, base: dict | None) -> str:
    rows = ["| category | views | F(tau) | F(2tau) | CD | ellipsoid F(tau) | ellipsoid F(2tau) | ellipsoid CD |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for cat in sorted(per_cat):
        m = per_cat[cat]
        b = (base or {}).get(cat, {})
        rows.append(f"| {cat} | {m.get('count', '')} | {m['f_tau']:.1f} | {m['f_2tau']:.1f} | {m['cd']:.3f} | "
                    f"{b.get('f_tau', float('nan')):.1f} | {b.get('f_2tau', float('nan')):.1f} | {b.get('cd', float('nan')):.3f} |")
    return "\n".join(rows)


def run_hours(run: Path, run_config: dict) -> tuple[float, int]:
    """Training time (sum of logged step windows) and steps, from log.jsonl.

    A window logs samples/s over all processes (batch x world size per step), so its steps
    took steps x batch x world size / samples_per_s seconds.
    """
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    train = [r for r in records if r["kind"] == "train"]
    if not train:
        return 0.0, 0
    samples_per_step = run_config["train"]["batch_size"] * run_config.get("world_size", 1)
    seconds, prev = 0.0, 0
    for r in train:
        seconds += (r["step"] - prev) * samples_per_step / max(r["samples_per_s"], 1e-9)
        prev = r["step"]
    return seconds / 3600, train[-1]["step"]


# The training data's reach, by (trained on real meshes, trained on photo backgrounds).
WHAT_THE_DATA_COVERS = {
    (False, False): "- Trained on synthetic, untextured renders of procedural objects: real photos with\n"
                    "  texture, clutter, strong perspective or shadows are outside the training data.",
    (False, True): "- Trained on procedural objects over photo backgrounds: real objects' shapes and\n"
                   "  textures are outside the training data.",
    (True, False): "- Trained on real meshes with their materials, on white: cluttered photo backgrounds\n"
                   "  are outside the training data (remove the background, or give a transparent PNG).",
    (True, True): "- Trained on real meshes with their own materials over photo backgrounds, and on\n"
                  "  procedural shapes: real photos with strong perspective, hard shadows, several\n"
                  "  objects or an object touching the picture's edge are still outside the data.",
}


def _ablation_section(table: str) -> str:
    """The ablation that chose the bundled configuration (training.diagnostics.ablation)."""
    if not table.strip():
        return ""
    return ("\n## How the configuration was chosen (ablation at equal wall-clock time)\n\n"
            "Written by `python -m training.diagnostics.ablation` (its command and budget are in the "
            "table's header).\n\n" + table.strip() + "\n")


def describe_model(config: dict, train: dict, params: int, dtype: str, size_mb: float) -> str:
    """What the network is and where its weights started, from its configuration."""
    head = (f", a silhouette head ({config['silhouette_size']} x {config['silhouette_size']} mask "
            f"logits, for background removal)" if config.get("silhouette") else "")
    if config.get("encoder", "vgg") == "lite0":
        if train.get("pretrained_encoder", True):
            how = ("frozen" if train.get("freeze_encoder") else
                   f"fine-tuned at {train.get('encoder_lr_scale', 1.0):g}x the learning rate")
            encoder = (f"EfficientNet-Lite0 encoder initialised from ImageNet weights "
                       f"(`training.pretrained`) and {how}")
        else:
            encoder = "EfficientNet-Lite0 encoder trained from random weights"
    else:
        encoder = (f"VGG-16 encoder of width {config['encoder_width']} with {config['encoder_norm']} "
                   f"norm, trained by this project from nothing")
    return (f"Pixel2Mesh, configuration **{config['name']}** (input {config['input_size']} px; {encoder}; "
            f"G-ResNet hidden {config['hidden']}, {config['gresnet_layers']} layers per block{head}; "
            f"{params / 1e6:.2f} M parameters), stored in {dtype} ({size_mb:.1f} MB), trained on CPU.")


def describe_dataset(data: Path, dataset: dict) -> str:
    """One training dataset: where its objects come from, and its splits per category."""
    if dataset.get("source") == "procedural":
        origin = ("Procedural shape library (`training/data/shapes`, preview: `docs/shapes_preview.png`), "
                  "13 ShapeNet categories, one colour per object")
    else:
        origin = ("Real meshes from Debian packages, rendered with their own materials and textures "
                  "([catalogue](../docs/real_meshes_catalogue.md), "
                  "[dataset card](../docs/real_meshes_dataset_card.md)); `other` is trained on but never "
                  "in the class mean")
    counts = dataset["counts"]
    rows = "\n".join(f"| {c} | {v['train']} | {v['val']} | {v['test']} |"
                      for c, v in sorted(dataset["counts_per_category"].items()))
    return (f"### `{data.name}`\n\n{origin}; rendered with Blender ({dataset['engine']}), "
            f"{dataset['views']} views per object, splits by object. Built with:\n\n    {dataset.get('command', '')}\n\n"
            f"| category | train objects | val | test |\n|---|---:|---:|---:|\n{rows}\n"
            f"| **total** | {counts['train']} | {counts['val']} | {counts['test']} |\n")


def describe_backgrounds(train: dict) -> str:
    if not train.get("photos") and not train.get("background_mix"):
        return (f"Backgrounds: the transparent renders on white, or with probability "
                f"{train.get('augment_background', 0):g} a flat random colour.")
    mix = train.get("background_mix") or DEFAULT_BACKGROUND_MIX
    return (f"Backgrounds: each training view is composited on a background drawn from the mix `{mix}` "
            f"(photo: a random crop of a training photo from `{train.get('photos')}`; flat: a random "
            f"colour; white), so the network learns to ignore what is around the object; the "
            f"silhouette head learns the object's mask (loss weight {train.get('silhouette_weight', 0):g}). "
            f"Evaluation photos are a held-out split of the same library.")


def real_section(ev: dict) -> str:
    """Real test meshes: transparent on white, then on held-out photos in each mode."""
    cm = ev["model"]["class_mean"]
    text = (f"\n## Results on real meshes (test split, `{Path(ev['data']).name}`)\n\n"
            f"Transparent renders on white: **F(tau) {cm['f_tau']:.1f}, F(2tau) {cm['f_2tau']:.1f}, "
            f"CD {cm['cd']:.3f}**" + (f"; silhouette mask IoU {ev['mask_iou']:.3f}" if ev.get("mask_iou") is not None else "")
            + ".\n\n" + _table(ev["model"]["per_category"], ev["ellipsoid"]["per_category"]) + "\n")
    photos = ev.get("photos")
    if photos:
        text += (f"\n### On {photos['photos']} held-out photos\n\nEach view composited on one test photo "
                 f"(`training.evaluate --photos`): the background kept, removed by the model (the API's own "
                 f"path), or removed with the render's true alpha (an oracle). Mask IoU: kept, the silhouette "
                 f"head at its resolution; removed, the API's mask against the true alpha. No object found: "
                 f"views where removal found nothing and the background was kept, as a user would.\n\n"
                 + "\n".join(photo_mode_table(photos["modes"])) + "\n")
        text += ("\n![real test objects, transparent and on their held-out photos: input | prediction | "
                 "turned 60 degrees | ground truth turned 60 degrees](real_test_grid.png)\n")
    return text


def _status(value: float, limit: float, at_least: bool, gap: str = "{:.1f} points") -> str:
    met = value >= limit if at_least else value <= limit
    return "met" if met else f"**missed by {gap.format(abs(value - limit))}**"


def targets_section(ev: dict, ev_real: dict | None, ev512: dict | None, size_mb: float) -> str:
    """The issues' measurable targets against this card's own evaluations (issues 17, 18).
    Speed targets live in benchmarks/RESULTS.md (they depend on the machine, not the weights)."""
    cm, name = ev["model"]["class_mean"], Path(ev["data"]).name
    rows = [(f"test split of `{name}`, F(tau) >= 60", f"{cm['f_tau']:.1f}", _status(cm["f_tau"], 60, True)),
            (f"test split of `{name}`, F(2tau) >= 75", f"{cm['f_2tau']:.1f}", _status(cm["f_2tau"], 75, True))]
    if ev_real:
        white = ev_real["model"]["class_mean"]["f_tau"]
        rows.append((f"test split of `{Path(ev_real['data']).name}` on white (transparent), F(tau) >= 50", f"{white:.1f}",
                     _status(white, 50, True)))
        modes = (ev_real.get("photos") or {}).get("modes", {})
        for mode, label in (("remove", "background removed by the model"), ("keep", "background kept")):
            if mode in modes:
                f = modes[mode]["model"]["class_mean"]["f_tau"]
                rows.append((f"same objects on test photos, {label}: within 5 points of white",
                             f"{f:.1f} ({f - white:+.1f})", _status(f, white - 5, True)))
        if "remove" in modes:
            removed = modes["remove"]
            f = removed["model"]["class_mean"]["f_tau"]
            if "oracle" in modes:
                oracle = modes["oracle"]["model"]["class_mean"]["f_tau"]
                rows.append(("photos: removal by the model within 3 F(tau) points of the true alpha (issue 18)",
                             f"{f:.1f} against {oracle:.1f} ({f - oracle:+.1f})", _status(f, oracle - 3, True)))
            rows.append(("photos: removal mask IoU >= 0.9 (issue 18)", f"{removed['mask_iou']:.3f}",
                         _status(removed["mask_iou"], 0.9, True, gap="{:.3f}")))
            inside = 100 * removed["vertices_in_silhouette"]
            rows.append(("photos, removed: >= 70% of vertices inside the true silhouette (issue 18)",
                         f"{inside:.1f}%", _status(inside, 70, True)))
    if ev512:
        c5 = ev512["model"]["class_mean"]
        for key, name in (("f_tau", "F(tau)"), ("f_2tau", "F(2tau)")):
            rows.append((f"512 px Blender default camera: {name} within 5 points of 224 px",
                         f"{c5[key]:.1f} against {cm[key]:.1f} ({c5[key] - cm[key]:+.1f})",
                         _status(c5[key], cm[key] - 5, True)))
    rows.append(("bundle size <= 25 MB", f"{size_mb:.1f} MB", _status(size_mb, 25, False, gap="{:.1f} MB")))
    table = "\n".join(f"| {t} | {m} | {st} |" for t, m, st in rows)
    return ("\n## Targets, against the evaluations above\n\nClass means on the predicted vertices. The "
            "speed targets (batch-1 latency, batch conversion) depend on the machine, not the weights: "
            "`benchmarks/RESULTS.md`.\n\n| target | measured | status |\n|---|---|---|\n" + table + "\n")


def write_card(weights: Path, ev: dict, ev512: dict | None, run: Path, data: list[Path], out: Path,
               extra_notes: str = "", ablation: str = "", ev_real: dict | None = None) -> str:
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    meta, config = ckpt["metadata"], ckpt["config"]
    data = [Path(d) for d in ([data] if isinstance(data, (str, Path)) else data)]
    datasets = [json.loads((d / "dataset.json").read_text()) for d in data]
    run_config = json.loads((run / "train_config.json").read_text())
    train_cfg = run_config["train"]
    hours, logged_steps = run_hours(run, run_config)
    steps = meta.get("step", logged_steps)   # the exported checkpoint's step; the log has every 10th
    train_commands = "\n".join("    " + c for c in recorded_commands(run_config))
    params = sum(v.numel() for v in ckpt["state_dict"].values())
    cm, bm = ev["model"]["class_mean"], ev["ellipsoid"]["class_mean"]
    sm = (ev.get("model_surface") or {}).get("class_mean")
    size_mb = weights.stat().st_size / 1e6
    mixing = ""
    if len(data) > 1 and train_cfg.get("data_weights"):
        mixing = ("Each batch draws from the datasets with probabilities "
                  + ", ".join(f"`{d.name}` {w:g}" for d, w in zip(data, train_cfg["data_weights"])) + ".\n\n")
    build_commands = "\n".join(f"    {d.get('command', '')}" for d in datasets)
    trained_on_real = any(d.get("source") != "procedural" for d in datasets)
    photo_trained = bool(train_cfg.get("photos") or train_cfg.get("background_mix"))
    real_command = ""
    if ev_real:
        library = (ev_real.get("photos") or {}).get("library")
        real_command = (f"\n    python -m training.evaluate --weights {weights} --data {ev_real['data']} --split test"
                        + (f" --photos {library}" if library else ""))
    depth = ""
    if ev.get("model_depth_aligned"):
        da = ev["model_depth_aligned"]
        dc = da["class_mean"]
        depth = (f"\n**Shape error against depth error.** One picture cannot tell an object from a larger one "
                 f"farther away; the network reads the depth from the convention's fixed size. Rescaling each "
                 f"prediction about the camera centre by the factor that fits the ground truth best (an oracle, "
                 f"`training.metrics.align_depth`; the picture is unchanged) gives F(tau) {dc['f_tau']:.1f}, "
                 f"F(2tau) {dc['f_2tau']:.1f}, CD {dc['cd']:.3f}; the mean depth error is "
                 f"{100 * da['mean_abs_scale_error']:.1f}%, about {0.8 * 100 * da['mean_abs_scale_error']:.1f} cm "
                 f"at 0.8 m, against tau's 1 cm (factors searched in steps of 1%).\n")
    t512 = ""
    if ev512:
        c5 = ev512["model"]["class_mean"]
        t512 = (f"\n### Blender's default camera at 512 x 512\n\nThe same test objects rendered at 512 x 512 "
                f"through a 50 mm lens on a 36 mm sensor (f = 711 px), reconstructed with their true intrinsics: "
                f"F(tau) **{c5['f_tau']:.1f}**, F(2tau) **{c5['f_2tau']:.1f}**, CD {c5['cd']:.3f} "
                f"(224 px: {cm['f_tau']:.1f} / {cm['f_2tau']:.1f}; difference "
                f"{c5['f_tau'] - cm['f_tau']:+.1f} / {c5['f_2tau'] - cm['f_2tau']:+.1f} points).\n\n"
                + _table(ev512["model"]["per_category"], ev512["ellipsoid"]["per_category"]) + "\n")
    text = f"""# Model card: `{weights.name}`

{describe_model(config, train_cfg, params, meta.get('dtype', 'float32'), size_mb)}

## Data
Every dataset follows [the data convention](../docs/conventions.md): bounding-box diagonal
0.57 m, centre on the optical axis at 0.7..0.9 m, elevation 15..35 degrees, 224 x 224 RGBA,
70% of views f = 250 px and the rest 180..360 px.

{mixing}{chr(10).join(describe_dataset(d, j) for d, j in zip(data, datasets))}
{describe_backgrounds(train_cfg)}

## Training
Commands (the run took {hours:.2f} h of training steps on a 2-core CPU, {steps:,} steps):

{build_commands}
{train_commands}
    python -m training.export {run} -o {weights}
    python -m training.evaluate --weights {weights} --data {ev['data']} --split test{real_command}

Training configuration stored in the weights (that of the run's last invocation): `{json.dumps(meta.get('train_config', {}))}`

Loss weights: `{json.dumps(meta.get('loss_weights', {}))}`

![training curves](training_curves.png)

## Results on the test split of `{Path(ev['data']).name}` (held-out objects), Pixel2Mesh protocol

Squared distances; F-score at tau = 1e-4 and 2tau = 2e-4 in percent; CD = (mean gt->pred +
mean pred->gt) x 1000; on the 2466 predicted vertices; class mean over categories.

**Class mean: F(tau) {cm['f_tau']:.1f}, F(2tau) {cm['f_2tau']:.1f}, CD {cm['cd']:.3f}** — the initial
ellipsoid (no learning) scores F(tau) {bm['f_tau']:.1f}, F(2tau) {bm['f_2tau']:.1f}, CD {bm['cd']:.3f}
({cm['f_tau'] / max(bm['f_tau'], 1e-9):.2f}x its F(tau)).
{f"On 2466 points sampled on the predicted surface: F(tau) {sm['f_tau']:.1f}, F(2tau) {sm['f_2tau']:.1f}, CD {sm['cd']:.3f}." if sm else ""}

{_table(ev['model']['per_category'], ev['ellipsoid']['per_category'])}
{depth}{t512}{real_section(ev_real) if ev_real else ""}
![input | prediction | prediction turned 60 degrees | ground truth turned 60 degrees](test_grid.png)
{targets_section(ev, ev_real, ev512, size_mb)}
## What works and what does not
- One object, centred, seen slightly from above, on a plain or transparent background,
  at roughly the training distance. Use **crop to object** for photos where the object is
  small or off-centre: the virtual camera turns and zooms onto it, keeping alignment.
- The mesh is a deformed ellipsoid: genus 0. Holes (chair backs with openings, handles)
  are closed over; thin parts (legs, antennas, rifle barrels) come out thick or missing.
{WHAT_THE_DATA_COVERS[(trained_on_real, photo_trained)]}
- Depth is learned from the convention (objects about 0.8 m away, 0.57 m diagonal); the
  add-on's placement-depth option rescales about the camera centre to put it elsewhere.

## Better weights
Train on your own meshes (`python -m training.data build --source MESH_DIR`), more objects
and views, or the `paper` configuration on ShapeNet (`training.data.shapenet`) with a GPU
(`torchrun --nproc_per_node N -m training.train --config paper ...`).
{extra_notes}
{_ablation_section(ablation)}"""
    out.write_text(text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.model_card")
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--eval", type=Path, required=True)
    p.add_argument("--eval-512", type=Path)
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--data", type=Path, nargs="+", required=True,
                   help="the training datasets, in the run's order")
    p.add_argument("--eval-real", type=Path, help="evaluation JSON of the real test split (with --photos)")
    p.add_argument("--notes", type=Path, help="Markdown appended to the card (limits, targets missed)")
    p.add_argument("--ablation", type=Path, help="the ablation's ablation.md, appended as its own section")
    p.add_argument("-o", "--out", type=Path, default=Path("weights/MODEL_CARD.md"))
    a = p.parse_args(argv)
    ev = json.loads(a.eval.read_text())
    ev512 = json.loads(a.eval_512.read_text()) if a.eval_512 else None
    ev_real = json.loads(a.eval_real.read_text()) if a.eval_real else None
    if ev_real is not None and ev_real.get("photos") and ev_real.get("format") != EVAL_FORMAT:
        p.error(f"{a.eval_real} was written by an older training.evaluate (no photo modes): run it again")
    write_card(a.weights, ev, ev512, a.run, a.data, a.out, a.notes.read_text() if a.notes else "",
               a.ablation.read_text() if a.ablation else "", ev_real)
    print(f"[model_card] wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
