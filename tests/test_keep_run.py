"""training.keep_run: a run's record and newest checkpoint go into git's index, one checkpoint
at a time, so a commit can carry a long run across machines (real git, real checkpoints)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.checkpoint import checkpoint_dict
from training.keep_run import keep_run, main
from training.run_checkpoints import save_run_checkpoint

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def staged(repo: Path) -> set[str]:
    return set(git(repo, "diff", "--cached", "--name-only").split())


def tracked(repo: Path) -> set[str]:
    return set(git(repo, "ls-files").split())


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / ".gitignore").write_text("/runs/\n")
    git(tmp_path, "add", ".gitignore")
    git(tmp_path, "commit", "--quiet", "-m", "init")
    return tmp_path


@pytest.fixture(scope="module")
def ckpt():
    torch.manual_seed(0)
    return checkpoint_dict(Pixel2Mesh(get_config("tiny")), {"note": "keep_run test"})


def make_run(run: Path, steps: list[int], ckpt: dict) -> None:
    (run / "train_config.json").parent.mkdir(parents=True, exist_ok=True)
    (run / "train_config.json").write_text('{"commands": ["python -m training.train"]}')
    (run / "log.jsonl").write_text('{"kind": "train", "step": 1}\n')
    for step in steps:
        save_run_checkpoint(run, step, ckpt, keep=3)


def test_stages_the_record_and_only_the_newest_checkpoint(repo, ckpt):
    run = repo / "runs" / "r"
    make_run(run, [200, 400, 600], ckpt)
    newest, dropped = keep_run(run)
    assert newest.name == "step_0000600.pt" and dropped == []
    assert staged(repo) == {"runs/r/train_config.json", "runs/r/log.jsonl", "runs/r/checkpoints/step_0000600.pt"}


def test_a_later_sitting_swaps_the_committed_checkpoint_for_the_new_one(repo, ckpt):
    run = repo / "runs" / "r"
    make_run(run, [600], ckpt)
    keep_run(run)
    git(repo, "commit", "--quiet", "-m", "sitting 1")
    # The next sitting trains on; the trainer deletes checkpoints beyond the newest three,
    # the committed one among them.
    for step in (800, 1000, 1200):
        save_run_checkpoint(run, step, ckpt, keep=3)
    assert not (run / "checkpoints" / "step_0000600.pt").exists()
    _, dropped = keep_run(run)
    assert dropped == ["runs/r/checkpoints/step_0000600.pt"]
    git(repo, "commit", "--quiet", "-m", "sitting 2")
    assert {p for p in tracked(repo) if p.endswith(".pt")} == {"runs/r/checkpoints/step_0001200.pt"}
    # A fresh clone (a new machine) has what --resume needs.
    clone = repo.parent / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    from training.run_checkpoints import newest_complete_checkpoint
    restored, path = newest_complete_checkpoint(clone / "runs" / "r")
    assert path.name == "step_0001200.pt"
    assert restored["state_dict"].keys() == ckpt["state_dict"].keys()
    assert all(torch.equal(restored["state_dict"][k], v) for k, v in ckpt["state_dict"].items())
    assert (clone / "runs" / "r" / "log.jsonl").read_text() == (run / "log.jsonl").read_text()


def test_a_damaged_newest_checkpoint_is_passed_over(repo, ckpt):
    run = repo / "runs" / "r"
    make_run(run, [200, 400], ckpt)
    (run / "checkpoints" / "step_0000400.pt").write_bytes(b"PK\x03\x04 truncated")
    newest, _ = keep_run(run)
    assert newest.name == "step_0000200.pt"
    assert "runs/r/checkpoints/step_0000400.pt" not in staged(repo)


def test_bad_input_is_one_clear_message_and_stages_nothing(repo, ckpt, capsys):
    assert main([str(repo / "runs" / "missing")]) == 1
    assert "is not a run folder" in capsys.readouterr().err
    run = repo / "runs" / "empty"
    run.mkdir(parents=True)
    (run / "log.jsonl").write_text("")
    assert main([str(run)]) == 1
    err = capsys.readouterr().err
    assert "no complete checkpoint" in err and "Traceback" not in err
    assert staged(repo) == set()
