"""Reading mesh files in tests, independently of the project's writers and importers."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def obj_vertices_of_text(text: str) -> np.ndarray:
    """(N, 3) the `v` lines of an OBJ file's text."""
    rows = [line.split()[1:4] for line in text.splitlines() if line.startswith("v ")]
    return np.array(rows, dtype=np.float64)


def obj_vertices(path: Path) -> np.ndarray:
    """(N, 3) the vertices of an OBJ file."""
    return obj_vertices_of_text(path.read_text())
