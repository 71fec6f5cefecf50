"""The real-mesh catalogue (`fetch-real`) and rendering real meshes with their own materials.

Fixtures (tests/data/real/, see its LICENSE.md): five CC0 Sweet Home 3D models in a small
catalogue of the real format, and one FlightGear AC3D file (GPL-2+). Other cases (colour
variants, people, ground planes, broken files) are made here from them.
"""
from __future__ import annotations

import colorsys
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataset_checks import dataset_views, fraction_inside_silhouette
from obj_reading import obj_vertices, obj_vertices_of_text  # tests/ is on sys.path
from training.data.build import REAL_SPLIT_FRACTIONS, assign_splits, build, catalogue_specs
from training.data.real.catalogue import build_catalogue
from training.data.real.sweethome3d import parse_properties

FIXTURES = Path(__file__).parent / "data" / "real"
SH3F = "usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f"
GLIDER = "usr/share/games/flightgear/Models/Geometry/glider.ac"
EXPECTED = {"bedsidetable2": "cabinet", "technicaltable1": "table", "deckchair": "chair",
            "iphone": "telephone", "uppercabinet": "cabinet"}

pytestmark = pytest.mark.assimp


def _fixture_roots(tmp_path: Path, extra_entries: list[tuple[str, dict, dict[str, str]]] = ()) -> dict:
    """Unpacked package roots made of the fixtures, with extra catalogue entries if given.

    extra_entries: (folder, properties without the #N, {file name: content}) per entry.
    """
    sh3d = tmp_path / "pkgs" / "sweethome3d-furniture"
    target = sh3d / SH3F
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(FIXTURES / "sweethome3d-furniture" / SH3F) as src, \
            zipfile.ZipFile(target, "w") as dst:
        props = src.read("PluginFurnitureCatalog.properties").decode("latin-1")
        n = len(parse_properties(props))
        for info in src.infolist():
            if info.filename != "PluginFurnitureCatalog.properties":
                dst.writestr(info, src.read(info))
        for folder, entry, files in extra_entries:
            n += 1
            props += "\n" + "\n".join(f"{k}#{n}={v}" for k, v in entry.items()) + "\n"
            props += f"model#{n}=/blendswap-cc-0/{folder}/{folder}.obj\n"
            for name, content in files.items():
                dst.writestr(f"blendswap-cc-0/{folder}/{name}", content)
        dst.writestr("PluginFurnitureCatalog.properties", props.encode("latin-1"))
    fg = tmp_path / "pkgs" / "flightgear-data-models"
    shutil.copytree(FIXTURES / "flightgear-data-models", fg)
    return {"sweethome3d-furniture": sh3d, "flightgear-data-models": fg}


def _ac_vertices(path: Path) -> np.ndarray:
    """An independent reading of an AC3D file: every vertex plus its object's `loc` (one level)."""
    out, loc, lines = [], np.zeros(3), path.read_text().splitlines()
    i = 0
    while i < len(lines):
        tokens = lines[i].split()
        if tokens and tokens[0] == "loc":
            loc = np.array([float(t) for t in tokens[1:4]])
        if tokens and tokens[0] == "numvert":
            for k in range(int(tokens[1])):
                out.append(np.array([float(t) for t in lines[i + 1 + k].split()[:3]]) + loc)
            i += int(tokens[1])
        i += 1
    return np.array(out)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("real")
    with zipfile.ZipFile(FIXTURES / "sweethome3d-furniture" / SH3F) as z:
        table_obj = z.read("blendswap-cc-0/technicalTable1/technicalTable1.obj").decode()
        table_mtl = z.read("blendswap-cc-0/technicalTable1/technicalTable1.mtl").decode()
    recoloured = "\n".join("Kd 0.9 0.1 0.1" if line.startswith("Kd") else line for line in table_mtl.splitlines())
    quad = "v 0 0 0\nv 1 0 0\nv 1 0 1\nv 0 0 1\n" + "".join(f"v {x} 0 {z}\n" for x in (0.2, 0.4) for z in (0.2, 0.4)) \
        + "f 1 2 3 4\n" * 4 + "f 5 6 7\nf 6 7 8\n" * 4
    extra = [
        ("technicalTableRed", {"name": "Technical table", "category": "Office", "creator": "Redsymbzone"},
         {"technicalTableRed.obj": table_obj.replace("technicalTable1.mtl", "technicalTableRed.mtl"),
          "technicalTableRed.mtl": recoloured}),
        ("standingMan", {"name": "Standing man", "category": "Characters", "tags": "Human, People"},
         {"standingMan.obj": table_obj}),
        ("rug", {"name": "Rug", "category": "Living room"}, {"rug.obj": quad}),
        ("brokenStool", {"name": "Stool", "category": "Kitchen"}, {"brokenStool.obj": "v 0 0 0\nf 1 7 9\n"}),
    ]
    roots = _fixture_roots(tmp, extra)
    out = tmp / "real_meshes"
    build_catalogue(roots, out, tmp / "cache", log=open(os.devnull, "w"))
    return out


def test_catalogue_keeps_real_models_with_categories_and_provenance(catalogue):
    manifest = json.loads((catalogue / "manifest.json").read_text())
    by_key = {m["key"]: m for m in manifest["models"]}
    for folder, category in EXPECTED.items():
        key = f"sh3d-blendswap-cc-0-{folder}"
        assert by_key[key]["category"] == category, key
        assert by_key[key]["licence"] == "CC0-1.0" and by_key[key]["package"] == "sweethome3d-furniture"
        assert (catalogue / by_key[key]["mesh"]).is_file()
    glider = by_key["fg-geometry-glider"]
    assert glider["category"] == "airplane" and glider["licence"] == "GPL-2.0-or-later"
    assert "FlightGear" in glider["attribution"]
    assert len(by_key) == 6
    card = (catalogue / "CATALOGUE.md").read_text()
    assert "| telephone |" in card and "GPL-2.0-or-later" in card and "Redsymbzone" not in card  # CC0: none needed


def test_duplicates_people_flat_and_broken_models_are_dropped_with_reasons(catalogue):
    dropped = {d["key"]: d["reason"] for d in json.loads((catalogue / "dropped.json").read_text())}
    assert dropped["sh3d-blendswap-cc-0-technicaltablered"].startswith("duplicate of sh3d-blendswap-cc-0-technicaltable1")
    assert dropped["sh3d-blendswap-cc-0-standingman"] == "person"
    assert dropped["sh3d-blendswap-cc-0-rug"].startswith("flat:")
    assert dropped["sh3d-blendswap-cc-0-brokenstool"].startswith("broken:")
    assert not (catalogue / "table" / "sh3d-blendswap-cc-0-technicaltablered").exists()
    assert not list(catalogue.parent.glob("*.partial"))


def test_conversion_keeps_geometry(catalogue):
    # Sweet Home 3D: same vertices, turned from +Y up to the OBJ file's own +Y up (identity).
    with zipfile.ZipFile(FIXTURES / "sweethome3d-furniture" / SH3F) as z:
        source = obj_vertices_of_text(z.read("blendswap-cc-0/bedsideTable2/bedsideTable2.obj").decode())
    ours = obj_vertices(catalogue / "cabinet/sh3d-blendswap-cc-0-bedsidetable2/model.obj")
    assert ours.shape == source.shape
    assert np.allclose(ours, source, rtol=1e-5, atol=1e-4)
    # AC3D via assimp: the same bounding box as the file's own vertices (assimp may split
    # vertices along creases, so counts may grow, never shrink).
    ac = _ac_vertices(FIXTURES / "flightgear-data-models" / GLIDER)
    glider = obj_vertices(catalogue / "airplane/fg-geometry-glider/model.obj")
    assert len(glider) >= len(np.unique(ac, axis=0)) * 0.9
    assert np.allclose(glider.min(0), ac.min(0), atol=1e-3) and np.allclose(glider.max(0), ac.max(0), atol=1e-3)


def test_models_stand_upright(catalogue):
    """The catalogue states each model's width, depth and height (cm): the Z-up box must match."""
    with zipfile.ZipFile(FIXTURES / "sweethome3d-furniture" / SH3F) as z:
        entries = parse_properties(z.read("PluginFurnitureCatalog.properties").decode("latin-1"))
    manifest = {m["key"]: m for m in json.loads((catalogue / "manifest.json").read_text())["models"]}
    for entry in entries.values():
        folder = entry["model"].split("/")[-2].lower()
        extent = np.array(manifest[f"sh3d-blendswap-cc-0-{folder}"]["extent"])   # Z-up frame
        stated = np.array([float(entry["width"]), float(entry["depth"]), float(entry["height"])])
        ratio = extent / stated
        assert ratio.max() / ratio.min() < 1.08, (folder, extent, stated)
    # The iPhone is stored lying on its back and turned upright by its modelRotation:
    # without it the height would be the phone's length.
    iphone = manifest["sh3d-blendswap-cc-0-iphone"]["extent"]
    assert iphone[2] < min(iphone[0], iphone[1]) / 3


def test_interrupted_catalogue_leaves_no_output(tmp_path, monkeypatch):
    from training.data.real import catalogue as catalogue_module

    roots = _fixture_roots(tmp_path)
    real_one = catalogue_module.catalogue_one
    calls = []

    def failing_after_two(candidate, dest, seen):
        calls.append(candidate.key)
        if len(calls) == 3:
            raise KeyboardInterrupt     # the user pressing Ctrl-C in the middle
        return real_one(candidate, dest, seen)

    monkeypatch.setattr(catalogue_module, "catalogue_one", failing_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_catalogue(roots, tmp_path / "out", tmp_path / "cache", log=open(os.devnull, "w"))
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(catalogue_module, "catalogue_one", real_one)
    build_catalogue(roots, tmp_path / "out", tmp_path / "cache", log=open(os.devnull, "w"))
    assert (tmp_path / "out" / "manifest.json").is_file() and not (tmp_path / "out.partial").exists()


def test_missing_tools_stop_with_one_line(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}          # no apt-get, dpkg-deb or assimp
    result = subprocess.run([sys.executable, "-m", "training.data", "fetch-real", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "assimp" in lines[0] and "apt-get install -y" in lines[0] and "assimp-utils" in lines[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_real_splits_are_disjoint_stable_and_give_test_at_least_15_percent(catalogue):
    a, b = catalogue_specs(catalogue, seed=0), catalogue_specs(catalogue, seed=0)
    assert a == b
    ids = {c: [f"{c}_{i}" for i in range(n)] for c, n in (("chair", 60), ("sofa", 23), ("bench", 6), ("phone", 4))}
    split = assign_splits(ids, 0, REAL_SPLIT_FRACTIONS, round_up=True)
    assert split == assign_splits(dict(reversed(list(ids.items()))), 0, REAL_SPLIT_FRACTIONS, round_up=True)
    for category, members in ids.items():
        n_test = sum(split[i] == "test" for i in members)
        assert n_test / len(members) >= 0.15, category
        assert sum(split[i] == "train" for i in members) >= 1


@pytest.fixture(scope="module")
def rendered(catalogue, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("real_render") / "ds"
    build(str(catalogue), out, views=2, workers=1, engine="workbench", command="test")
    return out


_views = dataset_views


def test_real_meshes_render_with_their_textures(rendered):
    """The cabinet's oak texture reaches the render: its pixels have the wood's hue and vary."""
    with zipfile.ZipFile(FIXTURES / "sweethome3d-furniture" / SH3F) as z:
        import io
        oak = np.asarray(Image.open(io.BytesIO(z.read("blendswap-cc-0/upperCabinet/american_oak.jpg"))).convert("RGB"),
                         dtype=np.float64) / 255
    oak_hue = colorsys.rgb_to_hsv(*oak.reshape(-1, 3).mean(0))[0]
    for obj_dir, meta, view in _views(rendered):
        if meta["id"] != "sh3d-blendswap-cc-0-uppercabinet":
            continue
        rgba = np.asarray(Image.open(obj_dir / view["image"]), dtype=np.float64) / 255
        inside = rgba[..., 3] > 0.99
        pixels = rgba[..., :3][inside]
        hue = colorsys.rgb_to_hsv(*pixels.mean(0))[0]
        assert abs(hue - oak_hue) < 0.06, (hue, oak_hue)
        assert len(np.unique((pixels * 255).astype(int), axis=0)) > 200   # not a single colour
        break
    else:
        pytest.fail("the textured fixture was not rendered")


def test_real_ground_truth_projects_into_the_silhouette(rendered):
    assert fraction_inside_silhouette(rendered) >= 0.99
    info = json.loads((rendered / "dataset.json").read_text())
    assert info["counts"]["total_objects"] == 6


def _box_obj(lo, hi) -> str:
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    corners = [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
    faces = ["1 2 4 3", "5 7 8 6", "1 5 6 2", "3 4 8 7", "1 3 7 5", "2 6 8 4"]
    return "".join(f"v {x} {y} {z}\n" for x, y, z in corners) + "".join(f"f {f}\n" for f in faces)


def test_ground_plates_are_removed_but_flush_bottoms_stay(tmp_path):
    from training.data.real.obj_files import Part, assemble

    box = tmp_path / "box.obj"          # +Y up file: a 1 x 1 x 1 box standing on y = 0
    box.write_text(_box_obj((0, 0, 0), (1, 1, 1)))
    plate = tmp_path / "plate.obj"      # the box on a 3 x 3 plate at its foot
    plate.write_text(_box_obj((0, 0, 0), (1, 1, 1)) + "v -1 0 -1\nv 2 0 -1\nv 2 0 2\nv -1 0 2\nf 9 12 11 10\n")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    alone = assemble([Part(box)], tmp_path / "a")
    on_plate = assemble([Part(plate)], tmp_path / "b")
    assert alone.ground_faces_removed == 0 and len(alone.triangles) == 12
    assert on_plate.ground_faces_removed == 1 and len(on_plate.triangles) == 12
    assert np.allclose(on_plate.extent, [1, 1, 1])       # loose plate corners do not count
    assert (tmp_path / "b" / "model.obj").read_text().count("\nf ") == 6
    # An aircraft on its wheels over a pad no wider than its wings: the pad goes too.
    aircraft = tmp_path / "aircraft.obj"
    text = _box_obj((-2, 0.5, -0.5), (2, 0.7, 0.5))
    wheel = _box_obj((-0.05, 0, -0.05), (0.05, 0.5, 0.05))
    wheel = "".join(line if not line.startswith("f ") else
                    "f " + " ".join(str(int(i) + 8) for i in line.split()[1:]) + "\n"
                    for line in wheel.splitlines(keepends=True))
    pad = "v -1.9 0 -0.45\nv 1.9 0 -0.45\nv 1.9 0 0.45\nv -1.9 0 0.45\nf 17 20 19 18\n"
    aircraft.write_text(text + wheel + pad)
    (tmp_path / "c").mkdir()
    on_pad = assemble([Part(aircraft)], tmp_path / "c")
    assert on_pad.ground_faces_removed == 1 and len(on_pad.triangles) == 24


AC_WITH_LIGHTS = """AC3Db
MATERIAL "grey" rgb 0.5 0.5 0.5  amb 0.2 0.2 0.2  emis 0 0 0  spec 0 0 0  shi 10  trans 0
OBJECT world
kids 2
OBJECT poly
name "fuselage"
data 9
fuselage
numvert 4
0 0 0
1 0 0
1 1 0
0 1 0
numsurf 1
SURF 0x10
mat 0
refs 4
0 0 0
1 0 0
2 0 0
3 0 0
kids 0
OBJECT group
name "LandingLight"
kids 1
OBJECT poly
name "halo"
numvert 3
5 5 5
6 5 5
5 6 5
numsurf 1
SURF 0x10
mat 0
refs 3
0 0 0
1 0 0
2 0 0
kids 0
"""


def test_lights_and_shadows_inside_ac3d_files_are_left_out(tmp_path):
    from training.data.real.ac3d import convert, strip_named_objects

    text, dropped = strip_named_objects(AC_WITH_LIGHTS)
    assert dropped == ["LandingLight"] and "halo" not in text and "kids 1\n" in text
    ac = tmp_path / "plane.ac"
    ac.write_text(AC_WITH_LIGHTS)
    vertices = obj_vertices(convert(ac, tmp_path / "cache"))
    assert vertices.max() <= 1.0 + 1e-6          # only the fuselage's corners reach the OBJ
    with pytest.raises(Exception, match="AC3D"):
        strip_named_objects("not an ac file\n")
    overstated = AC_WITH_LIGHTS.replace("OBJECT world\nkids 2", "OBJECT world\nkids 5")  # exporters do this
    assert strip_named_objects(overstated)[0] == text


def test_training_views_on_photos_keep_the_object_and_its_mask(rendered):
    """Photo backgrounds change only what lies outside the silhouette; the mask is the alpha."""
    import torch

    from training.data.backgrounds import BackgroundMix, BackgroundSampler
    from training.data.dataset import Augmentation, P2MDataset

    photos = [Path(__file__).parent / "data" / "photos" / "rocks.jpg"]
    plain = P2MDataset(rendered, "train", input_size=224, points=100, augment=Augmentation(), seed=3)
    on_photo = P2MDataset(rendered, "train", input_size=224, points=100, augment=Augmentation(), seed=3,
                          backgrounds=BackgroundSampler(photos, BackgroundMix(photo=1.0, flat=0.0, white=0.0)))
    a, b = plain[0], on_photo[0]
    mask = b["mask"][0]
    assert torch.equal(a["mask"], b["mask"]) and 0.02 < float(mask.mean()) < 0.9
    inside, outside = mask > 0.999, mask < 0.001
    assert torch.allclose(a["image"][:, inside], b["image"][:, inside], atol=1e-5)     # object unchanged
    assert torch.allclose(a["image"][:, outside], torch.ones(3, int(outside.sum())))   # white before
    photo_part = b["image"][:, outside]
    assert float(photo_part.std()) > 0.05 and float((photo_part - 1).abs().mean()) > 0.1  # rocks, not white
    alpha = np.asarray(Image.open(rendered / "objects" / b["object_id"] / f"view_{b['view']:02d}.png"))[..., 3]
    assert abs(float(mask.mean()) - float((alpha > 0).mean())) < 0.01   # 224 px views: the same silhouette


@pytest.mark.parametrize("label, folder_category, expected", [
    ("AI/Aircraft/A320/Models/A320-main.xml", "airplane", "airplane"),
    ("AI/Aircraft/EC-135/Models/ec135.xml", "airplane", "other"),                  # helicopters
    ("Scenery/Models/Aircraft/Mi-8PS-lowpoly.ac", "airplane", "other"),
    ("Scenery/Models/Aircraft/KOFF_EC-135A.ac", "airplane", "airplane"),             # Boeing, not Eurocopter
    ("AI/Aircraft/A330-MRTT/Models/refueling/refueling.xml", "airplane", "drop:not a whole vehicle"),
    ("Scenery/Models/Aircraft/MiG-21bis.ac", "airplane", "airplane"),
    ("AI/Aircraft/Lightning/Models/lightning-model.xml", "airplane", "airplane"),   # not a light
    ("AI/Aircraft/A330-MRTT/Models/refueling/probe.xml", "airplane", "drop:not a whole vehicle"),
    ("AI/Aircraft/Cessna208Caravan/Models/wheels.xml", "airplane", "drop:not a whole vehicle"),
    ("Scenery/Models/Maritime/Civilian/Freighter.xml", "watercraft", "watercraft"),
    ("Scenery/Models/Maritime/Misc/PhareCalais.ac", "watercraft", "drop:not a whole vehicle"),
    ("Scenery/Models/Maritime/Misc/digue_beton_25m.ac", "watercraft", "drop:not a whole vehicle"),
    ("Scenery/Models/Aircraft/Airbus_A319-meridiana.ac", "airplane", "airplane"),   # 'bus' in Airbus
    ("Scenery/Models/Transport/VWJetta_S1.ac", None, "car"),                        # 'jet' in Jetta
    ("Scenery/Models/Transport/bus-muc.xml", None, "other"),
    ("Scenery/Models/Military/EGYP-TWR1.ac", None, "drop:not a vehicle"),
])
def test_flightgear_names_settle_categories(label, folder_category, expected):
    """The word rules that the contact sheet checked, kept from regressing."""
    from training.data.real.sources import fg_category

    assert fg_category(label, folder_category) == expected
