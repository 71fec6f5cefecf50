"""Batch throughput: images per second and peak memory of `python -m blender_p2m reconstruct`.

    python benchmarks/bench_batch.py [--images 100] [--device cpu] [--weights FILE | --config NAME]

Makes --images 224 x 224 RGBA test images (an ellipse, sidecar intrinsics f = 250 px), then
converts them to OBJ + GLB at batch size 1 and 8, and at batch size 8 with .blend files and
previews as well, each run in a fresh process so its peak resident memory (RSS) is its own.
Without --weights it uses the bundled weights, or else random weights of --config (default
lite0; speed does not depend on the weights' values). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = (("1", "obj,glb", []), ("8", "obj,glb", []), ("8", "obj,glb,blend", ["--preview"]))


def make_images(folder: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:224, 0:224]
    for k in range(count):
        rx, ry = rng.uniform(30, 70, size=2)
        inside = ((xx + 0.5 - 112) / rx) ** 2 + ((yy + 0.5 - 112) / ry) ** 2 < 1.0
        rgba = np.zeros((224, 224, 4), np.uint8)
        rgba[inside] = (*rng.integers(0, 255, 3), 255)
        Image.fromarray(rgba).save(folder / f"view_{k:04d}.png")
        (folder / f"view_{k:04d}.json").write_text(json.dumps(
            {"fx": 250, "fy": 250, "cx": 112, "cy": 112, "width": 224, "height": 224}))


def default_weights(folder: Path, config: str) -> Path:
    """The bundled weights, or random weights of the given configuration."""
    sys.path.insert(0, str(REPO))
    from blender_p2m.api import bundled_weights_path

    bundled = bundled_weights_path()
    if bundled is not None:
        return bundled
    import torch

    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    torch.manual_seed(0)
    path = folder / f"{config}_random.pt"
    atomic_save(checkpoint_dict(Pixel2Mesh(get_config(config)), half=True), path)
    return path


def worker(args: list[str]) -> None:
    """One conversion in this process; prints its summary's numbers and the peak RSS."""
    sys.path.insert(0, str(REPO))
    from blender_p2m.batch.cli import main

    began = time.perf_counter()
    code = main(args)
    seconds = time.perf_counter() - began
    out = Path(args[args.index("-o") + 1])
    summary = json.loads((out / "summary.json").read_text())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # Linux: KiB
    print("RESULT " + json.dumps({"code": code, "wall": seconds, "loop": summary["seconds"],
                                  "done": summary["counts"]["done"], "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--config", default="lite0", help="configuration of the random weights used "
                                                          "when neither --weights nor bundled weights exist")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    with tempfile.TemporaryDirectory(prefix="p2m-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        make_images(tmp / "in", args.images)
        weights = args.weights or default_weights(tmp, args.config)
        print(f"{args.images} images of 224 x 224, weights {weights}, device {args.device}, "
              f"torch threads: default, {os.cpu_count()} CPUs\n")
        print("| batch size | outputs | images/s (loop) | wall s (incl. start-up) | peak RSS MB |")
        print("|---|---|---|---|---|")
        for k, (batch, formats, extra) in enumerate(RUNS):
            command = [sys.executable, __file__, "--worker", "reconstruct", str(tmp / "in"), "-o",
                       str(tmp / f"out{k}"), "--weights", str(weights), "--device", args.device,
                       "--batch-size", batch, "--format", formats, *extra]
            began = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            wall = time.perf_counter() - began
            line = [text for text in result.stdout.splitlines() if text.startswith("RESULT ")]
            if result.returncode != 0 or not line:
                print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"run {k} failed")
            r = json.loads(line[0][7:])
            assert r["done"] == args.images and r["code"] == 0, r
            label = formats + (" + " + " ".join(extra) if extra else "")
            rate = r["done"] / r["loop"]
            print(f"| {batch} | {label} | {rate:.2f} | {wall:.1f} | {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
