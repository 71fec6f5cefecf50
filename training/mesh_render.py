"""Rendering meshes given in a camera frame with Blender (Workbench), for grids and previews.

The Blender camera sits at the world origin with identity rotation, so world coordinates
are camera-frame coordinates (X right, Y up, looking down -Z) and intrinsics map directly.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .blender_scene import SENSOR_WIDTH_MM, apply_intrinsics, mesh_from_arrays, replace_object


class CameraFrameRenderer:
    def __init__(self, size: int = 224):
        import bpy

        self.bpy = bpy
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        r = scene.render
        r.engine = "BLENDER_WORKBENCH"
        r.resolution_x = r.resolution_y = size
        r.resolution_percentage = 100
        r.film_transparent = True
        r.image_settings.file_format = "PNG"
        r.image_settings.color_mode = "RGBA"
        scene.display.shading.light = "STUDIO"
        scene.display.shading.color_type = "SINGLE"
        scene.display.shading.show_cavity = True
        scene.view_settings.view_transform = "Standard"
        cam = bpy.data.cameras.new("cam")
        cam.sensor_fit = "HORIZONTAL"
        cam.sensor_width = SENSOR_WIDTH_MM
        cam.clip_start, cam.clip_end = 0.01, 100
        self.camera = bpy.data.objects.new("cam", cam)
        scene.collection.objects.link(self.camera)
        scene.camera = self.camera
        self.scene, self.size, self.obj = scene, size, None
        self.tmp = Path(tempfile.mkdtemp(prefix="p2m_render_"))

    def render(self, vertices: np.ndarray, faces: np.ndarray, intrinsics, colour=(0.8, 0.55, 0.3)) -> np.ndarray:
        """RGBA uint8 (size, size, 4) of the mesh seen through intrinsics (fx, fy, cx, cy) of a size x size image."""
        mesh = mesh_from_arrays(self.bpy, "m", vertices, faces)
        self.obj = replace_object(self.bpy, self.scene, self.obj, "m", mesh)
        self.scene.display.shading.single_color = colour
        fx, fy, cx, cy = (float(x) for x in intrinsics)
        apply_intrinsics(self.camera.data, fx, cx, cy, self.size)
        path = self.tmp / "r.png"
        self.scene.render.filepath = str(path)
        self.bpy.ops.render.render(write_still=True)
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA")).copy()


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


def quiet_stdout():
    """Blender prints a line per render; keep logs readable."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)
    return saved


def restore_stdout(saved: int) -> None:
    os.dup2(saved, 1)
