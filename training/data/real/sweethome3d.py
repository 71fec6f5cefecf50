"""Sweet Home 3D furniture catalogues (`sweethome3d-furniture`): OBJ + MTL + textures in zips.

Each `.sh3f` catalogue is a zip whose `PluginFurnitureCatalog.properties` lists the models:
`name#N`, `category#N`, `tags#N`, `model#N` (the OBJ's path in the zip; its folder holds the
MTL and textures), `creator#N` and an optional `modelRotation#N` (a 3x3 matrix, row by row,
that turns the OBJ upright in its +Y-up frame). The Reallusion catalogue is people only
and is left out.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .categories import categorise
from .obj_files import ZUP_FROM_YUP, Part

PACKAGE = "sweethome3d-furniture"
CATALOGUE_DIR = "usr/share/sweethome3d/furniture"

# Catalogue file -> (licence, attribution template). {creator} is the model's author.
CATALOGUES = {
    "BlendSwap-CC-0": ("CC0-1.0", "{creator} (Blend Swap), converted by Emmanuel Puybaret / eTeks"),
    "BlendSwap-CC-BY": ("CC-BY-3.0", "{creator} (Blend Swap, CC-BY 3.0), converted by Emmanuel Puybaret / eTeks"),
    "KatorLegaz": ("CC-BY-3.0-US", "Andrew Kator & Jennifer Legaz (CC-BY 3.0 US)"),
    "Scopia": ("CC-BY-3.0", "Scopia Visual Interfaces Systems, s.l. (CC-BY 3.0)"),
}
LEFT_OUT = {"Reallusion": "people only"}

# Sweet Home 3D's own catalogue categories that are never objects we want.
DROPPED_CATALOGUE_CATEGORIES = {"Doors and windows": "drop:part of a building",
                                "Staircases": "drop:part of a building",
                                "Characters": None}   # None: decide by name (animals stay)


@dataclass(frozen=True)
class Entry:
    """One model of a catalogue."""

    catalogue: str
    index: int
    name: str
    catalogue_category: str
    tags: str
    model: str                 # path inside the zip
    creator: str
    rotation: tuple | None     # 9 numbers, row-major, or None

    @property
    def key(self) -> str:
        folder = PurePosixPath(self.model).parent.name or PurePosixPath(self.model).stem
        return re.sub(r"[^A-Za-z0-9]+", "-", f"sh3d-{self.catalogue}-{folder}").strip("-").lower()


def parse_properties(text: str) -> dict[int, dict[str, str]]:
    """`key#N=value` lines -> {N: {key: value}} (Java properties, one value per line)."""
    models: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)#(\d+)\s*=\s*(.*)$", line)
        if m:
            value = m.group(3).encode("latin-1", "backslashreplace").decode("unicode_escape", "replace") \
                if "\\u" in m.group(3) else m.group(3)
            models.setdefault(int(m.group(2)), {})[m.group(1)] = value.strip()
    return models


def read_catalogue(path: Path) -> list[Entry]:
    with zipfile.ZipFile(path) as z:
        text = z.read("PluginFurnitureCatalog.properties").decode("latin-1")
    entries = []
    for index, d in sorted(parse_properties(text).items()):
        if "model" not in d or "name" not in d:
            continue
        rotation = tuple(float(x) for x in d["modelRotation"].split()) if d.get("modelRotation") else None
        entries.append(Entry(path.stem, index, d["name"], d.get("category", ""), d.get("tags", ""),
                             d["model"].lstrip("/"), d.get("creator", ""), rotation))
    return entries


def category_of(entry: Entry) -> str:
    forced = DROPPED_CATALOGUE_CATEGORIES.get(entry.catalogue_category, "keep")
    if forced not in ("keep", None):
        return forced
    category = categorise(entry.name)
    if entry.catalogue_category == "Characters" and not category.startswith("drop:"):
        tags = entry.tags.lower()
        if any(w in tags for w in ("human", "people", "woman", "man,")):
            return "drop:person"
    return category


def extract_model(catalogue: Path, entry: Entry, dest: Path) -> Path:
    """Copy the model's folder (OBJ, MTL, textures) out of the zip; returns the OBJ path."""
    folder = str(PurePosixPath(entry.model).parent) + "/"
    with zipfile.ZipFile(catalogue) as z:
        for info in z.infolist():
            if info.is_dir() or not info.filename.startswith(folder):
                continue
            relative = PurePosixPath(info.filename[len(folder):])
            if ".." in relative.parts:
                continue
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
    return dest / PurePosixPath(entry.model).name


def part_of(obj_path: Path, entry: Entry) -> Part:
    """The OBJ placed upright: the catalogue's modelRotation (Y-up frame), then Y-up -> Z-up."""
    transform = ZUP_FROM_YUP.copy()
    if entry.rotation is not None and len(entry.rotation) == 9:
        rotation = np.eye(4)
        rotation[:3, :3] = np.asarray(entry.rotation, dtype=np.float64).reshape(3, 3)
        transform = transform @ rotation
    return Part(obj_path, transform)
