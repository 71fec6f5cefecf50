"""python -m training.diagnostics.release --run RUN --procedural DIR [--real DIR --photos LIB]
       [--procedural-512 DIR] [--ablation ablation.md] [--notes card_notes.md]
       [--out weights/] [--name pixel2mesh.pt]

Turns a finished run into the bundled weights and everything that describes them, in one
go, so that no figure is copied by hand: exports the run's newest checkpoint (float16),
evaluates it on the procedural test split (grid), on the real test split transparent and on
held-out photos in the three photo modes (grid with the photo rows), optionally on the
512 px build, measures the bundled-weights test's floors (case_floors.json), draws the
training curves and writes the model card from those results.
Everything lands in --out; the evaluations' JSON in RUN/release/.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from blender_p2m.errors import P2MError

from ..denormals import flush_denormals
from ..evaluate import evaluate
from ..export import export
from ..plot import plot_training_curves
from .case_floors import table as cases_table
from .case_floors import write_floors
from .model_card import write_card


def run_datasets(run: Path) -> list[Path]:
    """The run's training datasets, in its order (train_config.json)."""
    data = json.loads((run / "train_config.json").read_text())["data"]
    return [Path(d) for d in ([data] if isinstance(data, str) else data)]


def release(run: Path, procedural: Path, out: Path, name: str, real: Path | None = None,
            photos: Path | None = None, procedural_512: Path | None = None, ablation: str = "",
            notes: str = "") -> dict:
    work = run / "release"
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    weights = export(run, out / name)
    print(f"[release] exported {weights} ({weights.stat().st_size / 1e6:.1f} MB)", flush=True)
    print(cases_table(write_floors(weights, out / "case_floors.json")), flush=True)   # the test's floors
    ev = evaluate(weights, procedural, "test", work / "eval_test")
    shutil.copyfile(work / "eval_test" / "eval.md", out / "eval_test.md")
    shutil.copyfile(work / "eval_test" / "grid.png", out / "test_grid.png")
    ev_real = None
    if real is not None:
        ev_real = evaluate(weights, real, "test", work / "eval_real_test", photos=photos)
        shutil.copyfile(work / "eval_real_test" / "eval.md", out / "eval_real_test.md")
        shutil.copyfile(work / "eval_real_test" / "grid.png", out / "real_test_grid.png")
    ev512 = None
    if procedural_512 is not None:
        ev512 = evaluate(weights, procedural_512, "test", work / "eval_test_512", grid=False)
        shutil.copyfile(work / "eval_test_512" / "eval.md", out / "eval_test_512.md")
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    plot_training_curves(records, out / "training_curves.png")
    write_card(weights, ev, ev512, run, run_datasets(run), out / "MODEL_CARD.md", notes, ablation, ev_real)
    print(f"[release] wrote {out / 'MODEL_CARD.md'}", flush=True)
    return {"weights": str(weights), "procedural": ev["model"]["class_mean"],
            "real": ev_real["model"]["class_mean"] if ev_real else None}


def main(argv=None) -> int:
    flush_denormals()                 # before any thread exists (training.denormals)
    p = argparse.ArgumentParser(prog="python -m training.diagnostics.release", description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--procedural", type=Path, required=True, help="procedural dataset (its test split is scored)")
    p.add_argument("--real", type=Path, help="real-mesh dataset (its test split is scored, also on photos)")
    p.add_argument("--photos", type=Path, help="photo library for the real evaluation")
    p.add_argument("--procedural-512", type=Path, help="the 512 px test build of the procedural objects")
    p.add_argument("--ablation", type=Path, help="ablation.md for the model card")
    p.add_argument("--notes", type=Path, help="hand-written Markdown appended to the model card")
    p.add_argument("--out", type=Path, default=Path("weights"))
    p.add_argument("--name", default="pixel2mesh.pt")
    a = p.parse_args(argv)
    if a.photos is not None and a.real is None:
        p.error("--photos needs --real")
    try:
        summary = release(a.run, a.procedural, a.out, a.name, a.real, a.photos, a.procedural_512,
                          a.ablation.read_text() if a.ablation else "", a.notes.read_text() if a.notes else "")
    except (P2MError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
