"""Regenerate docs/reliability.md from real runs: every bad input through every entry point,
the fault and security checks, the repeated-click and 1000-image soak measurements.

    python benchmarks/reliability_report.py -o docs/reliability.md     # all (slow on 2 busy cores)
    python benchmarks/reliability_report.py --quick                    # no slow rows, 100-image soak

The bad-input rows run tests/bad_inputs.py's runners here (api, the batch command line,
the add-on operator in the bpy module); the fault and security rows run the named pytest
tests in a subprocess and report their outcome; the soak rows are measured here. Every
"observed" cell comes from this run; nothing is written by hand.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

LOAD_AT_START = os.getloadavg()[0]
CORPUS_TEST = "tests/test_reliability.py::test_bad_input_gives_a_clear_error_or_a_correct_result"
CLICK_RSS_BOUND_MB = 10        # live RSS (after gc + malloc_trim), MiB
SOAK_RSS_BOUND_MB = 10


@dataclass
class Row:
    area: str
    case: str
    expected: str
    observed: str
    reproduce: str
    passed: bool
    lost: int = 0                  # pieces of pre-existing data lost (must be 0)


# Checks done by tests: (area, case, expected, test node, whether a failure may mean lost data).
TEST_ROWS = [
    ("fault", "training SIGKILLed 3 times, twice during a checkpoint write (tiny config, 4-object workbench dataset)",
     "every file in checkpoints/ loads fully or is an ignored temporary file; --resume continues from the newest complete one, no step logged twice",
     "tests/test_reliability.py::test_training_killed_during_checkpoint_writes_resumes", True),
    ("fault", "batch SIGKILLed halfway (14 images, obj/glb/ply/blend), then run again",
     "every file under its final name parses; the rerun skips finished images and completes the rest; no temporary files left",
     "tests/test_batch.py::test_killed_batch_resumes_without_corrupted_files", True),
    ("fault", "disk full while writing an image's third file",
     "that image fails with 'file system error'; its other new files are removed",
     "tests/test_batch.py::test_a_failed_write_leaves_none_of_that_images_files", True),
    ("fault", "Esc during Reconstruct in a real Blender 3.4 window (Xvfb)",
     "cancelled; objects and meshes as before; not running",
     "tests/test_addon_blender34.py::test_progress_is_shown_and_esc_cancels_cleanly", True),
    ("fault", "another file opened while Reconstruct runs (Blender 3.4 window)",
     "the run ends; nothing created", "tests/test_addon_blender34.py::test_opening_a_file_while_running_ends_the_run", True),
    ("fault", "cancelled worker thread (bpy module)", "sends nothing",
     "tests/test_addon_bpy.py::test_cancelled_worker_sends_nothing", True),
    ("fault", "failure while the mesh is being built (material creation fails)",
     "clear error; no object, mesh, material or image left",
     "tests/test_addon_bpy.py::test_failure_while_building_removes_everything", True),
    ("fault", "100 clicks in the bpy module (measured below as well)",
     f"no orphan data; live RSS after click 100 within {CLICK_RSS_BOUND_MB} MB of click 20",
     "tests/test_reliability.py::test_100_clicks_leave_no_orphans_and_memory_stays_flat", False),
    ("fault", "100-image batch of 32 x 32 images (the test-sized soak)",
     "all converted; live RSS after image 100 within 5 MB of image 25",
     "tests/test_reliability.py::test_100_image_batch_keeps_memory_flat", False),
    ("image", "complete 9000 x 9000 PNG bomb in a fresh process (api reader and the add-on's pre-check)",
     "refused; peak memory grows < 50 MB", "tests/test_reliability.py::test_a_refused_bomb_never_allocates_its_pixels", False),
    ("image", "header sizes of PNG, JPEG (baseline, progressive, with EXIF), GIF, BMP, TIFF, WebP (lossy, lossless) without Pillow",
     "the standard-library reader agrees with Pillow", "tests/test_reliability.py::test_header_size_matches_pillow", False),
    ("image", "EXIF orientations 1-8: a marked pixel", "the pixel map used for intrinsics is the one applied to the pixels",
     "tests/test_reliability.py::test_stored_to_displayed_matches_how_images_are_shown", False),
    ("intrinsics", "EXIF-rotated photo (orientations 5-8) with intrinsics of the stored grid (off-centre, fx != fy)",
     "intrinsics turned with the image; the mesh projects onto the object in the displayed image (within 1.5 px); same mesh as the displayed pixels with the turned intrinsics",
     "tests/test_reliability.py::test_stored_grid_intrinsics_turn_with_the_image", False),
    ("intrinsics", "EXIF-rotated photo with intrinsics of the displayed image; square image",
     "used as given", "tests/test_reliability.py::test_intrinsics_for_the_displayed_image_are_used_as_given", False),
    ("intrinsics", "EXIF-rotated photo in a batch with a sidecar for the stored grid",
     "the API's mesh", "tests/test_reliability.py::test_batch_turns_sidecar_intrinsics_of_an_exif_photo", False),
    ("batch", "image with permissions 000, read as the user 'nobody' (root ignores permissions)",
     "P2MError: cannot be read: permission denied", "tests/test_reliability.py::test_unreadable_image_as_another_user_is_a_clear_error", False),
    ("batch", "output folder read-only for the user 'nobody' (real OS refusal)",
     "one `error:` line, exit 2, nothing written", "tests/test_reliability.py::test_read_only_output_folder_as_another_user", False),
    ("batch", "output folder on a read-only tmpfs (refuses root too)",
     "one `error:` line, exit 2", "tests/test_reliability.py::test_read_only_file_system_refuses_root_too", False),
    ("batch", "input folder with a good image, a broken link, a FIFO and a folder named *.png",
     "good converted; link and FIFO failed with their reason (no hang); folder skipped",
     "tests/test_reliability.py::test_folder_input_reports_links_and_pipes_named_as_images", False),
    ("batch", "bad weights with a new output folder", "one `error:` line; no empty folder left behind",
     "tests/test_reliability.py::test_cli_leaves_no_empty_output_folder_when_the_weights_are_bad", False),
    ("security", "pickle payloads in a checkpoint (torch.save, inside a real checkpoint, raw pickle)",
     "refused; the payload's file is not created", "tests/test_checkpoint.py::test_code_in_a_pickle_is_never_run", False),
    ("security", "ShapeNet .dat payloads (os.system, exec, nested in a list, in an object array, plain object array, protocol 5) through the training dataset",
     "UnsafePickleError naming the file; the payload's file is not created", "tests/test_security.py::test_shapenet_dat_payloads_never_run", False),
    ("security", "surface.npz replaced by a pickle, or holding an object array",
     "refused (numpy allow_pickle=False); payload not run", "tests/test_security.py::test_dataset_surface_files_with_pickles_are_refused", False),
    ("security", "Python driver payload with 'Auto Run Python Scripts' on",
     "runs in a plain scene (the payload is real); blocked inside the guard; the setting restored",
     "tests/test_security.py::test_the_driver_payload_is_real_and_the_guard_blocks_it", False),
    ("security", "--camera-blend with Python drivers and a registered text block, auto-run on",
     "camera read, batch converts, nothing from the file runs, nothing left linked",
     "tests/test_security.py::test_camera_blend_runs_nothing_from_the_file", False),
    ("security", "hostile .blend as a training mesh source, auto-run on", "mesh read; nothing runs",
     "tests/test_security.py::test_training_mesh_import_runs_nothing_from_a_blend", False),
    ("security", "16 hostile sidecars (2 MB, 200k-deep nesting, 5000-digit and 400-digit numbers, NaN, Infinity, 1e999, strings, booleans, negative/fractional sizes, missing keys, list, not JSON, binary, empty)",
     "one clear P2MError each, naming the file", "tests/test_security.py::test_hostile_sidecars_are_clear_errors", False),
    ("security", "the same sidecars in one batch, plus a sidecar that is a FIFO",
     "each image fails alone with its reason (no internal error); the FIFO is not opened",
     "tests/test_security.py::test_hostile_sidecars_in_a_batch_fail_alone", False),
    ("security", "network guard sanity (connect, create_connection, urllib)", "every attempt recorded",
     "tests/test_security.py::test_the_network_guard_catches_attempts", False),
    ("security", "reconstruction, batch (obj, glb, ply, blend, preview, combined) and an add-on click with the network guard",
     "no connection attempted, no name looked up; bpy.app.online_access is False",
     "tests/test_security.py::test_no_network_access_at_run_time", False),
    ("security", "PyTorch installer with Blender's online access off", "refused with instructions",
     "tests/test_addon_bpy.py::test_install_refused_without_online_access", False),
    ("security", "python -m batch with every output kind, HOME and TMPDIR fresh",
     "only the output folder changes; no file in HOME; TMPDIR empty again; repository, inputs, weights unchanged",
     "tests/test_security.py::test_a_batch_writes_only_into_its_output_folder", False),
]
SLOW_TESTS = {"tests/test_reliability.py::test_training_killed_during_checkpoint_writes_resumes",
              "tests/test_batch.py::test_killed_batch_resumes_without_corrupted_files",
              "tests/test_addon_blender34.py::test_progress_is_shown_and_esc_cancels_cleanly",
              "tests/test_addon_blender34.py::test_opening_a_file_while_running_ends_the_run"}


def cell(text: str, limit: int = 220) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def expected_words(expected: str) -> str:
    return "correct result" if expected == "ok" else f"clear error matching `{expected}`"


def corpus_rows(weights: Path, work: Path, log) -> list[Row]:
    import bad_inputs as corpus

    rows = []
    for entry in corpus.ENTRY_POINTS:
        runner = corpus.runner_for(entry, weights)
        for case in corpus.cases_for(entry):
            observation = runner.run(case, work / entry / case.area / case.name)
            expected = case.expected[entry]
            rows.append(Row(case.area, f"{case.description} [{entry}]", expected_words(expected)
                            + (f" ({case.note})" if case.note else ""),
                            observation.words().replace(str(work), "$TMP"),
                            f"`pytest \"{CORPUS_TEST}[{entry}-{case.area}-{case.name}]\"`",
                            observation.matches(expected), len(observation.lost)))
            log(f"{entry} {case.area}/{case.name}: {'ok' if rows[-1].passed else 'MISMATCH'}")
        if entry == "addon":
            runner.close()
    for case, observation in corpus.run_python_m_corpus(work / "python_m", weights):
        expected = corpus.PYTHON_M_EXPECTED.get(case.name, case.expected["cli"])
        rows.append(Row(case.area, f"{case.description} [one `python -m blender_p2m` run over the whole image corpus]",
                        expected_words(expected), observation.words().replace(str(work), "$TMP"),
                        "`pytest tests/test_reliability.py::test_the_image_corpus_in_one_python_m_run`",
                        observation.matches(expected), len(observation.lost)))
    log("python -m corpus done")
    return rows


def measured_rows(weights: Path, work: Path, soak_images: int, log) -> list[Row]:
    import soak_batch

    import bad_inputs as corpus

    clicks = corpus.click_soak(weights, work / "clicks", clicks=100)
    rss = clicks["rss_mb"]
    growth = rss[100] - rss[20]
    rows = [Row("fault", "100 Reconstruct clicks in the bpy module (File source, texture every other click, each result deleted)",
                f"no orphan data, every click adds exactly its own datablocks; live RSS after click 100 within {CLICK_RSS_BOUND_MB} MB of click 20",
                f"live RSS {rss[20]} MiB after click 20, {rss[100]} MiB after click 100 ({growth:+.1f} MiB); "
                + (f"problems: {clicks['problems'][:2]}" if clicks["problems"] else "no orphan, no extra datablock"),
                "`python benchmarks/reliability_report.py` (bad_inputs.click_soak)",
                not clicks["problems"] and growth < CLICK_RSS_BOUND_MB)]
    log(f"clicks: {rss}")
    every = max(1, soak_images // 10)
    soak = soak_batch.run(images=soak_images, every=every, echo=lambda *a, **k: None)
    samples = ", ".join(f"{n}: {live}" for n, _, live in soak["samples"])
    rows.append(Row("fault", f"{soak_images}-image batch of 32 x 32 images, tiny weights, obj + glb",
                    f"all converted; live RSS after image {soak_images} within {SOAK_RSS_BOUND_MB} MB of image {every}",
                    f"{soak['counts']['done']} converted in {soak['seconds']} s ({soak['cpu_seconds']} s CPU); "
                    f"live RSS MiB by images done: {samples} ({soak['growth_mb']:+.1f} MiB); plain RSS "
                    f"{soak['raw_range_mb'][0]}-{soak['raw_range_mb'][1]} MiB",
                    f"`python benchmarks/soak_batch.py --images {soak_images}`",
                    soak["exit_code"] == 0 and soak["counts"]["done"] == soak_images
                    and soak["growth_mb"] < SOAK_RSS_BOUND_MB))
    log(f"soak: {soak['samples']}")
    return rows, soak


def test_rows(quick: bool, work: Path, log) -> list[Row]:
    nodes = [row[3] for row in TEST_ROWS if not (quick and row[3] in SLOW_TESTS)]
    report = work / "junit.xml"
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                    *nodes], cwd=REPO, capture_output=True, text=True)
    log(f"pytest rows in {time.perf_counter() - began:.0f} s")
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        node = f"{case.get('file') or case.get('classname').replace('.', '/') + '.py'}::{case.get('name')}"
        node = node.split("[")[0]
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        previous = outcomes.get(node, ("passed", 0.0))
        if problem is not None:
            state = ("FAILED: " + cell(problem.get("message", ""), 160), float(case.get("time", 0)))
        elif skipped is not None:
            state = ("skipped: " + cell(skipped.get("message", ""), 160), float(case.get("time", 0)))
        else:
            state = (previous[0], previous[1] + float(case.get("time", 0)))
        outcomes[node] = state if not previous[0].startswith(("FAILED", "skipped")) else previous
    rows = []
    for area, case, expected, node, guards_data in TEST_ROWS:
        if node not in nodes:
            rows.append(Row(area, case, expected, "not run (--quick)", f"`pytest {node}`", False))
            continue
        state, seconds = outcomes.get(node, ("not collected", 0.0))
        passed = state == "passed"
        rows.append(Row(area, case, expected, f"{'as expected: test passed' if passed else state} ({seconds:.1f} s)",
                        f"`pytest {node}`", passed, 0 if passed or not guards_data else 1))
    return rows


def render(rows: list[Row], soak: dict, started: str, seconds: float, quick: bool) -> str:
    tried, passed = len(rows), sum(r.passed for r in rows)
    lost = sum(r.lost for r in rows)
    table = ["| # | area | case | expected | observed | reproduce |", "|---|---|---|---|---|---|"]
    for k, r in enumerate(rows, 1):
        mark = "" if r.passed else " **(not as expected)**"
        table.append(f"| {k} | {r.area} | {cell(r.case)} | {cell(r.expected)} | {cell(r.observed)}{mark} | {r.reproduce} |")
    failures = [f"- #{k} {r.area}: {cell(r.case, 120)}: {cell(r.observed, 200)}"
                for k, r in enumerate(rows, 1) if not r.passed]
    text = TEMPLATE.format(
        tried=tried, passed=passed, lost=lost, not_passed=tried - passed, started=started,
        minutes=seconds / 60, machine=f"{platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores, load average {LOAD_AT_START:.1f} at the start", quick=" (--quick: slow rows not run)" if quick else "",
        failures="\n".join(failures) or "None.", table="\n".join(table),
        soak_images=soak["images"], soak_table="\n".join(f"| {n} | {raw} | {live} |" for n, raw, live in soak["samples"]),
        soak_growth=soak["growth_mb"], soak_seconds=soak["seconds"], soak_cpu=soak["cpu_seconds"],
        soak_bound=SOAK_RSS_BOUND_MB)
    return text


TEMPLATE = """# Reliability and security: what was tried

Generated by `python benchmarks/reliability_report.py -o docs/reliability.md` on {started}
({machine}; {minutes:.1f} minutes){quick}. `$TMP` stands for the run's temporary folder. Every *observed* cell below comes from that run.

## Counts

| cases tried | passed (as expected) | not as expected | data lost |
|---|---|---|---|
| {tried} | {passed} | {not_passed} | **{lost}** |

"Data lost" counts pre-existing files or objects changed or removed by a run (the bad-input
runs start each output folder with a user's file and an earlier output, each Blender scene
with an unrelated object, and check the input files), and failed runs of the tests that
guard against half-written or corrupted files.

Not as expected:

{failures}

## What "a clear error" means here

- **API** (`blender_p2m.api`): a `P2MError` whose message names the problem and what to do.
- **Command line** (`python -m blender_p2m reconstruct`): a problem with the whole command is
  one `error:` line and exit code 2; a bad image fails alone (`failed:` line, its `reason` in
  `summary.json`, exit 1) while the others are converted. Never a traceback.
- **Add-on** (the Reconstruct operator, bpy module): the operator's ERROR report (a
  `RuntimeError` from `bpy.ops`), and the file exactly as before: no new object, mesh,
  material, image, camera, scene or library.
- **Nothing half-written**: no temporary files, no partial outputs, no orphan datablocks.

## Decisions

**EXIF orientation.** Images are used as they are *displayed*: Pillow applies the EXIF
orientation (phone photos come out upright), and intrinsics mean pixels of the displayed
image, as everywhere else. One case is recognised without guessing: a quarter turn
(orientations 5-8) of a non-square image with intrinsics whose aspect ratio is that of the
*stored* pixel grid (for instance a calibration made on the sensor's 4032 x 3024 frames of a
photo displayed 3024 x 4032). Those intrinsics are turned with the image: the principal point
moves with the pixels, fx and fy swap (`blender_p2m.image_io.orient_intrinsics`). The mesh is
in the frame of the displayed image's camera and lines up with the displayed image (checked
by projecting, `test_stored_grid_intrinsics_turn_with_the_image`). Where the size cannot tell
(a square image, or a flip or half turn, which keep the size), intrinsics are taken as the
displayed image's. `Reconstruction.intrinsics` always reports the intrinsics used, for the
displayed image. The add-on uses images as Blender shows them, and Blender ignores EXIF
orientation: a rotated photo is shown, and reconstructed, as stored; the camera's intrinsics
describe that same picture, so it stays consistent.

**Decompression bombs.** Pillow reads only the header before our 64-megapixel limit refuses
an image. Blender's own reader (the add-on's File source, the batch inside Blender without
Pillow) has no limit and decodes a 9000 x 9000 PNG fully (81 megapixels: over 300 MB), so the add-on
first reads the size from the file header with the standard library (PNG, JPEG, GIF, BMP,
TIFF, WebP) and refuses it unread.

**Unreadable files as root.** `chmod 000` does not stop root, so such a file is read as
usual when the tools run as root (row "a good image with permissions 000"). The refusal a
normal user gets is tested for real by dropping to the user `nobody` in a forked child
(image and output folder). For root, the read-only cases use what refuses root too: `/proc`,
`/sys` and a read-only tmpfs mount.

**Files that are not regular files.** A FIFO or a device named like an image is refused
before it is opened (opening a FIFO would block forever, `/dev/zero` never ends); a broken
link is named as such. In a folder given as input they are reported as failed images
instead of being skipped in silence; sub-folders are skipped.

## Soak: {soak_images}-image batch

`soak_batch.run(images={soak_images})` (32 x 32 images, tiny random weights, obj + glb, batch
size 8), measured inside the report's process, which also holds bpy and the add-on: its RSS
is higher than that of `python benchmarks/soak_batch.py --images {soak_images}` run alone. *Plain* RSS is what the OS reports; it also holds heap
memory the allocator freed but kept, and moves by tens of MiB from one sample to the next.
*Live* RSS is measured right after `gc.collect()` and glibc's `malloc_trim(0)` return that
memory, so it shows what the process still uses: a leak would make it climb.

| images done | plain RSS (MiB) | live RSS (MiB) |
|---|---|---|
{soak_table}

Live RSS growth from the first sample to the last: **{soak_growth:+.1f} MiB** (bound
{soak_bound} MiB; the summary keeps a small record per image). Time: {soak_seconds} s wall,
{soak_cpu} s CPU.

## Fixed while writing this

- A decompression bomb given to the add-on (File source) or to the batch inside Blender was
  decoded by Blender in full: now refused from its header first.
- A FIFO or device named as an image: the API called it "empty", a batch given it by name
  said it "does not exist"; in an input folder it (and a broken link) was skipped in silence.
  A broken link was "not found". Each now has its own message, and is reported, not skipped.
- An image the user may not read was reported as "truncated or damaged": now "permission denied".
- Sidecars: a huge one was read whole; deep nesting, a 5000-digit or a 400-digit number
  ended as "internal error" (RecursionError, ValueError, OverflowError): now clear errors,
  and sidecars over 1 MB are refused unread.
- Intrinsics of an EXIF-rotated photo's stored grid were refused ("another aspect ratio"):
  now turned with the image (see Decisions).
- `--camera-blend` and `.blend` training sources ran their Python drivers when the user had
  allowed auto-run (checked by running both without the guard: the payload ran): Python is
  now off while they are read.
- ShapeNet `.dat` pickles holding arrays of Python objects are refused.
- A failed start (bad weights) left a new, empty output folder behind: now removed.
- An output path through a file gave "Not a directory": now says a part of the path is a file.

## Known limitations

- The header check that protects Blender's reader covers PNG, JPEG, GIF, BMP, TIFF and WebP.
  Other formats Blender reads (EXR, HDR, TGA, DPX, ...) are decoded without a size limit in
  the add-on; with Pillow (the API, the batch outside Blender) every format is checked.
- In a `.blend` written by the batch, the input image is the camera's background as Blender
  shows it (EXIF orientation ignored), so for an EXIF-rotated photo the background is not
  upright while the mesh is.
- The network check patches Python's socket functions in the process: code in C (Blender,
  PyTorch) is not covered by it; Blender's own online access (`bpy.app.online_access`) is off.
- Blender itself creates empty folders in HOME (`~/.cache/thumbnails/...` when bpy starts,
  `~/.cache/blender/gl-shader-cache` when it renders a preview); no file is written there.
  Python's bytecode caches (`__pycache__`) are not counted (set PYTHONDONTWRITEBYTECODE=1).
- A training run killed during a checkpoint write leaves its temporary file
  (`checkpoints/.step_N.pt.XXXX.tmp`); resuming ignores it but does not delete it.
- When the batch reads a `--camera-blend` file, Python auto-run is switched off and then set
  back to the preference; after `blender -Y` it therefore stays off for the rest of that
  Blender session.

## Every case

{table}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write the document here (default: stdout)")
    parser.add_argument("--quick", action="store_true", help="skip the slow tests; 100-image soak")
    args = parser.parse_args(argv)

    def log(text):
        print(f"[report] {text}", file=sys.stderr, flush=True)

    import soak_batch

    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="p2m-reliability-") as tmp:
        work = Path(tmp)
        weights = soak_batch.tiny_weights(work / "tiny.pt")
        rows = corpus_rows(weights, work / "corpus", log)
        measured, soak = measured_rows(weights, work, 100 if args.quick else 1000, log)
        rows += measured
        rows += test_rows(args.quick, work, log)
    text = render(rows, soak, started, time.perf_counter() - began, args.quick)
    if args.output:
        args.output.write_text(text)
        log(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
