"""training.denormals: denormals flush to zero in the main thread and in the threads that
PyTorch creates afterwards (run in a fresh process: the flag is process state)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import torch
from training.denormals import flush_denormals
supported = flush_denormals()
torch.set_num_threads(2)
tiny = torch.full((1 << 22,), 1e-39)                 # a denormal float32
print(supported, (tiny[:1] * 1.0).item(), torch.count_nonzero(tiny * 1.0).item())   # parallel: OpenMP threads
"""


def test_denormals_become_zero_in_every_thread():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    supported, single, nonzero = out.stdout.split()
    assert supported == "True"                         # x86-64 with SSE: the machines we run on
    assert float(single) == 0.0 and int(nonzero) == 0


def test_without_the_flag_denormals_survive():
    """The probe can fail: the same arithmetic keeps the denormals when nothing is flushed."""
    probe = PROBE.replace("supported = flush_denormals()", "supported = True")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    _, single, nonzero = out.stdout.split()
    assert float(single) > 0.0 and int(nonzero) == 1 << 22
