"""Training curves (a run's log.jsonl records) as a PNG, drawn with matplotlib."""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from blender_p2m.atomic_files import atomic_path

LOSS_TERMS = ("loss", "chamfer", "normal", "edge", "laplacian", "move", "silhouette", "surface")
VALIDATION_SCORES = ("f_tau", "f_2tau")


def series(records: list[dict], kind: str, keys: tuple[str, ...]) -> dict[str, tuple[list, list]]:
    """{key: (steps, values)} of the records of one kind, for the keys they have."""
    chosen = [r for r in records if r.get("kind") == kind]
    found = {}
    for key in keys:
        points = [(r["step"], r[key]) for r in chosen if r.get(key) is not None]
        if points:
            found[key] = tuple(map(list, zip(*points)))
    return found


def training_curves_figure(records: list[dict]) -> Figure:
    """Loss terms (log scale) and validation F-scores against steps, side by side, with the
    legends under the plots so that they never hide a curve."""
    figure = Figure(figsize=(10, 4.4), dpi=100, layout="constrained")
    losses, scores = figure.subplots(1, 2)
    panels = ((losses, "training losses (log scale)", series(records, "train", LOSS_TERMS)),
              (scores, "validation F-score (%)", series(records, "val", VALIDATION_SCORES)))
    for axes, title, curves in panels:
        for name, (steps, values) in curves.items():
            axes.plot(steps, values, label=name, marker="o" if len(steps) == 1 else None)
        axes.set_title(title)
        axes.set_xlabel("steps")
        axes.grid(alpha=0.3)
        if curves:
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=min(3, len(curves)),
                        frameon=False)
    losses.set_yscale("log")
    return figure


def plot_training_curves(records: list[dict], path: str | Path) -> None:
    """Write the curves to a PNG atomically (a reader never sees half a picture)."""
    with atomic_path(Path(path)) as tmp:
        training_curves_figure(records).savefig(tmp, format="png")
