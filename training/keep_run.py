"""Keep a long training run in git, so that losing the machine loses no training.

    python -m training.keep_run runs/NAME

`runs/` is ignored, and a run of several sittings can outlive the machine it started on.
This stages the run's record (train_config.json with every invocation, log.jsonl, whose
windows count the run's hours, and curves.png) with its newest complete checkpoint, and
takes the older checkpoints out of the index, so that each commit carries one checkpoint.
On a new machine: rebuild the datasets with the same commands (the builds are
deterministic), then `training.train ... --resume` goes on from the committed checkpoint.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from blender_p2m.errors import P2MError

from .run_checkpoints import checkpoint_dir, newest_complete_checkpoint

RECORD_FILES = ("train_config.json", "log.jsonl", "curves.png")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise P2MError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def tracked_checkpoints(repo: Path, run: Path) -> list[str]:
    """Checkpoint paths (relative to the repository) that git's index holds for this run."""
    listed = _git(repo, "ls-files", "--", str(checkpoint_dir(run).resolve().relative_to(repo)))
    return [line for line in listed.splitlines() if line]


def keep_run(run: Path) -> tuple[Path, list[str]]:
    """Stage the run's record and newest complete checkpoint; unstage the older ones.

    Returns (the checkpoint kept, the repository paths taken out of the index).
    """
    run = Path(run).resolve()
    if not run.is_dir():
        raise P2MError(f"{run} is not a run folder. Give the --out folder of training.train.")
    found = newest_complete_checkpoint(run)
    if found is None:
        raise P2MError(f"{run} has no complete checkpoint to keep (checkpoints/step_*.pt). "
                       f"Let training write one (it does every checkpoint_every steps and on Ctrl-C).")
    _, newest = found
    repo = Path(_git(run, "rev-parse", "--show-toplevel").strip()).resolve()
    keep = [run / name for name in RECORD_FILES if (run / name).exists()] + [newest]
    kept_rel = str(newest.resolve().relative_to(repo))
    dropped = [p for p in tracked_checkpoints(repo, run) if p != kept_rel]
    if dropped:
        _git(repo, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *dropped)
    _git(repo, "add", "--force", "--", *(str(p.relative_to(repo)) for p in keep))
    return newest, dropped


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.keep_run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="the run folder (training.train --out)")
    args = p.parse_args(argv)
    try:
        newest, dropped = keep_run(args.run)
    except P2MError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    size_mb = newest.stat().st_size / 1e6
    print(f"[keep_run] staged {newest.name} ({size_mb:.1f} MB) and the run's record"
          + (f"; unstaged {len(dropped)} older checkpoint(s)" if dropped else "")
          + ". Commit to keep them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
