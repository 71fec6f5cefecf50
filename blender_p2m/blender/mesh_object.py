"""Vertex and triangle arrays -> Blender meshes: a bare datablock, or an object placed by a camera.

All or nothing: if anything fails while building, every datablock made here is removed
again before the error propagates, so a failed build leaves the file as it was. Used by
the add-on (the reconstructed object), the batch (.blend outputs) and training (rendering
data and grids).
"""
from __future__ import annotations

import numpy as np

from ..errors import P2MError
from ..texture_projection import ProjectedTexture
from .camera import camera_to_world_matrix
from .image import packed_image_from_rgba

MATERIAL_SUFFIX = " image"
TEXTURE_SUFFIX = " texture"


def triangle_mesh(name: str, vertices: np.ndarray, faces: np.ndarray, repair: bool = False):
    """A new Mesh datablock of triangles, filled through foreach_set (fast, version independent).

    Args:
        vertices: (N, 3) coordinates, stored as float32.
        faces: (F, 3) vertex indices.
        repair: let Blender's validate() repair invalid faces (meshes read from files);
            otherwise invalid faces are a P2MError (a reconstruction never has any).
    """
    import bpy

    faces = np.asarray(faces, dtype=np.int32)
    n_faces = len(faces)
    mesh = bpy.data.meshes.new(name)
    try:
        mesh.vertices.add(len(vertices))
        mesh.loops.add(n_faces * 3)
        mesh.polygons.add(n_faces)
        mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).reshape(-1))
        mesh.loops.foreach_set("vertex_index", faces.reshape(-1))
        mesh.polygons.foreach_set("loop_start", np.arange(0, n_faces * 3, 3, dtype=np.int32))
        if not _loop_total_is_readonly():
            mesh.polygons.foreach_set("loop_total", np.full(n_faces, 3, dtype=np.int32))
        mesh.update(calc_edges=True)
        if mesh.validate(verbose=False, clean_customdata=False) and not repair:
            raise P2MError("The reconstructed mesh had invalid faces and could not be built. "
                           "Try another stage or image; if it persists, report it as a bug.")
    except Exception:
        bpy.data.meshes.remove(mesh)
        raise
    return mesh


def _loop_total_is_readonly() -> bool:
    """Blender 4.0+ derives each polygon's corner count from loop_start (read-only)."""
    import bpy

    return bpy.types.MeshPolygon.bl_rna.properties["loop_total"].is_readonly


def _set_smooth(mesh, smooth: bool) -> None:
    if hasattr(mesh, "shade_smooth"):                           # Blender 4.1+
        mesh.shade_smooth() if smooth else mesh.shade_flat()
    else:
        mesh.polygons.foreach_set("use_smooth", [smooth] * len(mesh.polygons))


def _image_material(name: str, image):
    """A material whose base colour is the image, looked up through the mesh's UVs."""
    import bpy

    material = bpy.data.materials.new(name)
    try:
        if not getattr(material, "node_tree", None) or not material.node_tree:
            material.use_nodes = True                           # Blender < 5.0
        nodes = material.node_tree.nodes
        bsdf = next(n for n in nodes if n.type == 'BSDF_PRINCIPLED')
        texture = nodes.new("ShaderNodeTexImage")
        texture.image = image
        texture.extension = 'EXTEND'
        texture.interpolation = 'Linear'
        texture.location = (bsdf.location.x - 320, bsdf.location.y)
        material.node_tree.links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
        if "Roughness" in bsdf.inputs:
            bsdf.inputs["Roughness"].default_value = 1.0
    except Exception:
        bpy.data.materials.remove(material)
        raise
    return material


def create_mesh_object(collection, vertices_cam: np.ndarray, faces: np.ndarray, camera_object,
                       name: str, shade_smooth: bool = False, parent_to_camera: bool = False,
                       texture: ProjectedTexture | None = None, props: dict | None = None):
    """Build the reconstructed mesh as an object in `collection`, aligned with the camera.

    Args:
        collection: the bpy Collection to link the new object into.
        vertices_cam: (N, 3) vertices in the camera frame (X right, Y up, looking down -Z).
        faces: (F, 3) vertex indices, counter-clockwise seen from outside.
        camera_object: the camera the vertices are relative to (its matrix_world places them).
        name: name for the object and its mesh (Blender adds .001 if taken).
        shade_smooth: smooth shading instead of flat.
        parent_to_camera: parent the object to the camera, keeping its world transform.
        texture: the picture projected through the camera (texture_projection), stored as
            a packed image and shown by a material through the mesh's UVs.
        props: custom properties to record on the object (source image, weights, stage, ...).

    Returns:
        The new object, linked, selected and active in the view layer if it is visible there.
    """
    import bpy

    vertices_cam = np.asarray(vertices_cam, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices_cam.ndim != 2 or vertices_cam.shape[1] != 3 or len(vertices_cam) == 0:
        raise P2MError(f"Expected (N, 3) vertices, got an array of shape {vertices_cam.shape}.")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise P2MError(f"Expected (F, 3) triangles, got an array of shape {faces.shape}.")
    if faces.min() < 0 or faces.max() >= len(vertices_cam):
        raise P2MError("The faces refer to vertices that do not exist.")
    if not np.all(np.isfinite(vertices_cam)):
        raise P2MError("The reconstruction contains NaN or infinite vertices (the weights may "
                       "be damaged). Try another weights file or stage.")
    if texture is not None and texture.uvs.shape != (len(faces) * 3, 2):
        raise P2MError(f"The texture has UVs for {len(texture.uvs)} face corners, the mesh "
                       f"has {len(faces) * 3}.")

    to_world = np.array(camera_to_world_matrix(camera_object), dtype=np.float64)  # (4, 4)
    vertices_world = vertices_cam @ to_world[:3, :3].T + to_world[:3, 3]            # (N, 3)
    uvs = None if texture is None else texture.uvs.reshape(len(faces), 3, 2)        # (F, 3, 2)
    if np.linalg.det(to_world[:3, :3]) < 0:          # a mirrored camera flips the winding
        faces = faces[:, ::-1]
        uvs = None if uvs is None else uvs[:, ::-1]

    created = []                                     # (collection, datablock), newest last
    try:
        mesh = triangle_mesh(name, vertices_world, faces)
        created.append((bpy.data.meshes, mesh))
        _set_smooth(mesh, shade_smooth)
        if texture is not None:
            uv_layer = mesh.uv_layers.new(name="CameraProjection")
            uv_layer.data.foreach_set("uv", np.ascontiguousarray(uvs, dtype=np.float32).reshape(-1))
            image = packed_image_from_rgba(name + TEXTURE_SUFFIX, texture.pixels)
            created.append((bpy.data.images, image))
            material = _image_material(name + MATERIAL_SUFFIX, image)
            created.append((bpy.data.materials, material))
            mesh.materials.append(material)
        obj = bpy.data.objects.new(name, mesh)
        created.append((bpy.data.objects, obj))
        for key, value in (props or {}).items():
            obj[key] = value
        collection.objects.link(obj)
        if parent_to_camera:
            obj.parent = camera_object
            obj.matrix_parent_inverse = camera_object.matrix_world.inverted()
        _select_only(obj)
        return obj
    except Exception:
        for data, block in reversed(created):
            data.remove(block)
        raise


def _select_only(obj) -> None:
    """Make obj the only selected object and the active one, where the view layer shows it."""
    import bpy

    view_layer = bpy.context.view_layer
    if view_layer is None:
        return
    for other in list(view_layer.objects.selected):
        other.select_set(False)
    try:
        obj.select_set(True, view_layer=view_layer)
    except RuntimeError:
        return                          # linked into a collection this view layer excludes
    view_layer.objects.active = obj


def replace_object(scene, old, name: str, mesh):
    """A new object showing `mesh`, linked to the scene in place of `old` (removed together
    with its mesh): one object slot reused render after render."""
    import bpy

    if old is not None:
        old_mesh = old.data
        bpy.data.objects.remove(old)
        bpy.data.meshes.remove(old_mesh)
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj
