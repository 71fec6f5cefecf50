"""The photo-background library: curated list, extraction, splits, atomic writes, clear errors.

Package roots are faked in tmp_path with the curated member paths, each file a distinct crop
of a real photograph (tests/data/photos) at a size chosen per file.
"""
from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_p2m.errors import P2MError
from training.data.real.photos import (
    MANIFEST,
    MAX_SHORT_SIDE,
    PHOTO_SOURCES,
    SPLITS,
    PhotoSource,
    assign_photo_splits,
    extract_photos,
    load_photo_manifest,
    photo_paths,
)

FIXTURES = Path(__file__).parent / "data" / "photos"
SIZES = [(700, 560), (540, 690), (400, 300), (600, 512), (300, 420)]   # (w, h), some > 512


def make_package_roots(root: Path, sources) -> tuple[dict[str, Path], dict[str, tuple[int, int]]]:
    """Fake unpacked packages holding real photo crops at the sources' member paths."""
    bases = [Image.open(FIXTURES / "rocks.jpg").convert("RGB"),
             Image.open(FIXTURES / "lighthouse.jpg").convert("RGB")]
    unpacked, sizes = {}, {}
    for i, s in enumerate(sources):
        base = bases[i % 2]
        w, h = base.size
        box = (i % 7, i % 5, w - 10 + i % 3, h - 10 + i % 4)    # distinct content per file
        size = SIZES[i % len(SIZES)]
        path = root / s.package / s.member
        path.parent.mkdir(parents=True, exist_ok=True)
        base.crop(box).resize(size, Image.BICUBIC).save(path)   # format from the extension
        unpacked[s.package] = root / s.package
        sizes[s.member] = size
    return unpacked, sizes


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("debs")
    unpacked, sizes = make_package_roots(root, PHOTO_SOURCES)
    out = tmp_path_factory.mktemp("lib") / "photos"
    manifest = extract_photos(unpacked, out, seed=0)
    return unpacked, sizes, out, manifest


def test_curated_list_is_explicit_and_attributed():
    assert {s.package for s in PHOTO_SOURCES} == {
        "tuxpaint-data", "lomiri-wallpapers-16.04", "mate-backgrounds",
        "plasma-workspace-wallpapers", "opencv-doc"}
    assert 60 <= len(PHOTO_SOURCES) <= 90
    names = [s.file_name for s in PHOTO_SOURCES]
    assert len(set(names)) == len(names)
    for s in PHOTO_SOURCES:
        assert not any(c in s.member for c in "*?[")            # exact paths, no globs
        assert s.licence.strip() and s.attribution.strip()
    # KDE wallpapers are all named by resolution; their name comes from the wallpaper folder.
    kde = [s.name for s in PHOTO_SOURCES if s.package == "plasma-workspace-wallpapers"]
    assert "Path" in kde and not any("x" in n and n.replace("x", "").isdigit() for n in kde)


def test_extract_writes_downscaled_rgb_jpegs_and_a_complete_manifest(library):
    unpacked, sizes, out, manifest = library
    assert load_photo_manifest(out) == manifest
    assert json.loads((out / MANIFEST).read_text()) == manifest
    records = manifest["photos"]
    assert len(records) == len(PHOTO_SOURCES)
    by_member = {s.member: s for s in PHOTO_SOURCES}
    seen_large = seen_small = 0
    for r in records:
        s = by_member[r["member"]]
        original = unpacked[s.package] / s.member
        assert r["package"] == s.package and r["licence"] == s.licence
        assert r["attribution"] == s.attribution
        assert r["file"] == f"{r['split']}/{s.package}__{s.name}.jpg"
        assert r["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
        w0, h0 = sizes[s.member]
        assert r["original_size"] == [w0, h0]
        with Image.open(out / r["file"]) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            w, h = img.size
        assert r["size"] == [w, h]
        if min(w0, h0) > MAX_SHORT_SIDE:
            seen_large += 1
            assert min(w, h) == MAX_SHORT_SIDE
            assert abs(max(w, h) - max(w0, h0) * MAX_SHORT_SIDE / min(w0, h0)) <= 0.5
        else:
            seen_small += 1
            assert (w, h) == (w0, h0)                            # never upscaled
    assert seen_large and seen_small
    files = {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")}
    assert files == {r["file"] for r in records}                 # nothing else written


def test_extracted_pixels_are_the_photo(library):
    unpacked, sizes, out, manifest = library
    r = next(r for r in manifest["photos"] if r["original_size"] == [700, 560])
    with Image.open(unpacked[r["package"]] / r["member"]) as img:
        expected = img.convert("RGB").resize(tuple(r["size"]), Image.BILINEAR)
    with Image.open(out / r["file"]) as img:
        got = img.convert("RGB")
    diff = np.abs(np.asarray(expected, dtype=float) - np.asarray(got, dtype=float))
    assert diff.mean() < 4                                       # JPEG and filter differences


def test_splits_are_disjoint_about_70_15_15_and_spread_over_packages(library):
    _, _, out, manifest = library
    records = manifest["photos"]
    per_split = {split: {r["file"] for r in records if r["split"] == split} for split in SPLITS}
    assert set().union(*per_split.values()) == {r["file"] for r in records}
    assert sum(len(v) for v in per_split.values()) == len(records)
    for split, expected in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        assert abs(len(per_split[split]) / len(records) - expected) < 0.04
        assert manifest["counts"][split] == len(per_split[split])
        assert [p.relative_to(out).as_posix() for p in photo_paths(out, split)] == sorted(per_split[split])
    counts = Counter((r["package"], r["split"]) for r in records)
    for package in {r["package"] for r in records}:
        assert all(counts[(package, split)] >= 1 for split in SPLITS), package


def test_splits_depend_on_photos_and_seed_not_on_discovery_order():
    shuffled = list(PHOTO_SOURCES)
    random.Random(3).shuffle(shuffled)
    base = assign_photo_splits(PHOTO_SOURCES, seed=0)
    assert assign_photo_splits(shuffled, seed=0) == base
    assert assign_photo_splits(list(reversed(PHOTO_SOURCES)), seed=0) == base
    other = assign_photo_splits(PHOTO_SOURCES, seed=1)
    assert other != base and Counter(other.values()) == Counter(base.values())


def test_tiny_source_lists_still_fill_every_split():
    sources = [PhotoSource("p", f"a/{i}.jpg", "x", "y") for i in range(3)]
    assert sorted(assign_photo_splits(sources).values()) == ["test", "train", "val"]
    with pytest.raises(P2MError, match="at least 3 photos"):
        assign_photo_splits(sources[:2])


def test_extraction_is_deterministic_across_runs_and_source_order(library, tmp_path):
    unpacked, _, out, manifest = library
    again = extract_photos(unpacked, tmp_path / "again", seed=0, sources=list(reversed(PHOTO_SOURCES)))
    assert again == manifest
    for r in manifest["photos"]:
        assert (tmp_path / "again" / r["file"]).read_bytes() == (out / r["file"]).read_bytes()


def test_rerun_reuses_a_complete_library_and_refuses_other_settings(library):
    unpacked, _, out, manifest = library
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert extract_photos({}, out, seed=0) == manifest            # no packages needed to reuse
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamps
    with pytest.raises(P2MError, match="other settings.*seed"):
        extract_photos(unpacked, out, seed=1)


SMALL = [PhotoSource("pkg-a", f"usr/share/a/{n}.jpg", "GPL-2+", "A") for n in "abcd"] + \
        [PhotoSource("pkg-b", f"usr/share/b/{n}.png", "CC0-1.0", "B") for n in "xyz"]


def _no_leftovers(parent: Path, name: str) -> bool:
    return not any(p.name == name or p.name.startswith(f".{name}.") for p in parent.iterdir())


def test_a_failure_midway_leaves_nothing_at_out_dir(tmp_path):
    unpacked, _ = make_package_roots(tmp_path / "debs", SMALL)
    # The last photo in processing order is not an image: the others are already written.
    broken = max(SMALL, key=lambda s: s.file_name)
    (unpacked[broken.package] / broken.member).write_bytes(b"not a photo at all")
    (tmp_path / "out").mkdir()
    with pytest.raises(P2MError, match=f"Cannot decode {broken.package}: {broken.member}"):
        extract_photos(unpacked, tmp_path / "out" / "photos", sources=SMALL)
    assert _no_leftovers(tmp_path / "out", "photos")
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_packages_and_files_are_named(tmp_path):
    unpacked, _ = make_package_roots(tmp_path / "debs", SMALL)
    with pytest.raises(P2MError, match=r"pkg-b \(not given\).*dpkg-deb -x"):
        extract_photos({"pkg-a": unpacked["pkg-a"]}, tmp_path / "photos", sources=SMALL)
    (unpacked["pkg-a"] / SMALL[1].member).unlink()
    with pytest.raises(P2MError, match=f"1 listed photo.*pkg-a: {SMALL[1].member}.*PHOTO_SOURCES"):
        extract_photos(unpacked, tmp_path / "photos", sources=SMALL)
    with pytest.raises(P2MError, match="no folder"):
        extract_photos({**unpacked, "pkg-b": tmp_path / "nowhere"}, tmp_path / "photos", sources=SMALL)
    assert _no_leftovers(tmp_path, "photos")


def test_partial_folders_of_killed_runs_are_cleared_and_foreign_folders_refused(tmp_path):
    unpacked, _ = make_package_roots(tmp_path / "debs", SMALL)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".photos.partial-{dead}-abc"
    (stale / "train").mkdir(parents=True)
    manifest = extract_photos(unpacked, tmp_path / "photos", sources=SMALL)
    assert not stale.exists() and len(manifest["photos"]) == len(SMALL)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(P2MError, match="not a photo library"):
        extract_photos(unpacked, tmp_path / "other", sources=SMALL)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_reading_a_damaged_or_absent_library_says_what_to_do(tmp_path):
    unpacked, _ = make_package_roots(tmp_path / "debs", SMALL)
    with pytest.raises(P2MError, match="not a photo library.*extract_photos"):
        load_photo_manifest(tmp_path / "nothing")
    out = tmp_path / "photos"
    manifest = extract_photos(unpacked, out, sources=SMALL)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        photo_paths(out, "dev")
    (out / manifest["photos"][0]["file"]).unlink()
    with pytest.raises(P2MError, match="lacks 1 photo.*extract again"):
        photo_paths(out, "train")
