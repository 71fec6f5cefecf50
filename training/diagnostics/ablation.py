"""python -m training.diagnostics.ablation --procedural DIR [--real DIR] [--photos LIB] --out DIR
       --minutes-per-run M [--max-per-category N]

Issue 17's ablation: encoders (VGG from scratch, Lite0 pretrained and frozen, Lite0
pretrained and fine-tuned) x data (procedural only, procedural + real), each trained for
the same wall-clock time on the same subset, then scored on the procedural test split and
the real test split (transparent and on held-out photos). Writes ablation.md and
ablation.json in --out.

Equal time: every run gets M minutes of wall-clock, counted by this driver around the
training process (setup, pretrained loading and the final save included; periodic
validation is off), with a constant learning rate (a step schedule would depend on a total
the time budget does not know). Resumable: a finished run is skipped, an unfinished one
continues with --resume for the time it has left (state.json keeps the minutes used).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from blender_p2m.atomic_files import write_bytes
from blender_p2m.errors import P2MError

from ..evaluate import EVAL_FORMAT, evaluate
from ..run_checkpoints import list_checkpoints, newest_complete_checkpoint

# An encoder arm: the recipe kind ("vgg" or "lite0") and the extra training flags.
ARMS = {
    "vgg_scratch": ("vgg", []),
    "lite0_frozen": ("lite0", ["--freeze-encoder", "true"]),
    "lite0_finetune": ("lite0", []),
}
MIXES = ("procedural", "procedural+real")
# A run whose remaining time is under this is finished (starting a process costs more).
MIN_REMAINING_S = 5.0
STATE = "state.json"


@dataclass(frozen=True)
class RunSpec:
    arm: str
    mix: str

    @property
    def name(self) -> str:
        return f"{self.arm}__{self.mix.replace('+', '_')}"


def train_command(spec: RunSpec, args: argparse.Namespace, folder: Path, remaining_s: float,
                  resume: bool) -> list[str]:
    kind, extra = ARMS[spec.arm]
    recipe = args.vgg_recipe if kind == "vgg" else args.lite0_recipe
    data = ["--data", str(args.procedural)]
    if spec.mix == "procedural+real":
        data += ["--data", str(args.real), "--data-weights", str(1 - args.real_weight), str(args.real_weight)]
    cmd = [sys.executable, "-m", "training.train", "--config", recipe, *data, "--out", str(folder),
           "--epochs", "100000", "--lr-drop-at", "", "--val-every", "1000000000",
           "--checkpoint-every", str(args.checkpoint_every), "--max-hours", f"{remaining_s / 3600:.6f}", *extra]
    if args.max_per_category is not None:
        cmd += ["--max-per-category", str(args.max_per_category)]
    if args.photos is not None:
        cmd += ["--photos", str(args.photos)]
    return cmd + (["--resume"] if resume else [])


def read_state(out: Path) -> dict:
    path = out / STATE
    return json.loads(path.read_text()) if path.exists() else {}


def write_state(out: Path, state: dict) -> None:
    write_bytes(out / STATE, json.dumps(state, indent=1).encode())


def recover_interrupted(entry: dict, folder: Path) -> None:
    """Count the time of an invocation that was killed (machine lost, session ended): from
    its start to its newest checkpoint, the last work that survives. Steps after that
    checkpoint are lost and trained again on resume, so charging them would cost the run
    time it never gets to use."""
    began = entry.pop("running_since", None)
    if began is None:
        return
    saved = [path.stat().st_mtime for _, path in list_checkpoints(folder)]
    kept_until = max(saved, default=began)
    entry["seconds"] += max(0.0, kept_until - began)


def train_run(spec: RunSpec, args: argparse.Namespace, state: dict) -> None:
    """Train one run until its minutes are used (or its epochs end); updates state.

    The state is written before each training process starts, so a run killed with the
    driver (a lost machine) resumes next time with the time it had already used."""
    budget = args.minutes_per_run * 60
    entry = state.setdefault(spec.name, {"seconds": 0.0, "finished": False, "invocations": 0})
    recover_interrupted(entry, args.out / spec.name)
    if entry["finished"]:
        print(f"[ablation] {spec.name}: finished, skipped")
        return
    remaining = budget - entry["seconds"]
    if remaining < MIN_REMAINING_S:
        entry["finished"] = True
        return
    folder = args.out / spec.name
    cmd = train_command(spec, args, folder, remaining, resume=entry["invocations"] > 0)
    print(f"[ablation] {spec.name}: {remaining / 60:.1f} min left, training", flush=True)
    entry["invocations"] += 1
    entry["running_since"] = time.time()
    write_state(args.out, state)
    began = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True)
    entry["seconds"] += time.monotonic() - began
    entry.pop("running_since", None)
    if result.returncode != 0:
        write_state(args.out, state)
        raise P2MError(f"training {spec.name} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    entry["finished"] = True   # train.py stops at max_hours or when its epochs end
    write_state(args.out, state)


def score_run(spec: RunSpec, args: argparse.Namespace) -> dict:
    """The run's newest checkpoint on the procedural test split and the real one (white, photos)."""
    folder = args.out / spec.name
    found = newest_complete_checkpoint(folder)
    if found is None:
        raise P2MError(f"{folder} has no checkpoint to score")
    ckpt, path = found
    row = {"arm": spec.arm, "mix": spec.mix, "steps": int(ckpt["training"]["step"]),
           "checkpoint": str(path)}
    targets = [("procedural", args.procedural, None)]
    if args.real is not None:
        targets.append(("real", args.real, args.photos))
    for label, data, photos in targets:
        ev_dir = folder / f"eval_{label}"
        cached = ev_dir / "eval.json"
        result = json.loads(cached.read_text()) if cached.exists() else None
        if result is None or result.get("weights") != str(path) or result.get("format") != EVAL_FORMAT:
            result = evaluate(path, data, "test", ev_dir, grid=False, surface_points=0,
                              max_per_category=args.eval_per_category, photos=photos, photo_modes=("keep",),
                              depth_aligned=False)
        row[label] = {"f_tau": result["model"]["class_mean"]["f_tau"],
                      "f_2tau": result["model"]["class_mean"]["f_2tau"], "mask_iou": result.get("mask_iou")}
        if "photos" in result:
            kept = result["photos"]["modes"]["keep"]
            row[label]["photos_f_tau"] = kept["model"]["class_mean"]["f_tau"]
            row[label]["photos_mask_iou"] = kept["mask_iou"]
    return row


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], args: argparse.Namespace, state: dict) -> str:
    lines = [f"# Ablation: {args.minutes_per_run:g} min of wall-clock per run",
             "", f"Training subset: {args.max_per_category or 'all'} objects per category; test: "
             f"{args.eval_per_category or 'all'} objects per category. Class mean on the predicted "
             "vertices (F-scores in %); real data on white (transparent) and on held-out photos.", "",
             "| encoder | data | minutes | steps | procedural F(tau) | procedural F(2tau) | real F(tau) white "
             "| real F(tau) photos | real F(2tau) white | mask IoU photos |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        real = r.get("real", {})
        minutes = state.get(RunSpec(r["arm"], r["mix"]).name, {}).get("seconds", 0.0) / 60
        lines.append(f"| {r['arm']} | {r['mix']} | {minutes:.1f} | {r['steps']} | {_fmt(r['procedural']['f_tau'])} "
                     f"| {_fmt(r['procedural']['f_2tau'])} | {_fmt(real.get('f_tau'))} | {_fmt(real.get('photos_f_tau'))} "
                     f"| {_fmt(real.get('f_2tau'))} | {_fmt(real.get('photos_mask_iou'), 3)} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.ablation", description=__doc__.splitlines()[0])
    p.add_argument("--procedural", required=True, type=Path, help="procedural dataset (trained on; test split scored)")
    p.add_argument("--real", type=Path, default=None, help="real-mesh dataset (the +real mix; its test split scored)")
    p.add_argument("--photos", type=Path, default=None, help="photo library: training backgrounds and test photos")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--minutes-per-run", required=True, type=float)
    p.add_argument("--max-per-category", type=int, default=None, help="training objects per category (the subset)")
    p.add_argument("--eval-per-category", type=int, default=None, help="test objects per category scored")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--mixes", nargs="+", default=None, choices=MIXES,
                   help="default: both when --real is given, else procedural")
    p.add_argument("--real-weight", type=float, default=0.5, help="share of real views in the +real mix")
    p.add_argument("--vgg-recipe", default="compact")
    p.add_argument("--lite0-recipe", default="lite0")
    p.add_argument("--checkpoint-every", type=int, default=100)
    args = p.parse_args(argv)
    args.mixes = args.mixes or (list(MIXES) if args.real else ["procedural"])
    if "procedural+real" in args.mixes and args.real is None:
        p.error("the procedural+real mix needs --real")
    if not 0 < args.real_weight < 1:
        p.error(f"--real-weight must be in (0, 1), got {args.real_weight}")
    if args.minutes_per_run <= 0:
        p.error("--minutes-per-run must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    specs = [RunSpec(arm, mix) for mix in args.mixes for arm in args.arms]
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for root in [args.procedural] + ([args.real] if args.real else []):
            if not (root / "dataset.json").exists():
                raise P2MError(f"{root} is not a dataset (no dataset.json)")
        state = read_state(args.out)
        for spec in specs:
            train_run(spec, args, state)
        rows = [score_run(spec, args) for spec in specs]
    except P2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (args.out / "ablation.json").write_text(json.dumps({"minutes_per_run": args.minutes_per_run,
                                                        "max_per_category": args.max_per_category,
                                                        "eval_per_category": args.eval_per_category,
                                                        "runs": rows}, indent=1))
    table = markdown(rows, args, state)
    (args.out / "ablation.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
