"""Soak test of the batch: many small images through the batch command line in one process,
with the process's resident memory (RSS) printed every K images.

    python benchmarks/soak_batch.py                          # 1000 images of 32 x 32, tiny weights
    python benchmarks/soak_batch.py --images 100 --every 25  # the size tests/test_reliability.py runs
    python benchmarks/soak_batch.py --weights weights/pixel2mesh_compact.pt --json soak.json

The batch runs through `blender_p2m.batch.cli.main` (what `python -m blender_p2m reconstruct`
runs) in this process, so the RSS measured is the batch's own. Each sample gives the plain
RSS and the "live" RSS (after gc and malloc_trim hand freed heap back to the OS); the growth
reported is that of the live RSS. Without --weights, a
checkpoint of the 'tiny' configuration with seeded random weights is made (plumbing, not
quality). The result is recorded in docs/reliability.md.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def live_rss_mb() -> float:
    """RSS after returning free heap memory to the OS (gc, then glibc's malloc_trim): what
    the process still uses. Plain RSS also holds freed memory the allocator keeps, which
    moves by tens of MiB from one moment to the next and hides a slow leak."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_images(folder: Path, count: int, size: int) -> None:
    """count size x size PNGs: an ellipse of varying colour, place and shape on transparency."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for k in range(count):
        cx, cy = rng.uniform(0.35, 0.65, 2) * size
        rx, ry = rng.uniform(0.15, 0.3, 2) * size
        rgba = np.zeros((size, size, 4), np.uint8)
        rgba[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1] = (*rng.integers(0, 256, 3), 255)
        Image.fromarray(rgba).save(folder / f"img_{k:05d}.png")


def tiny_weights(path: Path) -> Path:
    import torch

    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    torch.manual_seed(0)
    atomic_save(checkpoint_dict(Pixel2Mesh(get_config("tiny")), {"note": "random weights"}), path)
    return path


def run(images: int = 1000, every: int = 100, size: int = 32, weights: Path | None = None,
        batch_size: int = 8, formats: str = "obj,glb", echo=print) -> dict:
    """Run the soak; returns {"samples": [[images done, RSS MiB, live RSS MiB], ...],
    "growth_mb": live RSS growth from the first sample to the last, ...}."""
    from blender_p2m.batch import cli
    from blender_p2m.batch.progress import Progress

    samples: list[list[float]] = []
    original_report = Progress.report

    def report(self, name, outcome, worked=True):
        original_report(self, name, outcome, worked)
        if self.finished % every == 0 or self.finished == self.total:
            samples.append([self.finished, round(rss_mb(), 1), round(live_rss_mb(), 1)])
            echo(f"images {self.finished:>6}: RSS {samples[-1][1]:8.1f} MiB, live "
                 f"{samples[-1][2]:8.1f} MiB", file=sys.__stdout__)

    with tempfile.TemporaryDirectory(prefix="p2m-soak-") as tmp:
        tmp = Path(tmp)
        make_images(tmp / "in", images, size)
        weights = Path(weights) if weights else tiny_weights(tmp / "tiny.pt")
        began, cpu_began, rss_before = time.perf_counter(), cpu_seconds(), rss_mb()
        Progress.report = report
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                code = cli.main(["reconstruct", str(tmp / "in"), "-o", str(tmp / "out"),
                                 "--weights", str(weights), "--device", "cpu", "--format", formats,
                                 "--batch-size", str(batch_size)])
        finally:
            Progress.report = original_report
        summary = json.loads((tmp / "out" / "summary.json").read_text())
    first = samples[0][2]
    raw = [sample[1] for sample in samples]
    return {"images": images, "size": size, "formats": formats, "batch_size": batch_size,
            "exit_code": code, "errors": err.getvalue()[-2000:], "counts": summary["counts"],
            "seconds": round(time.perf_counter() - began, 1),
            "cpu_seconds": round(cpu_seconds() - cpu_began, 1),
            "rss_before_mb": round(rss_before, 1), "samples": samples,
            "growth_mb": round(samples[-1][2] - first, 1),
            "growth_mb_per_1000_images": round((samples[-1][2] - first) * 1000 / max(1, samples[-1][0] - samples[0][0]), 1),
            "raw_range_mb": [min(raw), max(raw)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100, help="print RSS every N images")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--weights", type=Path, help="checkpoint (default: tiny random weights)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--formats", default="obj,glb")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = run(args.images, args.every, args.size, args.weights, args.batch_size, args.formats)
    first, last = result["samples"][0], result["samples"][-1]
    print(f"{result['counts']['done']}/{args.images} converted in {result['seconds']} s "
          f"({result['cpu_seconds']} s CPU); live RSS {first[2]} MiB after {first[0]} images -> "
          f"{last[2]} MiB after {last[0]}: {result['growth_mb']:+.1f} MiB; plain RSS between "
          f"{result['raw_range_mb'][0]} and {result['raw_range_mb'][1]} MiB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
