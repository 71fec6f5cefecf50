"""One progress line per image: position, outcome, throughput and the time left.

    [  12/100] chair_03: done in 0.41 s | 2.4 images/s, ETA 0:00:37

The rate counts only images converted in this run (skipped ones cost nothing), so the
estimate stays honest when a batch resumes.
"""
from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, stream=None, clock=time.perf_counter):
        self.total = total
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.start = clock()
        self.finished = 0           # images with an outcome (done, skipped or failed)
        self.converted = 0          # images worked on in this run (done or failed)
        self.width = len(str(total))

    def rate(self) -> float:
        elapsed = self.clock() - self.start
        return self.converted / elapsed if elapsed > 0 and self.converted else 0.0

    def eta(self) -> str:
        rate = self.rate()
        return format_duration((self.total - self.finished) / rate) if rate else "?"

    def report(self, name: str, outcome: str, worked: bool = True) -> None:
        """Record one image's outcome ("done in 0.4 s", "FAILED: ...") and print the line."""
        self.finished += 1
        self.converted += worked
        line = (f"[{self.finished:>{self.width}}/{self.total}] {name}: {outcome} | "
                f"{self.rate():.2f} images/s, ETA {self.eta()}")
        print(line, file=self.stream, flush=True)
