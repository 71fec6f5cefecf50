"""blender-p2m: Pixel2Mesh (single image -> 3D mesh) inside Blender.

Importing this package needs neither torch nor bpy: Blender can register the add-on and
show "PyTorch is missing, here is how to get it" instead of failing. The model lives in
``blender_p2m.model`` (pure PyTorch) and is used through ``blender_p2m.api``.
"""

bl_info = {
    "name": "Pixel2Mesh",
    "author": "blender-p2m developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > Pixel2Mesh",
    "description": "Reconstruct an editable mesh from a single image, aligned with the camera",
    "doc_url": "",
    "category": "Import-Export",
}

__version__ = "0.1.0"


def register():
    """Register the Blender UI and, on Blender 4.2+, the `blender -c pixel2mesh` command
    (imports bpy only now). The two are siblings: this entry point joins them."""
    from .addon import register as register_addon
    from .batch import cli_command

    register_addon()
    cli_command.register()


def unregister():
    from .addon import unregister as unregister_addon
    from .batch import cli_command

    cli_command.unregister()
    unregister_addon()
