"""Real photographs from Debian packages, as backgrounds for training renders.

Users photograph objects in rooms and gardens, not on white; compositing the training renders
on real photographs teaches the network to ignore such backgrounds. This module copies a
curated, explicit list of photographs out of unpacked Debian packages, downscales them,
splits them by photo into train/val/test (so test backgrounds are never seen in training)
and writes a catalogue with each photo's licence and attribution.

Layout written by `extract_photos`:

    out_dir/photos.json
    out_dir/{train,val,test}/<package>__<name>.jpg
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from blender_p2m.errors import P2MError

from ...file_hash import sha256_of

MANIFEST = "photos.json"
MANIFEST_FORMAT = 1
SPLITS = ("train", "val", "test")
# Test and val each get this share of the photos (rounded, at least one); train the rest.
HELD_OUT_FRACTION = 0.15
MAX_SHORT_SIDE = 512
JPEG_QUALITY = 92


@dataclass(frozen=True)
class PhotoSource:
    """One selected photograph: where it is in its package, and its licence and author."""

    package: str
    member: str          # path inside the package (relative to the unpacked root)
    licence: str
    attribution: str

    @property
    def name(self) -> str:
        """Short file name: the file's stem, or the wallpaper's name for KDE wallpapers
        (whose files are all named by resolution, .../<Name>/contents/images/2560x1600.jpg)."""
        parts = Path(self.member).parts
        if "contents" in parts:
            return parts[parts.index("contents") - 1]
        return Path(self.member).stem

    @property
    def file_name(self) -> str:
        return f"{self.package}__{self.name}.jpg"


# --- The curated list --------------------------------------------------------------------
# Chosen by looking at every candidate image (contact sheets). Kept: colour photographs of
# real scenes and objects, at least 340 px on the shorter side. Left out, by package:
# - tuxpaint-data templates: mossy_bark.jpg (letterboxed with black bars, nearly grey).
# - lomiri-wallpapers-16.04: umang (abstract colour gradient), analogpattern (a heavily
#   colour-tinted surface texture rather than a scene).
# - mate-backgrounds: everything outside nature/ (abstract/ and desktop/ are artwork,
#   gradients and logos); all 12 nature/ photos kept.
# - plasma-workspace-wallpapers: 19 of the 30 wallpapers are illustrations or 3-D renders
#   (Altai, Autumn, Canopee, Cascade, Cluster, Elarun, Flow, FlyingKonqui, Honeywave,
#   IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding, Shell, Volna);
#   ColdRipple and Grey are grey-scale. The largest regular file of each kept wallpaper is
#   used (the smaller sizes are symlinks or rescaled copies).
# - opencv-doc examples/data: grey-scale images (chessboards left*/right*, basketball,
#   box, graf*, etc.), drawings and renders (logos, pic1-6, detect_blob, ml, cards, HappyFish,
#   Blender_Suzanne*), a painting (starry_night), documents (sudoku, text_*, notes), images
#   under 300 px, smarties (almost all white), pca_test1 (black-and-white lightbox),
#   licenseplate_motion (artificial motion blur), messi5 (press photo of a person).
#   Stereo/flow/stitching pairs keep one image only (aloeL not aloeR, aero1 not aero3,
#   leuvenA not B, left not right, rubberwhale1 not 2, ela_original not ela_modified), so
#   near-duplicates cannot land in different splits.
# Colour: every kept photo is untagged or carries an sRGB profile; pixel values are used as
# they are (sRGB).
#
# Licences are from each package's usr/share/doc/<package>/copyright (and, for KDE
# wallpapers, the wallpaper's metadata.json, which names the author and licence per
# wallpaper while debian/copyright states GPL-2+ for the whole package; both are recorded).

# The package versions the list was made from (looked at file by file).
PACKAGE_VERSIONS = {
    "tuxpaint-data": "1:0.9.28-sdl2-1",
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "mate-backgrounds": "1.26.0-1",
    "plasma-workspace-wallpapers": "4:5.27.5-2",
    "opencv-doc": "4.6.0+dfsg-12",
}

_TUXPAINT = "usr/share/tuxpaint/templates/{}.jpg"
_TUXPAINT_AUTHOR = "Bill Kendrick (Tux Paint templates, tuxpaint-data AUTHORS.txt)"
_LOMIRI = "usr/share/backgrounds/{}.jpg"
_MATE = "usr/share/backgrounds/mate/nature/{}.jpg"
_KDE = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
_KDE_LICENCE = "LGPL-3.0 (wallpaper metadata.json); GPL-2+ (debian/copyright, whole package)"
_OPENCV = "usr/share/doc/opencv-doc/examples/data/{}"
_OPENCV_LICENCE = "Apache-2.0 AND BSD-3-Clause (debian/copyright, Files: *)"
_OPENCV_AUTHOR = "OpenCV sample data (Intel Corporation and OpenCV contributors; photographer not stated)"

PHOTO_SOURCES: tuple[PhotoSource, ...] = (
    *(PhotoSource("tuxpaint-data", _TUXPAINT.format(n), "GPL-2+", _TUXPAINT_AUTHOR) for n in (
        "burnt_bark", "cliff", "corn_maze", "jellyfish", "lighthouse", "mossy_log", "mudstone",
        "ocean_splash", "ocean_waves", "redwoods_above", "rocks", "sheep", "spiders_web",
        "sun_behind_clouds", "sun_behind_leaves", "trees_above", "trees_at_dusk",
        "wool_mill_machine")),
    *(PhotoSource("lomiri-wallpapers-16.04", _LOMIRI.format(n), lic, f"{who}, 2018") for n, lic, who in (
        ("aitzgorri_by_Aitzol_Berasategi", "CC-BY-4.0", "Aitzol Berasategi"),
        ("Bridge_by_Sander_Klootwijk", "CC-BY-SA-4.0", "Sander Klootwijk"),
        ("Dragonfly_by_Bolly", "CC-BY-SA-4.0", '"Bolly"'),
        ("free_by_Peter_Nerlich", "CC-BY-SA-4.0", "Peter Nerlich"),
        ("friends_by_Aitzol_Berasategi", "CC-BY-4.0", "Aitzol Berasategi"),
        ("greentock_by_Peter_Nerlich", "CC-BY-SA-4.0", "Peter Nerlich"),
        ("life_by_Aitzol_Berasategi", "CC-BY-4.0", "Aitzol Berasategi"),
        ("picosdeeuropa_by_Aitzol_Berasategi", "CC-BY-4.0", "Aitzol Berasategi"),
        ("Picture_0B_by_freespace", "CC-BY-4.0", 'Trevor "Freespace"'),
        ("Picture_1A_by_freespace", "CC-BY-4.0", 'Trevor "Freespace"'),
        ("seeding_by_Clements_Engelhardt", "CC0-1.0", "Clemens Engelhardt"),
        ("sunset_by_Aitzol_Berasategi", "CC-BY-4.0", "Aitzol Berasategi"),
        ("Wine_by_Jakkub_Mede", "CC-BY-4.0", "Jakub Mede"))),
    *(PhotoSource("mate-backgrounds", _MATE.format(n), "GPL-2+", who) for n, who in (
        ("Aqua", "Charles Barbin, 2008"),
        ("Blinds", "Lennart Poettering, Andrea Cimitan, 2008"),
        ("Dune", "Marco Cogoni 2007, Hylke Bons 2008"),
        ("FreshFlower", "Jens Ansorg, 2005"),
        ("Garden", "Charles Barbin, 2008"),
        ("GreenMeadow", "Timothy Schellhase 2005, Lapo Calamandrei 2008"),
        ("LadyBird", "Charles Barbin, 2008"),
        ("RainDrops", '"blackcombwhistler07", 2008'),
        ("Storm", "Sergey Nazarov, 2008"),
        ("TwoWings", "Charles Barbin, Hylke Bons, 2008"),
        ("Wood", "Jean-François Fortin Tam, 2008"),
        ("YellowFlower", "Charles Barbin, 2008"))),
    *(PhotoSource("plasma-workspace-wallpapers", _KDE.format(n), _KDE_LICENCE,
                  f"{who} (KDE wallpaper '{n}')") for n, who in (
        ("BytheWater", "Maciej Wiklo"),
        ("ColorfulCups", "Dmitri Popov"),
        ("DarkestHour", "Risto Saukonpää"),
        ("EveningGlow", "Ian Hex"),
        ("FallenLeaf", "Martin Klapetek"),
        ("Kite", "Risto Saukonpää"),
        ("OneStandsOut", "Risto Saukonpää"),
        ("Path", "Risto Saukonpää"),
        ("summer_1am", "Risto Saukonpää"))),
    *(PhotoSource("opencv-doc", _OPENCV.format(n), _OPENCV_LICENCE, _OPENCV_AUTHOR) for n in (
        "aero1.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "building.jpg",
        "butterfly.jpg", "chicky_512.png", "ela_original.jpg", "fruits.jpg", "graf1.png",
        "home.jpg", "left.jpg", "leuvenA.jpg", "orange.jpg", "rubberwhale1.png",
        "squirrel_cls.jpg", "stuff.jpg")),
)


# --- Splits ------------------------------------------------------------------------------

def _photo_hash(source: PhotoSource, seed: int) -> str:
    return hashlib.sha256(f"{seed}\0{source.package}\0{source.member}".encode()).hexdigest()


def assign_photo_splits(sources=PHOTO_SOURCES, seed: int = 0) -> dict[tuple[str, str], str]:
    """(package, member) -> "train" | "val" | "test", by photo.

    Depends only on the set of photos and the seed, never on their order. Within each
    package the photos are ordered by a stable hash; each photo's relative position in that
    order ((rank + 0.5) / count) ranks it globally, so the first HELD_OUT_FRACTION of every
    package goes to test, the next to val: each package is spread over the three splits.
    """
    by_package: dict[str, list[PhotoSource]] = {}
    for s in sources:
        by_package.setdefault(s.package, []).append(s)
    total = sum(len(v) for v in by_package.values())
    if total < len(SPLITS):
        raise P2MError(f"Need at least {len(SPLITS)} photos for train/val/test splits; got {total}.")
    keyed = []
    for items in by_package.values():
        items = sorted(items, key=lambda s: _photo_hash(s, seed))
        for rank, s in enumerate(items):
            keyed.append(((rank + 0.5) / len(items), _photo_hash(s, seed), s))
    keyed.sort(key=lambda k: k[:2])
    held_out = max(1, round(HELD_OUT_FRACTION * total))
    splits = {}
    for i, (_, _, s) in enumerate(keyed):
        splits[(s.package, s.member)] = "test" if i < held_out else "val" if i < 2 * held_out else "train"
    return splits


# --- Extraction --------------------------------------------------------------------------

def _settings(sources, seed: int) -> dict:
    listing = "\n".join(sorted(f"{s.package}\0{s.member}" for s in sources))
    return {"format": MANIFEST_FORMAT, "seed": seed, "max_short_side": MAX_SHORT_SIDE,
            "jpeg_quality": JPEG_QUALITY,
            "sources_sha256": hashlib.sha256(listing.encode()).hexdigest()}


def _check_sources(unpacked: dict, sources) -> None:
    """Every package root and listed file present, or one error naming all that is missing."""
    missing_roots, missing_files = [], []
    for package in sorted({s.package for s in sources}):
        root = unpacked.get(package)
        if root is None or not Path(root).is_dir():
            missing_roots.append(f"{package} ({'not given' if root is None else f'no folder {root}'})")
    for s in sources:
        root = unpacked.get(s.package)
        if root is not None and Path(root).is_dir() and not (Path(root) / s.member).is_file():
            missing_files.append(f"{s.package}: {s.member}")
    problems = []
    if missing_roots:
        problems.append("package roots missing: " + ", ".join(missing_roots)
                        + ". Unpack each package's .deb with `dpkg-deb -x FILE.deb DIR` and pass "
                          "{package: DIR}")
    if missing_files:
        problems.append(f"{len(missing_files)} listed photo(s) missing from their unpacked package: "
                        + "; ".join(missing_files)
                        + ". Check the package versions (the list was made from "
                        + ", ".join(f"{p} {v}" for p, v in PACKAGE_VERSIONS.items())
                        + ") or update PHOTO_SOURCES")
    if problems:
        raise P2MError("Cannot extract the background photos: " + ". ".join(problems) + ".")


def _downscaled(path: Path, source: PhotoSource) -> tuple[Image.Image, tuple[int, int]]:
    """The photo as RGB (EXIF orientation applied) with its shorter side at most MAX_SHORT_SIDE."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")           # drops the alpha of the few RGBA photos
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise P2MError(f"Cannot decode {source.package}: {source.member} ({exc}). The unpacked "
                       f"package looks damaged; unpack the .deb again.") from None
    original = img.size
    w, h = original
    short = min(w, h)
    if short > MAX_SHORT_SIDE:
        s = MAX_SHORT_SIDE / short
        size = (MAX_SHORT_SIDE, round(h * s)) if w == short else (round(w * s), MAX_SHORT_SIDE)
        img = img.resize(size, Image.LANCZOS, reducing_gap=3.0)
    return img, original


def _partial_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}.partial-"


def _remove_stale_partials(out_dir: Path) -> None:
    """Remove temp folders left by killed runs (their process no longer exists)."""
    prefix = _partial_prefix(out_dir)
    for tmp in out_dir.parent.glob(prefix + "*"):
        pid = tmp.name[len(prefix):].split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass                                 # alive, someone else's


def extract_photos(unpacked: dict[str, Path], out_dir: Path, seed: int = 0,
                   sources=PHOTO_SOURCES) -> dict:
    """Copy the selected photos into out_dir/{train,val,test}/ and write out_dir/photos.json.

    Args:
        unpacked: package name -> the folder its .deb was unpacked into (`dpkg-deb -x`).
        out_dir: the photo library to create. Built in a temp folder beside it and renamed at
            the end, so an interrupted run leaves nothing at out_dir. If out_dir already holds
            a complete library made with the same settings it is reused as is.
        seed: the split seed.
        sources: the photos to take (default: the curated PHOTO_SOURCES).

    Returns:
        The manifest (the content of photos.json).
    """
    out_dir = Path(out_dir)
    sources = tuple(sources)
    settings = _settings(sources, seed)
    if (out_dir / MANIFEST).exists():
        return _reuse(out_dir, settings)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise P2MError(f"{out_dir} exists and is not a photo library (no {MANIFEST}). Choose "
                       f"another folder or delete it.")
    names = [s.file_name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise P2MError(f"Photo sources give duplicate file names: {', '.join(duplicates)}.")
    _check_sources(unpacked, sources)
    splits = assign_photo_splits(sources, seed)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_partial_prefix(out_dir)}{os.getpid()}-", dir=out_dir.parent))
    try:
        records = []
        for split in SPLITS:
            (tmp / split).mkdir()
        for s in sorted(sources, key=lambda s: s.file_name):
            path = Path(unpacked[s.package]) / s.member
            img, original = _downscaled(path, s)
            split = splits[(s.package, s.member)]
            file = f"{split}/{s.file_name}"
            img.save(tmp / file, "JPEG", quality=JPEG_QUALITY)
            records.append({"file": file, "split": split, "package": s.package, "member": s.member,
                            "licence": s.licence, "attribution": s.attribution,
                            "original_size": list(original), "size": list(img.size),
                            "sha256": sha256_of(path)})
        counts = {split: sum(r["split"] == split for r in records) for split in SPLITS}
        manifest = {**settings, "counts": counts, "photos": records}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        if out_dir.exists():
            out_dir.rmdir()                      # an empty folder the caller made
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _reuse(out_dir: Path, settings: dict) -> dict:
    manifest = load_photo_manifest(out_dir)
    different = [k for k, v in settings.items() if manifest.get(k) != v]
    if different:
        details = ", ".join(f"{k}: {manifest.get(k)!r} there, {settings[k]!r} asked" for k in different)
        raise P2MError(f"{out_dir} holds photos extracted with other settings ({details}). Delete "
                       f"it to extract again, or use another folder.")
    return manifest


# --- Reading -----------------------------------------------------------------------------

def load_photo_manifest(out_dir: Path) -> dict:
    """The catalogue of a photo library, checked complete (every listed file present)."""
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST
    if not path.is_file():
        raise P2MError(f"{out_dir} is not a photo library (no {MANIFEST}). Create it with "
                       f"training.data.real.photos.extract_photos.")
    try:
        manifest = json.loads(path.read_text())
        missing = [r["file"] for r in manifest["photos"] if not (out_dir / r["file"]).is_file()]
    except (ValueError, KeyError, TypeError) as exc:
        raise P2MError(f"{path} is damaged ({exc}). Delete {out_dir} and extract again.") from None
    if missing:
        raise P2MError(f"{out_dir} lacks {len(missing)} photo(s) its {MANIFEST} lists (e.g. "
                       f"{missing[0]}). Delete {out_dir} and extract again.")
    return manifest


def photo_paths(out_dir: Path, split: str) -> list[Path]:
    """The photo files of one split, sorted by name."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    manifest = load_photo_manifest(out_dir)
    return sorted(Path(out_dir) / r["file"] for r in manifest["photos"] if r["split"] == split)
