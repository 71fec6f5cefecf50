"""The sidebar panel: View3D > Sidebar > Pixel2Mesh."""
from __future__ import annotations

import sys
import textwrap

import bpy

from . import network_preview
from .operators import STATUS, P2M_OT_reconstruct
from .picture_camera import P2M_OT_create_camera_from_picture
from .prefs import ADDON_ID
from .torch_setup import torch_status

CATEGORY = "Pixel2Mesh"
PREVIEW_SCALE = 8.0                     # the preview, in units of an icon (20 px at 1x)


def wrapped_label(layout, text: str, width_px: int, icon: str = 'NONE') -> None:
    """A long message as several labels that fit the sidebar (labels do not wrap)."""
    chars = max(16, int(width_px / 8.5) - 4)
    col = layout.column(align=True)
    col.scale_y = 0.8
    for i, line in enumerate(textwrap.wrap(text, chars) or [""]):
        col.label(text=line, icon=icon if i == 0 else 'BLANK1')


def available_devices_text() -> str:
    """Which devices can run the model, without importing PyTorch just to draw a panel."""
    if "torch" not in sys.modules:
        return "Available: CPU (CUDA is checked when PyTorch loads)"
    from .. import api

    return "Available: " + ", ".join(d.upper() for d in api.available_devices())


def _split_column(layout):
    """A column with labels on the left, values on the right."""
    col = layout.column()
    col.use_property_split = True
    return col


def _draw_image_source(layout, context, settings) -> None:
    layout.row().prop(settings, "image_source", expand=True)
    if settings.image_source == 'DATABLOCK':
        layout.template_ID(settings, "image", open="image.open")
    elif settings.image_source == 'FILE':
        layout.prop(settings, "image_path", text="")
    else:
        camera_object = settings.camera or context.scene.camera
        images = [bg.image.name for bg in getattr(getattr(camera_object, "data", None),
                                                   "background_images", [])
                  if bg.source == 'IMAGE' and bg.image is not None]
        layout.label(text=f"Using '{images[0]}'" if images else "The camera has no background image",
                     icon='IMAGE_DATA' if images else 'ERROR')


def _draw_progress(layout) -> None:
    col = layout.column(align=True)
    if hasattr(col, "progress"):                                  # Blender 4.0+
        col.progress(factor=STATUS.progress, type='BAR', text=f"{STATUS.step}...")
    else:
        col.label(text=f"{round(STATUS.progress * 100)}%  {STATUS.step}...", icon='SORTTIME')
    col.label(text="Esc to cancel")


class VIEW3D_PT_pixel2mesh(bpy.types.Panel):
    bl_label = "Pixel2Mesh"
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = CATEGORY

    def draw(self, context):
        layout = self.layout
        settings = context.scene.pixel2mesh
        width = context.region.width if context.region else 300

        status = torch_status()
        if not status.found:
            box = layout.box()
            wrapped_label(box, status.text, width, icon='ERROR')
            op = box.operator("preferences.addon_show", text="Get PyTorch...", icon='PREFERENCES')
            op.module = ADDON_ID

        layout.use_property_decorate = False
        _draw_image_source(layout.column(), context, settings)
        fields = _split_column(layout)
        fields.prop(settings, "camera")
        if settings.camera is None:
            scene_camera = context.scene.camera
            fields.label(text=f"Scene camera: {scene_camera.name}" if scene_camera else
                         "The scene has no camera", icon='NONE' if scene_camera else 'ERROR')
            if scene_camera is None:
                fields.operator(P2M_OT_create_camera_from_picture.bl_idname, icon='CAMERA_DATA')
        fields.prop(settings, "stage")
        fields.prop(settings, "device")
        fields.label(text=available_devices_text())

        toggles = layout.column(align=True)
        toggles.prop(settings, "crop_to_object")
        toggles.prop(settings, "shade_smooth")
        toggles.prop(settings, "project_texture")
        toggles.prop(settings, "parent_to_camera")
        background = layout.column(align=True)
        background.label(text="Remove Background:")
        background.row(align=True).prop(settings, "remove_background", expand=True)
        fields = _split_column(layout)
        fields.prop(settings, "placement")
        fields.prop(settings, "object_name")

        row = layout.row()
        row.scale_y = 1.5
        row.enabled = not STATUS.running
        row.operator(P2M_OT_reconstruct.bl_idname, icon='MESH_ICOSPHERE')
        if STATUS.running:
            _draw_progress(layout)
        elif STATUS.error:
            wrapped_label(layout.box(), STATUS.error, width, icon='ERROR')
        elif STATUS.result:
            box = layout.box()
            wrapped_label(box, STATUS.result, width, icon='CHECKMARK')
            _draw_network_view(box)


def _draw_network_view(layout) -> None:
    """What the network saw after the last click, silhouette outlined (people would
    rather look than read)."""
    preview = network_preview.current()
    if preview is None:
        return
    layout.label(text="What the network saw:")
    layout.template_icon(icon_value=preview.icon_id, scale=PREVIEW_SCALE)


CLASSES = (VIEW3D_PT_pixel2mesh,)
