"""The add-on's user interface, split by Blender role.

props (scene settings), prefs (add-on preferences), torch_setup (getting PyTorch),
operators (the Reconstruct button), picture_camera (Create Camera from Picture), ui (the
sidebar panel), network_preview (its picture of what the network saw); reconstruct_job, image_input,
placement and worker hold the logic of a click. Plain bpy helpers (cameras, meshes,
images) come from blender_p2m.blender, the model from blender_p2m.api. PyTorch is imported
only when Reconstruct first runs, so the add-on registers, and explains what is missing,
without it.
"""
from __future__ import annotations

import bpy

from ..threads import prefer_passive_omp_wait
from . import network_preview, operators, picture_camera, prefs, props, torch_setup, ui, worker

prefer_passive_omp_wait()   # PyTorch is imported later, on the first Reconstruct

# Registration order matters: property groups before the classes that point to them.
MODULES = (props, prefs, torch_setup, operators, picture_camera, ui)


def register() -> None:
    """Register every module's CLASSES in order; on failure undo what was done and re-raise."""
    registered = []
    try:
        for module in MODULES:
            for cls in module.CLASSES:
                bpy.utils.register_class(cls)
                registered.append(cls)
        props.register_scene_property()
        network_preview.register()
    except Exception:
        for cls in reversed(registered):
            bpy.utils.unregister_class(cls)
        raise
    torch_setup.add_configured_site_packages()


def unregister() -> None:
    network_preview.unregister()
    props.unregister_scene_property()
    for module in reversed(MODULES):
        for cls in reversed(module.CLASSES):
            bpy.utils.unregister_class(cls)
    worker.MODELS.clear()
