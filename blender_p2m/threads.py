"""CPU threading defaults for inference next to other work (Blender's UI, other jobs).

libgomp's idle threads spin-wait by default; when the cores are busy with anything else,
every one of the ~600 parallel regions of a forward pass waits for a time slice and
inference gets 10-100x slower (benchmarks/RESULTS.md). Passive waiting costs little when
the machine is idle and avoids that collapse. It only takes effect if set before PyTorch
is first imported, and a value the user set is kept.
"""
import os


def prefer_passive_omp_wait() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
