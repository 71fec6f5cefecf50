"""`blender -c pixel2mesh ARGS` (Blender 4.2+): the batch tool as a Blender command.

The package's register() (blender_p2m/__init__.py) calls register() here; on Blender
versions without bpy.utils.register_cli_command (before 4.2) it does nothing, and the
--python-expr form (docs/batch.md) is the way in. Blender runs commands in the background, with the add-on
(and the PyTorch folder it adds to sys.path) loaded.
"""
from __future__ import annotations

COMMAND_ID = "pixel2mesh"
_handle = None


def run_command(argv: list[str]) -> int:
    """What `blender -c pixel2mesh ARGS` runs: ARGS go to the batch command line."""
    from .cli import main

    return main(list(argv))


def register() -> None:
    global _handle
    import bpy

    if _handle is None and hasattr(bpy.utils, "register_cli_command"):
        _handle = bpy.utils.register_cli_command(COMMAND_ID, run_command)


def unregister() -> None:
    global _handle
    import bpy

    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
