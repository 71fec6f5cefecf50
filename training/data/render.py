"""Rendering training views with Blender (the bpy module): one scene per worker process.

Cycles (8 samples, no denoising) gives soft shadows and realistic shading at about 0.1 s
per 224 px view; Workbench is about three times faster but flat. Both are measured by
benchmarks/bench_data_build.py. The film is transparent, so alpha is exactly the
silhouette of the whole object.
"""
from __future__ import annotations

import colorsys
import math
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from blender_p2m.blender.camera import set_camera_from_intrinsics
from blender_p2m.blender.mesh_object import replace_object, triangle_mesh
from blender_p2m.intrinsics import Intrinsics

from .surface import normalise
from .views import View


class Renderer:
    """Owns a minimal Blender scene: camera, sun, world, one material and one object slot."""

    def __init__(self, image_size: int, engine: str = "cycles", threads: int = 0):
        import bpy

        self.bpy = bpy
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        render = scene.render
        render.resolution_x = render.resolution_y = image_size
        render.resolution_percentage = 100
        render.film_transparent = True
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode = "RGBA"
        render.image_settings.color_depth = "8"
        if threads:
            render.threads_mode = "FIXED"
            render.threads = threads
        if engine == "cycles":
            render.engine = "CYCLES"
            scene.cycles.device = "CPU"
            scene.cycles.samples = 8
            scene.cycles.use_denoising = False
            scene.cycles.max_bounces = 2
            scene.cycles.use_adaptive_sampling = False
        elif engine == "workbench":
            render.engine = "BLENDER_WORKBENCH"
            scene.display.shading.light = "STUDIO"
            scene.display.shading.color_type = "TEXTURE"    # image textures; material colour elsewhere
            scene.display.shading.show_specular_highlight = True
        else:
            raise ValueError(f"unknown render engine {engine!r}: use 'cycles' or 'workbench'")
        self.engine = engine
        self.image_size = image_size
        scene.view_settings.view_transform = "Standard"

        camera_data = bpy.data.cameras.new("p2m_camera")
        camera_data.clip_start = 0.01
        camera_data.clip_end = 100.0
        self.camera = bpy.data.objects.new("p2m_camera", camera_data)
        scene.collection.objects.link(self.camera)
        scene.camera = self.camera

        sun = bpy.data.lights.new("p2m_sun", "SUN")
        sun.angle = math.radians(8.0)
        self.sun = bpy.data.objects.new("p2m_sun", sun)
        scene.collection.objects.link(self.sun)

        world = bpy.data.worlds.new("p2m_world")
        world.use_nodes = True
        self.world_background = world.node_tree.nodes["Background"]
        scene.world = world

        self.material = bpy.data.materials.new("p2m_material")
        self.material.use_nodes = True
        self.bsdf = self.material.node_tree.nodes["Principled BSDF"]
        self.object = None
        self.scene = scene
        self._imported = ExitStack()    # the imported model file's objects, removed on close

    def set_mesh(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        """Replace the object (world coordinates, Z up)."""
        self._imported.close()
        mesh = triangle_mesh("p2m_object", vertices, faces, repair=True)
        mesh.materials.append(self.material)
        self.object = replace_object(self.scene, self.object, "p2m_object", mesh)

    def set_model_file(self, path: Path, diagonal: float) -> tuple[np.ndarray, np.ndarray]:
        """Replace the object by a mesh file with its own materials, UVs and textures.

        The file's objects are scaled and moved to the convention (bounding-box diagonal
        `diagonal`, centre at the origin) exactly as `surface.normalise` moves the returned
        vertices, so the ground truth sampled from them lines up with the render. Parts
        without a material get the randomised one, as procedural objects do.

        Returns:
            vertices (N, 3) float64 and triangles (F, 3) int64, normalised, world Z up.
        """
        from mathutils import Matrix

        from .mesh_import import imported_objects, mesh_arrays

        self._imported.close()
        if self.object is not None:           # the previous procedural object
            old_mesh = self.object.data
            self.bpy.data.objects.remove(self.object)
            self.bpy.data.meshes.remove(old_mesh)
            self.object = None
        objects = self._imported.enter_context(imported_objects(Path(path)))
        vertices, faces = mesh_arrays(objects)
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        scale = diagonal / np.linalg.norm(hi - lo)
        centre = (lo + hi) / 2.0
        placement = Matrix.Diagonal((scale, scale, scale, 1.0)) @ Matrix.Translation(tuple(-centre))
        for obj in objects:
            obj.data.transform(placement)
            if not obj.data.materials:
                obj.data.materials.append(self.material)
            for slot in obj.material_slots:
                if slot.material is None:
                    slot.material = self.material
        return normalise(vertices, diagonal), faces

    def randomise_appearance(self, rng: np.random.Generator) -> dict:
        """Random base colour, roughness, sun direction and strength; returns what was drawn."""
        hue, sat, val = rng.uniform(), rng.uniform(0.0, 0.8), rng.uniform(0.25, 0.95)
        colour = colorsys.hsv_to_rgb(hue, sat, val)
        roughness = rng.uniform(0.2, 0.9)
        sun_azimuth, sun_elevation = rng.uniform(0, 360), rng.uniform(25, 80)
        strength = rng.uniform(1.5, 4.0)
        ambient = rng.uniform(0.6, 1.2)
        self.bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
        self.bsdf.inputs["Roughness"].default_value = roughness
        self.material.diffuse_color = (*colour, 1.0)   # Workbench uses the viewport colour
        self.material.roughness = roughness
        self.sun.data.energy = strength
        self.sun.rotation_euler = (math.radians(90 - sun_elevation), 0.0, math.radians(sun_azimuth))
        self.world_background.inputs["Strength"].default_value = ambient
        if self.engine == "workbench":
            self.scene.display.shading.studiolight_rotate_z = math.radians(sun_azimuth - 180)
        return {"colour": list(colour), "roughness": roughness, "sun_azimuth": sun_azimuth,
                "sun_elevation": sun_elevation, "sun_strength": strength, "ambient": ambient}

    def render_view(self, view: View, path: Path) -> None:
        """Render one view to a PNG (RGBA, transparent background)."""
        from mathutils import Matrix

        self.camera.matrix_world = Matrix(np.linalg.inv(view.world_to_camera).tolist())
        set_camera_from_intrinsics(self.camera.data, self.scene, Intrinsics(
            view.fx, view.fy, view.cx, view.cy, self.image_size, self.image_size))
        self.scene.render.filepath = str(path)
        self.bpy.ops.render.render(write_still=True)
