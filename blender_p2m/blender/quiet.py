"""Silencing what Blender prints straight to the process's stdout and stderr.

Blender prints "Saved: ...", path-remap counts, importer chatter and GPU notes for every
render and file write at the C level, past Python's sys.stdout; these helpers point the
file descriptors themselves at /dev/null, so progress lines stay readable. Failures still
raise, with their message, in Python.
"""
from __future__ import annotations

import contextlib
import os
import sys


def _point_at_devnull(fds: tuple[int, ...]) -> list[int]:
    """Send the file descriptors to /dev/null; returns copies of what they were."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return saved


@contextlib.contextmanager
def quiet_blender_output():
    """Silence stdout and stderr at the descriptor level while the block runs."""
    fds = (1, 2)
    saved = _point_at_devnull(fds)
    try:
        yield
    finally:
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)


def silence_stdout_for_good() -> None:
    """For a worker process that only renders: its stdout goes nowhere from now on
    (stderr stays, for crashes)."""
    for copy in _point_at_devnull((1,)):
        os.close(copy)
