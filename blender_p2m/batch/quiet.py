"""Silencing what Blender prints straight to the process's stdout and stderr."""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_blender_output():
    """Blender prints "Saved: ...", path-remap counts and GPU notes for every render and
    file write at the C level; silence them so the progress lines stay readable. Failures
    still raise, with their message, in Python."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
