"""The real-mesh sources: which Debian packages, which of their files, and what each model is.

`candidates(unpacked)` lists every model the sources offer, each with its category (or the
reason it is dropped), licence, attribution and a recipe for its parts. Nothing is
converted here; `catalogue.py` does that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import sweethome3d
from .ac3d import NOT_GEOMETRY, AcPart, main_ac_of, to_obj_parts, xml_parts
from .categories import OTHER
from .obj_files import ZUP_FROM_YUP, Part

FG_ROOT = "usr/share/games/flightgear"
TORCS_CARS = "usr/share/games/torcs/cars"

# package -> tar wildcards to unpack (all of it when empty). flightgear-data-base is 1.3 GB:
# only its scenery models are needed.
PACKAGES: dict[str, tuple[str, ...]] = {
    "sweethome3d-furniture": (),
    "flightgear-data-ai": (),
    "flightgear-data-models": (),
    "flightgear-data-base": ("*/Scenery/Models/*", "*/usr/share/doc/*"),
    "torcs-data": (),
}

LICENCES = {
    "flightgear-data-ai": ("GPL-2.0-or-later", "The FlightGear project (Curtis L. Olson and contributors)"),
    "flightgear-data-models": ("GPL-2.0-or-later", "The FlightGear project (Curtis L. Olson and contributors)"),
    "flightgear-data-base": ("GPL-2.0-or-later", "The FlightGear project (Curtis L. Olson and contributors)"),
    "torcs-data": ("GPL-2.0-or-later OR Free Art License", "The TORCS project (Eric Espié and contributors)"),
}

# FlightGear folders (relative to FG_ROOT) with vehicles, and the category of what is in them;
# None: decided by the model's name.
FLIGHTGEAR_FOLDERS: list[tuple[str, str, str | None]] = [
    ("flightgear-data-ai", "AI/Aircraft", "airplane"),
    ("flightgear-data-models", "Models/Maritime", "watercraft"),
    ("flightgear-data-models", "Models/Geometry", None),
    ("flightgear-data-models", "Models/Airport/Pushback", OTHER),
    ("flightgear-data-base", "Scenery/Models/Aircraft", "airplane"),
    ("flightgear-data-base", "Scenery/Models/Maritime", "watercraft"),
    ("flightgear-data-base", "Scenery/Models/Transport", None),
    ("flightgear-data-base", "Scenery/Models/Military", None),
]

# Words in FlightGear names (file and folder) that settle the category where the folder
# does not: car makes, other vehicles, and things in vehicle folders that are not vehicles.
FG_WORDS: list[tuple[str, str]] = [
    ("drop:not a whole vehicle", r"services|jetway|stairs|gangway|platform|station|tunnel|portal|hangar|"
                                 r"pier|dock|quay|buoy|lighthouse|feuer|mooring|crater|bomb|missile|/lock\d|/dam\.|"
                                 r"rocket|aim\d|mk\d|droptank|storagetank|load\b|null|flag|ensign|container|"
                                 r"barrel|parachut|sunit|tower|windsock|target|propeller|/clock|grue|/pont|"
                                 r"sillage|tracteur|bow_wave|datum|flols|glide-path|mule-|phalanx|sparrow|"
                                 r"wave-off|/foxtrot|/golf\.|/cut\.|parks-and-objects|/hull\.|rp-?3|"
                                 r"shelter|barrack|bunker|guard|building|hut\b|stores|workshop|mess\b|"
                                 r"quarters|medical|shed|ski-?jump|bak-12|depot|bldg|hanger|sa-2|"
                                 r"digue|footbridge|phare|/ph[a-z]+\.|feusaint|port-ct|oilrig|amarre|tonne|"
                                 r"iceberg|castle|dart_etd|staalskib|lftw|/ice/|probe|wheels?\b|ssme|omspods|"
                                 r"/gear|nacelle|cockpit|interior"),
    (OTHER, r"heli|seahawk|balloon|(?<!air)bus|truck|train|tram|coach|loco|wagon-|trailer|tractor|bulldozer|crane|"
            r"lorry|forklift|pushback|tug\b|digger|excavator|\bice-?\d|ice-|hitachi|metrolink|class_?\d|"
            r"/lint|airtrain|srn4|hovercraft|\btank\b|apc|humvee|radar|flatcar|diesel|grader|roller|"
            r"brooms|bloodhound|goldhofer|motorhome|ec-?1\d\d|lynx|hh-?60|mi-?\d|\br44|jetranger|dauphin|"
            r"frelon|puma|cougar|chinook|apache|huey|bell-?\d|sikorsky|alouette|gazelle|robinson|"
            r"ka-?\d|dragonfly|bluebird"),
    ("airplane", r"kc-?1[0-9]{1,2}|a4-f|ka6-d|a6-d|glider|spitfire|cessna|boeing|airbus|\b7[0-9]7|a3[0-9]{2}|"
                 r"fokker|jet\b|plane|aircraft|f-?1[4568]|mig-?\d|mirage|tornado|harrier|jaguar"),
    ("watercraft", r"nimitz|clemenceau|sanantonio|ferry|ship|boat|carrier|frigate|destroyer|trawler|yacht|"
                   r"barge|dhow|catamaran|freighter|tanker|cutter|canoe|kayak|sail|lifeboat|rib\b|irb|"
                   r"atlantic_\d+|dutch_master|e_class|cg-?\d+|lha|lpd|lcm|ffg|psc\d|eisenhower|truman|vinson"),
    ("car", r"car\b|cars\b|vw|jetta|passat|golf|bmw|audi|mercedes|ford|fiat|opel|renault|peugeot|toyota|"
            r"volvo|porsche|beetle|police|taxi|sedan|hatch|citroen|skoda|nissan|honda|mini\b|pickup|suv|"
            r"camaro|dodge|chevrolet|chevy|mustang|corvette|mazda|camry|policar|hummer"),
]


@dataclass
class Candidate:
    """A model a source offers: what it is and how to get its parts."""

    key: str                  # unique, file-name safe
    name: str
    package: str
    origin: str               # where in the package
    category: str             # one of the 13, "other", or "drop:<reason>"
    licence: str
    attribution: str
    parts: Callable[[Path], list[Part]]   # given a scratch folder -> OBJ parts


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def fg_category(label: str, default: str | None) -> str:
    """FlightGear's category: the folder's, unless the name says otherwise."""
    text = label.lower()
    for category, pattern in FG_WORDS:
        if re.search(pattern, text):
            return category
    return default if default is not None else "drop:not a vehicle"


def sweethome3d_candidates(root: Path) -> list[Candidate]:
    folder = root / sweethome3d.CATALOGUE_DIR
    out = []
    for sh3f in sorted(folder.glob("*.sh3f")):
        if sh3f.stem in sweethome3d.LEFT_OUT:
            continue
        licence, attribution = sweethome3d.CATALOGUES.get(sh3f.stem, ("unknown", "{creator}"))
        for entry in sweethome3d.read_catalogue(sh3f):
            def parts(scratch: Path, sh3f=sh3f, entry=entry) -> list[Part]:
                obj = sweethome3d.extract_model(sh3f, entry, scratch)
                return [sweethome3d.part_of(obj, entry)]
            out.append(Candidate(entry.key, entry.name, sweethome3d.PACKAGE, f"{sh3f.name}:{entry.model}",
                                 sweethome3d.category_of(entry), licence,
                                 attribution.format(creator=entry.creator or "unknown author"), parts))
    return out


def _ac_candidate(key: str, name: str, package: str, origin: str, category: str,
                  ac_parts: list[AcPart], cache: Path) -> Candidate:
    licence, attribution = LICENCES[package]
    return Candidate(key, name, package, origin, category, licence, attribution,
                     lambda scratch, ac_parts=ac_parts: to_obj_parts(ac_parts, cache))


def flightgear_candidates(roots: dict[str, Path], cache: Path) -> list[Candidate]:
    fg_roots = tuple(roots[p] / FG_ROOT for p in roots if p.startswith("flightgear"))
    out: list[Candidate] = []
    for package, folder, default in FLIGHTGEAR_FOLDERS:
        if package not in roots:
            continue
        base = roots[package] / FG_ROOT / folder
        if not base.is_dir():
            continue
        xmls = sorted(p for p in base.rglob("*.xml") if not NOT_GEOMETRY.search(str(p.relative_to(base))))
        used: set[Path] = set()
        for xml in xmls:
            main = main_ac_of(xml, fg_roots)
            if main is None or main.suffix.lower() != ".ac":
                continue
            parts = xml_parts(xml, fg_roots)
            used.update(p.path.resolve() for p in parts)
            if not parts:
                continue
            relative = str(xml.relative_to(base))
            out.append(_ac_candidate(_safe(f"fg-{folder.split('/')[-1]}-{Path(relative).with_suffix('')}"),
                                     xml.stem, package, f"{FG_ROOT}/{folder}/{relative}",
                                     fg_category(f"{folder}/{relative}", default), parts, cache))
        if folder == "AI/Aircraft":     # AI models are all placed by XML; loose .ac are parts
            continue
        for ac in sorted(base.rglob("*.ac")):
            relative = str(ac.relative_to(base))
            if ac.resolve() in used or NOT_GEOMETRY.search(relative) or "/textures/" in f"/{relative.lower()}":
                continue
            out.append(_ac_candidate(_safe(f"fg-{folder.split('/')[-1]}-{Path(relative).with_suffix('')}"),
                                     ac.stem, package, f"{FG_ROOT}/{folder}/{relative}",
                                     fg_category(f"{folder}/{relative}", default),
                                     [AcPart(ac, ZUP_FROM_YUP.copy())], cache))
    return out


def torcs_candidates(root: Path, cache: Path) -> list[Candidate]:
    """TORCS race cars: `cars/NAME/NAME.acc` (the `-lod*` files are coarser copies).

    Their bodies come out of assimp +Y up, like other AC3D files (measured: a 4.8 m long,
    1.9 m wide car is 1.2 m tall along the file's Y). TORCS draws the wheels itself, so
    these cars have none."""
    out = []
    for acc in sorted((root / TORCS_CARS).glob("*/*.acc")):
        if "-lod" in acc.stem or acc.stem != acc.parent.name:
            continue
        out.append(_ac_candidate(_safe(f"torcs-{acc.stem}"), acc.stem, "torcs-data",
                                 f"{TORCS_CARS}/{acc.parent.name}/{acc.name}", "car",
                                 [AcPart(acc, ZUP_FROM_YUP.copy())], cache))
    return out


def candidates(roots: dict[str, Path], cache: Path) -> list[Candidate]:
    """Every model of the unpacked packages in `roots` (package -> unpacked root)."""
    found: list[Candidate] = []
    if "sweethome3d-furniture" in roots:
        found += sweethome3d_candidates(roots["sweethome3d-furniture"])
    found += flightgear_candidates(roots, cache)
    if "torcs-data" in roots:
        found += torcs_candidates(roots["torcs-data"], cache)
    keys: dict[str, int] = {}
    for c in found:                      # keys stay unique even if two names normalise alike
        keys[c.key] = keys.get(c.key, 0) + 1
        if keys[c.key] > 1:
            c.key = f"{c.key}-{keys[c.key]}"
    return found
