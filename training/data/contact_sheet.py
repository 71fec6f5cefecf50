"""A contact sheet of a built dataset: one render per object, with its name and category.

A sideways chair or a mislabelled model is a data bug that a table of numbers hides; one
look at the sheet finds it. Objects are grouped by category; the sheet is quantised to 256
colours so that a thousand thumbnails stay a small PNG.

    python -m training.data contact-sheet --data datasets/real_v4 --out docs/real_meshes_contact_sheet.png
"""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from blender_p2m.errors import P2MError


def _label_font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:            # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(data: Path, out: Path, thumb: int = 96, columns: int = 36,
                  names: dict[str, str] | None = None) -> int:
    """Write the sheet; returns the number of objects drawn.

    Args:
        data: a built dataset (objects/<id>/meta.json and view_00.png).
        names: optional id -> display name (the catalogue's model names).
    """
    metas = []
    for meta_path in sorted((Path(data) / "objects").glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        metas.append((meta["category"] == "other", meta["category"], meta["id"], meta_path.parent))
    if not metas:
        raise P2MError(f"{data} has no built objects: build it with `python -m training.data build`")
    metas.sort()
    label_h = 22
    font = _label_font(9)
    rows = -(-len(metas) // columns)
    sheet = Image.new("RGB", (columns * thumb, rows * (thumb + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (_, category, object_id, folder) in enumerate(metas):
        x, y = (k % columns) * thumb, (k // columns) * (thumb + label_h)
        render = Image.open(folder / "view_00.png").convert("RGBA")
        tile = Image.new("RGBA", render.size, (255, 255, 255, 255))
        tile.alpha_composite(render)
        sheet.paste(tile.convert("RGB").resize((thumb, thumb), Image.LANCZOS), (x, y))
        name = (names or {}).get(object_id, object_id)
        draw.text((x + 2, y + thumb), name[:18], fill=(0, 0, 0), font=font)
        draw.text((x + 2, y + thumb + 10), category, fill=(170, 30, 30), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    sheet.quantize(256).save(tmp, optimize=True)
    tmp.replace(out)
    return len(metas)
