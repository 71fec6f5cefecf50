"""Training throughput and peak memory per named configuration.

    ./p2m python benchmarks/bench_training.py --data datasets/procedural [--steps 20] [--batch-size 8]

Each configuration runs in its own process (clean peak-RSS figure); prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def measure(config: str, data: str, steps: int, batch_size: int, device: str) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from blender_p2m.model import Pixel2Mesh, get_config
    from training.data.dataset import Augmentation, P2MDataset
    from training.losses.pixel2mesh_loss import LossWeights, pixel2mesh_loss

    cfg = get_config(config)
    dev = torch.device(device)
    ds = P2MDataset(data, "train", cfg.input_size, 4000, Augmentation(0.5, 0.2))
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=1, drop_last=True)
    model = Pixel2Mesh(cfg).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times, it = [], iter(loader)
    for i in range(steps + 3):
        batch = next(it)
        t = time.perf_counter()
        out = model(batch["image"].to(dev), batch["intrinsics"].to(dev))
        loss, _ = pixel2mesh_loss(out, batch["points"].to(dev), batch["normals"].to(dev), LossWeights())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    times.sort()
    step = times[len(times) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0
    return {"config": config, "device": device, "batch": batch_size, "step_s": step,
            "samples_per_s": batch_size / step, "peak_rss_mb": peak, "peak_gpu_mb": gpu}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--configs", default="tiny,compact,paper")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    if a.one:
        print(json.dumps(measure(a.one, a.data, a.steps, a.batch_size, a.device)))
        return
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for c in a.configs.split(","):
            steps = max(3, a.steps // 4) if c == "paper" and device == "cpu" else a.steps
            r = subprocess.run([sys.executable, __file__, "--data", a.data, "--steps", str(steps),
                                "--batch-size", str(a.batch_size), "--one", c, "--device", device],
                               capture_output=True, text=True)
            if r.returncode:
                print(r.stderr[-2000:], file=sys.stderr)
                continue
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"\nTraining step (forward + losses + backward + Adam), batch {a.batch_size}, median\n")
    print("| config | device | s/step | samples/s | peak RSS (MB) | peak GPU (MB) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['device']} | {r['step_s']:.3f} | {r['samples_per_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} | {r['peak_gpu_mb']:.0f} |")


if __name__ == "__main__":
    main()
