"""Assembling Wavefront OBJ models: parts with transforms -> one OBJ + MTL + textures.

Every real model ends up as one folder with `model.obj`, `model.mtl` and its textures, in
the OBJ convention (+Y up, as Blender's OBJ importer expects), whatever its source: Sweet
Home 3D's OBJ files, or AC3D files converted by assimp, possibly in several parts placed by
a FlightGear XML file. Internally the parts are placed in a Z-up frame (Blender's world):
`ZUP_FROM_YUP` turns an OBJ's coordinates into it, `YUP_FROM_ZUP` back.

Materials and textures are kept: material names get a per-part prefix (parts may reuse
names) and every texture a part refers to is copied next to the model under a unique name.
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# (x, y, z) with +Y up  ->  (x, -z, y) with +Z up, and back.
ZUP_FROM_YUP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
YUP_FROM_ZUP = np.linalg.inv(ZUP_FROM_YUP)

# MTL statements whose last argument is an image file.
_TEXTURE_KEYS = {"map_kd", "map_ka", "map_ks", "map_ke", "map_d", "map_bump", "bump", "norm",
                 "map_ns", "map_refl", "refl", "disp", "decal", "map_pr", "map_pm"}


class ObjFormatError(Exception):
    """An OBJ part that cannot be read, with the reason."""


@dataclass
class Part:
    """One OBJ file to place: `transform` (4x4) maps its own coordinates to the Z-up frame."""

    path: Path
    transform: np.ndarray = field(default_factory=lambda: ZUP_FROM_YUP.copy())
    texture_dirs: tuple[Path, ...] = ()    # where else its textures may be (an AC3D file's folder)


@dataclass
class Geometry:
    """What the catalogue needs to know about an assembled model (Z-up frame)."""

    vertices: np.ndarray      # (N, 3) float64, the vertices the faces use
    triangles: np.ndarray     # (F, 3) int64, fan-triangulated polygons
    ground_faces_removed: int = 0

    @property
    def extent(self) -> np.ndarray:
        return self.vertices.max(0) - self.vertices.min(0) if len(self.vertices) else np.zeros(3)

    def geometry_hash(self) -> str:
        """Equal for copies that differ only in materials, textures, vertex order or scale.

        Colour variants of one model (an airliner in 20 liveries, a sail in four colours)
        share their vertices exactly; the hash is taken over the set of vertices after
        centring and scaling the bounding box to a unit diagonal, rounded to 1e-4.
        """
        v = self.vertices
        if len(v) == 0:
            return "empty"
        lo, hi = v.min(0), v.max(0)
        diag = float(np.linalg.norm(hi - lo)) or 1.0
        q = np.round((v - (lo + hi) / 2) / diag * 1e4).astype(np.int64)
        q = np.unique(q, axis=0)
        return hashlib.sha1(q.tobytes()).hexdigest()[:16]


def _float_tokens(tokens: list[str], count: int, what: str, path: Path, line_no: int) -> list[float]:
    try:
        return [float(t) for t in tokens[:count]]
    except ValueError:
        raise ObjFormatError(f"{path.name}:{line_no}: {what} with non-numeric values") from None


def _texture_name(used: dict[str, Path], source: Path) -> str:
    """A unique file name for a copied texture (same source -> same name)."""
    for name, path in used.items():
        if path == source:
            return name
    stem, suffix = source.stem, source.suffix
    name, k = f"{stem}{suffix}", 1
    while name in used:
        name, k = f"{stem}_{k}{suffix}", k + 1
    used[name] = source
    return name


def _find_texture(folders: tuple[Path, ...], reference: str) -> Path | None:
    """The file an MTL refers to: as written, by base name, or case-insensitively."""
    reference = reference.replace("\\", "/")
    for folder in folders:
        for candidate in (folder / reference, folder / Path(reference).name):
            if candidate.is_file():
                return candidate
    wanted = Path(reference).name.lower()
    for folder in folders:
        for candidate in folder.glob("*"):
            if candidate.is_file() and candidate.name.lower() == wanted:
                return candidate
    return None


def _merge_mtl(mtl_path: Path, prefix: str, textures: dict[str, Path], out: list[str],
               texture_dirs: tuple[Path, ...] = ()) -> None:
    for raw in mtl_path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        key = tokens[0].lower()
        if key == "newmtl":
            out.append(f"\nnewmtl {prefix}{' '.join(tokens[1:])}")
        elif key in _TEXTURE_KEYS and len(tokens) > 1:
            source = _find_texture((mtl_path.parent, *texture_dirs), tokens[-1])
            if source is not None:
                out.append(" ".join(tokens[:-1] + [f"textures/{_texture_name(textures, source)}"]))
        else:
            out.append(line)


def assemble(parts: list[Part], out_dir: Path) -> Geometry:
    """Write `out_dir/model.obj`, `model.mtl` and `textures/`; return the geometry (Z-up).

    Args:
        parts: OBJ files and their placement; an empty or face-less result is an error.
        out_dir: an existing, empty folder.
    """
    obj_lines: list[str | int] = ["# assembled by blender-p2m (training.data fetch-real)", "mtllib model.mtl"]
    mtl_lines: list[str] = []
    textures: dict[str, Path] = {}
    vertices: list[np.ndarray] = []
    polygons: list[list[int]] = []           # global 0-based vertex indices per face
    face_texts: list[str] = []
    n_v = n_vt = n_vn = 0
    for k, part in enumerate(parts):
        prefix = f"p{k}_"
        m = YUP_FROM_ZUP @ np.asarray(part.transform, dtype=np.float64)
        rot = m[:3, :3]
        normal_matrix = np.linalg.inv(rot).T
        part_v: list[list[float]] = []
        base_v, base_vt, base_vn = n_v, n_vt, n_vn
        text = part.path.read_text(encoding="utf-8", errors="replace")
        for line_no, raw in enumerate(text.splitlines(), 1):
            tokens = raw.split()
            if not tokens:
                continue
            key = tokens[0]
            if key == "v":
                xyz = _float_tokens(tokens[1:], 3, "vertex", part.path, line_no)
                if len(xyz) < 3:
                    raise ObjFormatError(f"{part.path.name}:{line_no}: vertex with fewer than 3 coordinates")
                p = rot @ np.asarray(xyz) + m[:3, 3]
                part_v.append(p.tolist())
                obj_lines.append(f"v {p[0]:.6g} {p[1]:.6g} {p[2]:.6g}")
                n_v += 1
            elif key == "vn":
                n = normal_matrix @ np.asarray(_float_tokens(tokens[1:], 3, "normal", part.path, line_no))
                n = n / (np.linalg.norm(n) or 1.0)
                obj_lines.append(f"vn {n[0]:.5f} {n[1]:.5f} {n[2]:.5f}")
                n_vn += 1
            elif key == "vt":
                obj_lines.append(" ".join(tokens[:3]))
                n_vt += 1
            elif key == "f":
                corners, polygon = [], []
                for corner in tokens[1:]:
                    fields = corner.split("/")
                    refs = []
                    for idx, (value, base, count) in enumerate(zip(fields, (base_v, base_vt, base_vn),
                                                                   (n_v, n_vt, n_vn))):
                        if value == "":
                            refs.append("")
                            continue
                        try:
                            i = int(value)
                        except ValueError:
                            raise ObjFormatError(f"{part.path.name}:{line_no}: face index {value!r}") from None
                        absolute = base + i if i > 0 else count + i + 1   # OBJ is 1-based; negative = relative
                        if not base < absolute <= count:
                            raise ObjFormatError(f"{part.path.name}:{line_no}: face index {i} out of range")
                        refs.append(str(absolute))
                        if idx == 0:
                            polygon.append(absolute - 1)
                    corners.append("/".join(refs))
                if len(polygon) >= 3:
                    obj_lines.append(len(polygons))        # placeholder: the face may be dropped
                    polygons.append(polygon)
                    face_texts.append("f " + " ".join(corners))
            elif key == "usemtl":
                obj_lines.append(f"usemtl {prefix}{' '.join(tokens[1:])}")
            elif key == "mtllib":
                for name in tokens[1:]:
                    mtl = part.path.parent / name
                    if mtl.is_file():
                        _merge_mtl(mtl, prefix, textures, mtl_lines, part.texture_dirs)
            elif key in ("o", "g"):
                obj_lines.append(f"{key} {prefix}{' '.join(tokens[1:])}")
            elif key == "s":
                obj_lines.append(raw.strip())
        if part_v:
            vertices.append(np.asarray(part_v) @ ZUP_FROM_YUP[:3, :3].T)     # back to Z-up
    if not polygons:
        raise ObjFormatError("no faces in any part")
    all_vertices = np.concatenate(vertices)
    ground = ground_plane_faces(all_vertices, polygons)
    kept = [poly for k, poly in enumerate(polygons) if k not in ground]
    if not kept:
        raise ObjFormatError("nothing but a ground plane")
    (out_dir / "model.obj").write_text("\n".join(
        line if isinstance(line, str) else face_texts[line]
        for line in obj_lines if isinstance(line, str) or line not in ground) + "\n")
    (out_dir / "model.mtl").write_text("# materials of model.obj\n" + "\n".join(mtl_lines) + "\n")
    if textures:
        (out_dir / "textures").mkdir()
        for name, source in textures.items():
            shutil.copyfile(source, out_dir / "textures" / name)
    triangles = np.array([[poly[0], poly[j], poly[j + 1]] for poly in kept for j in range(1, len(poly) - 1)],
                         dtype=np.int64)
    used, compact = np.unique(triangles, return_inverse=True)     # loose vertices do not count
    return Geometry(all_vertices[used], compact.reshape(-1, 3), ground_faces_removed=len(ground))


def ground_plane_faces(vertices: np.ndarray, polygons: list[list[int]]) -> set[int]:
    """Faces of a ground plate the model stands on (scenery models often have one).

    Faces whose corners all lie at the model's lowest level (within 0.3% of the box
    diagonal) are grouped into connected pieces (shared vertices). A piece that shares no
    vertex with the rest of the model is a plate when it reaches beyond the rest's footprint
    by more than 5% of the diagonal, or covers 30% of that footprint while the model's own
    bottom faces cover less than 10% of it (an aircraft on its wheels). A cabinet's bottom face, joined to
    its sides, stays; so does a separate bottom panel under walls that stand on the floor.

    Args:
        vertices: (N, 3) Z-up; polygons: vertex indices per face.
    Returns:
        indices into `polygons` of the faces to drop (empty when there is no plate).
    """
    z = vertices[:, 2]
    diagonal = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) or 1.0
    low = z <= z.min() + 0.003 * diagonal
    flat = [k for k, poly in enumerate(polygons) if low[poly].all()]
    if not flat or len(flat) == len(polygons):
        return set()
    flat_set = set(flat)
    rest = np.unique(np.concatenate([poly for k, poly in enumerate(polygons) if k not in flat_set]))
    r_lo, r_hi = vertices[rest, :2].min(0), vertices[rest, :2].max(0)
    parent = {k: k for k in flat}                       # union-find over faces sharing a vertex

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    owner: dict[int, int] = {}
    for k in flat:
        for v in polygons[k]:
            if v in owner:
                parent[find(k)] = find(owner[v])
            else:
                owner[v] = k
    pieces: dict[int, list[int]] = {}
    for k in flat:
        pieces.setdefault(find(k), []).append(k)
    used_by_rest = np.zeros(len(vertices), bool)
    used_by_rest[rest] = True
    footprint = float(np.prod(r_hi - r_lo)) or 1e-12
    isolated, standing_area = [], 0.0
    for faces in pieces.values():
        ids = np.unique(np.concatenate([polygons[k] for k in faces]))
        area = sum(_polygon_area(vertices[polygons[k]]) for k in faces)
        if used_by_rest[ids].any():          # joined to the model's walls: its own bottom
            standing_area += area
        else:
            isolated.append((faces, ids, area))
    drop: set[int] = set()
    for faces, ids, area in isolated:
        corners = vertices[ids, :2]
        beyond = max(float((r_lo - corners.min(0)).max()), float((corners.max(0) - r_hi).max()))
        on_wheels = standing_area < 0.1 * footprint      # little of the model itself is on the floor
        if beyond > 0.05 * diagonal or (area >= 0.3 * footprint and on_wheels):
            drop.update(faces)
    return drop


def _polygon_area(corners: np.ndarray) -> float:
    """Area of a planar polygon (K, 3) by its fan of triangles."""
    cross = np.cross(corners[1:-1] - corners[0], corners[2:] - corners[0])
    return float(np.linalg.norm(cross.sum(0))) / 2.0
