"""Mesh file formats in plain numpy (no bpy): OBJ, PLY (binary) and GLB (binary glTF 2.0).

Every writer takes camera-frame vertices (N, 3) (X right, Y up, looking down -Z, metres)
and triangles (F, 3) wound counter-clockwise seen from outside, and returns the file's bytes;
atomic_files puts them on disk. Coordinates are written as they are:

- glTF is +Y up and its cameras look down -Z: exactly the camera frame, so a GLB viewed
  from its origin (the camera node written alongside) shows the mesh where the image does.
- OBJ and PLY have no declared axes; importers that assume "Y up, -Z forward" (Blender's
  OBJ importer default) stand the mesh upright, as the camera saw it.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

from ..intrinsics import Intrinsics

GENERATOR = "blender-p2m"
FRAME_NOTE = "camera frame: X right, Y up, looking down -Z; metres"

# glTF constants (glTF 2.0 specification, section 5).
GLB_MAGIC = b"glTF"
GLB_VERSION = 2
CHUNK_JSON = b"JSON"
CHUNK_BIN = b"BIN\x00"
FLOAT = 5126
UNSIGNED_INT = 5125
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
TRIANGLES = 4
CAMERA_ZNEAR = 0.01


def _check(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices, dtype=np.float32)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"expected (N, 3) vertices and (F, 3) faces, got {vertices.shape}, "
                         f"{faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError("faces refer to vertices that do not exist")
    return vertices, faces


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals: the area-weighted mean of the adjacent faces' normals (outward
    for counter-clockwise faces). A vertex without area gets +Y, so every normal is unit."""
    v = vertices.astype(np.float64)
    face_normals = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])  # (F, 3)
    normals = np.zeros_like(v)                                                                # (N, 3)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)                                   # (N, 1)
    fallback = np.array([0.0, 1.0, 0.0])
    normals = np.where(length > 1e-20, normals / np.maximum(length, 1e-30), fallback)
    return normals.astype(np.float32)


# ----------------------------------------------------------------------------- OBJ
def obj_bytes(vertices: np.ndarray, faces: np.ndarray, name: str = "mesh") -> bytes:
    """Wavefront OBJ: `v x y z` lines then 1-based `f a b c` lines."""
    vertices, faces = _check(vertices, faces)
    lines = [f"# {GENERATOR}: {len(vertices)} vertices, {len(faces)} triangles",
             f"# {FRAME_NOTE}", f"o {_one_line(name)}"]
    lines += [f"v {x:.7g} {y:.7g} {z:.7g}" for x, y, z in vertices.tolist()]
    lines += [f"f {a} {b} {c}" for a, b, c in (faces + 1).tolist()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "mesh"


# ----------------------------------------------------------------------------- PLY
def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary little-endian PLY: float x, y, z per vertex; uchar-counted int indices per face."""
    vertices, faces = _check(vertices, faces)
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"comment {GENERATOR}; {FRAME_NOTE}\n"
              f"element vertex {len(vertices)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              f"element face {len(faces)}\n"
              "property list uchar int vertex_indices\nend_header\n").encode("ascii")
    records = np.empty(len(faces), dtype=np.dtype([("n", "u1"), ("v", "<i4", (3,))]))  # packed, 13 B
    records["n"] = 3
    records["v"] = faces
    return header + vertices.astype("<f4").tobytes() + records.tobytes()


# ----------------------------------------------------------------------------- GLB
def gltf_camera(intrinsics: Intrinsics) -> dict:
    """A glTF perspective camera with the image's field of view and aspect ratio. glTF has
    no principal point: an off-centre (cx, cy) is not represented."""
    yfov = 2.0 * math.atan(intrinsics.height / (2.0 * intrinsics.fy))
    aspect = (intrinsics.width * intrinsics.fy) / (intrinsics.height * intrinsics.fx)
    return {"type": "perspective", "name": "camera",
            "perspective": {"yfov": yfov, "aspectRatio": aspect, "znear": CAMERA_ZNEAR}}


def glb_bytes(vertices: np.ndarray, faces: np.ndarray, name: str = "mesh",
              intrinsics: Intrinsics | None = None) -> bytes:
    """Binary glTF 2.0: one mesh (POSITION, NORMAL, uint32 indices) and, given the
    intrinsics, the camera at the origin looking down -Z (the frame the mesh is in)."""
    vertices, faces = _check(vertices, faces)
    positions = np.ascontiguousarray(vertices, dtype="<f4")                  # (N, 3)
    normals = np.ascontiguousarray(vertex_normals(vertices, faces), dtype="<f4")  # (N, 3)
    indices = np.ascontiguousarray(faces.reshape(-1), dtype="<u4")          # (3F,)
    blobs = [positions.tobytes(), normals.tobytes(), indices.tobytes()]     # each a multiple of 4
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    binary = b"".join(blobs)
    views = [{"buffer": 0, "byteOffset": int(offsets[i]), "byteLength": len(blobs[i]),
              "target": ARRAY_BUFFER if i < 2 else ELEMENT_ARRAY_BUFFER} for i in range(3)]
    accessors = [
        {"bufferView": 0, "componentType": FLOAT, "count": len(positions), "type": "VEC3",
         "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": FLOAT, "count": len(normals), "type": "VEC3"},
        {"bufferView": 2, "componentType": UNSIGNED_INT, "count": len(indices), "type": "SCALAR"},
    ]
    nodes = [{"name": name, "mesh": 0}]
    document = {
        "asset": {"version": "2.0", "generator": GENERATOR, "extras": {"frame": FRAME_NOTE}},
        "scene": 0, "scenes": [{"name": name, "nodes": [0]}], "nodes": nodes,
        "meshes": [{"name": name, "primitives": [
            {"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "mode": TRIANGLES}]}],
        "buffers": [{"byteLength": len(binary)}], "bufferViews": views, "accessors": accessors,
    }
    if intrinsics is not None:
        nodes.append({"name": "camera", "camera": 0})
        document["scenes"][0]["nodes"].append(1)
        document["cameras"] = [gltf_camera(intrinsics)]
    json_chunk = _pad(json.dumps(document, separators=(",", ":")).encode("utf-8"), b" ")
    bin_chunk = _pad(binary, b"\x00")
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join([struct.pack("<4sII", GLB_MAGIC, GLB_VERSION, total),
                     struct.pack("<I4s", len(json_chunk), CHUNK_JSON), json_chunk,
                     struct.pack("<I4s", len(bin_chunk), CHUNK_BIN), bin_chunk])


def _pad(data: bytes, filler: bytes) -> bytes:
    return data + filler * (-len(data) % 4)


WRITERS = {
    "obj": lambda v, f, name, intr: obj_bytes(v, f, name),
    "ply": lambda v, f, name, intr: ply_bytes(v, f),
    "glb": lambda v, f, name, intr: glb_bytes(v, f, name, intr),
}
