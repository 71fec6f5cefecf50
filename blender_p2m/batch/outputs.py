"""What a batch writes, where, and whether an image's outputs are already finished.

    OUT/<name>.obj .glb .ply .blend   per image, for each requested format
    OUT/<name>_preview.png            with --preview
    OUT/<name>_mask.png               with --background remove|auto: the object's silhouette
    OUT/combined.blend                with --combined: every mesh, one scene per image
    OUT/summary.json                  (summary-shard-i-of-n.json for a shard)

Outputs only ever appear complete (atomic_files), so "every requested file exists" means
the image is finished: a re-run skips it, and an interrupted batch resumes where it was.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..atomic_files import remove_stale_temps
from ..errors import P2MError

MESH_FORMATS = ("obj", "glb", "ply")
FORMATS = MESH_FORMATS + ("blend",)
PREVIEW_SUFFIX = "_preview.png"
MASK_SUFFIX = "_mask.png"
COMBINED_FILENAME = "combined.blend"


def parse_formats(text: str) -> tuple[str, ...]:
    """"obj,glb" -> ("obj", "glb"); "" or "none" -> (); P2MError for unknown formats."""
    names = [part.strip().lower().lstrip(".") for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise P2MError(f"Unknown output format(s) {', '.join(unknown)}: use a comma-separated "
                       f"list of {', '.join(FORMATS)}.")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class OutputPlan:
    folder: Path
    formats: tuple[str, ...]
    preview: bool = False
    combined: bool = False
    masks: bool = False

    @property
    def needs_blender(self) -> bool:
        """.blend files, previews and the combined file are made with bpy."""
        return "blend" in self.formats or self.preview or self.combined

    @property
    def combined_path(self) -> Path:
        return self.folder / COMBINED_FILENAME

    def path(self, name: str, fmt: str) -> Path:
        suffix = {"preview": PREVIEW_SUFFIX, "mask": MASK_SUFFIX}.get(fmt, f".{fmt}")
        return self.folder / f"{name}{suffix}"

    def files_for(self, name: str) -> list[Path]:
        """Every per-image file requested for this image."""
        kinds = list(self.formats) + (["preview"] if self.preview else []) + (["mask"] if self.masks else [])
        return [self.path(name, kind) for kind in kinds]

    def is_finished(self, name: str) -> bool:
        return all(p.is_file() for p in self.files_for(name))

    def clean_stale_temps(self, names: list[str], also: tuple[str, ...] = ()) -> None:
        """Remove what a killed run left half-written for these images (and the files named
        in `also`); final files are never touched."""
        finals = {p.name for name in names for p in self.files_for(name)} | set(also)
        if self.combined:
            finals.add(COMBINED_FILENAME)
        remove_stale_temps(self.folder, finals)


def prepare_output_folder(folder: Path) -> Path:
    """Create the folder if needed and check that files can be written into it: one clear
    P2MError before any work otherwise."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise P2MError(f"Output path {folder} is a file, not a folder. Give a folder for the "
                       f"outputs (it is created if it does not exist).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise P2MError(f"Cannot create the output folder {folder}: part of that path is a "
                       f"file, not a folder.") from None
    except OSError as e:
        raise P2MError(f"Cannot create the output folder {folder} ({e.strerror}). Choose a "
                       f"folder you can write to.") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".p2m-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise P2MError(f"Cannot write into the output folder {folder} ({e.strerror}). Choose a "
                       f"folder you can write to, or fix its permissions.") from None
    return folder
