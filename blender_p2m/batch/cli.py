"""The command line shared by every entry point (see docs/batch.md):

    python -m blender_p2m reconstruct INPUTS... -o OUT [options]
    python -m blender_p2m demo [-o outputs/demo]
    blender -b --python-expr "from blender_p2m.batch.cli import main_in_blender as m; m()" \
        -- reconstruct ...
    blender -c pixel2mesh reconstruct ...                       (Blender 4.2+, cli_command)

Exit codes: 0 everything converted (or already there), 1 some image failed, 2 nothing was
done (bad options, no weights, output folder unusable, PyTorch missing), 130 interrupted.
Errors are one line starting with "error:", never a traceback.

Only the standard library is imported here, so a missing numpy, PyTorch or bpy can be
reported in words.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import P2MError
from ..stage_names import STAGE_NAMES

EXIT_OK, EXIT_SOME_FAILED, EXIT_NOTHING_DONE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_FORMATS = "obj,glb"
DEMO_FORMATS = "obj,glb,blend"
TORCH_MISSING = ("PyTorch (and numpy) cannot be imported in this Python ({error}). Outside "
                 "Blender: run ./p2m setup, or pip install torch numpy. Inside Blender: Edit > "
                 "Preferences > Add-ons > Pixel2Mesh > Install PyTorch, or set 'PyTorch "
                 "site-packages' there.")
BPY_MISSING = (".blend files, previews, --combined and --camera-blend are made by Blender, "
               "and bpy cannot be imported here ({error}). Run inside Blender (docs/batch.md), "
               "pip install bpy==5.0.1 (Python 3.11), or ask only for obj, glb and ply.")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so Blender's -c gets an exit code back."""

    def error(self, message):
        raise P2MError(f"{message} (see --help)")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="checkpoint file (default: the bundled weights)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward pass (8)")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo images whose outputs exist (default: skip them, i.e. resume)")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of internal errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m blender_p2m",
                     description="Pixel2Mesh: single images -> meshes aligned with the camera.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rec = commands.add_parser("reconstruct", help="convert images to meshes",
                              description="Convert images (files, folders, glob patterns) to meshes.")
    rec.add_argument("inputs", nargs="+", metavar="INPUT", help="image file, folder or glob pattern")
    rec.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    rec.add_argument("--format", default=None,
                     help=f"comma list of obj, glb, ply, blend (default {DEFAULT_FORMATS}; "
                          f"none with --combined)")
    rec.add_argument("--combined", action="store_true",
                     help="also write OUT/combined.blend with every mesh (one scene per image)")
    rec.add_argument("--preview", action="store_true",
                     help="write NAME_preview.png: the input beside a render of the mesh")
    rec.add_argument("--stage", choices=STAGE_NAMES, default=STAGE_NAMES[-1], help="mesh resolution (fine)")
    rec.add_argument("--crop", choices=("none", "object"), default="none",
                     help="object: turn and zoom the network's view onto the object")
    rec.add_argument("--background", choices=("keep", "remove", "auto"), default="keep",
                     help="keep the picture as is (default); remove: the model's silhouette head "
                          "whitens everything but the object (and --crop object crops to it); auto: "
                          "remove for pictures without transparency when the weights can. Writes "
                          "NAME_mask.png; the preview shows input | mask | render")
    rec.add_argument("--camera-blend", type=Path, metavar="FILE",
                     help="take the camera from this .blend (images without a sidecar JSON)")
    rec.add_argument("--camera", metavar="NAME", help="camera object in --camera-blend")
    rec.add_argument("--shard", metavar="I/N", help="convert only the I-th of N parts (1-based)")
    _add_model_options(rec)
    demo = commands.add_parser("demo", help="reconstruct the repository's examples/",
                               description="Reconstruct every image in examples/ with the bundled "
                                           "weights: .obj, .glb, .blend and a preview for each.")
    demo.add_argument("-o", "--output", type=Path, default=Path("outputs/demo"),
                      help="output folder (outputs/demo)")
    _add_model_options(demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (never raises for user errors)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv:
            raise P2MError("give a command: reconstruct INPUTS... -o OUT, or demo (see --help)")
        args = build_parser().parse_args(argv)
        return _run(args)
    except SystemExit as e:                      # --help printed
        return e.code if isinstance(e.code, int) else EXIT_OK
    except P2MError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return EXIT_NOTHING_DONE
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept; run the same command again to resume.",
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def main_in_blender() -> None:
    """For `blender -b --python-expr ... -- ARGS` and `blender -b -P script -- ARGS`."""
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    sys.exit(main(argv))


# ----------------------------------------------------------------------------- run
def _import_api():
    try:
        from .. import api
    except ImportError as e:
        raise P2MError(TORCH_MISSING.format(error=e)) from None
    return api


def _require_bpy() -> None:
    try:
        import bpy  # noqa: F401
    except ImportError as e:
        raise P2MError(BPY_MISSING.format(error=e)) from None


def _settings(args):
    """Options checked and turned into a BatchSettings (before any slow work)."""
    from .outputs import OutputPlan, parse_formats
    from .runner import BatchSettings

    if args.command == "demo":
        formats, preview, combined, stage, crop = parse_formats(DEMO_FORMATS), True, False, STAGE_NAMES[-1], None
        background = "auto"
    else:
        background = args.background
        combined, preview, stage = args.combined, args.preview, args.stage
        crop = None if args.crop == "none" else args.crop
        default = "none" if combined else DEFAULT_FORMATS
        formats = parse_formats(args.format if args.format is not None else default)
        if not formats and not combined and not preview:
            raise P2MError("Nothing to write: give --format (obj, glb, ply, blend), --combined "
                           "or --preview.")
        if args.camera and not args.camera_blend:
            raise P2MError("--camera NAME needs --camera-blend FILE (the .blend holding it).")
    if args.batch_size < 1:
        raise P2MError(f"--batch-size must be at least 1, got {args.batch_size}.")
    outputs = OutputPlan(Path(args.output), formats, preview, combined, masks=background != "keep")
    return BatchSettings(outputs, stage, crop, background, args.batch_size, args.overwrite, args.debug)


def _load_model(api, args):
    began = time.perf_counter()
    model = api.load_model(args.weights, args.device)
    print(f"model: {model.weights_path} ({model.config.name}) on {model.device}, "
          f"loaded in {time.perf_counter() - began:.1f} s", flush=True)
    return model


def _plan(args):
    """(jobs, shard, the .blend camera or None) from the inputs; P2MError if they are wrong."""
    from .inputs import parse_shard, plan_jobs
    from .intrinsics_source import camera_from_blend

    if args.command == "demo":
        from .demo import example_inputs

        return plan_jobs(example_inputs()), (1, 1), None
    shard = parse_shard(args.shard)
    camera = camera_from_blend(args.camera_blend, args.camera) if args.camera_blend else None
    return plan_jobs(args.inputs, shard), shard, camera


def _recorded_settings(args, settings, model, shard) -> dict:
    outputs = settings.outputs
    camera_blend = getattr(args, "camera_blend", None)
    return {"formats": list(outputs.formats), "preview": outputs.preview, "combined": outputs.combined,
            "stage": settings.stage, "crop": settings.crop, "background": settings.background,
            "batch_size": settings.batch_size,
            "weights": str(model.weights_path), "device": str(model.device),
            "shard": f"{shard[0]}/{shard[1]}",
            "camera_blend": str(camera_blend) if camera_blend else None}


def _missing_folders(folder: Path) -> list[Path]:
    """The folder and those of its parents that do not exist yet, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders made by this run, deepest first, as long as they are empty."""
    for path in folders:
        try:
            path.rmdir()
        except OSError:
            return


def _report(summary: dict, result, summary_path: Path) -> int:
    """The closing lines (failures again, on stderr) and the exit code."""
    counts = summary["counts"]
    print(f"finished: {counts['done']} converted, {counts['skipped']} skipped, "
          f"{counts['failed']} failed of {counts['total']}; summary: {summary_path}", flush=True)
    if not result.failed:
        return EXIT_OK
    for record in result.records:
        if record.status == "failed":
            print(f"failed: {record.input}: {record.reason}", file=sys.stderr)
    if result.combined_error:
        print(f"failed: {result.combined_error}", file=sys.stderr)
    return EXIT_SOME_FAILED


def _run(args) -> int:
    """Check everything cheap first (options, imports, inputs, output folder), then load the
    model (the demo loads it first: missing weights is what it must report), then convert."""
    from .. import __version__
    from .intrinsics_source import IntrinsicsSource
    from .outputs import prepare_output_folder
    from .progress import Progress
    from .runner import BatchResult, BatchRunner
    from .summary import previous_records, summary_filename, write_summary

    settings = _settings(args)
    api = _import_api()
    if settings.outputs.needs_blender or getattr(args, "camera_blend", None):
        _require_bpy()
    model = _load_model(api, args) if args.command == "demo" else None
    jobs, shard, camera = _plan(args)
    made = _missing_folders(settings.outputs.folder)
    folder = prepare_output_folder(settings.outputs.folder)
    try:
        model = model or _load_model(api, args)
    except BaseException:                      # e.g. bad weights: leave no empty folder behind
        _remove_empty(made)
        raise

    summary_path = folder / summary_filename(shard)
    settings.outputs.clean_stale_temps([job.name for job in jobs], also=(summary_path.name,))
    result = BatchResult()
    progress = Progress(len(jobs))
    runner = BatchRunner(model, settings, IntrinsicsSource(camera), progress, result,
                         previous_records(summary_path))
    shard_note = f" (shard {shard[0]}/{shard[1]})" if shard[1] > 1 else ""
    print(f"converting {len(jobs)} images{shard_note} -> {folder}", flush=True)
    try:
        runner.run(jobs)
    finally:                                   # also when interrupted: record what was done
        order = {job.name: k for k, job in enumerate(jobs)}
        records = sorted(result.records, key=lambda r: order[r.name])
        summary = write_summary(summary_path, records, len(jobs),
                                _recorded_settings(args, settings, model, shard),
                                time.perf_counter() - progress.start, f"blender-p2m {__version__}")
    return _report(summary, result, summary_path)
