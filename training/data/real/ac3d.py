"""AC3D models (FlightGear, TORCS): conversion with assimp and FlightGear's multi-part XML.

Blender cannot import AC3D, so each `.ac`/`.acc` file is converted once to OBJ with
Debian's `assimp` (it keeps materials and texture references) into a conversion cache.

FlightGear places a model with an XML file: `<path>` names the main `.ac`, and each
`<model>` adds a part (an `.ac`, or another XML) at `<offsets>` (x-m, y-m, z-m, heading,
pitch, roll) in FlightGear's Z-up model frame. AC3D files are +Y up; FlightGear turns them
with (x, y, z) -> (x, -z, y), which is `ZUP_FROM_YUP`. Lights, effects and shadows are
parts too; they are left out by name.
"""
from __future__ import annotations

import hashlib
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .obj_files import ZUP_FROM_YUP, Part

# Parts that are not the object's surface: lights, particle effects, shadows, people.
NOT_GEOMETRY = re.compile(r"light(?!ning)|toggle|flash|beacon|strobe|nav[lrb_.]|effect|contrail|exhaust|shadow|fire|smoke|"
                          r"dump|glow|halo|wake|spray|reflect|procedural|pilot|crew|people|passenger|"
                          r"flare|puff|vapou?r|particle|rotor[-_]?disc|prop[-_]?disc|propdisc|blur|spin",
                          re.IGNORECASE)


class ConversionError(Exception):
    """An AC3D file assimp could not convert, with its reason."""


# Bump when what goes into assimp changes, so cached conversions are redone.
CONVERSION_VERSION = 3


def _read_object(lines: list[str], i: int) -> tuple[dict, int]:
    """One AC3D OBJECT block starting at lines[i] -> ({name, lines, kids}, next index)."""
    block, name = [lines[i]], ""
    i += 1
    while i < len(lines):
        tokens = lines[i].split()
        key = tokens[0] if tokens else ""
        if key == "kids":
            kids = []
            i += 1
            for _ in range(int(tokens[1])):      # some exporters overstate the count
                if i >= len(lines) or not lines[i].startswith("OBJECT"):
                    break
                kid, i = _read_object(lines, i)
                kids.append(kid)
            return {"name": name, "lines": block, "kids": kids}, i
        if key == "name":
            name = lines[i].split(None, 1)[1].strip().strip('"') if len(tokens) > 1 else ""
        if key == "data":                  # a string of N characters, possibly over several lines
            block.append(lines[i])
            i, got = i + 1, 0
            while got < int(tokens[1]) and i < len(lines):
                block.append(lines[i])
                got, i = got + len(lines[i]) + 1, i + 1
            continue
        if key in ("numvert", "refs"):     # followed by N lines of data
            count = int(tokens[1])
            block.extend(lines[i:i + count + 1])
            i += count + 1
            continue
        block.append(lines[i])
        i += 1
    raise ConversionError("unexpected end of the AC3D file (an OBJECT without 'kids')")


def _write_object(obj: dict, out: list[str], dropped: list[str]) -> None:
    kids = []
    for kid in obj["kids"]:
        if NOT_GEOMETRY.search(kid["name"]):
            dropped.append(kid["name"])
        else:
            kids.append(kid)
    out.extend(obj["lines"])
    out.append(f"kids {len(kids)}")
    for kid in kids:
        _write_object(kid, out, dropped)


def strip_named_objects(text: str) -> tuple[str, list[str]]:
    """The AC3D text without objects named like lights, shadows or effects (and their kids).

    FlightGear models keep light cones, halos and shadow planes as objects inside the
    aircraft's own file; they are no part of its surface."""
    lines = text.splitlines()
    start = next((k for k, line in enumerate(lines) if line.startswith("OBJECT")), None)
    if start is None or not lines or not lines[0].startswith("AC3D"):
        raise ConversionError("not an AC3D file (no AC3D header or no OBJECT)")
    out, dropped = lines[:start], []
    k = start
    while k < len(lines) and lines[k].startswith("OBJECT"):
        obj, k = _read_object(lines, k)
        _write_object(obj, out, dropped)
    return "\n".join(out) + "\n", dropped


def convert(ac_path: Path, cache: Path) -> Path:
    """The OBJ assimp makes of an AC3D file (lights and shadows removed), cached by content."""
    raw = ac_path.read_bytes()
    digest = hashlib.sha1(raw + f"v{CONVERSION_VERSION}".encode()).hexdigest()[:16]
    out = cache / "converted" / f"{ac_path.stem}-{digest}.obj"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    text, _ = strip_named_objects(raw.decode("latin-1"))
    source = out.with_suffix(".ac")      # TORCS's .acc is AC3D too; assimp wants .ac
    source.write_bytes(text.encode("latin-1"))
    tmp = out.with_name(f".{out.name}.tmp.obj")
    result = subprocess.run(["assimp", "export", str(source), str(tmp)], capture_output=True, text=True)
    if result.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        lines = (result.stderr + result.stdout).strip().splitlines()
        raise ConversionError(f"assimp could not convert {ac_path.name}: {lines[-1] if lines else 'no output'}")
    mtl_tmp = tmp.with_suffix(".mtl")
    if mtl_tmp.is_file():       # the OBJ names its MTL by file name: rename both consistently
        text = tmp.read_text(encoding="utf-8", errors="replace").replace(mtl_tmp.name, out.with_suffix(".mtl").name)
        tmp.write_text(text)
        mtl_tmp.replace(out.with_suffix(".mtl"))
    tmp.replace(out)
    return out


def offsets_matrix(element) -> np.ndarray:
    """FlightGear `<offsets>`: translation and heading/pitch/roll (degrees) -> 4x4, Z-up frame."""
    m = np.eye(4)
    if element is None:
        return m

    def value(tag: str) -> float:
        node = element.find(tag)
        try:
            return float(node.text) if node is not None and node.text else 0.0
        except ValueError:
            return 0.0

    h, p, r = (math.radians(value(t)) for t in ("heading-deg", "pitch-deg", "roll-deg"))
    rz = np.array([[math.cos(h), -math.sin(h), 0], [math.sin(h), math.cos(h), 0], [0, 0, 1]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    m[:3, :3] = rz @ ry @ rx
    m[:3, 3] = [value("x-m"), value("y-m"), value("z-m")]
    return m


@dataclass
class AcPart:
    """An AC3D file and its placement in the model's Z-up frame."""

    path: Path
    transform: np.ndarray


def _resolve(reference: str, xml_path: Path, fg_roots: tuple[Path, ...]) -> Path | None:
    """A path in an XML: relative to the XML, or to FG_ROOT (spread over several packages)."""
    reference = reference.strip().replace("\\", "/")
    for candidate in (xml_path.parent / reference, *(root / reference for root in fg_roots)):
        if candidate.is_file():
            return candidate
    return None


def xml_parts(xml_path: Path, fg_roots: tuple[Path, ...], transform: np.ndarray | None = None,
              depth: int = 0) -> list[AcPart]:
    """Every AC3D part a FlightGear model XML places, lights and effects left out."""
    transform = np.eye(4) if transform is None else transform
    if depth > 4:
        return []
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError):
        return []
    parts: list[AcPart] = []
    main = root.find("path")
    if main is not None and main.text:
        target = _resolve(main.text, xml_path, fg_roots)
        if target is not None and target.suffix.lower() == ".ac" and not NOT_GEOMETRY.search(target.name):
            parts.append(AcPart(target, transform @ offsets_matrix(root.find("offsets")) @ ZUP_FROM_YUP))
    for model in root.findall("model"):
        path = model.find("path")
        name = model.find("name")
        label = f"{path.text if path is not None else ''} {name.text if name is not None and name.text else ''}"
        if path is None or not path.text or NOT_GEOMETRY.search(label):
            continue
        target = _resolve(path.text, xml_path, fg_roots)
        if target is None:
            continue
        placed = transform @ offsets_matrix(model.find("offsets"))
        if target.suffix.lower() == ".ac":
            parts.append(AcPart(target, placed @ ZUP_FROM_YUP))
        elif target.suffix.lower() == ".xml":
            parts.extend(xml_parts(target, fg_roots, placed, depth + 1))
    return parts


def main_ac_of(xml_path: Path, fg_roots: tuple[Path, ...]) -> Path | None:
    try:
        main = ET.parse(xml_path).getroot().find("path")
    except (ET.ParseError, OSError):
        return None
    return _resolve(main.text, xml_path, fg_roots) if main is not None and main.text else None


def to_obj_parts(parts: list[AcPart], cache: Path) -> list[Part]:
    """Convert every AC3D part (cached) and keep its placement; textures stay findable."""
    return [Part(convert(p.path, cache), p.transform, (p.path.parent,)) for p in parts]
