"""Which images a batch converts, what their outputs are called, and which shard does which.

Inputs are files, folders (the images directly inside) and glob patterns (`**` recurses).
The list is de-duplicated and sorted by path, so every machine given the same arguments
sees the same list: output names and shards are computed from that whole list, before
splitting it, and so agree between machines.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import P2MError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".tga", ".gif")
# Output stems the batch uses itself (combined.blend, summary.json).
RESERVED_NAMES = ("combined", "summary")
# Characters file systems refuse, and '#' (Blender turns it into a frame number in paths).
UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f<>:"/\\|?*#]')


@dataclass(frozen=True)
class ImageJob:
    """One input image and the stem of its outputs (OUT/<name>.obj, ...)."""

    source: Path
    name: str


def is_image_name(path: str | os.PathLike) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def discover_images(arguments: list[str]) -> list[Path]:
    """Expand the command line's inputs into a sorted, de-duplicated list of image files.

    A file given by name is taken whatever its extension (if it is not an image, that is
    reported for that file). A missing path, or a folder or pattern that matches no image,
    is an error: nothing is converted when the command line is wrong.
    """
    found: list[Path] = []
    problems: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            # Not only regular files: a broken link or a pipe named like an image is
            # reported as a failed image, not skipped in silence. Sub-folders are skipped.
            matches = sorted(p for p in path.iterdir() if not p.is_dir() and is_image_name(p))
            if not matches:
                problems.append(f"folder {argument} has no images ({', '.join(IMAGE_EXTENSIONS)})")
        elif path.exists() or path.is_symlink():
            matches = [path]                   # whatever it is, reading it says what is wrong
        elif _has_glob(argument):
            matches = [Path(p) for p in sorted(glob.glob(argument, recursive=True))
                       if not os.path.isdir(p) and is_image_name(p)]
            if not matches:
                problems.append(f"pattern {argument!r} matches no images")
        else:
            matches = []
            problems.append(f"{argument} does not exist")
        found += matches
    if problems:
        raise P2MError("Nothing was converted: " + "; ".join(problems) + ".")
    if not found:
        raise P2MError("No input images given.")
    unique = {os.path.normpath(str(p)): Path(os.path.normpath(str(p))) for p in found}
    by_file = {}
    for key in sorted(unique):
        by_file.setdefault(os.path.realpath(key), unique[key])   # the same file twice: once
    return sorted(by_file.values(), key=lambda p: str(p))


def _safe_stem(path: Path) -> str:
    stem = UNSAFE_CHARACTERS.sub("_", path.stem).strip(" .") or "image"
    return stem


def output_names(images: list[Path]) -> list[str]:
    """A unique output stem per image: the file's stem; with the extension added when two
    images share a stem (cat.png, cat.jpg -> cat_png, cat_jpg); with a short hash of the
    path when that is not enough (a/cat.png, b/cat.png). Case-insensitively unique, so
    the outputs do not collide on Windows or macOS either."""
    stems = [_safe_stem(p) for p in images]
    counts = Counter(s.lower() for s in stems)
    names = [f"{s}_{p.suffix.lstrip('.').lower()}"
             if counts[s.lower()] > 1 or s.lower() in RESERVED_NAMES else s
             for s, p in zip(stems, images)]
    counts = Counter(n.lower() for n in names)
    return [f"{n}_{hashlib.sha1(str(p).encode('utf-8')).hexdigest()[:8]}" if counts[n.lower()] > 1
            else n for n, p in zip(names, images)]


def parse_shard(text: str | None) -> tuple[int, int]:
    """"i/n" (1 <= i <= n) -> (i, n); None -> (1, 1), the whole list."""
    if text is None:
        return 1, 1
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise P2MError(f"--shard must be i/n with 1 <= i <= n (e.g. 2/4 for the second of four "
                       f"machines), got {text!r}.")
    return int(match[1]), int(match[2])


def plan_jobs(arguments: list[str], shard: tuple[int, int] = (1, 1)) -> list[ImageJob]:
    """The images this shard converts: every n-th image of the sorted list, starting at i."""
    images = discover_images(arguments)
    names = output_names(images)
    index, count = shard
    return [ImageJob(path, name) for k, (path, name) in enumerate(zip(images, names))
            if k % count == index - 1]
