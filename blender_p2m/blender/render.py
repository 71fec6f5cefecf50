"""Rendering a scene with Workbench (fast, no GPU needed) into an RGBA array.

One setup for every picture of a mesh the project draws: the batch previews and the
training grids. The film is transparent, so alpha is the mesh's silhouette.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .image import read_file_rgba
from .quiet import quiet_blender_output


def use_workbench(scene, colour: tuple[float, float, float]) -> None:
    """Workbench with studio light, every mesh in one colour, a transparent PNG film and
    the Standard view transform (colours as given, no filmic curve)."""
    render = scene.render
    render.engine = 'BLENDER_WORKBENCH'
    render.film_transparent = True
    render.use_file_extension = False
    render.image_settings.file_format = 'PNG'
    render.image_settings.color_mode = 'RGBA'
    scene.view_settings.view_transform = 'Standard'
    shading = scene.display.shading
    shading.light = 'STUDIO'
    shading.color_type = 'SINGLE'
    shading.single_color = colour


def render_rgba(scene) -> np.ndarray:
    """Render the scene through its camera -> (h, w, 4) float32 top-down RGBA.

    The render file goes to the system's temporary folder ('#' in a path would become a
    frame number), and is read back and deleted at once."""
    import bpy

    with tempfile.TemporaryDirectory(prefix="p2m-render-") as folder:
        scene.render.filepath = os.path.join(folder, "render.png")
        with quiet_blender_output():
            bpy.ops.render.render(write_still=True, scene=scene.name)
        return read_file_rgba(scene.render.filepath)
