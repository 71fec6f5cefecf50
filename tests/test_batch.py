"""Batch conversion (blender_p2m.batch): inputs, writers, the loop, resuming, entry points.

Most tests call the command line in this process (fast); the kill-and-resume test and the
`python -m` entry point run real subprocesses. The add-on-installed entry points (Blender
3.4 --python-expr, the 4.2+ `-c` command) are in tests/test_build_addon.py.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_p2m.batch import cli, inputs, mesh_files, outputs, png
from blender_p2m.batch.intrinsics_source import IntrinsicsSource, read_sidecar
from blender_p2m.errors import P2MError
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.ellipsoid import uv_ellipsoid
from obj_reading import obj_vertices  # tests/ is on sys.path

REPO = Path(__file__).resolve().parents[1]
SIDECAR = {"fx": 300.0, "fy": 300.0, "cx": 48.0, "cy": 36.0, "width": 96, "height": 72}


# ----------------------------------------------------------------------------- helpers
def ellipse_rgba(width: int, height: int, color=(230, 128, 50)) -> np.ndarray:
    """(H, W, 4) uint8: a coloured ellipse on a transparent background."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((xx + 0.5 - width / 2) / (0.22 * width)) ** 2 + \
             ((yy + 0.5 - height / 2) / (0.25 * height)) ** 2 < 1.0
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[inside] = (*color, 255)
    return rgba


def make_good_images(folder: Path, count: int = 2) -> list[Path]:
    """count images: the first 96 x 72 with a sidecar, the others 64 x 64 (default camera)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        if k == 0:
            path = folder / "wide.png"
            Image.fromarray(ellipse_rgba(96, 72)).save(path)
            (folder / "wide.json").write_text(json.dumps(SIDECAR))
        else:
            path = folder / f"square_{k:03d}.png"
            Image.fromarray(ellipse_rgba(64, 64, (40 + k, 90, 200))).save(path)
        paths.append(path)
    return paths


def make_broken_images(folder: Path) -> dict[str, str]:
    """Broken files -> words their failure reason must contain."""
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not a picture\n")
    good = folder / "source_for_truncation.png.bin"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 4), dtype=np.uint8)).save(
        good, format="PNG")
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    good.unlink()
    return {"empty": "empty", "text": "not an image", "truncated": "truncated"}


def run_cli(*args) -> int:
    return cli.main([str(a) for a in args])


def read_summary(folder: Path, name: str = "summary.json") -> dict:
    return json.loads((folder / name).read_text())


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    """Header and chunks by the glTF 2.0 specification -> (JSON document, BIN chunk)."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_length % 4 == 0
    document = json.loads(data[20:20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert bin_type == b"BIN\x00" and bin_length % 4 == 0
    binary = data[28 + json_length:28 + json_length + bin_length]
    assert 28 + json_length + bin_length == len(data)
    return document, binary


def check_output_parses(path: Path) -> None:
    """Every finished output file must be complete and readable."""
    if path.suffix == ".obj":
        assert len(obj_vertices(path)) == 2466
    elif path.suffix == ".glb":
        document, _ = parse_glb(path.read_bytes())
        assert document["accessors"][0]["count"] == 2466
    elif path.suffix == ".ply":
        header = path.read_bytes().split(b"end_header\n")[0].decode()
        assert "element vertex 2466" in header
    elif path.suffix == ".blend":
        import bpy

        with bpy.data.libraries.load(str(path)) as (source, _):
            assert len(source.meshes) == 1 and len(source.scenes) == 1
    elif path.suffix == ".png":
        with Image.open(path) as image:
            image.load()
    elif path.suffix == ".json":
        json.loads(path.read_text())


def reference_mesh() -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-wound mesh in front of the camera (the network's initial ellipsoid)."""
    vertices, faces = uv_ellipsoid((0.14, 0.10, 0.12), 0.8, 5, 7)
    vertices = vertices + np.array([0.03, -0.02, 0.0], np.float32)
    return vertices.astype(np.float32), np.asarray(faces, np.int64)


def triangles(vertices: np.ndarray, faces: np.ndarray, reference: np.ndarray) -> list[tuple]:
    """Each triangle as the indices of the matching reference vertices, rotated to start at
    the smallest: equal lists mean equal positions AND winding, whatever the vertex order."""
    distance = np.linalg.norm(vertices[:, None, :] - reference[None, :, :], axis=2)  # (N, R)
    assert distance.min(axis=1).max() < 1e-5, "a vertex moved"
    mapped = distance.argmin(axis=1)[faces]                                         # (F, 3)
    rolled = [tuple(np.roll(f, -int(np.argmin(f)))) for f in mapped.tolist()]
    return sorted(rolled)


# ----------------------------------------------------------------------------- inputs
def test_discovery_folders_files_globs_sorted_and_unique(tmp_path):
    make_good_images(tmp_path / "a", 3)
    make_good_images(tmp_path / "b", 2)
    (tmp_path / "a" / "notes.txt").write_text("x")
    found = inputs.discover_images([str(tmp_path / "b"), str(tmp_path / "a" / "*.png"),
                                    str(tmp_path / "a" / "wide.png")])
    assert [p.name for p in found] == ["square_001.png", "square_002.png", "wide.png",
                                       "square_001.png", "wide.png"]
    assert found == sorted(found, key=str)
    recursive = inputs.discover_images([str(tmp_path / "**" / "*.png")])
    assert len(recursive) == 5


def test_discovery_takes_every_supported_format_from_a_folder(tmp_path):
    for suffix in inputs.IMAGE_EXTENSIONS:
        Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / f"img{suffix}",
                                                   format={".jpg": "JPEG", ".jpeg": "JPEG",
                                                           ".tif": "TIFF", ".tga": "TGA"}.get(suffix))
    (tmp_path / "frames.GIF").write_bytes((tmp_path / "img.gif").read_bytes())
    found = {p.name for p in inputs.discover_images([str(tmp_path)])}
    assert found == {f"img{s}" for s in inputs.IMAGE_EXTENSIONS} | {"frames.GIF"}


@pytest.mark.parametrize("argument, words", [("missing.png", "does not exist"),
                                             ("empty_dir", "has no images"),
                                             ("*.nothing", "matches no images")])
def test_discovery_refuses_a_wrong_command_line(tmp_path, argument, words):
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(P2MError, match=words):
        inputs.discover_images([str(tmp_path / argument)])


def test_output_names_are_unique_even_case_insensitively():
    paths = [Path("x/cat.png"), Path("x/cat.jpg"), Path("y/cat.png"), Path("x/Dog.png"),
             Path("y/dog.png"), Path("x/summary.png"), Path("x/a#b.png")]
    names = inputs.output_names(paths)
    assert len({n.lower() for n in names}) == len(names)
    assert names[3].startswith("Dog_") and names[5] == "summary_png" and names[6] == "a_b"
    assert inputs.output_names(paths) == names                     # deterministic


def test_shards_partition_the_sorted_list(tmp_path):
    make_good_images(tmp_path, 7)
    whole = inputs.plan_jobs([str(tmp_path)])
    parts = [inputs.plan_jobs([str(tmp_path)], (i, 3)) for i in (1, 2, 3)]
    assert sorted(j.name for part in parts for j in part) == sorted(j.name for j in whole)
    assert {j.name: j.source for part in parts for j in part} == {j.name: j.source for j in whole}
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(P2MError, match="--shard"):
            inputs.parse_shard(bad)


def test_sidecar_intrinsics_and_their_errors(tmp_path):
    image = make_good_images(tmp_path, 1)[0]
    choice = IntrinsicsSource().for_image(image)
    assert choice.source == "sidecar" and choice.intrinsics == Intrinsics.from_dict(SIDECAR)
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"intrinsics": SIDECAR, "note": "x"}))
    assert read_sidecar(nested) == Intrinsics.from_dict(SIDECAR)
    for text, words in [("{", "not valid JSON"), ('{"fx": 1}', "lacks fy, cx, cy"),
                        (json.dumps(dict(SIDECAR, fx="big")), "fx must be a finite number"),
                        (json.dumps(dict(SIDECAR, width=9.5)), "whole number")]:
        nested.write_text(text)
        with pytest.raises(P2MError, match=words):
            read_sidecar(nested)
    assert IntrinsicsSource().for_image(tmp_path / "other.png").source == "default"


def test_stale_temporary_files_are_cleaned_only_for_this_run(tmp_path):
    plan = outputs.OutputPlan(tmp_path, ("obj", "blend"))
    names = [".cat.obj.k3j_x9.tmp", ".cat.blend.a1.tmp", ".dog.obj.zz.tmp", "cat.obj", ".cat.obj"]
    for name in names:
        (tmp_path / name).write_text("x")
    plan.clean_stale_temps(["cat"])                     # "dog" belongs to another shard
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cat.obj", ".dog.obj.zz.tmp", "cat.obj"]


# ----------------------------------------------------------------------------- writers
def test_glb_follows_the_specification():
    vertices, faces = reference_mesh()
    intr = Intrinsics(300, 280, 48, 36, 96, 72)
    document, binary = parse_glb(mesh_files.glb_bytes(vertices, faces, "thing", intr))
    assert document["asset"]["version"] == "2.0"
    primitive = document["meshes"][0]["primitives"][0]
    assert primitive["mode"] == 4 and set(primitive["attributes"]) == {"POSITION", "NORMAL"}
    position, normal, index = (document["accessors"][k] for k in (0, 1, 2))
    assert (position["componentType"], position["type"]) == (5126, "VEC3")
    assert (index["componentType"], index["type"], index["count"]) == (5125, "SCALAR", faces.size)
    np.testing.assert_allclose(position["min"], vertices.min(0), rtol=1e-6)
    np.testing.assert_allclose(position["max"], vertices.max(0), rtol=1e-6)
    views = document["bufferViews"]
    assert all(v["byteOffset"] % 4 == 0 for v in views)

    def read(view, dtype):
        count = view["byteLength"] // np.dtype(dtype).itemsize
        return np.frombuffer(binary, dtype, count, view["byteOffset"])

    np.testing.assert_array_equal(read(views[0], "<f4").reshape(-1, 3), vertices)
    np.testing.assert_array_equal(read(views[2], "<u4").reshape(-1, 3), faces)
    normals = read(views[1], "<f4").reshape(-1, 3)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    centre = vertices.mean(axis=0)
    assert np.all(np.sum(normals * (vertices - centre), axis=1) > 0)      # outward
    camera = document["cameras"][0]["perspective"]
    assert camera["yfov"] == pytest.approx(2 * np.arctan(36 / 280))
    assert camera["aspectRatio"] == pytest.approx(96 * 280 / (72 * 300))


def test_png_encoder_round_trips_through_pillow(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 255, (17, 23, 4), dtype=np.uint8)
    for channels in (3, 4):
        path = tmp_path / f"x{channels}.png"
        path.write_bytes(png.png_bytes(pixels[..., :channels]))
        with Image.open(path) as image:
            np.testing.assert_array_equal(np.asarray(image), pixels[..., :channels])


def _import_into_blender(path: Path, reference: np.ndarray) -> tuple[list[tuple], int]:
    """Import a file with Blender's own importer -> triangles in world space (Blender Z up),
    then remove what was imported."""
    import bpy

    before = set(bpy.data.objects)
    if path.suffix == ".obj":
        bpy.ops.wm.obj_import(filepath=str(path))
    elif path.suffix == ".ply":
        bpy.ops.wm.ply_import(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    bpy.context.view_layer.update()
    new = [o for o in bpy.data.objects if o not in before]
    meshes = [o for o in new if o.type == 'MESH']
    assert len(meshes) == 1
    obj = meshes[0]
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    world = np.array(obj.matrix_world)
    co = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    faces = np.array([list(p.vertices) for p in mesh.polygons])
    cameras = [o for o in new if o.type == 'CAMERA']
    for o in new:
        data, kind = o.data, o.type
        bpy.data.objects.remove(o)
        if data is not None and data.users == 0:
            (bpy.data.meshes if kind == 'MESH' else bpy.data.cameras).remove(data)
    return triangles(co, faces, reference), len(cameras)


@pytest.mark.parametrize("fmt", ["obj", "ply", "glb"])
def test_writers_read_back_by_blenders_importers(tmp_path, fmt):
    """Positions and winding survive Blender's importers. OBJ (Y up) and glTF (+Y up) land
    upright in Blender: camera (x, y, z) -> Blender (x, -z, y); PLY has no axes: as is."""
    pytest.importorskip("bpy")
    vertices, faces = reference_mesh()
    path = tmp_path / f"mesh.{fmt}"
    path.write_bytes(mesh_files.WRITERS[fmt](vertices, faces, "mesh", Intrinsics.default(64, 64)))
    expected = vertices if fmt == "ply" else vertices[:, [0, 2, 1]] * np.array([1, -1, 1])
    imported, cameras = _import_into_blender(path, expected)
    assert imported == triangles(expected, faces, expected)
    assert cameras == (1 if fmt == "glb" else 0)


def test_blender_reader_matches_pillow(tmp_path):
    """Inside Blender (no Pillow) images are read by bpy: the same pixels."""
    pytest.importorskip("bpy")
    from blender_p2m.batch.image_reader import read_with_blender
    from blender_p2m.image_io import load_image_file

    path = tmp_path / "rgba.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (20, 30, 4), dtype=np.uint8)).save(path)
    np.testing.assert_allclose(read_with_blender(path), load_image_file(path), atol=1e-6)
    rgb = tmp_path / "rgb.jpg"
    Image.fromarray(ellipse_rgba(30, 20)[..., :3]).save(rgb, quality=95)
    np.testing.assert_allclose(read_with_blender(rgb), load_image_file(rgb), atol=2 / 255)


# ----------------------------------------------------------------------------- the loop
def test_mixed_folder_converts_the_good_and_reports_the_bad(tmp_path, tiny_checkpoint, capsys):
    good = make_good_images(tmp_path / "in", 3)
    broken = make_broken_images(tmp_path / "in")
    out = tmp_path / "out"
    code = run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj,glb,ply", "--batch-size", "8")
    assert code == 1
    summary = read_summary(out)
    by_name = {r["name"]: r for r in summary["images"]}
    assert summary["counts"] == {"done": 3, "skipped": 0, "failed": 3, "total": 6, "not_started": 0}
    for path in good:
        record = by_name[path.stem]
        assert record["status"] == "done" and record["vertices"] == 2466 and record["seconds"] > 0
        for fmt in ("obj", "glb", "ply"):
            check_output_parses(out / f"{path.stem}.{fmt}")
    assert by_name["wide"]["camera"] == "sidecar" and by_name["square_001"]["camera"] == "default"
    for name, words in broken.items():
        assert by_name[name]["status"] == "failed" and words in by_name[name]["reason"]
        assert not list(out.glob(f"{name}.*"))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "ETA" in captured.out and "[6/6]" in captured.out


def test_a_failing_image_in_a_batch_fails_alone(tmp_path, tiny_checkpoint, monkeypatch):
    """An unexpected error is reported as an internal error with its type; the other
    images of the same forward pass are still converted."""
    from blender_p2m import api

    make_good_images(tmp_path / "in", 4)
    real = api.LoadedModel.prepare_input

    def poisoned(self, image, intrinsics=None, crop=None, background="keep"):
        if np.isclose(np.asarray(image)[32, 32, 0], 42 / 255):      # square_002's colour
            raise ValueError("poisoned pixels")
        return real(self, image, intrinsics, crop, background)

    monkeypatch.setattr(api.LoadedModel, "prepare_input", poisoned)
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj") == 1
    by_name = {r["name"]: r for r in read_summary(out)["images"]}
    assert by_name["square_002"]["reason"] == "internal error: ValueError: poisoned pixels"
    done = [name for name, record in by_name.items() if record["status"] == "done"]
    assert done == ["square_001", "square_003", "wide"]


def test_a_failed_write_leaves_none_of_that_images_files(tmp_path, tiny_checkpoint, monkeypatch):
    make_good_images(tmp_path / "in", 1)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(mesh_files.WRITERS, "ply", disk_full)
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj,glb,ply") == 1
    record = read_summary(out)["images"][0]
    assert record["status"] == "failed"
    assert record["reason"] == "file system error: No space left on device"
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]   # obj, glb removed again


def test_stage_and_crop_options(tmp_path, tiny_checkpoint):
    make_good_images(tmp_path / "in", 1)
    Image.new("RGB", (48, 48), "white").save(tmp_path / "in" / "blank.png")
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj", "--stage", "coarse", "--crop", "object") == 1
    by_name = {r["name"]: r for r in read_summary(out)["images"]}
    assert by_name["wide"]["vertices"] == 156 and len(obj_vertices(out / "wide.obj")) == 156
    assert "No object found to crop to" in by_name["blank"]["reason"]
    assert read_summary(out)["settings"]["crop"] == "object"


def test_rerun_skips_finished_images_and_fills_in_missing_files(tmp_path, tiny_checkpoint):
    make_good_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = ["reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint, "--device", "cpu",
            "--format", "obj,ply"]
    assert run_cli(*args) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "wide.ply").unlink()
    assert run_cli(*args) == 0
    summary = read_summary(out)
    assert [r["status"] for r in summary["images"]] == ["skipped", "done"]
    assert summary["images"][0]["vertices"] == 2466                  # kept from the first run
    assert (out / "wide.obj").stat().st_mtime_ns == stamps["wide.obj"]  # not rewritten
    check_output_parses(out / "wide.ply")
    assert run_cli(*args, "--overwrite") == 0
    assert [r["status"] for r in read_summary(out)["images"]] == ["done", "done"]


def test_shards_share_a_folder(tmp_path, tiny_checkpoint):
    make_good_images(tmp_path / "in", 3)
    out = tmp_path / "out"
    for shard in ("1/2", "2/2"):
        assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                       "--device", "cpu", "--format", "obj", "--shard", shard) == 0
    first, second = (read_summary(out, f"summary-shard-{i}-of-2.json") for i in (1, 2))
    names = [r["name"] for r in first["images"]] + [r["name"] for r in second["images"]]
    assert sorted(names) == ["square_001", "square_002", "wide"]
    assert sorted(p.stem for p in out.glob("*.obj")) == sorted(names)


@pytest.mark.parametrize("problem", ["file", "inside_file", "proc"])
def test_output_folder_problems_are_one_clear_error(tmp_path, tiny_checkpoint, capsys, problem):
    make_good_images(tmp_path / "in", 1)
    target = {"file": tmp_path / "taken", "inside_file": tmp_path / "taken" / "sub",
              "proc": Path("/proc/self/p2m-out")}[problem]
    (tmp_path / "taken").write_text("x")
    code = run_cli("reconstruct", tmp_path / "in", "-o", target, "--weights", tiny_checkpoint)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert str(target) in err and "Traceback" not in err


def test_read_only_output_folder(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    make_good_images(tmp_path / "in", 1)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:                      # root writes anywhere: refuse like the OS would
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(outputs.tempfile, "mkstemp", refuse)
    try:
        assert run_cli("reconstruct", tmp_path / "in", "-o", locked, "--weights", tiny_checkpoint) == 2
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert err == f"error: Cannot write into the output folder {locked} (Permission denied). " \
                  f"Choose a folder you can write to, or fix its permissions.\n"


@pytest.mark.parametrize("args, words", [
    (["--format", "stl"], "Unknown output format"),
    (["--format", "none"], "Nothing to write"),
    (["--camera", "Cam"], "needs --camera-blend"),
    (["--batch-size", "0"], "at least 1"),
    (["--shard", "3/2"], "--shard"),
    (["--stage", "finest"], "invalid choice"),
    (["--weights", "/nonexistent.pt"], "Weights file not found"),
])
def test_bad_options_say_what_is_wrong(tmp_path, capsys, args, words):
    make_good_images(tmp_path / "in", 1)
    assert run_cli("reconstruct", tmp_path / "in", "-o", tmp_path / "out", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err


# ----------------------------------------------------------------------------- Blender outputs
def test_blend_preview_and_combined_outputs(tmp_path, tiny_checkpoint):
    bpy = pytest.importorskip("bpy")
    images = make_good_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    scenes_before = set(bpy.data.scenes)
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj,blend", "--preview", "--combined") == 0
    assert set(bpy.data.scenes) == scenes_before                    # the session is unchanged
    with bpy.data.libraries.load(str(out / "combined.blend")) as (source, _):
        assert sorted(source.scenes) == ["square_001", "wide"]
    # The .blend holds the camera built from the sidecar and the mesh, in front of it.
    with bpy.data.libraries.load(str(out / "wide.blend")) as (source, target):
        target.scenes = list(source.scenes)
    scene = target.scenes[0]
    scene.view_layers[0].update()              # matrix_world is evaluated data, not saved (4.1+)
    try:
        assert (scene.render.resolution_x, scene.render.resolution_y) == (96, 72)
        from blender_p2m.blender.camera import intrinsics_from_camera

        intr = intrinsics_from_camera(scene.camera, scene)
        assert intr.fx == pytest.approx(300) and intr.cx == pytest.approx(48)
        mesh = scene.objects["wide"]
        co = np.empty(len(mesh.data.vertices) * 3)
        mesh.data.vertices.foreach_get("co", co)
        to_camera = np.array(scene.camera.matrix_world.inverted())
        in_camera = co.reshape(-1, 3) @ to_camera[:3, :3].T + to_camera[:3, 3]
        np.testing.assert_allclose(in_camera, obj_vertices(out / "wide.obj"), atol=1e-5)
        assert scene.camera.data.background_images[0].image.name == "wide.png"
        assert b"//../in/wide.png" in (out / "wide.blend").read_bytes()   # stored relative
        assert mesh["p2m_stage"] == "fine"
    finally:
        background = scene.camera.data.background_images[0].image
        bpy.data.batch_remove([scene, *scene.objects, *(o.data for o in scene.objects), background])
    with Image.open(out / "wide_preview.png") as preview:
        picture = np.asarray(preview.convert("RGB")).astype(float)
    half = (picture.shape[1] - 8) // 2
    assert picture.shape[:2] == (288, 2 * 384 + 8) and half == 384
    left, right = picture[:, :half], picture[:, half + 8:]
    assert left[144, 192].tolist() == pytest.approx([230, 128, 50], abs=2)   # the ellipse
    assert (right < 250).any(axis=2).mean() > 0.05                          # the mesh is drawn
    for path in images:
        assert (out / f"{path.stem}_preview.png").is_file()


def test_background_auto_writes_the_mask_and_a_three_panel_preview(tmp_path, tiny_checkpoint):
    """Weights without a silhouette head keep each picture; its mask is the image's alpha."""
    pytest.importorskip("bpy")
    make_good_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint, "--device", "cpu",
                   "--format", "obj", "--preview", "--background", "auto") == 0
    with Image.open(out / "wide_mask.png") as mask:
        white = np.asarray(mask.convert("L")) > 127
    assert np.array_equal(white, ellipse_rgba(96, 72)[..., 3] > 127)
    with Image.open(out / "wide_preview.png") as preview:
        assert preview.size == (3 * 384 + 2 * 8, 288)                 # input | mask | render
    assert read_summary(out)["settings"]["background"] == "auto"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint, "--device", "cpu",
                   "--format", "obj", "--preview", "--background", "auto") == 0
    assert read_summary(out)["images"][0]["status"] == "skipped"       # finished: mask included


def test_background_remove_needs_a_silhouette_head(tmp_path, tiny_checkpoint):
    make_good_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint, "--device", "cpu",
                   "--format", "obj", "--background", "remove") != 0
    record = read_summary(out)["images"][0]
    assert record["status"] == "failed" and "silhouette head" in record["reason"]
    assert not list(out.glob("wide*"))                                  # nothing half-made


def test_camera_from_a_blend_file(tmp_path, tiny_checkpoint):
    bpy = pytest.importorskip("bpy")
    from mathutils import Matrix

    from blender_p2m.batch.intrinsics_source import camera_from_blend
    from blender_p2m.blender.camera import intrinsics_from_camera

    scene = bpy.data.scenes.new("shot")
    scene.render.resolution_x, scene.render.resolution_y = 128, 128   # square, like the images
    data = bpy.data.cameras.new("lens50")
    data.lens, data.shift_x = 50.0, 0.1
    camera = bpy.data.objects.new("Cam", data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera.matrix_world = Matrix.Translation((1.0, -2.0, 0.5))
    expected = intrinsics_from_camera(camera, scene)
    blend = tmp_path / "shot.blend"
    bpy.data.libraries.write(str(blend), {scene})
    bpy.data.batch_remove([scene, camera, data])
    libraries = len(bpy.data.libraries)
    choice = camera_from_blend(blend, None)
    assert choice.intrinsics == expected and choice.source == "blend"
    assert choice.pose[0][3] == pytest.approx(1.0) and choice.pose[1][3] == pytest.approx(-2.0)
    assert camera_from_blend(blend, "Cam").intrinsics == expected
    assert len(bpy.data.libraries) == libraries                      # unlinked again
    with pytest.raises(P2MError, match="no object 'Nope'.*Cam"):
        camera_from_blend(blend, "Nope")
    # Images without a sidecar use it; the one with a sidecar keeps its own.
    make_good_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert run_cli("reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint,
                   "--device", "cpu", "--format", "obj", "--camera-blend", blend) == 0
    cameras = {r["name"]: r["camera"] for r in read_summary(out)["images"]}
    assert cameras == {"square_001": "blend", "wide": "sidecar"}


def test_cli_command_registers_and_runs(tmp_path, tiny_checkpoint):
    """`blender -c pixel2mesh ARGS` (4.2+): no 4.2+ binary here, so the registration is
    checked in the bpy module and the registered function is called as Blender would (the
    add-on's registration registers it too: tests/test_addon_bpy.py)."""
    pytest.importorskip("bpy")
    from blender_p2m.batch import cli_command

    cli_command.register()
    try:
        assert cli_command._handle is not None
        make_good_images(tmp_path / "in", 1)
        assert cli_command.run_command(["reconstruct", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                        "--weights", str(tiny_checkpoint), "--format", "obj"]) == 0
        assert (tmp_path / "out" / "wide.obj").is_file()
        assert cli_command.run_command(["--help"]) == 0
        assert cli_command.run_command(["reconstruct"]) == 2
    finally:
        cli_command.unregister()
    assert cli_command._handle is None


# ----------------------------------------------------------------------------- demo
def test_demo_without_weights_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from blender_p2m import api

    monkeypatch.setattr(api, "bundled_weights_path", lambda: None)
    assert run_cli("demo", "-o", tmp_path / "demo") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No bundled weights") and err.count("\n") == 1


def test_demo_writes_obj_glb_blend_and_preview_for_every_example(tmp_path, tiny_checkpoint):
    pytest.importorskip("bpy")
    from blender_p2m.batch import demo

    examples = sorted(p.stem for p in demo.EXAMPLES.glob("*.png"))
    assert examples, "examples/ should hold the demo's images"
    assert run_cli("demo", "-o", tmp_path / "demo", "--weights", tiny_checkpoint, "--device", "cpu") == 0
    summary = read_summary(tmp_path / "demo")
    assert [r["name"] for r in summary["images"]] == examples
    assert all(r["camera"] == "sidecar" for r in summary["images"])
    for name in examples:
        for suffix in (".obj", ".glb", ".blend", "_preview.png", "_mask.png"):   # demo: --background auto
            assert (tmp_path / "demo" / f"{name}{suffix}").is_file()


def test_demo_without_examples_says_so(tmp_path, tiny_checkpoint, monkeypatch, capsys):
    from blender_p2m.batch import demo

    monkeypatch.setattr(demo, "EXAMPLES", tmp_path / "nowhere")
    assert run_cli("demo", "-o", tmp_path / "demo", "--weights", tiny_checkpoint) == 2
    assert capsys.readouterr().err.startswith("error: No example images in")


# ----------------------------------------------------------------------------- subprocesses
def _python_m(*args, output=subprocess.PIPE) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "blender_p2m", *map(str, args)], cwd=REPO,
                            env=env, stdout=output, stderr=output, text=True)


def test_killed_batch_resumes_without_corrupted_files(tmp_path, tiny_checkpoint):
    """SIGKILL in the middle (possibly inside a write), then the same command again: every
    file under a final name parses, and the second run completes the rest."""
    pytest.importorskip("bpy")
    make_good_images(tmp_path / "in", 14)
    out = tmp_path / "out"
    args = ["reconstruct", tmp_path / "in", "-o", out, "--weights", tiny_checkpoint, "--device", "cpu",
            "--format", "obj,glb,ply,blend", "--batch-size", "1"]
    process = _python_m(*args, output=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.blend"))) < 4 and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    finished_before = {p.stem for p in out.glob("*.blend")}
    assert 4 <= len(finished_before) < 14, "the kill should land in the middle of the batch"
    finals = [p for p in out.iterdir() if not p.name.startswith(".")]
    for path in finals:
        check_output_parses(path)

    process = _python_m(*args)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    summary = read_summary(out)
    skipped = {r["name"] for r in summary["images"] if r["status"] == "skipped"}
    assert skipped == finished_before            # .blend is each image's last file
    assert summary["counts"]["done"] + summary["counts"]["skipped"] == 14
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no temporary files left
    for path in out.iterdir():
        check_output_parses(path)
    assert len(list(out.glob("*.blend"))) == 14


def test_python_m_entry_point_and_missing_bpy(tmp_path, tiny_checkpoint):
    """`python -m blender_p2m` works; without bpy, Blender-made outputs are one clear error."""
    make_good_images(tmp_path / "in", 1)
    process = _python_m("reconstruct", tmp_path / "in", "-o", tmp_path / "out", "--weights",
                        tiny_checkpoint, "--device", "cpu", "--format", "glb")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    check_output_parses(tmp_path / "out" / "wide.glb")
    code = ("import sys; sys.modules['bpy'] = None; from blender_p2m.batch.cli import main; "
            f"sys.exit(main(['reconstruct', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'o2')!r}, "
            f"'--format', 'blend']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: .blend files")
    assert "Traceback" not in result.stderr
