"""The demo: every image in the repository's examples/ folder, with the bundled weights.

`./p2m demo` (the README's first command) runs `python -m blender_p2m demo`, which writes
outputs/demo/<name>.obj, .glb, .blend (the mesh in front of a camera built from the
example's sidecar intrinsics) and <name>_preview.png (the input beside a render).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import P2MError
from .inputs import is_image_name

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_inputs(folder: Path | None = None) -> list[str]:
    """The example images (as one folder argument); P2MError when there are none."""
    folder = folder or EXAMPLES
    if not folder.is_dir() or not any(is_image_name(p) for p in folder.iterdir()):
        raise P2MError(f"No example images in {folder}: the demo runs from a checkout of the "
                       f"blender-p2m repository, whose examples/ holds PNG images with sidecar "
                       f"JSON intrinsics. Use `reconstruct` for your own images.")
    return [str(folder)]
