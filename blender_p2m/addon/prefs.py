"""Add-on preferences: which weights, which device by default, where PyTorch comes from."""
from __future__ import annotations

import os
import sys

import bpy
from bpy.props import EnumProperty, StringProperty

# The add-on's own module name: "blender_p2m" (legacy add-on) or "bl_ext.<repo>.blender_p2m".
ADDON_ID = __package__.rpartition(".")[0]

DEFAULT_DEVICE_ITEMS = (
    ('AUTO', "Auto", "A CUDA GPU when PyTorch sees one, otherwise the CPU"),
    ('CPU', "CPU", "Run on the processor (works everywhere)"),
    ('CUDA', "CUDA", "Run on an NVIDIA GPU (needs a CUDA build of PyTorch)"),
)


def _site_packages_changed(self, _context) -> None:
    from . import torch_setup

    torch_setup.STATE.site_packages_message = torch_setup.add_site_packages(self.torch_site_packages)


class P2M_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    weights_path: StringProperty(
        name="Weights File", subtype='FILE_PATH', default="",
        description="A Pixel2Mesh checkpoint (.pt); leave empty to use the bundled weights")
    default_device: EnumProperty(name="Default Device", items=DEFAULT_DEVICE_ITEMS, default='AUTO',
                                 description="Device used when the panel says 'Preferences Default'")
    torch_site_packages: StringProperty(
        name="PyTorch site-packages", subtype='DIR_PATH', default="",
        update=_site_packages_changed,
        description="A folder that already contains PyTorch (e.g. a virtual environment's "
                    "site-packages for the same Python version as Blender's); added to Python's "
                    "search path when the add-on starts")
    torch_build: EnumProperty(
        name="Build", default='CPU',
        items=(('CPU', "CPU", "Works on every computer (about 200 MB)"),
               ('CUDA', "CUDA 12.6", "For NVIDIA GPUs on Windows and Linux (about 2.5 GB)")),
        description="Which PyTorch build Install PyTorch downloads")

    def draw(self, context):
        from . import torch_setup

        layout = self.layout
        col = layout.column()
        col.prop(self, "weights_path")
        col.label(text=weights_description(self.weights_path))
        col.prop(self, "default_device")

        box = layout.box()
        box.label(text="PyTorch", icon='SCRIPTPLUGINS')
        torch_setup.draw_status(box, self)


def weights_description(weights_path: str) -> str:
    """One line telling which weights Reconstruct will use (no torch import here)."""
    if not weights_path:
        if "torch" in sys.modules:
            from .. import api

            bundled = api.bundled_weights_path()
            return (f"Using the bundled weights: {bundled}" if bundled else
                    "No bundled weights found: pick a weights file above.")
        return "Using the bundled weights."
    path = bpy.path.abspath(weights_path)
    if not os.path.isfile(path):
        return f"Not found: {path}"
    return f"Using {os.path.basename(path)} ({os.path.getsize(path) / 1e6:.1f} MB)."


def get_preferences(context=None):
    """The add-on's preferences, or None when it is registered without being enabled."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


CLASSES = (P2M_AP_preferences,)
