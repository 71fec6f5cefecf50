"""Security: no file the project reads can run code, no network access at run time, no
writes outside the output folder.

Covered elsewhere, not repeated here:
- checkpoints are read with weights_only=True; a pickle payload in a weights file never
  runs: tests/test_checkpoint.py::test_code_in_a_pickle_is_never_run, and at every entry
  point (api, command line, add-on) the weights cases of tests/bad_inputs.py, run by
  tests/test_reliability.py, which check that the payload's file was not created;
- the ShapeNet reader's restricted unpickler on a plain payload:
  tests/test_training.py::test_shapenet_p2m_format_and_restricted_unpickling;
- the PyTorch installer (the one network access) refuses to start without Blender's
  online access: tests/test_addon_bpy.py::test_install_refused_without_online_access.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bad_inputs as corpus
from blender_p2m.errors import P2MError

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this creates `marker` (through os.system: a shell command)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class ListPayload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):                        # a less common route: builtins.exec
        return (exec, (f"open({self.marker!r}, 'w').close()",))


# ----------------------------------------------------------------------------- training data
def _pickles(marker: Path) -> dict[str, bytes]:
    """Hostile .dat files: each would create `marker` (or smuggle objects) if unpickled."""
    objects = np.empty(2, dtype=object)
    objects[:] = [Payload(marker), 1.0]
    plain_objects = np.empty(3, dtype=object)
    plain_objects[:] = ["a", ["b"], {"c": 1}]
    return {
        "os.system": pickle.dumps(Payload(marker), protocol=2),
        "builtins.exec": pickle.dumps(ListPayload(marker), protocol=2),
        "nested in a list": pickle.dumps([np.zeros((3, 6)), Payload(marker)], protocol=2),
        "inside an object array": pickle.dumps(objects, protocol=2),
        "object array, no code": pickle.dumps(plain_objects, protocol=2),
        "protocol 5": pickle.dumps(Payload(marker), protocol=5),
    }


@pytest.mark.parametrize("kind", sorted(_pickles(Path("x"))))
def test_shapenet_dat_payloads_never_run(tmp_path, kind):
    """Through the training dataset itself (what training.train reads)."""
    from PIL import Image

    from training.data.shapenet import ShapeNetP2MDataset, UnsafePickleError

    marker = tmp_path / "PWNED"
    view = tmp_path / "ShapeNetP2M" / "02691156" / "abc" / "rendering"
    view.mkdir(parents=True)
    data = _pickles(marker)[kind]
    (view / "00.dat").write_bytes(data)
    Image.new("RGBA", (137, 137), (200, 10, 10, 255)).save(view / "00.png")
    (tmp_path / "list.txt").write_text("ShapeNetP2M/02691156/abc/rendering/00.dat\n")
    dataset = ShapeNetP2MDataset(tmp_path, tmp_path / "list.txt", input_size=64, points=100)
    with pytest.raises(UnsafePickleError) as excinfo:
        dataset[0]
    assert "00.dat" in str(excinfo.value) and "Traceback" not in str(excinfo.value)
    assert not marker.exists()
    if kind == "os.system":                      # the payload is real: plain pickle runs it
        pickle.loads(data)
        assert marker.exists()


def test_dataset_surface_files_with_pickles_are_refused(tmp_path):
    """surface.npz is read with numpy's allow_pickle=False: a pickle in its place, or an
    object array inside it, is refused and its payload never runs."""
    from training.data.dataset import _surface

    marker = tmp_path / "PWNED"
    as_pickle = tmp_path / "as_pickle"
    as_pickle.mkdir()
    (as_pickle / "surface.npz").write_bytes(pickle.dumps(Payload(marker)))
    with_objects = tmp_path / "with_objects"
    with_objects.mkdir()
    objects = np.empty(1, dtype=object)
    objects[0] = Payload(marker)
    np.savez(with_objects / "surface.npz", points=objects, normals=np.zeros((1, 3)))
    for folder in (as_pickle, with_objects):
        with pytest.raises(ValueError, match="allow_pickle=False"):
            _surface(str(folder))
    assert not marker.exists()


# ----------------------------------------------------------------------------- .blend files
@pytest.fixture
def auto_run_allowed():
    """As for a user who ticked 'Auto Run Python Scripts' (restored afterwards)."""
    bpy = pytest.importorskip("bpy")
    filepaths = bpy.context.preferences.filepaths
    before = filepaths.use_scripts_auto_execute
    filepaths.use_scripts_auto_execute = True
    yield bpy
    filepaths.use_scripts_auto_execute = before


def _driver_payload(marker: Path) -> str:
    """A driver expression that creates `marker` when Python drivers are allowed."""
    return f"50.0 + len(open({str(marker)!r}, 'w').name) * 0"


def evil_blend(path: Path, marker: Path) -> Path:
    """A .blend whose camera's lens has a Python driver writing `marker`, whose mesh object
    has another, and with a registered text block (runs on file open if allowed)."""
    import bpy

    scene = bpy.data.scenes.new("EvilScene")
    camera_data = bpy.data.cameras.new("EvilCam")
    camera = bpy.data.objects.new("EvilCam", camera_data)
    mesh = bpy.data.meshes.new("EvilMesh")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)], [],
                     [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)])
    thing = bpy.data.objects.new("EvilMesh", mesh)
    for obj in (camera, thing):
        scene.collection.objects.link(obj)
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = 48, 40
    for owner, prop in ((camera_data, "lens"), (thing, "location")):
        curve = owner.driver_add(prop) if prop == "lens" else owner.driver_add(prop, 0)
        curve.driver.type = 'SCRIPTED'
        curve.driver.expression = _driver_payload(marker)
    text = bpy.data.texts.new("evil.py")
    text.write(f"open({str(marker)!r}, 'w').write('text block ran')\n")
    text.use_module = True
    try:
        bpy.data.libraries.write(str(path), {scene, text}, fake_user=True)
    finally:
        bpy.data.batch_remove([scene, camera, camera_data, thing, mesh, text])
    return path


def test_the_driver_payload_is_real_and_the_guard_blocks_it(auto_run_allowed, tmp_path):
    """With auto-run allowed, the payload runs in a plain scene; inside
    python_scripts_disabled() it does not, and the setting is restored afterwards."""
    from blender_p2m.blender.blend_file import python_scripts_disabled

    bpy = auto_run_allowed
    made = []

    def driven_camera(marker: Path):
        data = bpy.data.cameras.new("Driven")
        obj = bpy.data.objects.new("Driven", data)
        bpy.context.scene.collection.objects.link(obj)
        made.extend([obj, data])
        curve = data.driver_add("lens")
        curve.driver.type = 'SCRIPTED'
        curve.driver.expression = _driver_payload(marker)
        bpy.context.view_layer.update()
        return data

    try:
        driven_camera(tmp_path / "allowed")
        assert (tmp_path / "allowed").exists()
        with python_scripts_disabled():
            assert not bpy.context.preferences.filepaths.use_scripts_auto_execute
            driven_camera(tmp_path / "guarded")
        assert not (tmp_path / "guarded").exists() and bpy.app.autoexec_fail
        assert bpy.context.preferences.filepaths.use_scripts_auto_execute   # restored
    finally:
        bpy.data.batch_remove(made)


def test_camera_blend_runs_nothing_from_the_file(auto_run_allowed, tmp_path, tiny_checkpoint):
    """--camera-blend with a hostile .blend, auto-run allowed by the user: the batch takes
    the camera and no driver or text block of the file runs."""
    from blender_p2m.batch.intrinsics_source import camera_from_blend

    bpy = auto_run_allowed
    marker = tmp_path / "PWNED"
    blend = evil_blend(tmp_path / "evil.blend", marker)
    libraries = len(bpy.data.libraries)
    choice = camera_from_blend(blend)
    assert choice.source == "blend" and choice.intrinsics.width == 48
    (tmp_path / "in").mkdir()
    corpus._good(tmp_path / "in", "a.png")
    code, _, err = corpus.run_cli_main(["reconstruct", tmp_path / "in", "-o", tmp_path / "out",
                                        "--weights", tiny_checkpoint, "--camera-blend", blend,
                                        "--format", "obj"])
    assert code == 0, err
    assert not marker.exists()
    assert len(bpy.data.libraries) == libraries                    # nothing left linked
    assert bpy.context.preferences.filepaths.use_scripts_auto_execute


def test_training_mesh_import_runs_nothing_from_a_blend(auto_run_allowed, tmp_path):
    """A .blend given to `training.data build --source` is appended and evaluated: its
    Python drivers do not run even where auto-run is allowed."""
    from training.data.mesh_import import load_mesh

    marker = tmp_path / "PWNED"
    vertices, faces = load_mesh(evil_blend(tmp_path / "evil.blend", marker))
    assert len(faces) == 4 and not marker.exists()


def test_rendering_a_blend_with_its_materials_runs_nothing(auto_run_allowed, tmp_path):
    """The data builder keeps a .blend's objects (and materials) in its scene while it
    renders the views: their drivers must not run then either."""
    from training.data.convention import DataConvention
    from training.data.render import Renderer
    from training.data.views import sample_views

    marker = tmp_path / "PWNED"
    renderer = Renderer(64, engine="workbench")          # reads factory settings: allow again
    auto_run_allowed.context.preferences.filepaths.use_scripts_auto_execute = True
    vertices, faces = renderer.set_model_file(evil_blend(tmp_path / "evil.blend", marker), 0.57)
    view = sample_views(np.random.default_rng(0), 1, DataConvention())[0]
    renderer.render_view(view, tmp_path / "view.png")
    renderer.set_mesh(vertices, faces)                     # and letting go of the file's objects
    assert (tmp_path / "view.png").is_file() and len(faces) == 4 and not marker.exists()


# ----------------------------------------------------------------------------- sidecars
def _sidecars(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (sidecar path, words its error must contain)."""
    good = json.dumps(corpus.GOOD_INTRINSICS)
    cases = {
        "huge": (good + " " * 2_000_000, "larger than"),
        "deeply nested": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        "5000-digit number": ('{"fx": ' + "9" * 5000 + "}", "not usable JSON"),
        "400-digit integer": (json.dumps({**corpus.GOOD_INTRINSICS, "fx": 10 ** 400}), "finite number"),
        "NaN": (good.replace("60.0", "NaN", 1), "finite number"),
        "Infinity": (good.replace("24.0", "Infinity", 1), "finite number"),
        "1e999": (good.replace("24.0", "1e999", 1), "finite number"),
        "a string": (json.dumps({**corpus.GOOD_INTRINSICS, "fy": "60"}), "finite number"),
        "a boolean": (json.dumps({**corpus.GOOD_INTRINSICS, "width": True}), "finite number"),
        "negative width": (json.dumps({**corpus.GOOD_INTRINSICS, "width": -48}), "positive whole"),
        "fractional height": (json.dumps({**corpus.GOOD_INTRINSICS, "height": 40.5}), "positive whole"),
        "missing keys": ('{"fx": 1}', "lacks"),
        "a list": ("[1, 2, 3]", "JSON object"),
        "not JSON": ("fx = 60\n", "not valid JSON"),
        "binary": (None, "not a text file"),
        "empty": ("", "not valid JSON"),
    }
    out = {}
    for k, (name, (text, words)) in enumerate(sorted(cases.items())):
        image = corpus._good(folder, f"s{k:02d}.png")
        sidecar = image.with_suffix(".json")
        if text is None:
            sidecar.write_bytes(b"\xff\xfe\x00\x01binary")
        else:
            sidecar.write_text(text)
        out[name] = (sidecar, words)
    return out


def test_hostile_sidecars_are_clear_errors(tmp_path):
    from blender_p2m.batch.intrinsics_source import read_sidecar

    for name, (sidecar, words) in _sidecars(tmp_path).items():
        with pytest.raises(P2MError) as excinfo:
            read_sidecar(sidecar)
        message = str(excinfo.value)
        assert words in message and sidecar.name in message and len(message) < 300, (name, message)


def test_hostile_sidecars_in_a_batch_fail_alone(tmp_path, tiny_checkpoint):
    """Every image with a hostile sidecar fails with its reason (none as an internal
    error); a sidecar that is a pipe is not opened (it would block): default camera."""
    folder = tmp_path / "in"
    folder.mkdir()
    cases = _sidecars(folder)
    piped = corpus._good(folder, "piped.png")
    os.mkfifo(piped.with_suffix(".json"))
    code, _, err = corpus.run_cli_main(["reconstruct", folder, "-o", tmp_path / "out",
                                        "--weights", tiny_checkpoint, "--format", "obj"])
    assert code == 1 and "Traceback" not in err
    records = {r["name"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())["images"]}
    for name, (sidecar, words) in cases.items():
        record = records[sidecar.stem]
        assert record["status"] == "failed" and words in record["reason"], (name, record)
    assert records["piped"]["status"] == "done" and records["piped"]["camera"] == "default"


# ----------------------------------------------------------------------------- network
@contextlib.contextmanager
def no_network():
    """Every way Python code opens a connection or resolves a name raises and is recorded."""
    attempts = []

    def refuse(what):
        def blocked(*args, **kwargs):
            attempts.append((what, args[1:] if what.startswith("socket.") else args))
            raise OSError(f"network access attempted: {what}")
        return blocked

    patches = {(socket.socket, "connect"): refuse("socket.connect"),
               (socket.socket, "connect_ex"): refuse("socket.connect_ex"),
               (socket.socket, "sendto"): refuse("socket.sendto"),
               (socket, "create_connection"): refuse("create_connection"),
               (socket, "getaddrinfo"): refuse("getaddrinfo"),
               (socket, "gethostbyname"): refuse("gethostbyname")}
    saved = {key: getattr(*key) for key in patches}
    for (owner, name), replacement in patches.items():
        setattr(owner, name, replacement)
    try:
        yield attempts
    finally:
        for (owner, name), original in saved.items():
            setattr(owner, name, original)


def test_the_network_guard_catches_attempts():
    with no_network() as attempts:
        with pytest.raises(OSError), socket.socket() as s:
            s.connect(("127.0.0.1", 9))
        with pytest.raises(OSError):
            socket.create_connection(("example.com", 80))
        with pytest.raises(OSError):
            import urllib.request
            urllib.request.urlopen("http://example.com", timeout=1)
    assert [a[0] for a in attempts] == ["socket.connect", "create_connection", "create_connection"]


def test_no_network_access_at_run_time(tmp_path, tiny_checkpoint):
    """A reconstruction, a batch with every Blender-made output, and a click in the
    add-on: no connection attempted, no name looked up."""
    bpy = pytest.importorskip("bpy")
    from blender_p2m.api import load_model

    (tmp_path / "in").mkdir()
    image = corpus._good(tmp_path / "in", "a.png")
    runner = corpus.AddonRunner(tiny_checkpoint)
    try:
        with no_network() as attempts:
            load_model(tiny_checkpoint, device="auto").reconstruct(image)
            code, _, err = corpus.run_cli_main([
                "reconstruct", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_checkpoint,
                "--format", "obj,glb,ply,blend", "--preview", "--combined"])
            scene = runner.reset(48, 40)
            scene.pixel2mesh.image_source, scene.pixel2mesh.image_path = 'FILE', str(image)
            scene.pixel2mesh.project_texture = True
            assert bpy.ops.pixel2mesh.reconstruct('EXEC_DEFAULT', True) == {'FINISHED'}
    finally:
        runner.close()
    assert code == 0, err
    assert attempts == []
    assert getattr(bpy.app, "online_access", False) is False      # Blender's own switch, off


# ----------------------------------------------------------------------------- writes
def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """relative path -> (kind, size, mtime) of everything under root, skipping some names."""
    result = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        rel = os.path.relpath(folder, root)
        result[rel] = ("dir",)
        for name in files:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(path)
                result[os.path.join(rel, name)] = ("file", st.st_size, st.st_mtime_ns)
    return result


def changes(before: dict, after: dict) -> list[str]:
    return sorted({k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})


# Left out of the repository snapshot: what other processes write while tests run (the
# training run, other test files), and Python's own bytecode caches (PYTHONDONTWRITEBYTECODE).
REPO_SKIP = (".git", "runs", "datasets", "outputs", "test-artifacts", "tests", ".pytest_cache",
             "__pycache__", "dist")
# Blender creates these empty folders in HOME: thumbnail folders when bpy starts, its GPU
# shader cache folder when it renders (the previews). No files.
BLENDER_HOME_FOLDERS = {".", ".cache", ".cache/thumbnails", ".cache/thumbnails/fail",
                        ".cache/thumbnails/fail/blender", ".cache/thumbnails/large",
                        ".cache/thumbnails/normal", ".cache/blender", ".cache/blender/gl-shader-cache"}


def test_a_batch_writes_only_into_its_output_folder(tmp_path, tiny_checkpoint):
    """`python -m blender_p2m reconstruct` with every output kind, HOME and TMPDIR pointing
    at fresh folders, run from a fresh folder: afterwards only the output folder differs;
    HOME holds no file (Blender's empty cache folders only); TMPDIR is empty again."""
    home, tmpdir, cwd, inputs = (tmp_path / n for n in ("home", "tmp", "cwd", "in"))
    for folder in (home, tmpdir, cwd, inputs):
        folder.mkdir()
    corpus._good(inputs, "a.png")
    corpus.write_sidecar(corpus._good(inputs, "b.png"), corpus.GOOD_INTRINSICS)
    watched = {"repo": (REPO, REPO_SKIP), "inputs": (inputs, ()), "cwd": (cwd, ()),
               "weights": (tiny_checkpoint.parent, ())}
    before = {name: snapshot(root, skip) for name, (root, skip) in watched.items()}
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmpdir), PYTHONPATH=str(REPO),
               OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "blender_p2m", "reconstruct", str(inputs),
                             "-o", str(tmp_path / "out"), "--weights", str(tiny_checkpoint),
                             "--device", "cpu", "--format", "obj,glb,ply,blend", "--preview",
                             "--combined"], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for name, (root, skip) in watched.items():
        assert changes(before[name], snapshot(root, skip)) == [], name
    home_entries = snapshot(home)
    assert [k for k, v in home_entries.items() if v[0] != "dir"] == []
    assert set(home_entries) <= BLENDER_HOME_FOLDERS, sorted(home_entries)
    assert os.listdir(tmpdir) == []
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["a.blend", "a.glb", "a.obj", "a.ply", "a_preview.png", "b.blend", "b.glb",
                       "b.obj", "b.ply", "b_preview.png", "combined.blend", "summary.json"]
