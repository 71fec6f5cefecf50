"""Rendering meshes given in a camera frame with Blender (Workbench), for grids and previews.

The Blender camera sits at the world origin with identity rotation, so world coordinates
are camera-frame coordinates (X right, Y up, looking down -Z) and intrinsics map directly.
The camera, mesh and render helpers are blender_p2m.blender's.
"""
from __future__ import annotations

import numpy as np

from blender_p2m.blender.camera import set_camera_from_intrinsics
from blender_p2m.blender.mesh_object import replace_object, triangle_mesh
from blender_p2m.blender.render import render_rgba, use_workbench
from blender_p2m.intrinsics import Intrinsics

MESH_COLOUR = (0.8, 0.55, 0.3)


class CameraFrameRenderer:
    """One scene (camera at the origin, one object slot) rendering meshes through intrinsics."""

    def __init__(self, size: int = 224):
        import bpy

        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        use_workbench(scene, MESH_COLOUR)
        scene.display.shading.show_cavity = True
        camera_data = bpy.data.cameras.new("cam")
        camera_data.clip_start, camera_data.clip_end = 0.01, 100
        self.camera = bpy.data.objects.new("cam", camera_data)
        scene.collection.objects.link(self.camera)
        scene.camera = self.camera
        self.scene, self.size, self.obj = scene, size, None

    def render(self, vertices: np.ndarray, faces: np.ndarray, intrinsics, colour=MESH_COLOUR) -> np.ndarray:
        """RGBA uint8 (size, size, 4) of the mesh seen through intrinsics (fx, fy, cx, cy) of a size x size image."""
        mesh = triangle_mesh("m", vertices, faces, repair=True)
        self.obj = replace_object(self.scene, self.obj, "m", mesh)
        self.scene.display.shading.single_color = colour
        fx, fy, cx, cy = (float(x) for x in intrinsics)
        set_camera_from_intrinsics(self.camera.data, self.scene, Intrinsics(fx, fy, cx, cy, self.size, self.size))
        rgba = render_rgba(self.scene)
        return (rgba * 255.0 + 0.5).astype(np.uint8)


def point_cloud_mesh(points: np.ndarray, radius: float = 0.004) -> tuple[np.ndarray, np.ndarray]:
    """A small tetrahedron at every point, so a point cloud renders as a surface of dots."""
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64) * radius
    tfaces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    v = (points[:, None, :] + tetra[None]).reshape(-1, 3)
    f = (tfaces[None] + 4 * np.arange(len(points))[:, None, None]).reshape(-1, 3)
    return v, f


def rotate_about(vertices: np.ndarray, centre: np.ndarray, degrees: float) -> np.ndarray:
    """Turn a camera-frame mesh about the vertical axis through `centre` (a side view)."""
    a = np.radians(degrees)
    r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return (vertices - centre) @ r.T + centre

