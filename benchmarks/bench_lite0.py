"""Time the EfficientNet-Lite0 encoder (and with the pooling bottlenecks and silhouette head)
per image: forward (eval, no grad) and forward + backward (train, frozen batch norm).

    python benchmarks/bench_lite0.py --threads 2 --batch 8 --sizes 128 224

OMP_WAIT_POLICY=PASSIVE unless set (blender_p2m.threads). Best and median of a few runs
after one warm-up (on a shared machine the best is the least disturbed by other load);
FLOPs (2 per multiply-add) by FlopCounterMode.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blender_p2m.threads import prefer_passive_omp_wait  # noqa: E402

prefer_passive_omp_wait()   # before torch: spinning OpenMP threads collapse on a shared machine

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from blender_p2m.model.efficientnet_lite import EfficientNetLite0  # noqa: E402
from blender_p2m.model.multiscale_pooling import MultiScalePooling  # noqa: E402
from blender_p2m.model.silhouette_head import SilhouetteHead  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float]:
    """(best, median) seconds of fn()."""
    fn()                                                     # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = EfficientNetLite0(freeze_batchnorm=True)
    pooling = MultiScalePooling(encoder.out_channels, 64, encoder.shifts)
    head = SilhouetteHead(encoder.out_channels, encoder.shifts)

    def encoder_only(x):
        return sum(m.float().mean() for m in encoder(x).values())

    def with_heads(x):
        maps = encoder(x)
        return (sum(m.mean() for m in pooling.reduce(maps).values()) + head(maps).mean())

    print(f"threads {args.threads}, batch {args.batch}, ms per image, best / median of {args.runs}")
    for size in args.sizes:
        x = torch.rand(args.batch, 3, size, size)
        for name, fn in (("encoder", encoder_only), ("encoder+pool+silhouette", with_heads)):
            with FlopCounterMode(display=False) as counter:
                with torch.no_grad():
                    fn(x)
            gflops = counter.get_total_flops() / args.batch / 1e9

            def forward(fn=fn, x=x):
                with torch.no_grad():
                    encoder.eval(), head.eval()
                    fn(x)

            def forward_backward(fn=fn, x=x):
                encoder.train(), head.train()
                fn(x).backward()

            fwd = [t / args.batch * 1e3 for t in timed(forward, args.runs)]
            fwd_bwd = [t / args.batch * 1e3 for t in timed(forward_backward, args.runs)]
            print(f"{size:4d} px  {name:24s} {gflops:5.2f} GFLOP  forward {fwd[0]:6.1f} / {fwd[1]:6.1f} ms"
                  f"  forward+backward {fwd_bwd[0]:6.1f} / {fwd_bwd[1]:6.1f} ms")


if __name__ == "__main__":
    main()
