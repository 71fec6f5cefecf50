"""Training loop: python -m training.train --config compact --data DIR --out runs/NAME [--resume]

The same command runs under `torchrun --nproc_per_node N` (DistributedDataParallel).
Checkpoints are written atomically every N steps and at the end (the last K are kept);
--resume continues exactly where the newest complete checkpoint stopped: same batch
order, same samples, same optimiser state.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.checkpoint import checkpoint_dict

from . import distributed
from .config import RECIPES, TrainConfig
from .data.dataset import Augmentation, P2MDataset, read_dataset_json
from .losses.pixel2mesh_loss import LossWeights, pixel2mesh_loss
from .plot import plot_training_curves
from .progress import Progress
from .run_checkpoints import newest_complete_checkpoint, save_run_checkpoint
from .sampler import ResumableSampler
from .validate import score


def parse_args(argv=None) -> tuple[argparse.Namespace, TrainConfig]:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="compact", choices=sorted(RECIPES), help="training recipe (model + schedule)")
    p.add_argument("--data", required=True, type=Path, help="dataset folder (python -m training.data build)")
    p.add_argument("--out", required=True, type=Path, help="run folder: checkpoints, log.jsonl, curves.png")
    p.add_argument("--resume", action="store_true", help="continue from the run's newest checkpoint")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max-objects", type=int, default=None, help="use only the first N training objects (tests)")
    p.add_argument("--max-per-category", type=int, default=None,
                   help="use only the first N training objects of each category (small experiments)")
    p.add_argument("--stop-after-steps", type=int, default=None,
                   help="stop (with a checkpoint) after this many steps in this invocation; resume later")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model":
            continue
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=_flag_type(f), default=None, help=f"override the recipe's {f.name}")
    args = p.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if f.name != "model" and getattr(args, f.name, None) is not None}
    return args, dataclasses.replace(RECIPES[args.config], **overrides)


def _flag_type(field: dataclasses.Field):
    """How a command-line override of a TrainConfig field is parsed."""
    if isinstance(field.default, bool):
        return lambda s: s.lower() in ("1", "true", "yes")
    if isinstance(field.default, tuple):                    # "0.48,0.9"
        return lambda s: tuple(float(x) for x in s.split(",") if x.strip())
    return type(field.default)


def _parsable_records(path: Path) -> list[dict]:
    """Records of a log.jsonl; a line half-written when the run was killed is dropped."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class Log:
    """JSONL log (main process only); on resume, records after the resumed step are dropped."""

    def __init__(self, path: Path, resume_step: int | None, enabled: bool):
        self.path, self.enabled = path, enabled
        self.records: list[dict] = []
        if enabled and path.exists() and resume_step is not None:
            self.records = [r for r in _parsable_records(path) if r.get("step", 0) <= resume_step]
            path.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        elif enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        self.records.append(record)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def invocation(args: list[str]) -> str:
    """The command as a user would type it again (sys.argv[0] is a file path under -m)."""
    return shlex.join(["python", "-m", "training.train", *map(str, args)])


def recorded_commands(config: dict) -> list[str]:
    """A run's invocations from its train_config.json, each as a user would type it again.

    Runs written before `commands` existed kept one `command` whose first word was
    sys.argv[0], a file path under `python -m`; both forms are normalised here, once,
    for resuming and for the model card.
    """
    commands = config.get("commands") or ([config["command"]] if config.get("command") else [])
    prefix = "python -m training.train"
    return [c if c.startswith(prefix) else " ".join([prefix, *c.split(" ", 1)[1:]]) for c in commands]


def previous_commands(run: Path, resumed) -> list[str]:
    """Commands of the invocations this run resumes from, so the run's history stays whole."""
    if not resumed:
        return []
    try:
        return recorded_commands(json.loads((run / "train_config.json").read_text()))
    except (OSError, ValueError):
        return []


def main(argv=None) -> int:
    args, cfg = parse_args(argv)
    info, device = distributed.setup(args.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    run = args.out
    model_config = get_config(cfg.model)

    if not (args.data / "dataset.json").exists():
        print(f"error: {args.data} is not a dataset (no dataset.json); build one with "
              f"`python -m training.data build --source procedural --out {args.data}`", file=sys.stderr)
        return 2
    augment = Augmentation(cfg.augment_background, cfg.augment_colour_jitter)
    train_set = P2MDataset(args.data, "train", model_config.input_size, cfg.points, augment,
                           seed=cfg.seed, max_objects=args.max_objects,
                           max_per_category=args.max_per_category)
    if len(train_set) == 0:
        print(f"error: no training views in {args.data} with these limits", file=sys.stderr)
        return 2
    val_set = P2MDataset(args.data, "val", model_config.input_size, cfg.points, None, seed=cfg.seed)
    sampler = ResumableSampler(len(train_set), cfg.batch_size, cfg.seed, info.rank, info.world_size)
    steps_per_epoch = sampler.batches_per_epoch
    total_steps = steps_per_epoch * cfg.epochs

    model = Pixel2Mesh(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weights = LossWeights()
    step = 0
    resumed = None
    if args.resume:
        found = newest_complete_checkpoint(run)
        if found is None:
            if info.is_main:
                print(f"[resume] no checkpoint in {run}; starting from scratch")
        else:
            ckpt, path = found
            saved = TrainConfig.from_dict(ckpt["metadata"]["train_config"])
            if saved.model != cfg.model:
                print(f"error: {run} trains '{saved.model}', not '{cfg.model}'", file=sys.stderr)
                return 2
            model.load_state_dict(ckpt["state_dict"])
            optimizer.load_state_dict(ckpt["training"]["optimizer"])
            step = int(ckpt["training"]["step"])
            torch.set_rng_state(ckpt["training"]["torch_rng"])
            resumed = path
            if info.is_main:
                print(f"[resume] {path} at step {step}")
    if info.enabled:
        # The mesh topology buffers (sparse adjacency, faces, edges) are constants rebuilt
        # from the configuration in every process; DDP cannot broadcast sparse tensors.
        torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            model, [name for name, _ in model.named_buffers()])
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    core = model.module if info.enabled else model
    log = Log(run / "log.jsonl", step if resumed else None, info.is_main)
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        command = invocation(argv if argv is not None else sys.argv[1:])
        (run / "train_config.json").write_text(json.dumps(
            {"train": cfg.to_dict(), "model": model_config.to_dict(), "data": str(args.data),
             "world_size": info.world_size,
             "commands": previous_commands(run, resumed) + [command]}, indent=2))

    data_info = read_dataset_json(args.data)
    use_amp = cfg.amp and device.type == "cuda"
    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def save(current_step: int) -> None:
        if not info.is_main:
            return
        meta = {"train_config": cfg.to_dict(), "loss_weights": weights.to_dict(),
                "data": {"path": str(args.data), "counts": data_info.get("counts"),
                         "convention": data_info.get("convention"), "source": data_info.get("source")},
                "torch_version": str(torch.__version__), "world_size": info.world_size}
        ckpt = checkpoint_dict(core, meta)
        ckpt["training"] = {"optimizer": optimizer.state_dict(), "step": current_step,
                            "torch_rng": torch.get_rng_state()}
        save_run_checkpoint(run, current_step, ckpt, cfg.keep_checkpoints)

    def validate(current_step: int) -> None:
        if not info.is_main or len(val_set) == 0:
            return
        loader = DataLoader(val_set, batch_size=cfg.batch_size, shuffle=False, num_workers=0)
        acc, _ = score(core, loader, device, max_samples=cfg.val_views)
        cm = acc.class_mean()
        log.write({"kind": "val", "step": current_step, "f_tau": cm["f_tau"], "f_2tau": cm["f_2tau"],
                   "cd": cm["cd"]})
        print(f"\n[val] step {current_step}: F(tau) {cm['f_tau']:.1f}  F(2tau) {cm['f_2tau']:.1f}  "
              f"CD {cm['cd']:.3f}", flush=True)

    start_time = time.monotonic()
    first_step = step
    progress = Progress(total_steps, "[train]", "steps", interval=2.0, start_done=step) if info.is_main else None
    model.train()
    window: dict[str, float] = {}
    window_n, window_start = 0, time.monotonic()
    finished = step >= total_steps
    while not finished:
        epoch, batch_in_epoch = divmod(step, steps_per_epoch)
        sampler.set_epoch(epoch, batch_in_epoch)
        train_set.set_epoch(epoch)
        loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                            num_workers=cfg.workers, persistent_workers=False,
                            pin_memory=device.type == "cuda")
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr_at(step, total_steps)
            images = batch["image"].to(device, non_blocking=True)
            intrinsics = batch["intrinsics"].to(device)
            points = batch["points"].to(device)
            normals = batch["normals"].to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                outputs = model(images, intrinsics)
            outputs = [dataclasses.replace(o, vertices=o.vertices.float(),
                                           vertices_before=o.vertices_before.float()) for o in outputs]
            total, terms = pixel2mesh_loss(outputs, points, normals, weights)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            terms = {k: float(v) for k, v in terms.items() if "/" not in k}
            terms["loss"] = float(distributed.all_reduce_mean(total.detach(), info))
            for k, v in terms.items():
                window[k] = window.get(k, 0.0) + v
            window_n += 1
            if info.is_main:
                progress.update(step, extra=f"epoch {epoch + 1}/{cfg.epochs} loss {terms['loss']:.4g}")
            if step % cfg.log_every == 0 or step == total_steps:
                if info.is_main:
                    elapsed = time.monotonic() - window_start
                    log.write({"kind": "train", "step": step, "epoch": epoch, "lr": cfg.lr_at(step - 1, total_steps),
                               **{k: v / window_n for k, v in window.items()},
                               "samples_per_s": window_n * cfg.batch_size * info.world_size / max(elapsed, 1e-9)})
                window, window_n, window_start = {}, 0, time.monotonic()
            if step % cfg.val_every == 0:
                validate(step)
            out_of_time = (cfg.max_hours > 0 and time.monotonic() - start_time > cfg.max_hours * 3600) or \
                (args.stop_after_steps is not None and step - first_step >= args.stop_after_steps)
            if step % cfg.checkpoint_every == 0 or step == total_steps or out_of_time or stop["now"]:
                save(step)
                if info.is_main:
                    plot_training_curves(log.records, run / "curves.png")
            if step >= total_steps:
                finished = True
                break
            if out_of_time or stop["now"]:
                if info.is_main:
                    why = "stopping as asked" if out_of_time else "interrupted"
                    print(f"\n[train] {why} at step {step}/{total_steps}; checkpoint saved. Continue with --resume.")
                distributed.cleanup(info)
                return 0 if out_of_time else 130
    if info.is_main:
        progress.close()
        if step % cfg.val_every:
            validate(step)
        plot_training_curves(log.records, run / "curves.png")
        print(f"[train] done: {step} steps; checkpoints in {run / 'checkpoints'}")
    distributed.cleanup(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
