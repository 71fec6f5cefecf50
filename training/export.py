"""python -m training.export RUN_OR_CHECKPOINT -o weights/NAME.pt [--metrics eval.json] [--fp32]

Writes the bundled-weights format: configuration, weights (float16 by default: half the
size, same results to about 1e-3 mm), and metadata: training configuration and data,
metrics, versions. Training state (optimiser, RNG) is dropped.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

from blender_p2m import __version__
from blender_p2m.errors import P2MError
from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict, model_from_checkpoint, read_checkpoint

from .run_checkpoints import resolve_checkpoint


def export(source: Path, out: Path, metrics: dict | None = None, half: bool = True) -> Path:
    path = resolve_checkpoint(source)
    ckpt = read_checkpoint(path)
    model = model_from_checkpoint(ckpt, str(path))
    meta = dict(ckpt.get("metadata", {}))
    meta.update({"exported_from": str(path), "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "blender_p2m_version": __version__, "torch_version": str(torch.__version__),
                 "step": int(ckpt.get("training", {}).get("step", -1)), "dtype": "float16" if half else "float32"})
    if metrics is not None:
        meta["metrics"] = metrics
    atomic_save(checkpoint_dict(model, meta, half=half), out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a run folder (its newest checkpoint) or a checkpoint file")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--metrics", type=Path, help="eval.json from training.evaluate, stored in the metadata")
    p.add_argument("--fp32", action="store_true", help="keep float32 weights")
    args = p.parse_args(argv)
    try:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else None
        out = export(args.source, args.out, metrics, half=not args.fp32)
    except P2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[export] wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
