"""python -m training.diagnostics.model_card --weights W --eval E.json [--eval-512 E512.json]
    [--ablation ablation.md] --run RUN --data DIR -o MODEL_CARD.md

Writes the model card from the artefacts themselves (weights metadata, evaluation JSON,
run log, dataset card), so its numbers cannot drift from what was measured. The bundled
card's hand-written part (targets, run history, limits) is `weights/card_notes.md`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..train import recorded_commands


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


def _ablation_section(table: str) -> str:
    """The ablation that chose the bundled configuration (training.diagnostics.ablation)."""
    if not table.strip():
        return ""
    return ("\n## How the configuration was chosen (ablation at equal wall-clock time)\n\n"
            "Written by `python -m training.diagnostics.ablation` (its command and budget are in the "
            "table's header).\n\n" + table.strip() + "\n")


def write_card(weights: Path, ev: dict, ev512: dict | None, run: Path, data: Path, out: Path,
               extra_notes: str = "", ablation: str = "") -> str:
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    meta, config = ckpt["metadata"], ckpt["config"]
    dataset = json.loads((data / "dataset.json").read_text())
    run_config = json.loads((run / "train_config.json").read_text())
    hours, logged_steps = run_hours(run, run_config)
    steps = meta.get("step", logged_steps)   # the exported checkpoint's step; the log has every 10th
    train_commands = "\n".join("    " + c for c in recorded_commands(run_config))
    params = sum(v.numel() for v in ckpt["state_dict"].values())
    cm, bm = ev["model"]["class_mean"], ev["ellipsoid"]["class_mean"]
    sm = (ev.get("model_surface") or {}).get("class_mean")
    counts = dataset["counts"]
    per_cat_counts = "\n".join(f"| {c} | {v['train']} | {v['val']} | {v['test']} |"
                               for c, v in sorted(dataset["counts_per_category"].items()))
    size_mb = weights.stat().st_size / 1e6
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

Pixel2Mesh, configuration **{config['name']}** (input {config['input_size']} px, VGG-16 width
{config['encoder_width']}, {config['encoder_norm']} norm, G-ResNet hidden {config['hidden']},
{config['gresnet_layers']} layers per block; {params / 1e6:.2f} M parameters), stored in
{meta.get('dtype', 'float32')} ({size_mb:.1f} MB). Trained by this project from nothing, on CPU.

## Data
Procedural shape library (`training/data/shapes`, preview: `docs/shapes_preview.png`), 13
ShapeNet categories, rendered with Blender ({dataset['engine']}) following
[the data convention](../docs/conventions.md): bounding-box diagonal 0.57 m, centre on the
optical axis at 0.7..0.9 m, elevation 15..35 degrees, 224 x 224 RGBA, 70% of views
f = 250 px and the rest 180..360 px. {dataset['views']} views per object; splits by object.

| category | train objects | val | test |
|---|---:|---:|---:|
{per_cat_counts}
| **total** | {counts['train']} | {counts['val']} | {counts['test']} |

## Training
Commands (the run took {hours:.2f} h of training steps on a 2-core CPU, {steps:,} steps):

    {dataset.get('command', '')}
{train_commands}
    python -m training.export {run} -o {weights}
    python -m training.evaluate --weights {weights} --data {data} --split test

Training configuration stored in the weights (that of the run's last invocation): `{json.dumps(meta.get('train_config', {}))}`

Loss weights: `{json.dumps(meta.get('loss_weights', {}))}`

![training curves](training_curves.png)

## Results on the test split (held-out objects), Pixel2Mesh protocol

Squared distances; F-score at tau = 1e-4 and 2tau = 2e-4 in percent; CD = (mean gt->pred +
mean pred->gt) x 1000; on the 2466 predicted vertices; class mean over categories.

**Class mean: F(tau) {cm['f_tau']:.1f}, F(2tau) {cm['f_2tau']:.1f}, CD {cm['cd']:.3f}** — the initial
ellipsoid (no learning) scores F(tau) {bm['f_tau']:.1f}, F(2tau) {bm['f_2tau']:.1f}, CD {bm['cd']:.3f}
({cm['f_tau'] / max(bm['f_tau'], 1e-9):.2f}x its F(tau)).
{f"On 2466 points sampled on the predicted surface: F(tau) {sm['f_tau']:.1f}, F(2tau) {sm['f_2tau']:.1f}, CD {sm['cd']:.3f}." if sm else ""}

{_table(ev['model']['per_category'], ev['ellipsoid']['per_category'])}
{depth}{t512}
![input | prediction | prediction turned 60 degrees | ground truth turned 60 degrees](test_grid.png)

## What works and what does not
- One object, centred, seen slightly from above, on a plain or transparent background,
  at roughly the training distance. Use **crop to object** for photos where the object is
  small or off-centre: the virtual camera turns and zooms onto it, keeping alignment.
- The mesh is a deformed ellipsoid: genus 0. Holes (chair backs with openings, handles)
  are closed over; thin parts (legs, antennas, rifle barrels) come out thick or missing.
- Trained on synthetic, untextured renders of procedural objects: real photos with
  texture, clutter, strong perspective or shadows are outside the training data.
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
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--notes", type=Path, help="Markdown appended to the card (limits, targets missed)")
    p.add_argument("--ablation", type=Path, help="the ablation's ablation.md, appended as its own section")
    p.add_argument("-o", "--out", type=Path, default=Path("weights/MODEL_CARD.md"))
    a = p.parse_args(argv)
    ev = json.loads(a.eval.read_text())
    ev512 = json.loads(a.eval_512.read_text()) if a.eval_512 else None
    write_card(a.weights, ev, ev512, a.run, a.data, a.out, a.notes.read_text() if a.notes else "",
               a.ablation.read_text() if a.ablation else "")
    print(f"[model_card] wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
