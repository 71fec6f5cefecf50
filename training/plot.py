"""Training curves as a PNG, drawn with Pillow (no plotting library needed)."""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def _panel(draw: ImageDraw.ImageDraw, box, title: str, series: dict[str, list[tuple[float, float]]],
           log_y: bool) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 6, y0 - 16), title, fill=(0, 0, 0))
    points = [(x, y) for s in series.values() for x, y in s if y is not None and (y > 0 or not log_y)]
    if not points:
        return
    xs = [p[0] for p in points]
    ys = [math.log10(p[1]) if log_y else p[1] for p in points]
    xmin, xmax = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ymin, ymax = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = 0.05 * (ymax - ymin)
    ymin, ymax = ymin - pad, ymax + pad

    def to_px(x, y):
        yy = math.log10(y) if log_y else y
        return (x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (yy - ymin) / (ymax - ymin) * (y1 - y0))

    for i in range(5):
        v = ymin + (ymax - ymin) * i / 4
        py = y1 - (y1 - y0) * i / 4
        draw.line([(x0, py), (x0 + 4, py)], fill=(0, 0, 0))
        label = f"{10 ** v:.2g}" if log_y else f"{v:.3g}"
        draw.text((x0 - 46, py - 6), label, fill=(60, 60, 60))
    draw.text((x0, y1 + 4), f"{xmin:.0f}", fill=(60, 60, 60))
    draw.text((x1 - 40, y1 + 4), f"{xmax:.0f} steps", fill=(60, 60, 60))
    for i, (name, s) in enumerate(series.items()):
        pts = [to_px(x, y) for x, y in s if y is not None and (y > 0 or not log_y)]
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
    # The legend is a row under the axis, outside the plot, so it never hides a curve.
    lx = x0
    for i, name in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        draw.line([(lx, y1 + 30), (lx + 18, y1 + 30)], fill=colour, width=3)
        draw.text((lx + 22, y1 + 24), name, fill=colour)
        lx += 30 + 7 * len(name)


def plot_training_curves(records: list[dict], path: str | Path) -> None:
    """Loss terms (log scale) and validation F-score against steps, one PNG."""
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    loss_keys = ["loss", "chamfer", "normal", "edge", "laplacian", "move"]
    series = {k: [(r["step"], r.get(k)) for r in train if k in r] for k in loss_keys}
    series = {k: v for k, v in series.items() if v}
    val_series = {k: [(r["step"], r.get(k)) for r in val if k in r] for k in ("f_tau", "f_2tau")}
    img = Image.new("RGB", (1000, 440), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    _panel(draw, (60, 30, 480, 380), "training losses (log scale)", series, log_y=True)
    _panel(draw, (560, 30, 980, 380), "validation F-score (%)", val_series, log_y=False)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    img.save(tmp)
    tmp.replace(path)
