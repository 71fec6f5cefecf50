"""The panel's settings, saved with the scene (``scene.pixel2mesh``)."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, PointerProperty, StringProperty

from ..stage_names import STAGE_NAMES

# (label, description) of each stage, coarse to fine.
STAGE_ITEMS = tuple((name, label, description) for name, (label, description) in zip(STAGE_NAMES, (
    ("Coarse (156 vertices)", "First deformation stage: a rough blob"),
    ("Medium (618 vertices)", "Second stage"),
    ("Fine (2466 vertices)", "Final stage: the most detail"),
), strict=True))
DEVICE_ITEMS = (
    ('DEFAULT', "Default", "The default device from the add-on preferences"),
    ('AUTO', "Auto", "A CUDA GPU when PyTorch sees one, otherwise the CPU"),
    ('CPU', "CPU", "Run on the processor (works everywhere)"),
    ('CUDA', "CUDA", "Run on an NVIDIA GPU (needs a CUDA build of PyTorch)"),
)
IMAGE_SOURCE_ITEMS = (
    ('DATABLOCK', "Image", "An image already loaded in this file"),
    ('FILE', "File", "An image file on disk"),
    ('CAMERA_BACKGROUND', "Background", "The camera's background image"),
)
BACKGROUND_ITEMS = (
    ('AUTO', "Auto", "Remove the background of pictures without transparency when the weights "
                     "can (they have a silhouette head); keep it otherwise"),
    ('ON', "On", "The network finds the object and whitens everything else before reconstructing "
                 "(needs weights with a silhouette head)"),
    ('OFF', "Off", "Use the picture as it is (transparency is composited on white)"),
)
# The panel's choice -> blender_p2m.api's background argument.
BACKGROUND_MODES = {'AUTO': "auto", 'ON': "remove", 'OFF': "keep"}
PLACEMENT_ITEMS = (
    ('PREDICTED', "As Predicted", "Keep the depth the network predicted"),
    ('CURSOR', "3D Cursor Depth",
     "Scale the mesh about the camera centre so it sits at the 3D cursor's distance from the "
     "camera (it still lines up with the image)"),
)


def _is_camera(_self, obj) -> bool:
    return obj.type == 'CAMERA'


class P2M_PG_settings(bpy.types.PropertyGroup):
    """Inputs and options of the Reconstruct button for one scene."""

    image_source: EnumProperty(name="Source", items=IMAGE_SOURCE_ITEMS, default='DATABLOCK',
                               description="Where the picture of the object comes from")
    image: PointerProperty(name="Image", type=bpy.types.Image,
                           description="Picture of the object, taken through the camera")
    image_path: StringProperty(name="File", subtype='FILE_PATH',
                               description="Image file of the object, taken through the camera")
    camera: PointerProperty(name="Camera", type=bpy.types.Object, poll=_is_camera,
                            description="Camera the picture was taken with (empty: the scene camera)")
    stage: EnumProperty(name="Output", items=STAGE_ITEMS, default=STAGE_NAMES[-1],
                        description="Which stage of the network to turn into the mesh")
    crop_to_object: BoolProperty(
        name="Crop to Object", default=False,
        description="Let the network look at the object only (for small or off-centre objects)")
    remove_background: EnumProperty(name="Remove Background", items=BACKGROUND_ITEMS, default='AUTO',
                                    description="Whether the object is separated from the picture's "
                                                "background before reconstructing")
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default='DEFAULT',
                         description="Where the network runs")
    shade_smooth: BoolProperty(name="Shade Smooth", default=True,
                               description="Smooth shading instead of flat facets")
    project_texture: BoolProperty(
        name="Project Image as Texture", default=False,
        description="UV-map the mesh by projecting it through the camera and give it a "
                    "material showing the image")
    placement: EnumProperty(name="Placement", items=PLACEMENT_ITEMS, default='PREDICTED',
                            description="How far from the camera the mesh is placed")
    parent_to_camera: BoolProperty(name="Parent to Camera", default=False,
                                   description="Parent the mesh to the camera (it keeps its place)")
    object_name: StringProperty(name="Name", default="Pixel2Mesh",
                                description="Name of the new object")


CLASSES = (P2M_PG_settings,)


def register_scene_property() -> None:
    bpy.types.Scene.pixel2mesh = PointerProperty(type=P2M_PG_settings)


def unregister_scene_property() -> None:
    del bpy.types.Scene.pixel2mesh
