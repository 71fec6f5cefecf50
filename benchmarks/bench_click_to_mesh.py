"""Click-to-mesh time of the Reconstruct button in Blender (the bpy module), per stage,
and what background removal and texture projection add.

    .venv/bin/python benchmarks/bench_click_to_mesh.py [--weights PATH | --random --config lite0]
                                                       [--repeats 5] [--device cpu]

The picture is a photo-like one without transparency (a disc on a textured background),
as a user would bring. The first click pays for importing PyTorch and loading the weights
(the model is then cached); later clicks only preprocess, run the network and build the
mesh. Then the fine stage again with Remove Background On (one extra encoder pass:
issue 18 allows at most that), and with Project Image as Texture (the masked texture:
a depth buffer for visibility, then a packed image). Without --weights it uses the
bundled weights, or random weights of --config (same size and speed as trained ones),
written by a separate process so that this one has not imported PyTorch before the
first click.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import build_addon  # noqa: E402  (reads the bundled weights' name without importing PyTorch)

MAKE_RANDOM_CHECKPOINT = """
import sys, torch
sys.path.insert(0, {repo!r})
from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict
torch.manual_seed(0)
atomic_save(checkpoint_dict(Pixel2Mesh(get_config({config!r})), metadata={{"note": "benchmark"}}), {path!r})
"""


def bundled_weights() -> Path | None:
    """The bundled weights file, found without importing PyTorch (same places as the API)."""
    name = build_addon.weights_files(REPO / "blender_p2m")[0]
    for candidate in (REPO / "blender_p2m" / "weights", REPO / "weights"):
        path = candidate / name
        if path.is_file():
            return path
    return None


def choose_weights(args, tmp: Path) -> tuple[Path, str]:
    if args.weights:
        return Path(args.weights), Path(args.weights).name
    bundled = bundled_weights()
    if bundled is not None and not args.random:
        return bundled, f"bundled ({bundled.name})"
    path = tmp / f"random_{args.config}.pt"
    code = MAKE_RANDOM_CHECKPOINT.format(repo=str(REPO), config=args.config, path=str(path))
    subprocess.run([sys.executable, "-c", code], check=True)
    return path, f"random weights, '{args.config}' configuration"


def build_scene(bpy, size: int):
    """A camera looking at the origin and a size x size opaque picture: a shaded disc on a
    textured background (a photo without transparency, as a user would have)."""
    import numpy as np

    scene = bpy.context.scene
    for obj in list(scene.objects):
        bpy.data.objects.remove(obj)
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.location = (0.0, -0.75, 0.28)
    cam.rotation_euler = (-cam.location).to_track_quat('-Z', 'Y').to_euler()
    scene.camera = cam
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    yy, xx = np.mgrid[0:size, 0:size] / size
    disc = (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.3 ** 2)
    background = np.stack([0.5 + 0.2 * np.sin(40 * xx), 0.45 + 0.2 * np.cos(33 * yy),
                           0.4 + 0.1 * np.sin(25 * (xx + yy)), np.ones_like(xx)], axis=-1)
    obj = np.stack([0.9 - 0.4 * yy, 0.5 - 0.2 * yy, 0.2 + 0.0 * yy, np.ones_like(xx)], axis=-1)
    pixels = np.where(disc[..., None], obj, background).astype(np.float32)
    image = bpy.data.images.new("photo", size, size, alpha=True)
    image.pixels.foreach_set(pixels.ravel())
    scene.pixel2mesh.image = image
    return scene


class StepClock:
    """Records when the operator reports each step (Loading PyTorch, ...)."""

    def __init__(self, operator_class):
        self.marks: list[tuple[float, str]] = []
        original = operator_class._print_step

        def record(op, fraction, text):
            self.marks.append((time.perf_counter(), text))
            original(op, fraction, text)

        operator_class._print_step = record

    def durations(self, start: float, end: float) -> dict[str, float]:
        times = [t for t, _ in self.marks] + [end]
        out = {"before the first step": self.marks[0][0] - start} if self.marks else {}
        for (t, text), t_next in zip(self.marks, times[1:]):
            out[text] = t_next - t
        return out


def click(bpy) -> float:
    start = time.perf_counter()
    result = bpy.ops.pixel2mesh.reconstruct()
    elapsed = time.perf_counter() - start
    if result != {'FINISHED'}:
        raise SystemExit(f"Reconstruct failed: {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="a checkpoint (default: bundled, else random --config)")
    parser.add_argument("--config", default="lite0", help="configuration for random weights")
    parser.add_argument("--random", action="store_true",
                        help="random weights of --config even where bundled weights exist (same speed)")
    parser.add_argument("--repeats", type=int, default=5, help="later clicks per stage")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        weights, weights_label = choose_weights(args, Path(tmp))
        assert "torch" not in sys.modules
        t0 = time.perf_counter()
        import bpy
        t_bpy = time.perf_counter() - t0
        import addon_utils  # noqa: E402  (Blender's module: importable only once bpy is)
        addon_utils.enable("blender_p2m", default_set=True)
        prefs = bpy.context.preferences.addons["blender_p2m"].preferences
        prefs.weights_path, prefs.default_device = str(weights), args.device.upper()
        scene = build_scene(bpy, args.image_size)

        from blender_p2m.addon.operators import P2M_OT_reconstruct

        clock = StepClock(P2M_OT_reconstruct)
        scene.pixel2mesh.stage = "fine"
        start = time.perf_counter()
        first = click(bpy)
        first_steps = clock.durations(start, start + first)

        scene.pixel2mesh.remove_background = 'OFF'
        later = {}
        for stage in ("coarse", "medium", "fine"):
            scene.pixel2mesh.stage = stage
            later[stage] = [click(bpy) for _ in range(args.repeats)]
        options = {}
        from blender_p2m.addon.worker import MODELS

        can_remove = next(iter(MODELS._models.values())).can_remove_background
        if can_remove:
            scene.pixel2mesh.remove_background = 'ON'
            options["Remove Background On"] = [click(bpy) for _ in range(args.repeats)]
        scene.pixel2mesh.project_texture = True
        options[f"Project Image as Texture{', background removed' if can_remove else ''}"] = \
            [click(bpy) for _ in range(args.repeats)]

        import torch

        print(f"\nClick-to-mesh in Blender {bpy.app.version_string} (bpy module), "
              f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
        print(f"Weights: {weights_label}; image {args.image_size}x{args.image_size}; "
              f"import bpy took {t_bpy:.2f} s (not counted)\n")
        rows = [("first (imports PyTorch, loads model)", "fine", first)]
        rows += [(f"  of which: {step}", "", seconds) for step, seconds in first_steps.items()]
        rows += [(f"later (median of {len(times)})", stage, statistics.median(times))
                 for stage, times in later.items()]
        rows += [(f"later, {name}", "fine", statistics.median(times)) for name, times in options.items()]
        if not can_remove:
            print("These weights have no silhouette head: no removal row.\n")
        width = max(len(label) for label, _, _ in rows)
        print(f"| {'click':<{width}} | stage  | seconds |")
        print(f"|{'-' * (width + 2)}|--------|---------|")
        for label, stage, seconds in rows:
            print(f"| {label:<{width}} | {stage:<6} | {seconds:7.3f} |")


if __name__ == "__main__":
    main()
