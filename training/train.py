"""Training loop: python -m training.train --config compact --data DIR --out runs/NAME [--resume]

Several datasets mix in chosen proportions (--data A --data B --data-weights 0.6 0.4);
--photos LIB --background-mix photo=0.6,flat=0.2,white=0.2 puts the training views on the
library's training photos. A lite0 run starts from the ImageNet encoder (training.pretrained).

The same command runs under `torchrun --nproc_per_node N` (DistributedDataParallel).
Checkpoints are written atomically every N steps and at the end (the last K are kept);
--resume continues exactly where the newest complete checkpoint stopped: same batch
order, same samples, same optimiser state.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from blender_p2m.errors import P2MError
from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.checkpoint import checkpoint_dict
from blender_p2m.model.silhouette_head import mask_target, silhouette_loss

from . import distributed
from .config import RECIPES, TrainConfig
from .data.backgrounds import BackgroundMix, BackgroundSampler
from .data.dataset import Augmentation, P2MDataset, read_dataset_json
from .data.real.photos import photo_paths
from .denormals import flush_denormals
from .losses.pixel2mesh_loss import LossWeights, pixel2mesh_loss
from .plot import plot_training_curves
from .run_checkpoints import newest_complete_checkpoint, save_run_checkpoint
from .sampler import ResumableSampler
from .validate import score


def parse_args(argv=None) -> tuple[argparse.Namespace, TrainConfig]:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="compact", choices=sorted(RECIPES), help="training recipe (model + schedule)")
    p.add_argument("--data", required=True, type=Path, action="append",
                   help="dataset folder (python -m training.data build); repeat to mix several (see --data-weights)")
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
        if isinstance(f.default, tuple):                    # "0.48,0.9" or 0.48 0.9
            p.add_argument(flag, nargs="+", default=None, help=f"override the recipe's {f.name}")
        else:
            p.add_argument(flag, type=_flag_type(f), default=None, help=f"override the recipe's {f.name}")
    args = p.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if f.name != "model" and getattr(args, f.name, None) is not None}
    try:
        overrides = {k: _numbers(v) if isinstance(v, list) else v for k, v in overrides.items()}
        cfg = dataclasses.replace(RECIPES[args.config], **overrides)
    except ValueError as e:
        p.error(str(e))
    if cfg.data_weights and len(cfg.data_weights) != len(args.data):
        p.error(f"--data-weights gives {len(cfg.data_weights)} proportions for {len(args.data)} --data sets")
    if cfg.background_mix:
        try:
            BackgroundMix.parse(cfg.background_mix)
        except ValueError as e:
            p.error(str(e))
    return args, cfg


def _numbers(tokens: list[str]) -> tuple[float, ...]:
    """Numbers given as separate words, comma-separated, or both ("" = none)."""
    try:
        return tuple(float(x) for t in tokens for x in t.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"expected numbers, got {' '.join(tokens)!r}") from None


def _flag_type(field: dataclasses.Field):
    """How a command-line override of a TrainConfig field is parsed."""
    if isinstance(field.default, bool):
        return lambda s: s.lower() in ("1", "true", "yes")
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


@dataclass
class Run:
    """One invocation's training state: built by setup(), advanced by train_step().

    Attributes:
        model: what forward and backward run (DistributedDataParallel under torchrun).
        network: the Pixel2Mesh inside it (checkpoints and validation use it directly).
        step: optimisation steps done, counting those of the invocations resumed from.
        stop_requested: set by SIGINT / SIGTERM; the loop saves and stops at the next step.
    """

    args: argparse.Namespace
    cfg: TrainConfig
    info: distributed.DistInfo
    device: torch.device
    train_set: P2MDataset | MixedDataset
    val_set: P2MDataset
    sampler: ResumableSampler
    model: torch.nn.Module
    network: Pixel2Mesh
    optimizer: torch.optim.Optimizer
    weights: LossWeights
    log: Log | None = None
    data_info: dict | None = None
    step: int = 0
    resumed_from: Path | None = None
    stop_requested: bool = False

    @property
    def folder(self) -> Path:
        return self.args.out

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.batches_per_epoch

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.cfg.epochs


def setup(args: argparse.Namespace, cfg: TrainConfig) -> Run:
    """Seed, read the data, build the network and its optimiser. Writes nothing; P2MError
    when the data cannot train this configuration."""
    info, device = distributed.setup(args.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model_config = get_config(cfg.model)
    for root in args.data:
        if not (root / "dataset.json").exists():
            raise P2MError(f"{root} is not a dataset (no dataset.json); build one with "
                           f"`python -m training.data build --source procedural --out {root}`")
    augment = Augmentation(cfg.augment_background, cfg.augment_colour_jitter)
    backgrounds = background_sampler(cfg)
    parts = [P2MDataset(root, "train", model_config.input_size, cfg.points, augment, seed=cfg.seed,
                        max_objects=args.max_objects, max_per_category=args.max_per_category,
                        backgrounds=backgrounds) for root in args.data]
    empty = [str(root) for root, part in zip(args.data, parts) if len(part) == 0]
    if empty:
        raise P2MError(f"no training views in {', '.join(empty)} with these limits")
    train_set = parts[0] if len(parts) == 1 else MixedDataset(parts)
    # Validation (the periodic F-score) reads the first dataset's val split.
    val_set = P2MDataset(args.data[0], "val", model_config.input_size, cfg.points, None, seed=cfg.seed)
    try:
        sampler = ResumableSampler(len(train_set), cfg.batch_size, cfg.seed, info.rank, info.world_size,
                                   sources=[len(d) for d in parts],
                                   weights=cfg.data_weights or None)
    except ValueError as e:
        raise P2MError(f"{e}: use a smaller --batch-size or more data") from None
    network = Pixel2Mesh(model_config).to(device)
    if cfg.silhouette_weight > 0 and network.silhouette_head is None:
        raise P2MError(f"--silhouette-weight needs a model with a silhouette head; '{cfg.model}' has none")
    if cfg.freeze_encoder:
        network.freeze_encoder()
    optimizer = torch.optim.Adam(parameter_groups(network, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return Run(args, cfg, info, device, train_set, val_set, sampler, network, network, optimizer,
               LossWeights())


class MixedDataset(ConcatDataset):
    """Several datasets end to end (the sampler mixes them); set_epoch reaches every one."""

    def set_epoch(self, epoch: int) -> None:
        for d in self.datasets:
            d.set_epoch(epoch)


def background_sampler(cfg: TrainConfig) -> BackgroundSampler | None:
    """The training photos and mix of --photos / --background-mix, or None (white + flat colours)."""
    if not cfg.photos and not cfg.background_mix:
        return None
    mix = BackgroundMix.parse(cfg.background_mix or DEFAULT_BACKGROUND_MIX)
    photos = photo_paths(Path(cfg.photos), "train") if cfg.photos else []
    if mix.photo > 0 and not photos:
        raise P2MError(f"the background mix {cfg.background_mix!r} asks for photos: give --photos LIBRARY "
                       f"(a folder with photos.json and train/val/test)")
    return BackgroundSampler(photos, mix)


DEFAULT_BACKGROUND_MIX = "photo=0.6,flat=0.2,white=0.2"


def parameter_groups(network: Pixel2Mesh, cfg: TrainConfig) -> list[dict]:
    """The encoder (at encoder_lr_scale x the rate; left out when frozen) and everything else.

    Each group carries its "lr_scale"; train_step sets lr = schedule x lr_scale."""
    encoder = [p for p in network.encoder.parameters() if p.requires_grad]
    others = [p for n, p in network.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    groups = [{"params": others, "lr_scale": 1.0}]
    if encoder and not cfg.freeze_encoder:
        groups.append({"params": encoder, "lr_scale": cfg.encoder_lr_scale})
    return groups


def start_from_pretrained(run: Run) -> None:
    """A new lite0 run starts from the ImageNet encoder (a resumed run has its own weights)."""
    if run.network.config.encoder != "lite0" or not run.cfg.pretrained_encoder or run.resumed_from:
        return
    from .pretrained import pretrained_lite0

    run.network.encoder.load_state_dict(pretrained_lite0().state_dict())
    if run.info.is_main:
        print("[train] encoder initialised from the ImageNet EfficientNet-Lite0 weights")


def resume(run: Run) -> None:
    """Continue from the run folder's newest complete checkpoint: weights, optimiser, step
    and random state, so the run goes on exactly as if never stopped."""
    found = newest_complete_checkpoint(run.folder)
    if found is None:
        if run.info.is_main:
            print(f"[resume] no checkpoint in {run.folder}; starting from scratch")
        return
    ckpt, path = found
    saved = TrainConfig.from_dict(ckpt["metadata"]["train_config"])
    if saved.model != run.cfg.model:
        raise P2MError(f"{run.folder} trains '{saved.model}', not '{run.cfg.model}'")
    run.network.load_state_dict(ckpt["state_dict"])
    run.optimizer.load_state_dict(ckpt["training"]["optimizer"])
    run.step = int(ckpt["training"]["step"])
    torch.set_rng_state(ckpt["training"]["torch_rng"])
    run.resumed_from = path
    if run.info.is_main:
        print(f"[resume] {path} at step {run.step}")


def distribute(run: Run) -> None:
    """Under torchrun, wrap the network in DistributedDataParallel."""
    if not run.info.enabled:
        return
    # The mesh topology buffers (sparse adjacency, faces, edges) are constants rebuilt
    # from the configuration in every process; DDP cannot broadcast sparse tensors.
    torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        run.network, [name for name, _ in run.network.named_buffers()])
    # A silhouette head left untrained (weight 0) gets no gradient: DDP must expect that.
    unused = run.network.silhouette_head is not None and run.cfg.silhouette_weight == 0
    run.model = torch.nn.parallel.DistributedDataParallel(
        run.network, device_ids=[run.device.index] if run.device.type == "cuda" else None,
        find_unused_parameters=unused)


def open_run_folder(run: Run, argv: list[str]) -> None:
    """The log (cut back to the resumed step) and train_config.json with every invocation."""
    run.log = Log(run.folder / "log.jsonl", run.step if run.resumed_from else None, run.info.is_main)
    if run.info.is_main:
        run.folder.mkdir(parents=True, exist_ok=True)
        (run.folder / "train_config.json").write_text(json.dumps(
            {"train": run.cfg.to_dict(), "model": run.network.config.to_dict(), **data_record(run.args.data),
             "world_size": run.info.world_size,
             "commands": previous_commands(run.folder, run.resumed_from) + [invocation(argv)]}, indent=2))
    run.data_info = read_dataset_json(run.args.data[0])


def data_record(roots: list[Path]) -> dict:
    """"data": the dataset (one, as before) or the list of datasets mixed."""
    return {"data": str(roots[0]) if len(roots) == 1 else [str(r) for r in roots]}


def train_step(run: Run, batch: dict) -> dict[str, float]:
    """One optimisation step on a batch; returns the loss terms (the loss averaged over processes)."""
    cfg, device = run.cfg, run.device
    for group in run.optimizer.param_groups:
        group["lr"] = cfg.lr_at(run.step, run.total_steps) * group.get("lr_scale", 1.0)
    images = batch["image"].to(device, non_blocking=True)
    intrinsics = batch["intrinsics"].to(device)
    points = batch["points"].to(device)
    normals = batch["normals"].to(device)
    use_amp = cfg.amp and device.type == "cuda"
    with_silhouette = cfg.silhouette_weight > 0
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
        outputs = run.model(images, intrinsics, return_silhouette=with_silhouette)
    if with_silhouette:
        outputs, logits = outputs                                       # logits (B, 1, n, n)
    outputs = [dataclasses.replace(o, vertices=o.vertices.float(),
                                   vertices_before=o.vertices_before.float()) for o in outputs]
    total, terms = pixel2mesh_loss(outputs, points, normals, run.weights, cfg.surface_points)
    if with_silhouette:
        target = mask_target(batch["mask"].to(device), logits.shape[-1])     # (B, 1, n, n)
        terms["silhouette"] = cfg.silhouette_weight * silhouette_loss(logits.float(), target)
        total = total + terms["silhouette"]
        terms["silhouette"] = terms["silhouette"].detach()
        terms["total"] = total.detach()
    run.optimizer.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    run.step += 1
    terms = {k: float(v) for k, v in terms.items() if "/" not in k}
    terms["loss"] = float(distributed.all_reduce_mean(total.detach(), run.info))
    return terms


def validate(run: Run, progress) -> None:
    """F-scores of the network on the first val_views validation views, logged (main process)."""
    if not run.info.is_main or len(run.val_set) == 0:
        return
    loader = DataLoader(run.val_set, batch_size=run.cfg.batch_size, shuffle=False, num_workers=0)
    acc, _ = score(run.network, loader, run.device, max_samples=run.cfg.val_views)
    cm = acc.class_mean()
    run.log.write({"kind": "val", "step": run.step, "f_tau": cm["f_tau"], "f_2tau": cm["f_2tau"], "cd": cm["cd"]})
    progress.write(f"[val] step {run.step}: F(tau) {cm['f_tau']:.1f}  F(2tau) {cm['f_2tau']:.1f}  "
                   f"CD {cm['cd']:.3f}")


def save(run: Run) -> None:
    """Checkpoint (atomically, keeping the newest few) and redraw the curves (main process)."""
    if not run.info.is_main:
        return
    data_info = run.data_info or {}
    meta = {"train_config": run.cfg.to_dict(), "loss_weights": run.weights.to_dict(),
            "data": {"path": data_record(run.args.data)["data"], "counts": data_info.get("counts"),
                     "convention": data_info.get("convention"), "source": data_info.get("source")},
            "torch_version": str(torch.__version__), "world_size": run.info.world_size}
    ckpt = checkpoint_dict(run.network, meta)
    ckpt["training"] = {"optimizer": run.optimizer.state_dict(), "step": run.step,
                        "torch_rng": torch.get_rng_state()}
    save_run_checkpoint(run.folder, run.step, ckpt, run.cfg.keep_checkpoints)
    plot_training_curves(run.log.records, run.folder / "curves.png")


class LossWindow:
    """Loss terms averaged over the steps between two log records, with the sample rate."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.start = time.monotonic()

    def add(self, terms: dict[str, float]) -> None:
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def record(self, run: Run, epoch: int) -> dict:
        elapsed = time.monotonic() - self.start
        return {"kind": "train", "step": run.step, "epoch": epoch, "lr": run.cfg.lr_at(run.step - 1, run.total_steps),
                **{k: v / self.steps for k, v in self.sums.items()},
                "samples_per_s": self.steps * run.cfg.batch_size * run.info.world_size / max(elapsed, 1e-9)}


def train(run: Run) -> int:
    """Steps until the last epoch ends (0), a time or step budget runs out (0) or a signal
    arrives (130); a checkpoint is saved in every case."""
    cfg = run.cfg
    start_time, first_step = time.monotonic(), run.step
    progress = tqdm(total=run.total_steps, initial=run.step, desc="[train]", unit="step", mininterval=2.0,
                    disable=not run.info.is_main)
    run.model.train()
    window = LossWindow()
    while run.step < run.total_steps:
        epoch, batch_in_epoch = divmod(run.step, run.steps_per_epoch)
        run.sampler.set_epoch(epoch, batch_in_epoch)
        run.train_set.set_epoch(epoch)
        loader = DataLoader(run.train_set, batch_size=cfg.batch_size, sampler=run.sampler, drop_last=True,
                            num_workers=cfg.workers, persistent_workers=False,
                            pin_memory=run.device.type == "cuda")
        for batch in loader:
            terms = train_step(run, batch)
            window.add(terms)
            progress.update(1)
            progress.set_postfix_str(f"epoch {epoch + 1}/{cfg.epochs} loss {terms['loss']:.4g}", refresh=False)
            if run.step % cfg.log_every == 0 or run.step == run.total_steps:
                if run.info.is_main:
                    run.log.write(window.record(run, epoch))
                window = LossWindow()
            if run.step % cfg.val_every == 0:
                validate(run, progress)
            out_of_time = (cfg.max_hours > 0 and time.monotonic() - start_time > cfg.max_hours * 3600) or \
                (run.args.stop_after_steps is not None and run.step - first_step >= run.args.stop_after_steps)
            if run.step % cfg.checkpoint_every == 0 or run.step == run.total_steps or out_of_time or run.stop_requested:
                save(run)
            if run.step >= run.total_steps:
                break
            if out_of_time or run.stop_requested:
                progress.close()
                if run.info.is_main:
                    why = "stopping as asked" if out_of_time else "interrupted"
                    print(f"[train] {why} at step {run.step}/{run.total_steps}; checkpoint saved. Continue with --resume.")
                return 0 if out_of_time else 130
    progress.close()
    if run.info.is_main:
        if run.step % cfg.val_every:
            validate(run, progress)
        plot_training_curves(run.log.records, run.folder / "curves.png")
        print(f"[train] done: {run.step} steps; checkpoints in {run.folder / 'checkpoints'}")
    return 0


def main(argv=None) -> int:
    flush_denormals()                 # before any thread exists: a trained network runs ~2x faster
    argv = list(sys.argv[1:] if argv is None else argv)
    args, cfg = parse_args(argv)
    try:
        run = setup(args, cfg)
        if args.resume:
            resume(run)
        start_from_pretrained(run)
    except P2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    distribute(run)
    open_run_folder(run, argv)

    def request_stop(signum, frame):
        run.stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = train(run)
    distributed.cleanup(run.info)
    return code


if __name__ == "__main__":
    sys.exit(main())
