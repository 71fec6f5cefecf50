"""Retakes docs/images/addon_screenshot.png: the add-on in Blender 3.4 with the bundled weights.

    python docs/make_addon_screenshot.py [--example sofa_0009_view0]

Drives a real Blender window under Xvfb like the GUI tests do (tests/blender_gui_driver.py),
with an example image of the test split as the camera background, its own intrinsics as
the camera's lens, and the bundled weights; the click's screenshot is copied into docs/.
Needs `blender` (3.4+) and `xvfb-run` on PATH.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from blender_gui_session import run_gui_driver  # noqa: E402
from blender_p2m.api import bundled_weights_path  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", default="sofa_0009_view0", help="stem of an image in examples/")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "images" / "addon_screenshot.png")
    args = parser.parse_args(argv)
    image = REPO / "examples" / f"{args.example}.png"
    sidecar = json.loads(image.with_suffix(".json").read_text())
    for tool in ("blender", "xvfb-run"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (apt-get install -y blender xvfb)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        picture = {"path": str(image), "fx": sidecar["fx"], "width": sidecar["width"],
                   "height": sidecar["height"]}
        result = run_gui_driver(Path(tmp) / "blender", out, bundled_weights_path(),
                                picture=picture, object_name=args.example.split("_")[0].title())
        if result.get("object") is None:
            print(f"error: the click made no mesh: {result.get('error_text')}", file=sys.stderr)
            return 1
        shutil.copyfile(out / "addon_screenshot.png", args.output)
    print(f"wrote {args.output}: {result['result_text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
