"""SHA-256 of a file, read in blocks: how training identifies the files it depends on
(the ImageNet weights, the photo library, the weights a test's floors belong to)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
