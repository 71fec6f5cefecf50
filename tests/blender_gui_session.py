"""Runs tests/blender_gui_driver.py in Blender 3.4 under Xvfb with the add-on installed.

Shared by the GUI tests (tests/test_addon_blender34.py) and the documentation screenshot
(docs/make_addon_screenshot.py). The add-on is installed as a legacy add-on in a scripts
folder given by BLENDER_USER_SCRIPTS, with its own BLENDER_USER_CONFIG, so the machine's
Blender settings are untouched.
"""
from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("blender_gui_driver.py")
WINDOW = (1400, 900)
TIMEOUT_S = 300


def run_gui_driver(root: Path, out_dir: Path, weights: Path, **settings) -> dict:
    """Drive the add-on once; returns the driver's result.json (screenshots in out_dir).

    `root` is a scratch folder for the add-on install and Blender's config; extra keyword
    settings go to the driver (picture, object_name).
    """
    addons = root / "scripts" / "addons"
    addons.mkdir(parents=True)
    (addons / "blender_p2m").symlink_to(REPO / "blender_p2m", target_is_directory=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings_file = root / "settings.json"
    settings_file.write_text(json.dumps({
        "out_dir": str(out_dir), "weights": str(weights),
        # This interpreter's site-packages has PyTorch for Python 3.11, as Debian's Blender uses.
        "site_packages": sysconfig.get_paths()["purelib"], **settings}))
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(root / "scripts"),
               BLENDER_USER_CONFIG=str(root / "config"))
    command = ["xvfb-run", "-a", "-s", f"-screen 0 {WINDOW[0]}x{WINDOW[1]}x24",
               "blender", "--factory-startup", "--enable-event-simulate",
               "-p", "0", "0", str(WINDOW[0]), str(WINDOW[1]),
               "--python", str(DRIVER), "--", str(settings_file)]
    proc = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    (out_dir / "blender_output.txt").write_text(proc.stdout + proc.stderr)
    result_file = out_dir / "result.json"
    assert result_file.exists(), f"Blender wrote no result:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert result["ok"], result.get("exception")
    return result
