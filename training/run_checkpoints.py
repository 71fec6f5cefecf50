"""Checkpoints of a training run: atomic writes, keep the last K, resume from the newest complete one."""
from __future__ import annotations

import re
from pathlib import Path

from blender_p2m.atomic_files import output_of_temp
from blender_p2m.errors import P2MError
from blender_p2m.model.checkpoint import atomic_save, read_checkpoint

PATTERN = re.compile(r"^step_(\d+)\.pt$")


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def list_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint of a run, newest first (temporary files ignored)."""
    folder = checkpoint_dir(run)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    return sorted(found, reverse=True)


def save_run_checkpoint(run: Path, step: int, ckpt: dict, keep: int) -> Path:
    """Write step_N.pt atomically, then delete checkpoints beyond the newest `keep` and any
    temporary file a killed write left behind (only this process writes the run folder)."""
    path = checkpoint_dir(run) / f"step_{step:07d}.pt"
    atomic_save(ckpt, path)
    for _, old in list_checkpoints(run)[keep:]:
        old.unlink(missing_ok=True)
    for leftover in checkpoint_dir(run).iterdir():
        if PATTERN.match(output_of_temp(leftover.name) or ""):
            leftover.unlink(missing_ok=True)
    return path


def newest_complete_checkpoint(run: Path) -> tuple[dict, Path] | None:
    """The newest checkpoint that reads back completely (a damaged one is skipped, with a note)."""
    for _, path in list_checkpoints(run):
        try:
            return read_checkpoint(path), path
        except P2MError as e:
            print(f"[resume] skipping {path.name}: {e}")
    return None


def resolve_checkpoint(run_or_file: Path) -> Path:
    """A checkpoint file, or the newest checkpoint of a run folder."""
    p = Path(run_or_file)
    if p.is_file():
        return p
    found = list_checkpoints(p)
    if not found:
        raise P2MError(f"{p} is neither a checkpoint file nor a run folder with checkpoints/step_*.pt")
    return found[0][1]
