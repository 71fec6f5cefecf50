"""A refreshing progress line with rate and ETA for long loops (data building, training).

The batch converter prints one line per image instead (`blender_p2m.batch.progress`); both
count only the work done in this run, so a resumed job's ETA stays honest, and both write
durations the same way.
"""
from __future__ import annotations

import sys
import time

from blender_p2m.batch.progress import format_duration


class Progress:
    """Prints `label done/total (pct) rate ETA extra` at most every `interval` seconds."""

    def __init__(self, total: int, label: str, unit: str = "it", interval: float = 1.0,
                 stream=None, start_done: int = 0):
        self.total, self.label, self.unit, self.interval = total, label, unit, interval
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.start_done = start_done
        self.done = start_done
        self.last_print = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int | None = None, extra: str = "", force: bool = False) -> None:
        self.done = self.done + 1 if done is None else done
        now = time.monotonic()
        if not force and now - self.last_print < self.interval and self.done < self.total:
            return
        self.last_print = now
        elapsed = now - self.start
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta_text = format_duration(eta) if eta == eta else "?"
        line = (f"{self.label} {self.done}/{self.total} ({pct:.0f}%) {rate:.2f} {self.unit}/s "
                f"ETA {eta_text} {extra}").rstrip()
        end = "\r" if self.tty and self.done < self.total else "\n"
        print(line.ljust(100) if self.tty else line, end=end, file=self.stream, flush=True)

    def close(self) -> None:
        self.update(self.done, force=True)
