"""Where each image's camera comes from, most specific first:

1. a sidecar JSON beside the image, same name with .json (cat.png -> cat.json):
       {"fx": 250, "fy": 250, "cx": 112, "cy": 112, "width": 224, "height": 224}
   (the same keys inside an "intrinsics" object are accepted too);
2. a camera in a .blend file given with --camera-blend FILE [--camera NAME], the same for
   every image (its pose is kept for the .blend outputs);
3. the default camera (docs/conventions.md: f = 250 px at 224 px, centred).

Intrinsics are in pixels of the image as given (docs/conventions.md); intrinsics for another
resolution of the same aspect ratio are rescaled by the API.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import P2MError
from ..intrinsics import Intrinsics

INTRINSICS_KEYS = ("fx", "fy", "cx", "cy", "width", "height")
MAX_SIDECAR_BYTES = 1_000_000           # a sidecar is six numbers; refuse anything huge unread


@dataclass(frozen=True)
class CameraChoice:
    """An image's camera.

    Attributes:
        intrinsics: pixels; None means the default camera for the image's size.
        source: "sidecar", "blend" or "default" (recorded in the summary).
        pose: 4 x 4 camera-to-world matrix (rows) from a .blend camera, else None.
    """

    intrinsics: Intrinsics | None
    source: str
    pose: tuple[tuple[float, ...], ...] | None = None


def sidecar_path(image: Path) -> Path:
    return image.with_suffix(".json")


def read_sidecar(path: Path) -> Intrinsics:
    """Intrinsics from a sidecar JSON file; P2MError naming the file and the problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
        if len(raw) > MAX_SIDECAR_BYTES:
            raise P2MError(f"Sidecar {path.name} is larger than {MAX_SIDECAR_BYTES // 1000} kB; "
                           f"a sidecar holds six numbers ({', '.join(INTRINSICS_KEYS)}).")
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise P2MError(f"Sidecar {path.name} is not a text file; it must be JSON with "
                       f"{', '.join(INTRINSICS_KEYS)}.") from None
    except json.JSONDecodeError as e:
        raise P2MError(f"Sidecar {path.name} is not valid JSON ({e.msg}, line {e.lineno}).") from None
    except (ValueError, RecursionError) as e:    # e.g. a 5000-digit number, [[[[...]]]] nesting
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0]
        raise P2MError(f"Sidecar {path.name} is not usable JSON ({reason}).") from None
    except OSError as e:
        raise P2MError(f"Sidecar {path.name} could not be read ({e.strerror}).") from None
    if isinstance(data, dict) and isinstance(data.get("intrinsics"), dict):
        data = data["intrinsics"]
    if not isinstance(data, dict):
        raise P2MError(f"Sidecar {path.name} must hold a JSON object with {', '.join(INTRINSICS_KEYS)}.")
    missing = [k for k in INTRINSICS_KEYS if k not in data]
    if missing:
        raise P2MError(f"Sidecar {path.name} lacks {', '.join(missing)} (it needs "
                       f"{', '.join(INTRINSICS_KEYS)}, in pixels).")
    values = {}
    for key in INTRINSICS_KEYS:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise P2MError(f"Sidecar {path.name}: {key} must be a finite number, got {repr(value)[:40]}.")
        values[key] = value
    for key in ("width", "height"):
        if values[key] != int(values[key]) or values[key] < 1:
            raise P2MError(f"Sidecar {path.name}: {key} must be a positive whole number of "
                           f"pixels, got {values[key]!r}.")
    return Intrinsics.from_dict(values)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:                        # an integer beyond float range
        return False


class IntrinsicsSource:
    """Chooses each image's camera: its sidecar, else the .blend camera, else the default."""

    def __init__(self, blend_camera: CameraChoice | None = None):
        self.blend_camera = blend_camera

    def for_image(self, image: Path) -> CameraChoice:
        sidecar = sidecar_path(image)
        if sidecar.is_file():
            return CameraChoice(read_sidecar(sidecar), "sidecar")
        if self.blend_camera is not None:
            return self.blend_camera
        return CameraChoice(None, "default")


def camera_from_blend(blend_file: Path, camera_name: str | None = None) -> CameraChoice:
    """Intrinsics and pose of a camera in a .blend file (needs bpy). Without a name, the
    active camera of the file's first scene (by name) that has one.

    The file is linked as a library to read it and unlinked again: the session is unchanged.
    """
    import bpy

    from ..blender.blend_file import python_scripts_disabled
    from ..blender.camera import intrinsics_from_camera

    blend_file = Path(blend_file)
    if not blend_file.is_file():
        raise P2MError(f"--camera-blend: {blend_file} does not exist (or is a folder).")
    before = set(bpy.data.libraries)
    with python_scripts_disabled():
        try:
            with bpy.data.libraries.load(str(blend_file.resolve()), link=True) as (source, target):
                target.scenes = list(source.scenes)
        except (OSError, RuntimeError) as e:
            raise P2MError(f"--camera-blend: Blender cannot read {blend_file} ({e}).") from None
        try:
            scenes = sorted((s for s in bpy.data.scenes
                             if s.library is not None and s.library not in before), key=lambda s: s.name)
            camera, scene = _pick_camera(scenes, camera_name, blend_file)
            intrinsics = intrinsics_from_camera(camera, scene)
            scene.view_layers[0].update()          # matrix_world is evaluated, not stored (4.1+)
            pose = tuple(tuple(row) for row in camera.matrix_world.normalized())
            return CameraChoice(intrinsics, "blend", pose)
        finally:
            for library in set(bpy.data.libraries) - before:
                bpy.data.libraries.remove(library)


def _pick_camera(scenes, camera_name: str | None, blend_file: Path):
    if not scenes:
        raise P2MError(f"--camera-blend: {blend_file.name} has no scenes.")
    if camera_name is not None:
        for scene in scenes:
            obj = scene.objects.get(camera_name)
            if obj is not None:
                return obj, scene
        cameras = sorted({o.name for s in scenes for o in s.objects if o.type == 'CAMERA'})
        raise P2MError(f"--camera: no object '{camera_name}' in {blend_file.name}; its cameras "
                       f"are: {', '.join(cameras) or 'none'}.")
    for scene in scenes:
        if scene.camera is not None:
            return scene.camera, scene
    raise P2MError(f"--camera-blend: no scene in {blend_file.name} has an active camera; name "
                   f"one with --camera NAME.")
