"""Redraws docs/images/background_photos.png: every background photo, labelled with its split.

    python docs/make_background_photos_sheet.py PHOTO_LIBRARY [--out docs/images/background_photos.png]

PHOTO_LIBRARY is a folder made by training.data.real.photos.extract_photos. The sheet is for
checking by eye that every selected image is a real colour photograph.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training.data.real.photos import load_photo_manifest  # noqa: E402

TILE, LABEL, COLUMNS = 128, 24, 10


def contact_sheet(library: Path) -> Image.Image:
    records = sorted(load_photo_manifest(library)["photos"], key=lambda r: (r["package"], r["file"]))
    rows = -(-len(records) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * TILE, rows * (TILE + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, r in enumerate(records):
        x, y = (i % COLUMNS) * TILE, (i // COLUMNS) * (TILE + LABEL)
        with Image.open(library / r["file"]) as img:
            img = img.convert("RGB")
            img.thumbnail((TILE - 4, TILE - 4), Image.LANCZOS)
        sheet.paste(img, (x + (TILE - img.width) // 2, y + (TILE - img.height) // 2))
        name = Path(r["file"]).stem.split("__", 1)[1]
        draw.text((x + 2, y + TILE), f"{name[:22]}", fill="black")
        draw.text((x + 2, y + TILE + 11), f"{r['package'][:16]} [{r['split']}]", fill="dimgray")
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "background_photos.png")
    args = parser.parse_args(argv)
    # A dithered 256-colour palette keeps the file small (about 0.5 MB) and the thumbnails legible.
    sheet = contact_sheet(args.library)
    palette = sheet.quantize(256, method=Image.Quantize.MEDIANCUT)
    sheet = sheet.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
