"""Small bpy helpers shared by the data renderer and the mesh renderer (one implementation each)."""
from __future__ import annotations

import numpy as np

SENSOR_WIDTH_MM = 36.0


def mesh_from_arrays(bpy, name: str, vertices: np.ndarray, faces: np.ndarray):
    """A new mesh datablock from (N, 3) vertices and (F, 3) triangles, via foreach_set (fast)."""
    faces = np.asarray(faces, dtype=np.int32)
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    if len(faces) and not mesh.polygons[0].bl_rna.properties["loop_total"].is_readonly:
        mesh.polygons.foreach_set("loop_total", np.full(len(faces), 3, dtype=np.int32))
    mesh.update(calc_edges=True)
    mesh.validate(clean_customdata=False)
    return mesh


def replace_object(bpy, scene, old, name: str, mesh):
    """Remove the previous object and its mesh, link a new object using `mesh`."""
    if old is not None:
        old_mesh = old.data
        bpy.data.objects.remove(old)
        bpy.data.meshes.remove(old_mesh)
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj


def apply_intrinsics(camera_data, fx: float, cx: float, cy: float, size: int) -> None:
    """Set lens and shift of a HORIZONTAL-fit camera so that a size x size render has these intrinsics (fy = fx)."""
    camera_data.sensor_fit = "HORIZONTAL"
    camera_data.sensor_width = SENSOR_WIDTH_MM
    camera_data.lens = fx * SENSOR_WIDTH_MM / size
    camera_data.shift_x = (size / 2 - cx) / size
    camera_data.shift_y = (cy - size / 2) / size
