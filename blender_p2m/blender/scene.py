"""A reconstruction as a Blender scene of its own (needs bpy only when a scene is built).

Each image gets its own scene: a camera built from the image's intrinsics (render size,
lens, shift: camera.py) with the image as its background, and the mesh placed in front of
it (mesh_object.py), so looking through the camera shows the mesh over the picture. The
camera stands at the world origin looking along +Y with +Z up, unless the intrinsics came
from a .blend camera, whose pose is kept.

Scenes are built in the running session, written with blend_file.write_blend (which saves
only them and what they use: the session itself is never replaced) or rendered, and
removed again with remove_datablocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..intrinsics import Intrinsics
from .camera import set_camera_from_intrinsics
from .mesh_object import create_mesh_object

CAMERA_CLIP_START = 0.01                       # metres: objects may be closer than 0.1 m


@dataclass
class SceneContent:
    """What one image's scene shows.

    Attributes:
        name: the scene's, the mesh object's and (with " camera") the camera's name.
        vertices: (N, 3) camera frame; faces: (F, 3) counter-clockwise from outside.
        intrinsics: of the image as given.
        image_path: the input image, shown as the camera's background (None: no background).
        pose: 4 x 4 camera-to-world rows, or None for the default pose.
        props: custom properties recorded on the mesh object.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    intrinsics: Intrinsics
    image_path: Path | None = None
    pose: tuple | None = None
    props: dict = field(default_factory=dict)


@dataclass
class BuiltScene:
    """A scene made here and every datablock made with it (to remove them afterwards)."""

    scene: object
    datablocks: list


def default_camera_pose():
    """At the origin, looking along world +Y, world +Z up in the picture."""
    from mathutils import Euler

    return Euler((math.pi / 2, 0.0, 0.0), 'XYZ').to_matrix().to_4x4()


def build_scene(content: SceneContent) -> BuiltScene:
    """Make the scene; all or nothing (a failure removes what was made, then re-raises)."""
    import bpy
    from mathutils import Matrix

    made = []
    try:
        scene = bpy.data.scenes.new(content.name)
        made.append(scene)
        camera_data = bpy.data.cameras.new(f"{content.name} camera")
        made.append(camera_data)
        set_camera_from_intrinsics(camera_data, scene, content.intrinsics)
        camera_data.clip_start = CAMERA_CLIP_START
        camera = bpy.data.objects.new(f"{content.name} camera", camera_data)
        made.append(camera)
        scene.collection.objects.link(camera)
        scene.camera = camera
        camera.matrix_world = Matrix(content.pose) if content.pose is not None else default_camera_pose()
        made += _add_background(camera_data, content.image_path)
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            obj = create_mesh_object(scene.collection, content.vertices, content.faces, camera,
                                     content.name, props=content.props)   # selects it there
        made += [obj, obj.data]
        return BuiltScene(scene, made)
    except Exception:
        remove_datablocks(made)
        raise


def _add_background(camera_data, image_path: Path | None) -> list:
    """Show the input image behind the camera's view (cosmetic: skipped if Blender cannot
    read the file)."""
    import bpy

    if image_path is None:
        return []
    try:
        image = bpy.data.images.load(str(Path(image_path).resolve()), check_existing=False)
    except RuntimeError:
        return []
    background = camera_data.background_images.new()
    background.image = image
    background.alpha = 1.0
    camera_data.show_background_images = True
    return [image]


def remove_datablocks(datablocks: list) -> None:
    """Remove datablocks made here (already removed ones are ignored)."""
    import bpy

    alive = []
    for block in datablocks:
        try:
            _ = block.name                          # raises ReferenceError once removed
            alive.append(block)
        except ReferenceError:
            pass
    if alive:
        bpy.data.batch_remove(alive)
