"""Reading any mesh format Blender imports into numpy (vertices, triangles), world Z up.

Each importer adds objects to the current scene; we take the new mesh objects, evaluate
their modifiers, apply their world transforms, triangulate, and delete everything the
import created, so one file never leaks into the next.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

MESH_EXTENSIONS = (".obj", ".ply", ".stl", ".glb", ".gltf", ".fbx", ".blend")


class MeshImportError(Exception):
    """A mesh file that cannot be used, with the reason."""


def _import_operator(bpy, path: Path):
    ext = path.suffix.lower()
    ops = bpy.ops
    if ext == ".obj":
        return (ops.wm.obj_import if hasattr(ops.wm, "obj_import") else ops.import_scene.obj)(filepath=str(path))
    if ext == ".ply":
        return (ops.wm.ply_import if hasattr(ops.wm, "ply_import") else ops.import_mesh.ply)(filepath=str(path))
    if ext == ".stl":
        return (ops.wm.stl_import if hasattr(ops.wm, "stl_import") else ops.import_mesh.stl)(filepath=str(path))
    if ext in (".glb", ".gltf"):
        return ops.import_scene.gltf(filepath=str(path))
    if ext == ".fbx":
        return ops.import_scene.fbx(filepath=str(path))
    raise MeshImportError(f"unsupported extension {ext}")


def _append_blend(bpy, path: Path):
    with bpy.data.libraries.load(str(path), link=False) as (src, dst):
        dst.objects = list(src.objects)
    for obj in dst.objects:
        if obj is not None:
            bpy.context.scene.collection.objects.link(obj)


def load_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and triangles (F, 3) int64 of every mesh object in the file.

    Nothing in the file runs (a .blend's Python drivers or scripts), whatever Blender's
    auto-run setting says."""
    with imported_objects(Path(path)) as objects:
        return mesh_arrays(objects)


@contextmanager
def imported_objects(path: Path):
    """Import a file into the current scene; yields its mesh objects (with their materials,
    UVs and textures), and deletes everything the import created on exit. Nothing in the
    file runs (Python drivers, scripts) while its objects exist, whatever Blender's auto-run
    setting says.

    World transforms are baked into the meshes (each object's matrix_world is identity
    while in use), so the meshes' coordinates are world coordinates, Z up.
    """
    import bpy

    from blender_p2m.blender.blend_file import python_scripts_disabled

    before_objects = set(bpy.data.objects)
    before = {attr: set(getattr(bpy.data, attr)) for attr in
              ("meshes", "materials", "images", "textures", "collections", "armatures", "actions",
               "node_groups")}
    try:
        with python_scripts_disabled():
            try:
                if path.suffix.lower() == ".blend":
                    _append_blend(bpy, path)
                else:
                    result = _import_operator(bpy, path)
                    if result != {"FINISHED"}:
                        raise MeshImportError(f"importer returned {result}")
            except MeshImportError:
                raise
            except Exception as e:  # Blender importers raise RuntimeError and friends
                raise MeshImportError(f"import failed: {str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}") from None
            # Still without scripts: evaluating and rendering the objects would run their drivers.
            new_objects = [o for o in bpy.data.objects if o not in before_objects]
            yield _baked_meshes(bpy, new_objects)
    finally:
        for obj in [o for o in bpy.data.objects if o not in before_objects]:
            bpy.data.objects.remove(obj, do_unlink=True)
        for attr, old in before.items():
            coll = getattr(bpy.data, attr)
            for block in [b for b in coll if b not in old]:
                coll.remove(block)


def _baked_meshes(bpy, objects) -> list:
    """Mesh objects with modifiers applied and world transforms baked into their own meshes."""
    from mathutils import Matrix

    depsgraph = bpy.context.evaluated_depsgraph_get()
    baked = []
    for obj in objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = bpy.data.meshes.new_from_object(evaluated, preserve_all_data_layers=True, depsgraph=depsgraph)
        if len(mesh.vertices) == 0 or len(mesh.polygons) == 0:
            bpy.data.meshes.remove(mesh)
            continue
        m = evaluated.matrix_world.copy()
        mesh.transform(m)
        if m.to_3x3().determinant() < 0:   # mirrored object: keep faces outward
            mesh.flip_normals()
        obj.modifiers.clear()
        obj.animation_data_clear()             # drivers and actions: the baked mesh is final
        obj.data = mesh
        obj.matrix_world = Matrix.Identity(4)
        baked.append(obj)
    return baked


def mesh_arrays(objects) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and triangles (F, 3) int64 of baked mesh objects, checked."""
    all_v, all_f, offset = [], [], 0
    for obj in objects:
        mesh = obj.data
        mesh.calc_loop_triangles()
        n_v, n_t = len(mesh.vertices), len(mesh.loop_triangles)
        if n_v == 0 or n_t == 0:
            continue
        co = np.empty(n_v * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
        tri = np.empty(n_t * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", tri)
        all_v.append(co.reshape(-1, 3))
        all_f.append(tri.reshape(-1, 3) + offset)
        offset += n_v
    if not all_v:
        raise MeshImportError("the file contains no mesh with faces")
    vertices, faces = np.concatenate(all_v), np.concatenate(all_f)
    used, compact = np.unique(faces, return_inverse=True)   # loose vertices are no surface
    vertices, faces = vertices[used], compact.reshape(-1, 3)
    if not np.all(np.isfinite(vertices)):
        raise MeshImportError("the mesh has non-finite vertex coordinates")
    if np.linalg.norm(vertices.max(0) - vertices.min(0)) <= 0:
        raise MeshImportError("the mesh has no extent (all vertices coincide)")
    return vertices, faces
