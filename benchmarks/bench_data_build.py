"""Data-building speed: views per second for Cycles and Workbench, 1 and 2 workers.

    ./p2m python benchmarks/bench_data_build.py [--objects-per-category 3] [--views 4]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training.data.build import build  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--objects-per-category", type=int, default=3)
    p.add_argument("--views", type=int, default=4)
    a = p.parse_args()
    rows = []
    for engine in ("workbench", "cycles"):
        for workers in (1, 2):
            out = Path(tempfile.mkdtemp(prefix="p2m_bench_"))
            t = time.perf_counter()
            summary = build("procedural", out / "ds", views=a.views, workers=workers,
                            per_category=a.objects_per_category, seed=123, engine=engine)
            dt = time.perf_counter() - t
            views = summary["counts"]["total_views"]
            rows.append((engine, workers, views, dt, views / dt))
            shutil.rmtree(out)
    print("\n| engine | workers | views | seconds (incl. start-up) | views/s |")
    print("|---|---:|---:|---:|---:|")
    for e, w, v, dt, r in rows:
        print(f"| {e} | {w} | {v} | {dt:.1f} | {r:.1f} |")


if __name__ == "__main__":
    main()
