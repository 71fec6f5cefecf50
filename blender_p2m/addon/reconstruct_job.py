"""What one click of Reconstruct does, apart from the waiting: check the inputs and turn
the model's output into the object. Runs on the main thread; needs numpy.
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass

import bpy

from ..blender import camera
from ..blender.mesh_object import create_mesh_object
from ..errors import P2MError
from ..intrinsics import Intrinsics
from ..network_view import network_view
from . import image_input, network_preview, placement, worker
from .prefs import get_preferences
from .props import BACKGROUND_MODES


@dataclass(frozen=True)
class ReconstructPlan:
    """A click's inputs, checked on the main thread. Holds names, never bpy references,
    because the user may delete things while the worker runs."""

    request: worker.ReconstructRequest
    scene_name: str
    camera_name: str
    image: image_input.ImageInput
    options: dict


def check_aspect(width: int, height: int, intr: Intrinsics, camera_name: str) -> None:
    """The image must show what the camera renders: the same aspect ratio (the API's rule,
    checked here first to name the render settings that fix it)."""
    image_aspect, render_aspect = width / height, intr.width / intr.height
    if not intr.has_aspect_of(width, height):
        raise P2MError(
            f"The image is {width}x{height} (aspect {image_aspect:.3f}) but camera "
            f"'{camera_name}' renders {intr.width}x{intr.height} (aspect {render_aspect:.3f}), so "
            f"they cannot line up. Set Output Properties > Format > Resolution to {width}x{height} "
            f"(or the same aspect ratio), or crop the image to {render_aspect:.3f}:1.")


def _device(settings, prefs) -> str:
    choice = settings.device
    if choice == 'DEFAULT':
        choice = prefs.default_device if prefs is not None else 'AUTO'
    return choice.lower()


def _weights(prefs) -> str | None:
    """The preferences' weights file (None: the bundled weights), checked before any work."""
    setting = prefs.weights_path if prefs is not None else ""
    if not setting:
        return None
    path = os.path.normpath(bpy.path.abspath(setting))
    if not os.path.isfile(path):
        raise P2MError(f"Weights file not found: {path}. Fix it in Edit > Preferences > Add-ons "
                       f"> Pixel2Mesh, or leave it empty to use the bundled weights.")
    return path


def plan_reconstruction(context) -> ReconstructPlan:
    """Read and check the panel's inputs; P2MError says what is missing or wrong."""
    scene = context.scene
    settings = scene.pixel2mesh
    context.view_layer.update()              # matrix_world of objects a script just moved
    camera_object = settings.camera or scene.camera
    intrinsics = camera.intrinsics_from_camera(camera_object, scene)
    if not settings.object_name.strip():
        raise P2MError("The object name is empty. Type a name in the Pixel2Mesh panel.")
    image = image_input.read_image_input(settings, camera_object)
    height, width = image.rgba.shape[:2]
    check_aspect(width, height, intrinsics, camera_object.name)
    if settings.placement == 'CURSOR':
        placement.check_target_depth(camera.camera_depth_of(camera_object, scene.cursor.location))
    prefs = get_preferences(context)
    weights = _weights(prefs)
    request = worker.ReconstructRequest(
        rgba=image.rgba, intrinsics=intrinsics, stage=settings.stage,
        crop="object" if settings.crop_to_object else None,
        weights=weights, device=_device(settings, prefs),
        background=BACKGROUND_MODES[settings.remove_background],
        project_texture=settings.project_texture)
    options = dict(name=settings.object_name.strip(), shade_smooth=settings.shade_smooth,
                   placement=settings.placement,
                   parent_to_camera=settings.parent_to_camera)
    return ReconstructPlan(request, scene.name, camera_object.name, image, options)


def build_result(context, plan: ReconstructPlan, outcome: worker.ReconstructOutcome):
    """Main thread: turn the worker's outcome into the object (all or nothing)."""
    scene = bpy.data.scenes.get(plan.scene_name)
    camera_object = bpy.data.objects.get(plan.camera_name)
    if scene is None or camera_object is None:
        raise P2MError(f"Camera '{plan.camera_name}' or its scene was deleted or renamed while "
                       f"reconstructing. Click Reconstruct again.")
    vertices = outcome.vertices
    if plan.options["placement"] == 'CURSOR':
        depth = camera.camera_depth_of(camera_object, scene.cursor.location)
        vertices = placement.scale_to_depth(vertices, depth)
    props = {"p2m_source_image": plan.image.label, "p2m_weights": outcome.weights,
             "p2m_stage": plan.request.stage, "p2m_device": outcome.device,
             "p2m_crop": plan.request.crop or "none", "p2m_background": plan.request.background}
    return create_mesh_object(
        context.view_layer.active_layer_collection.collection, vertices, outcome.faces,
        camera_object, plan.options["name"], shade_smooth=plan.options["shade_smooth"],
        parent_to_camera=plan.options["parent_to_camera"], texture=outcome.texture, props=props)


def show_network_view(outcome: worker.ReconstructOutcome) -> None:
    """The panel's preview: the network's input with the silhouette it was given outlined.
    Runs after the object is built: a preview that cannot be drawn never fails the click
    (the reason goes to the system console)."""
    if outcome.network_image is None:
        return
    try:
        network_preview.show(network_view(outcome.network_image, outcome.network_mask))
    except Exception:
        traceback.print_exc()
        network_preview.clear()


def success_message(obj, outcome: worker.ReconstructOutcome, stage: str) -> str:
    return (f"Created '{obj.name}': {len(obj.data.vertices)} vertices ({stage} stage) in "
            f"{outcome.seconds:.1f} s on {outcome.device.upper()}.")
