"""Writing files so that a killed process never leaves half a file under a final name.

Every file is written to a hidden temporary file in the same folder (same file system),
flushed to disk, then renamed with os.replace, which is atomic: a reader, or a resumed run
that checks which outputs exist, sees either no file or the complete one. Shared by the
batch outputs, checkpoints (blender_p2m.model) and training runs, so it sits below them all.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def _default_file_mode() -> int:
    """What open() would give a new file (0o666 minus the umask); mkstemp gives 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _default_file_mode()


def temp_prefix(final: Path) -> str:
    """Temporary files for `final` start with this (used to clean up after a killed run)."""
    return f".{final.name}."


@contextlib.contextmanager
def atomic_path(final: Path):
    """Yield a temporary path beside `final`; on success it becomes `final`, on failure it
    is removed. For writers that want a path (Blender's .blend writer, the renderer)."""
    final = Path(final)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(final), suffix=TEMP_SUFFIX, dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, final)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_bytes(final: Path, data: bytes) -> None:
    """Write `data` to `final` atomically."""
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def output_of_temp(filename: str) -> str | None:
    """The final file name a temporary file was made for (".cat.obj.k3j_x.tmp" -> "cat.obj"),
    or None when it is not such a temporary file."""
    if not (filename.startswith(".") and filename.endswith(TEMP_SUFFIX)):
        return None
    final, dot, _random = filename[1:-len(TEMP_SUFFIX)].rpartition(".")
    return final if dot and final else None


def remove_stale_temps(folder: Path, finals: set[str]) -> int:
    """Remove temporary files a killed run left for the outputs named in `finals` (only
    those: other shards sharing the folder may be writing theirs). One pass over the folder."""
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if output_of_temp(entry.name) in finals:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _fsync(path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
