"""Mapping a real model's name (and its catalogue's hints) to one of the 13 categories.

The 13 categories are ShapeNet's, as the procedural library uses them. A model of furniture
or a vehicle outside them is `other`: it helps training but stays out of the 13-category
class mean. People and parts of buildings (doors, windows, stairs) are dropped. The rules
are words in the English name, tried in order, so that "table lamp" is a lamp and
"television cabinet" a cabinet; `OVERRIDES` settles the few names the words get wrong,
found by looking at the contact sheet.
"""
from __future__ import annotations

import re

OTHER = "other"

# (category, words): the first rule with a word in the name wins. Words match whole words
# or word starts ("sofa" matches "sofas", not "xsofa").
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("drop:person", ("man", "woman", "men", "women", "person", "people", "mannequin", "human", "boy",
                     "girl", "child", "kid", "baby", "lady", "gentleman", "character", "pilot")),
    ("drop:part of a building", ("door", "window", "staircase", "stair", "escalator", "wall", "roof",
                                 "floor", "ceiling", "chimney", "fence", "gate", "railing", "arch",
                                 "column", "beam", "parking", "garage", "balcony", "skylight", "niche")),
    ("drop:wall fitting", ("plug", "switch", "socket", "outlet", "dimmer")),
    ("drop:light source or effect", ("halo", "flare", "glow", "beacon", "strobe", "navlight", "light cone",
                                     "contrail", "exhaust", "smoke", "shadow")),
    ("lamp", ("lamp", "lampshade", "chandelier", "floor light", "spotlight", "spot light", "light",
              "sconce", "lantern", "streetlight", "street light")),
    ("display", ("tv", "television", "monitor", "screen", "display", "imac", "lcd", "plasma")),
    ("loudspeaker", ("speaker", "loudspeaker", "subwoofer", "hifi", "hi-fi", "stereo", "woofer")),
    ("telephone", ("phone", "telephone", "iphone", "smartphone", "cellphone", "mobile")),
    ("rifle", ("rifle", "gun", "shotgun", "musket", "carbine")),
    ("cabinet", ("cabinet", "cupboard", "wardrobe", "dresser", "drawer", "drawers", "sideboard", "locker",
                 "chest", "nightstand", "bedside", "commode", "buffet", "armoire", "closet", "filing")),
    ("sofa", ("sofa", "couch", "settee", "loveseat", "divan", "chesterfield", "futon sofa")),
    ("bench", ("bench",)),
    ("chair", ("chair", "armchair", "stool", "seat", "rocker", "highchair", "recliner")),
    ("table", ("table", "desk", "bureau", "counter", "worktop", "workbench")),
    ("airplane", ("airplane", "aeroplane", "plane", "aircraft", "airliner", "jet", "biplane", "glider",
                  "fighter", "bomber", "cessna", "boeing", "airbus")),
    ("watercraft", ("boat", "ship", "yacht", "canoe", "kayak", "ferry", "sailboat", "dinghy", "vessel",
                    "catamaran", "trawler", "tug", "submarine", "frigate", "destroyer", "carrier",
                    "dhow", "barge", "lifeboat", "freighter", "tanker")),
    ("car", ("car", "sedan", "coupe", "hatchback", "jeep", "suv", "taxi", "limousine", "pickup",
             "convertible", "roadster", "van", "racing car", "race car")),
]

# Exact names (lower case) whose words mislead the rules, decided by looking at the model.
OVERRIDES: dict[str, str] = {
    "table fan": OTHER,
    "table football": OTHER,
    "football table": OTHER,
    "pool table": "table",
    "car seat": OTHER,
    "baby bed": OTHER,
    "baby bottle": OTHER,
    "chair lift": OTHER,
    "shower door": "drop:part of a building",
    "garage door": "drop:part of a building",
    "deck chair": "chair",
    "child swing": OTHER,
    "child hut": OTHER,
    "children chair": "chair",
    "children table": "table",
    "high chair": "chair",
    "light switch": OTHER,
    "dressing table": "table",
    "table with tablecloth": "table",
    "television cabinet": "cabinet",
    "tv cabinet": "cabinet",
    "tv remote control": OTHER,
    "remote control": OTHER,
    "bedside lamp": "lamp",
    "wall lamp": "lamp",
    "wall light": "lamp",
    "ceiling light": "lamp",
    "ceiling lamp": "lamp",
    "ceiling fan": OTHER,
    "washbasin cabinet": "cabinet",
    "kitchen cabinet": "cabinet",
    "upper cabinet": "cabinet",
    "wall cabinet": "cabinet",
    "corner cabinet": "cabinet",
    "mirror cabinet": "cabinet",
    "wall shelves": OTHER,
    "tv unit": "cabinet",
    "pc screen": "display",
    "computer screen": "display",
    "screen": OTHER,                 # a room divider in the catalogue
    "intercom with screen": OTHER,
    "tv stand": "cabinet",
    "seat leon": "car",
    "vw new beetle": "car",
    "renault scenic": "car",
    "table tennis bat": OTHER,
    "opened convertible sofa bz": OTHER,
    "little bank": "bench",
    "wood bank": "bench",
    "folding screen": OTHER,
    "fireplace screen": OTHER,
    "chest freezer": OTHER,
    "car wash": OTHER,
}


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(s|es)?(?![a-z0-9])", text) is not None


def categorise(name: str, default: str = OTHER) -> str:
    """One of the 13 categories, `other`, or `drop:<reason>`, for an English model name."""
    text = re.sub(r"[_\-]+", " ", name.lower()).strip()
    if text in OVERRIDES:
        return OVERRIDES[text]
    for category, words in RULES:
        if any(_has_word(text, w) for w in words):
            return category
    return default
