""".blend files: writing scenes to one atomically, and reading one without running its code."""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..atomic_files import atomic_path
from .quiet import quiet_blender_output


def write_blend(path: Path, scenes: list) -> None:
    """Write the scenes (and what they use) to a .blend file, atomically. Image paths are
    stored relative to the file, so outputs and inputs can move together.

    bpy.data.libraries.write saves only the given datablocks: the running session (a
    user's open file, the add-on's state) is never replaced."""
    import bpy

    with atomic_path(Path(path)) as tmp, quiet_blender_output():
        bpy.data.libraries.write(str(tmp), set(scenes), path_remap='RELATIVE', fake_user=False)


@contextlib.contextmanager
def python_scripts_disabled():
    """Run nothing from a .blend read here (Python drivers, registered text blocks), even
    where the user allowed it (Preferences > Save & Load > Auto Run Python Scripts, or
    `blender -Y`). Setting the preference switches Blender's run-time flag too, so it is
    set off meanwhile (also when already off: -Y sets the flag only) and then set back to
    the preference's value (after -Y, scripts then stay off for the rest of the session)."""
    import bpy

    filepaths = bpy.context.preferences.filepaths
    allowed = filepaths.use_scripts_auto_execute
    filepaths.use_scripts_auto_execute = False
    try:
        yield
    finally:
        filepaths.use_scripts_auto_execute = allowed
