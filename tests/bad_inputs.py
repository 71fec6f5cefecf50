"""A corpus of bad and odd inputs, and one runner per public entry point.

Every case is made here, from nothing, in a folder the caller gives: images (broken,
hostile or merely unusual), intrinsics, cameras, weights and batch situations. Each case
says what must happen at each entry point: "ok" (a correct result) or an error whose text
must match a pattern. The runners feed a case through

    api     blender_p2m.api: load_model(...).reconstruct(...)
    cli     python -m blender_p2m reconstruct ... (blender_p2m.batch.cli.main, in-process)
    addon   the Reconstruct operator in the bpy module (bpy.ops.pixel2mesh.reconstruct)

and return an Observation: what happened, in words, and whether anything was left
half-written or lost. tests/test_reliability.py asserts on them; benchmarks/
reliability_report.py prints them as the table in docs/reliability.md.

"Clear error" is checked the same way everywhere: a P2MError (api), one `error:` line or a
`failed:` line per bad image with no traceback (cli), a RuntimeError from the operator's
ERROR report (addon); and nothing half-written: no temporary files, no partial outputs, no
new datablocks, every pre-existing file and object unchanged.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import pickle
import re
import resource
import stat
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OK = "ok"
ENTRY_POINTS = ("api", "cli", "addon")
# Peak memory a refused image may add (a decoded 9000 x 9000 bomb would add over 300 MB).
BOMB_MEMORY_BOUND_MB = 100


# ----------------------------------------------------------------------------- pictures
def object_rgba(width: int, height: int, centre=(0.5, 0.5), colour=(220, 110, 40)) -> np.ndarray:
    """(H, W, 4) uint8: an opaque ellipse (the "object") on a transparent background."""
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy = centre[0] * width, centre[1] * height
    inside = ((xx + 0.5 - cx) / (0.2 * width)) ** 2 + ((yy + 0.5 - cy) / (0.22 * height)) ** 2 < 1
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[inside] = (*colour, 255)
    return rgba


def _save(array: np.ndarray, path: Path, **kwargs) -> Path:
    from PIL import Image

    Image.fromarray(array).save(path, **kwargs)
    return path


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(path: Path, width: int, height: int, rows_of_data: int | None = None) -> Path:
    """A valid greyscale PNG of width x height zero pixels: kilobytes on disk, width * height
    bytes (and 16 x that as float RGBA) once decoded. rows_of_data=None writes every row."""
    path.write_bytes(_png_bomb_bytes(width, height, height if rows_of_data is None else rows_of_data))
    return path


@functools.lru_cache(maxsize=4)
def _png_bomb_bytes(width: int, height: int, rows: int) -> bytes:
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)                       # filter byte + pixels
    parts = [compressor.compress(row * min(256, rows - k)) for k in range(0, rows, 256)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def _noise_file(path: Path, fmt: str, keep: float) -> Path:
    """An incompressible image cut to a fraction of its bytes (a download that stopped)."""
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format=fmt)
    data = buffer.getvalue()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def exif_rotated_jpeg(path: Path, stored: np.ndarray, orientation: int = 6) -> Path:
    """A JPEG whose pixels are `stored` and whose EXIF says: display rotated (6 = 90 deg clockwise)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    return path


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One input situation.

    Attributes:
        area: "image", "intrinsics", "camera", "weights" or "batch".
        name: short identifier (test ids, file names).
        description: what the case is, for the table.
        expected: entry point -> OK or a regex the error must match; entry points left
            out do not apply to this case.
        make: folder -> the case's input (usually a path); see each area's runner.
        note: why the expectation is what it is, when not obvious.
    """

    area: str
    name: str
    description: str
    expected: dict
    make: Callable
    note: str = ""


@dataclass
class Observation:
    """What one run of one case at one entry point did.

    outcome: OK or the error text; clean: nothing half-written or left over; lost: the
    pre-existing data that was changed or removed (must stay empty); detail: extra words.
    """

    outcome: str
    clean: bool = True
    lost: list = field(default_factory=list)
    detail: str = ""

    def matches(self, expected: str) -> bool:
        if expected == OK:
            return self.outcome == OK and self.clean and not self.lost
        return (self.outcome != OK and re.search(expected, self.outcome) is not None
                and self.clean and not self.lost and "Traceback" not in self.outcome)

    def words(self) -> str:
        text = "correct result" if self.outcome == OK else f"error: {self.outcome}"
        if self.detail:
            text += f" ({self.detail})"
        if not self.clean:
            text += " [LEFT SOMETHING BEHIND]"
        if self.lost:
            text += f" [LOST: {', '.join(self.lost)}]"
        return text


# Images: make(folder) -> path of the file. Expected "ok" also checks the decoded pixels
# (IMAGE_CHECKS), so a wrong decode is not a pass.
def _empty(d: Path) -> Path:
    (d / "empty.png").write_bytes(b"")
    return d / "empty.png"


def _text(d: Path) -> Path:
    (d / "notes.png").write_text("shopping list: eggs, milk\n")
    return d / "notes.png"


def _one_pixel(d: Path) -> Path:
    return _save(np.full((1, 1, 3), 90, np.uint8), d / "dot.png")


def _animated(d: Path) -> Path:
    from PIL import Image

    frames = [Image.new("RGB", (48, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return d / "anim.gif"


def _png16(d: Path) -> Path:
    values = (np.arange(48 * 40).reshape(40, 48) * 30 + 7).astype(np.uint16)
    return _save(values, d / "deep16.png")


def _cmyk(d: Path) -> Path:
    from PIL import Image

    cmyk = Image.new("CMYK", (48, 40), (0, 255, 255, 0))                   # red
    cmyk.paste((0, 0, 0, 0), (24, 0, 48, 40))                              # right half white
    cmyk.save(d / "print.jpg", quality=95)
    return d / "print.jpg"


def _palette(d: Path) -> Path:
    from PIL import Image

    img = Image.new("P", (48, 40), 0)
    img.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
    img.paste(1, (12, 10, 36, 30))
    img.save(d / "sprite.png", transparency=0)
    return d / "sprite.png"


def _exif(d: Path) -> Path:
    stored = np.zeros((40, 60, 3), np.uint8)                               # 60 x 40 as stored
    stored[:, :30] = (255, 0, 0)                                           # red: stored left half
    stored[:, 30:] = (0, 0, 255)
    return exif_rotated_jpeg(d / "phone.jpg", stored, orientation=6)


def _transparent(d: Path) -> Path:
    return _save(np.zeros((40, 48, 4), np.uint8), d / "clear.png")


def _white(d: Path) -> Path:
    return _save(np.full((40, 48, 3), 255, np.uint8), d / "white.png")


def _good(d: Path, name: str = "good.png") -> Path:
    return _save(object_rgba(48, 40), d / name)


def _folder_named_png(d: Path) -> Path:
    (d / "folder.png").mkdir()
    return d / "folder.png"


def _broken_link(d: Path) -> Path:
    (d / "link.png").symlink_to(d / "gone.png")
    return d / "link.png"


def _fifo(d: Path) -> Path:
    os.mkfifo(d / "pipe.png")
    return d / "pipe.png"


def _device(d: Path) -> Path:
    (d / "zero.png").symlink_to("/dev/zero")
    return d / "zero.png"


def _no_permission(d: Path) -> Path:
    path = _good(d, "locked.png")
    path.chmod(0)
    return path


IS_ROOT = os.geteuid() == 0

IMAGE_CASES = [
    Case("image", "empty", "empty file (0 bytes) named .png",
         {"api": "empty", "cli": "empty", "addon": "empty"}, _empty),
    Case("image", "truncated_png", "PNG cut at 50 % of its bytes",
         {"api": "truncated or damaged", "cli": "truncated or damaged", "addon": "cannot read"},
         lambda d: _noise_file(d / "cut.png", "PNG", 0.5)),
    Case("image", "truncated_jpeg", "JPEG cut at 50 % of its bytes",
         {"api": "truncated or damaged", "cli": "truncated or damaged", "addon": OK},
         lambda d: _noise_file(d / "cut.jpg", "JPEG", 0.5),
         note="the add-on's reader, Blender's, shows a cut JPEG with the missing part grey, as "
              "image viewers do"),
    Case("image", "text_as_png", "a text file renamed .png",
         {"api": "not an image", "cli": "not an image", "addon": "cannot read"}, _text),
    Case("image", "one_pixel", "1 x 1 pixel image",
         {"api": "1x1", "cli": "1x1", "addon": "1x1"}, _one_pixel),
    Case("image", "bomb_30000", "decompression bomb: PNG header says 30000 x 30000 (4 KB file)",
         {"api": "megapixels", "cli": "megapixels", "addon": "megapixels"},
         lambda d: png_bomb(d / "bomb.png", 30000, 30000, rows_of_data=64)),
    Case("image", "bomb_9000", "decompression bomb: complete 9000 x 9000 PNG (79 KB file, 81 MP)",
         {"api": "megapixels", "cli": "megapixels", "addon": "megapixels"},
         lambda d: png_bomb(d / "bomb9k.png", 9000, 9000),
         note="refused from the header, before any decoding: peak memory checked"),
    Case("image", "animated_gif", "animated GIF, 3 frames (red, green, blue)",
         {"api": OK, "cli": OK, "addon": OK}, _animated, note="the first frame is used"),
    Case("image", "png16", "16-bit greyscale PNG",
         {"api": OK, "cli": OK, "addon": OK}, _png16, note="full 16-bit precision"),
    Case("image", "cmyk_jpeg", "CMYK JPEG",
         {"api": OK, "cli": OK, "addon": OK}, _cmyk, note="converted to RGB"),
    Case("image", "palette_png", "palette PNG with a transparent index",
         {"api": OK, "cli": OK, "addon": OK}, _palette, note="transparency kept"),
    Case("image", "exif_rotated", "JPEG stored 60 x 40 with EXIF orientation 6 (90 deg clockwise)",
         {"api": OK, "cli": OK, "addon": OK}, _exif,
         note="api/cli: displayed upright (40 x 60); the add-on uses the image as Blender shows "
              "it (Blender ignores EXIF orientation)"),
    Case("image", "transparent", "fully transparent image",
         {"api": OK, "cli": OK, "addon": OK}, _transparent, note="seen as white"),
    Case("image", "transparent_crop", "fully transparent image, crop to object",
         {"api": "No object found", "cli": "No object found", "addon": "No object found"},
         _transparent),
    Case("image", "white", "all-white image",
         {"api": OK, "cli": OK, "addon": OK}, _white),
    Case("image", "white_crop", "all-white image, crop to object",
         {"api": "No object found", "cli": "No object found", "addon": "No object found"}, _white),
    Case("image", "folder_named_png", "a folder named folder.png",
         {"api": "folder", "cli": "folder", "addon": "not an image file"}, _folder_named_png),
    Case("image", "broken_symlink", "a symbolic link link.png to a file that does not exist",
         {"api": "link", "cli": "link", "addon": "not an image file"}, _broken_link),
    Case("image", "fifo", "a named pipe (FIFO) pipe.png (reading it would block forever)",
         {"api": "not a regular file", "cli": "not a regular file", "addon": "not an image file"},
         _fifo),
    Case("image", "device", "zero.png, a link to the device /dev/zero (endless)",
         {"api": "not a regular file", "cli": "not a regular file", "addon": "not an image file"},
         _device),
    Case("image", "no_permission", "a good image with permissions 000",
         {"api": OK if IS_ROOT else "permission", "cli": OK if IS_ROOT else "permission",
          "addon": OK if IS_ROOT else "cannot read"}, _no_permission,
         note="root reads it anyway (as the OS allows); as another user see test_reliability"),
]
CROP_CASES = {"transparent_crop", "white_crop"}


def _pixels_close(rgba, where, value, atol=0.03) -> bool:
    return bool(np.allclose(rgba[where], value, atol=atol))


# What the decoded pixels of each "ok" image must be (api/cli decode with Pillow).
IMAGE_CHECKS = {
    "truncated_jpeg": lambda rgba: True,
    "animated_gif": lambda rgba: rgba.shape == (40, 48, 4) and _pixels_close(rgba, (20, 24), [1, 0, 0, 1]),
    "png16": lambda rgba: rgba.shape == (40, 48, 4) and abs(float(rgba[39, 47, 0]) - (1919 * 30 + 7) / 65535) < 1e-6,
    "cmyk_jpeg": lambda rgba: _pixels_close(rgba, (20, 6), [1, 0, 0, 1], 0.06) and _pixels_close(rgba, (20, 42), [1, 1, 1, 1], 0.06),
    "palette_png": lambda rgba: rgba[0, 0, 3] == 0 and _pixels_close(rgba, (20, 24), [200 / 255, 30 / 255, 30 / 255, 1], 1e-6),
    "exif_rotated": lambda rgba: rgba.shape == (60, 40, 4) and rgba[:30, :, 0].mean() > 0.9 and rgba[30:, :, 2].mean() > 0.9,
    "transparent": lambda rgba: rgba.shape == (40, 48, 4) and rgba[..., 3].max() == 0,
    "white": lambda rgba: rgba.min() == 1.0,
    "no_permission": lambda rgba: rgba.shape == (40, 48, 4),
}

# Intrinsics: make(folder) -> (image path, Intrinsics as a dict); the image is 48 x 40.
GOOD_INTRINSICS = {"fx": 60.0, "fy": 60.0, "cx": 24.0, "cy": 20.0, "width": 48, "height": 40}


def _intrinsics(**changes):
    def make(d: Path):
        return _good(d), {**GOOD_INTRINSICS, **changes}
    return make


INTRINSICS_CASES = [
    Case("intrinsics", "nan_focal", "fx = NaN",
         {"api": "NaN or infinity", "cli": "finite number"}, _intrinsics(fx=float("nan"))),
    Case("intrinsics", "inf_principal", "cx = infinity",
         {"api": "NaN or infinity", "cli": "finite number"}, _intrinsics(cx=float("inf"))),
    Case("intrinsics", "zero_focal", "fx = 0",
         {"api": "must be positive", "cli": "must be positive"}, _intrinsics(fx=0.0)),
    Case("intrinsics", "negative_focal", "fy = -60",
         {"api": "must be positive", "cli": "must be positive"}, _intrinsics(fy=-60.0)),
    Case("intrinsics", "far_principal", "principal point (1000, 20), far right of a 48 px image",
         {"api": "far outside", "cli": "far outside", "addon": "far outside"},
         _intrinsics(cx=1000.0)),
    Case("intrinsics", "size_mismatch", "intrinsics for 1920 x 1080, image 48 x 40",
         {"api": "another aspect ratio", "cli": "another aspect ratio", "addon": "cannot line up"},
         _intrinsics(width=1920, height=1080, cx=960.0, cy=540.0)),
    Case("intrinsics", "resized_copy", "intrinsics for the same camera at 96 x 80 (2x the image)",
         {"api": OK, "cli": OK}, _intrinsics(fx=120.0, fy=120.0, cx=48.0, cy=40.0, width=96, height=80),
         note="rescaled to the image"),
]

# Cameras: make(folder) -> camera kind; the api has pinhole Intrinsics only (None = default).
CAMERA_CASES = [
    Case("camera", "orthographic", "orthographic camera",
         {"cli": "orthographic", "addon": "orthographic"}, lambda d: "ORTHO"),
    Case("camera", "panoramic", "panoramic camera",
         {"cli": "panoramic", "addon": "panoramic"}, lambda d: "PANO"),
    Case("camera", "none", "no camera (api: intrinsics=None)",
         {"api": OK, "cli": "no scene in .* has an active camera", "addon": "No camera"},
         lambda d: None, note="api/cli without --camera-blend: the default camera"),
]


# Weights: make(folder) -> weights path. PWNED is created by the pickles' payload if run.
def pwned_marker(folder: Path) -> Path:
    return folder / "PWNED"


class _RunsCode:
    """Unpickling this runs `open(marker, "w")`: the marker file appears."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _random_weights(config: str, seed: int = 0):
    import torch

    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import checkpoint_dict

    torch.manual_seed(seed)
    return checkpoint_dict(Pixel2Mesh(get_config(config)))


@functools.lru_cache(maxsize=None)
def _checkpoint_bytes(kind: str) -> bytes:
    import torch

    ckpt = _random_weights("compact" if kind == "other_configuration" else "tiny")
    if kind == "mismatched_configuration":
        from blender_p2m.model import get_config
        ckpt["config"] = get_config("compact").to_dict()        # tiny weights, compact network
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    return buffer.getvalue()


def _weights_file(kind: str) -> Callable:
    def make(d: Path) -> Path:
        import torch

        path = d / f"{kind}.pt"
        if kind == "missing":
            return path
        if kind in ("truncated", "other_configuration", "mismatched_configuration"):
            data = _checkpoint_bytes(kind)
            path.write_bytes(data[:len(data) // 2] if kind == "truncated" else data)
        elif kind == "random_bytes":
            path.write_bytes(np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
        elif kind == "pickle_runs_code":
            path.write_bytes(pickle.dumps(_RunsCode(str(pwned_marker(d)))))
        elif kind == "checkpoint_runs_code":
            ckpt = _random_weights("tiny")
            ckpt["metadata"]["innocent"] = _RunsCode(str(pwned_marker(d)))
            torch.save(ckpt, path)
        return path
    return make


WEIGHTS_CASES = [
    Case("weights", "missing", "weights file does not exist",
         {"api": "not found", "cli": "not found", "addon": "not found"}, _weights_file("missing")),
    Case("weights", "truncated", "checkpoint cut at 50 %",
         {"api": "truncated or corrupted", "cli": "truncated or corrupted",
          "addon": "truncated or corrupted"}, _weights_file("truncated")),
    Case("weights", "random_bytes", "8 KB of random bytes",
         {"api": "not a blender-p2m checkpoint", "cli": "not a blender-p2m checkpoint",
          "addon": "not a blender-p2m checkpoint"}, _weights_file("random_bytes")),
    Case("weights", "other_configuration", "a valid checkpoint of another configuration (compact)",
         {"api": OK, "cli": OK, "addon": OK}, _weights_file("other_configuration"),
         note="the checkpoint rebuilds its own network"),
    Case("weights", "mismatched_configuration", "tiny weights labelled with the compact configuration",
         {"api": "does not match its configuration", "cli": "does not match its configuration",
          "addon": "does not match its configuration"}, _weights_file("mismatched_configuration")),
    Case("weights", "pickle_runs_code", "a pickle whose loading would create a file",
         {"api": "not a blender-p2m checkpoint", "cli": "not a blender-p2m checkpoint",
          "addon": "not a blender-p2m checkpoint"}, _weights_file("pickle_runs_code"),
         note="the file is not created"),
    Case("weights", "checkpoint_runs_code", "a real checkpoint carrying an object that would create a file",
         {"api": "could run code", "cli": "could run code", "addon": "could run code"},
         _weights_file("checkpoint_runs_code"), note="the file is not created"),
]


# Batch: make(folder) -> output path to give -o (the inputs are good images).
def _on_proc(d: Path) -> Path:
    return Path("/proc/self/p2m-output")


def _on_sys(d: Path) -> Path:
    return Path("/sys/p2m-output")


def _output_is_file(d: Path) -> Path:
    (d / "taken").write_text("a file, not a folder\n")
    return d / "taken"


def _output_inside_file(d: Path) -> Path:
    (d / "taken").write_text("a file, not a folder\n")
    return d / "taken" / "out"


BATCH_CASES = [
    Case("batch", "output_on_proc", "output folder under /proc (the kernel refuses new files, also for root)",
         {"cli": "Cannot (create|write)"}, _on_proc),
    Case("batch", "output_on_sys", "output folder under /sys (read-only sysfs, also for root)",
         {"cli": "Cannot (create|write)"}, _on_sys),
    Case("batch", "output_is_file", "output path is an existing file",
         {"cli": "is a file, not a folder"}, _output_is_file),
    Case("batch", "output_inside_file", "output path goes through an existing file",
         {"cli": "part of that path is a file"}, _output_inside_file),
]

ALL_CASES = IMAGE_CASES + INTRINSICS_CASES + CAMERA_CASES + WEIGHTS_CASES + BATCH_CASES


# ----------------------------------------------------------------------------- bookkeeping
def fingerprint(folder: Path) -> dict[str, str]:
    """name -> hash of every regular file directly in a folder (links and pipes noted, not read)."""
    result = {}
    if not folder.is_dir():
        return result
    for entry in sorted(folder.iterdir()):
        mode = entry.lstat().st_mode
        if stat.S_ISREG(mode):
            result[entry.name] = hashlib.sha1(entry.read_bytes()).hexdigest() if os.access(entry, os.R_OK) \
                else f"unreadable {entry.lstat().st_size}"
        else:
            result[entry.name] = f"mode {stat.S_IFMT(mode):o}"
    return result


def lost_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Pre-existing files removed or changed."""
    return [name for name, digest in before.items() if after.get(name) != digest]


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def live_rss_mb() -> float:
    """RSS after gc and glibc's malloc_trim hand freed heap back (see benchmarks/soak_batch.py)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return current_rss_mb()


@contextlib.contextmanager
def _restore_mode(path: Path):
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.exists() and not path.is_symlink() and path.stat().st_mode & 0o777 == 0:
                path.chmod(0o644)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# ----------------------------------------------------------------------------- the api
class ApiRunner:
    """Runs cases through blender_p2m.api (one model per weights file, loaded once)."""

    def __init__(self, weights: Path):
        from blender_p2m.api import load_model

        self.weights = Path(weights)
        self.model = load_model(self.weights, device="cpu")

    def run(self, case: Case, folder: Path) -> Observation:
        from blender_p2m.api import Intrinsics, P2MError, load_model
        from blender_p2m.image_io import to_rgba

        folder.mkdir(parents=True, exist_ok=True)
        made = case.make(folder)
        before = fingerprint(folder)
        peak = peak_rss_mb()
        detail = ""
        try:
            if case.area == "image":
                crop = "object" if case.name in CROP_CASES else None
                with _restore_mode(made):
                    rec = self.model.reconstruct(made, crop=crop)
                    check = IMAGE_CHECKS.get(case.name)
                    if check is not None and not check(to_rgba(made)):
                        return Observation("decoded pixels are wrong")
            elif case.area == "intrinsics":
                image, values = made
                rec = self.model.reconstruct(image, Intrinsics.from_dict(values))
            elif case.area == "camera":
                rec = self.model.reconstruct(_good(folder, "cam.png"), None)
                detail = "default camera"
            elif case.area == "weights":
                model = load_model(made, device="cpu")
                rec = model.reconstruct(_good(folder, "w.png"))
            else:
                raise AssertionError(case.area)
            outcome = OK if rec.vertices.shape == (2466, 3) and np.isfinite(rec.vertices).all() \
                else f"bad mesh {rec.vertices.shape}"
        except P2MError as error:
            outcome = str(error)
        except Exception as error:                          # noqa: BLE001 - a bug: report it
            outcome = f"Traceback: {type(error).__name__}: {error}"
        if case.area == "weights" and pwned_marker(folder).exists():
            return Observation(outcome, detail="CODE WAS RUN: the marker file exists")
        grown = peak_rss_mb() - peak
        if case.name.startswith("bomb"):
            detail = f"peak memory +{grown:.0f} MB"
            if grown > BOMB_MEMORY_BOUND_MB:
                outcome = f"decoded the bomb: peak memory +{grown:.0f} MB"
        after = fingerprint(folder)
        return Observation(outcome, clean=not temp_files(folder), lost=lost_files(before, after),
                           detail=detail)


# ----------------------------------------------------------------------------- the cli
def run_cli_main(args: list) -> tuple[int, str, str]:
    """blender_p2m.batch.cli.main in this process -> (exit code, stdout, stderr)."""
    from blender_p2m.batch import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def write_sidecar(image: Path, values: dict) -> Path:
    path = image.with_suffix(".json")
    path.write_text(json.dumps(values))          # NaN / Infinity written as JSON allows
    return path


def save_camera_blend(path: Path, kind: str | None) -> Path:
    """A .blend with one scene whose active camera is of `kind` (None: no camera at all)."""
    import bpy

    scene = bpy.data.scenes.new("P2MCameraScene")
    made = [scene]
    if kind is not None:
        data = bpy.data.cameras.new("P2MCam")
        data.type = kind
        obj = bpy.data.objects.new("P2MCam", data)
        scene.collection.objects.link(obj)
        scene.camera = obj
        made += [data, obj]
    scene.render.resolution_x, scene.render.resolution_y = 48, 40
    try:
        bpy.data.libraries.write(str(path), {scene}, fake_user=False)
    finally:
        bpy.data.batch_remove(made)
    return path


class CliRunner:
    """Runs cases through the batch command line (`python -m blender_p2m reconstruct`).

    The output folder starts with an unrelated file and a finished output of an earlier
    run; both must survive every case unchanged."""

    def __init__(self, weights: Path):
        self.weights = Path(weights)

    def _prefill(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "keep-me.txt").write_text("the user's own file\n")
        (out / "earlier.obj").write_text("v 0 0 -1\nv 1 0 -1\nv 0 1 -1\nf 1 2 3\n")

    def run(self, case: Case, folder: Path) -> Observation:
        folder.mkdir(parents=True, exist_ok=True)
        inputs = folder / "in"
        inputs.mkdir(exist_ok=True)
        out = folder / "out"
        made = case.make(inputs if case.area == "image" else folder)
        weights, extra, image = self.weights, [], None
        if case.area == "image":
            image = made
            if case.name in CROP_CASES:
                extra += ["--crop", "object"]
        elif case.area == "intrinsics":
            image, values = made
            image = image.rename(inputs / image.name)
            write_sidecar(image, values)
        elif case.area == "camera":
            image = _good(inputs, "cam.png")
            extra += ["--camera-blend", save_camera_blend(folder / "camera.blend", made)]
        elif case.area == "weights":
            image, weights = _good(inputs, "w.png"), made
        elif case.area == "batch":
            image, out = _good(inputs, "b.png"), made
        if case.area != "batch":
            self._prefill(out)
        watched = folder if case.area == "batch" else out     # the batch cases' file is there
        before = fingerprint(watched)
        input_before = fingerprint(inputs)
        with _restore_mode(image):
            code, stdout, stderr = run_cli_main(["reconstruct", image, "-o", out, "--weights", weights,
                                                 "--device", "cpu", "--format", "obj,glb", *extra])
        after = fingerprint(watched)
        lost = lost_files(before, after) + [f"input {n}" for n in lost_files(input_before, fingerprint(inputs))]
        clean = not temp_files(out) and "Traceback" not in stdout + stderr
        if case.area == "weights" and pwned_marker(folder).exists():
            return Observation("code was run", detail="CODE WAS RUN: the marker file exists")
        stem = image.stem
        new = sorted(set(after) - set(before) - {"summary.json"})
        if code == 0:
            ok = sorted(new) == [f"{stem}.glb", f"{stem}.obj"] and _obj_vertex_count(out / f"{stem}.obj") == 2466
            return Observation(OK if ok else f"exit 0 but outputs {new}", clean, lost)
        if code == 1:
            failed = [line for line in stderr.splitlines() if line.startswith("failed: ")]
            clean = clean and not new and len(failed) == 1
            reason = json.loads((out / "summary.json").read_text())["images"][0]["reason"]
            return Observation(reason, clean, lost, detail="exit 1, image failed")
        lines = [line for line in stderr.splitlines() if line.strip()]
        clean = clean and not new and len(lines) == 1 and lines[0].startswith("error: ")
        if case.area == "batch":                          # no output folder made anywhere
            clean = clean and (not out.exists() or out.is_file())
        return Observation(_first_line(stderr).removeprefix("error: "), clean, lost,
                           detail=f"exit {code}")


def _obj_vertex_count(path: Path) -> int:
    return sum(line.startswith("v ") for line in path.read_text().splitlines()) if path.is_file() else -1


# ----------------------------------------------------------------------------- the add-on
def datablock_counts() -> dict[str, int]:
    import bpy

    return {name: len(getattr(bpy.data, name)) for name in
            ("objects", "meshes", "materials", "images", "cameras", "scenes", "libraries")}


def _pil_size(path: Path) -> tuple[int, int] | None:
    """The stored (not EXIF-rotated) size, as Blender sees it; None if unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.size
    except Exception:                                       # noqa: BLE001
        return None


class AddonRunner:
    """Runs cases through the Reconstruct operator of the add-on in the bpy module.

    Each case gets a fresh scene with a camera and an unrelated object ("Keep", a cube
    mesh), which must be unchanged afterwards."""

    def __init__(self, weights: Path):
        import addon_utils  # comes with bpy
        import bpy

        self.weights = str(weights)
        self.enabled_here = "blender_p2m" not in bpy.context.preferences.addons
        if self.enabled_here:
            addon_utils.enable("blender_p2m", default_set=True)
        self.prefs = bpy.context.preferences.addons["blender_p2m"].preferences

    def close(self) -> None:
        """Leave Blender as found: the test file emptied, the add-on disabled if enabled here."""
        import addon_utils
        import bpy

        for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials,
                           bpy.data.cameras, bpy.data.images):
            for block in list(collection):
                collection.remove(block)
        self.prefs.weights_path = ""
        if self.enabled_here:
            addon_utils.disable("blender_p2m", default_set=True)

    def reset(self, width: int = 48, height: int = 40):
        """A clean file: camera 0.8 m from the origin looking at it, render width x height."""
        import bpy
        from mathutils import Vector

        for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials,
                           bpy.data.cameras, bpy.data.images):
            for block in list(collection):
                collection.remove(block)
        scene = bpy.context.scene
        cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
        scene.collection.objects.link(cam)
        cam.location = (0.0, -0.8, 0.0)
        cam.rotation_euler = (Vector((0.0, 0.8, 0.0))).to_track_quat('-Z', 'Y').to_euler()
        scene.camera = cam
        keep = bpy.data.meshes.new("Keep")
        keep.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
        scene.collection.objects.link(bpy.data.objects.new("Keep", keep))
        bpy.context.view_layer.update()
        scene.render.resolution_x, scene.render.resolution_y = width, height
        scene.render.resolution_percentage = 100
        scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
        settings = scene.pixel2mesh
        for name in ("image_source", "image", "image_path", "camera", "stage", "crop_to_object",
                     "remove_background",
                     "device", "shade_smooth", "project_texture", "placement",
                     "parent_to_camera", "object_name"):
            settings.property_unset(name)
        settings.device = 'CPU'
        self.prefs.weights_path = self.weights
        return scene

    def run(self, case: Case, folder: Path) -> Observation:
        import bpy

        from blender_p2m.addon import operators

        folder.mkdir(parents=True, exist_ok=True)
        made = case.make(folder)
        scene = self.reset()
        settings = scene.pixel2mesh
        image = None
        if case.area == "image":
            image = made
            size = _pil_size(made) if made.is_file() and made.stat().st_size < 10 ** 7 else None
            if size and not case.name.startswith("bomb"):
                scene.render.resolution_x, scene.render.resolution_y = size
            settings.image_source, settings.image_path = 'FILE', str(made)
            settings.crop_to_object = case.name in CROP_CASES
        elif case.area == "intrinsics":
            image, values = made
            settings.image_source, settings.image_path = 'FILE', str(image)
            scene.render.resolution_x, scene.render.resolution_y = values["width"], values["height"]
            scene.camera.data.shift_x = (values["width"] / 2 - values["cx"]) / values["width"]
        elif case.area == "camera":
            settings.image_source, settings.image_path = 'FILE', str(_good(folder, "cam.png"))
            if made is None:
                scene.camera = None
            else:
                scene.camera.data.type = made
        elif case.area == "weights":
            settings.image_source, settings.image_path = 'FILE', str(_good(folder, "w.png"))
            self.prefs.weights_path = str(made)
        before = datablock_counts()
        keep = bpy.data.objects["Keep"]
        keep_state = (keep.name, len(keep.data.vertices), tuple(keep.matrix_world.translation))
        files_before = fingerprint(folder)
        peak = peak_rss_mb()
        detail = ""
        try:
            with _restore_mode(made if isinstance(made, Path) else folder):
                result = bpy.ops.pixel2mesh.reconstruct('EXEC_DEFAULT', True)
            obj = bpy.context.view_layer.objects.active
            outcome = OK if result == {'FINISHED'} and obj is not None and \
                len(obj.data.vertices) == 2466 else f"result {result}"
            expected_counts = dict(before, objects=before["objects"] + 1, meshes=before["meshes"] + 1)
            clean = datablock_counts() == expected_counts
        except RuntimeError as error:
            outcome = str(error).removeprefix("Error: ").strip()
            clean = datablock_counts() == before and not operators.STATUS.running
        finally:
            self.prefs.weights_path = self.weights
        if case.area == "weights" and pwned_marker(folder).exists():
            return Observation(outcome, detail="CODE WAS RUN: the marker file exists")
        if case.name.startswith("bomb"):
            grown = peak_rss_mb() - peak
            detail = f"peak memory +{grown:.0f} MB"
            if grown > BOMB_MEMORY_BOUND_MB:
                outcome = f"decoded the bomb: peak memory +{grown:.0f} MB"
        keep = bpy.data.objects.get("Keep")
        lost = [] if keep is not None and (keep.name, len(keep.data.vertices),
                                           tuple(keep.matrix_world.translation)) == keep_state \
            else ["object Keep"]
        lost += lost_files(files_before, fingerprint(folder))
        orphans = [m.name for m in bpy.data.meshes if m.users == 0]
        return Observation(outcome, clean and not orphans, lost, detail)


def runner_for(entry: str, weights: Path):
    return {"api": ApiRunner, "cli": CliRunner, "addon": AddonRunner}[entry](weights)


def cases_for(entry: str) -> list[Case]:
    return [case for case in ALL_CASES if entry in case.expected]


# ----------------------------------------------------------------------------- python -m, whole corpus
def run_python_m_corpus(folder: Path, weights: Path) -> list[tuple[Case, Observation]]:
    """Every image case (crop cases aside) in one folder, converted by a real
    `python -m blender_p2m reconstruct` process: one observation per case."""
    import subprocess
    import sys

    inputs, out = folder / "in", folder / "out"
    inputs.mkdir(parents=True)
    cases = [case for case in IMAGE_CASES if case.name not in CROP_CASES]
    made = {case.name: case.make(inputs) for case in cases}
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    try:
        result = subprocess.run([sys.executable, "-m", "blender_p2m", "reconstruct", str(inputs),
                                 "-o", str(out), "--weights", str(weights), "--device", "cpu",
                                 "--format", "obj,glb"], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=600)
    finally:
        for path in made.values():
            with _restore_mode(path):
                pass
    records = {Path(r["input"]).name: r for r in json.loads((out / "summary.json").read_text())["images"]}
    clean = result.returncode == 1 and "Traceback" not in result.stdout + result.stderr \
        and not temp_files(out)
    observations = []
    for case in cases:
        record = records.get(made[case.name].name)
        if record is None:                               # not an input (a folder is skipped)
            observation = Observation("skipped: not an image file", clean)
        elif record["status"] == "done":
            ok = _obj_vertex_count(out / f"{record['name']}.obj") == 2466
            observation = Observation(OK if ok else "bad output", clean)
        else:
            partial = [p.name for p in out.glob(f"{record['name']}.*")]   # none may exist
            observation = Observation(record["reason"], clean and not partial)
        observations.append((case, observation))
    return observations


# In a folder, sub-folders are skipped (a GIF is converted there as when named directly).
PYTHON_M_EXPECTED = {"folder_named_png": "skipped"}


# ----------------------------------------------------------------------------- repeated clicks
def click_soak(weights: Path, folder: Path, clicks: int = 100, sample_at=(20, 100)) -> dict:
    """`clicks` Reconstruct clicks in the bpy module (File source, texture projected on every
    other click); after each, the result is deleted with what it brought (a user deleting
    it and purging). Returns {"rss_mb": {click: MiB}, "problems": [...]}: a problem is a
    click that did not add exactly its object and mesh (and material and texture), left an
    orphan, or loaded the picture file as an image. RSS is sampled as live_rss_mb()."""
    import bpy

    runner = AddonRunner(weights)
    runner.reset(48, 40)
    folder.mkdir(parents=True, exist_ok=True)
    photo = _good(folder, "photo.png")
    rss, problems = {}, []
    try:
        for click in range(1, clicks + 1):
            settings = bpy.context.scene.pixel2mesh
            settings.image_source, settings.image_path = 'FILE', str(photo)
            texture = settings.project_texture = click % 2 == 0
            before = datablock_counts()
            result = bpy.ops.pixel2mesh.reconstruct('EXEC_DEFAULT', True)
            after = datablock_counts()
            expected = dict(before, objects=before["objects"] + 1, meshes=before["meshes"] + 1,
                            materials=before["materials"] + texture,
                            images=before["images"] + texture)
            orphans = [block.name for collection in (bpy.data.meshes, bpy.data.materials, bpy.data.images)
                       for block in collection if block.users == 0]
            if result != {'FINISHED'} or after != expected or orphans:
                problems.append(f"click {click}: {result}, {after} (expected {expected}), "
                                f"orphans {orphans}")
            obj = bpy.context.view_layer.objects.active
            mesh, materials = obj.data, list(obj.data.materials)
            bpy.data.objects.remove(obj)
            bpy.data.meshes.remove(mesh)
            for material in materials:
                textures = [n.image for n in material.node_tree.nodes if n.type == 'TEX_IMAGE']
                bpy.data.materials.remove(material)
                for image in textures:
                    bpy.data.images.remove(image)
            if click in sample_at:
                rss[click] = round(live_rss_mb(), 1)
    finally:
        runner.close()
    return {"rss_mb": rss, "problems": problems}
