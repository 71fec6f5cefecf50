"""python -m training.data build --source procedural|MESH_DIR --out DIR [--views K] [--workers N]
python -m training.data fetch-real --out datasets/real_meshes [--cache DIR] [--packages P,...]"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from blender_p2m.errors import P2MError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data",
                                     description="Build blender-p2m training data by rendering meshes with Blender.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build or resume a dataset")
    b.add_argument("--source", required=True, help="'procedural' or a folder of meshes (sub-folders = categories)")
    b.add_argument("--out", required=True, type=Path, help="dataset folder (created; resumable)")
    b.add_argument("--views", type=int, default=4, help="views per object (default 4)")
    b.add_argument("--workers", type=int, default=2, help="render processes (default 2)")
    b.add_argument("--per-category", type=int, default=100, help="procedural objects per category")
    b.add_argument("--categories", default=None, help="comma-separated subset of categories")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--engine", choices=("cycles", "workbench"), default="cycles")
    b.add_argument("--image-size", type=int, default=None, help="override the convention's 224 px")
    b.add_argument("--default-focal", type=float, default=None, help="override the convention's 250 px")
    b.add_argument("--default-focal-fraction", type=float, default=None,
                   help="fraction of views using the default focal length (convention: 0.7)")
    b.add_argument("--only-split", choices=("train", "val", "test"), default=None,
                   help="build only the objects of one split (same split assignment)")
    f = sub.add_parser("fetch-real", help="download (apt-get download), unpack and catalogue real meshes "
                                          "from Debian packages into a folder of meshes by category")
    f.add_argument("--out", type=Path, default=Path("datasets/real_meshes"), help="catalogue folder")
    f.add_argument("--cache", type=Path, default=None,
                   help="downloads, unpacked packages and conversions (default: OUT_cache); reused")
    f.add_argument("--packages", default=None, help="comma-separated subset of the source packages")
    c = sub.add_parser("contact-sheet", help="write a PNG with one render per object, named and categorised")
    c.add_argument("--data", required=True, type=Path, help="a built dataset")
    c.add_argument("--out", required=True, type=Path, help="PNG to write")
    c.add_argument("--catalogue", type=Path, default=None,
                   help="the real-mesh catalogue the dataset was built from (for model names)")
    p = sub.add_parser("preview", help="write a PNG grid of procedural shapes")
    p.add_argument("--out", type=Path, default=Path("docs/shapes_preview.png"))
    args = parser.parse_args(argv)
    if args.command == "build":
        from .build import build

        if args.views < 1 or args.workers < 1 or args.per_category < 1:
            parser.error("--views, --workers and --per-category must be at least 1")
        cats = [c.strip() for c in args.categories.split(",")] if args.categories else None
        command = "python -m training.data " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        from dataclasses import replace

        from .convention import DataConvention

        overrides = {k: v for k, v in (("image_size", args.image_size), ("default_focal", args.default_focal),
                                       ("default_focal_fraction", args.default_focal_fraction)) if v is not None}
        try:
            build(args.source, args.out, args.views, args.workers, args.per_category, cats, args.seed,
                  args.engine, convention=replace(DataConvention(), **overrides), command=command,
                  only_split=args.only_split)
        except P2MError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.command == "fetch-real":
        from .real.catalogue import fetch_real
        from .real.sources import PACKAGES

        packages = tuple(p.strip() for p in args.packages.split(",")) if args.packages else tuple(PACKAGES)
        cache = args.cache or args.out.with_name(args.out.name + "_cache")
        try:
            summary = fetch_real(args.out, cache, packages)
        except P2MError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"[fetch-real] {len(summary['models'])} models in {args.out}: "
              + ", ".join(f"{c} {n}" for c, n in sorted(summary["counts"].items())), file=sys.stderr)
        return 0
    if args.command == "contact-sheet":
        from .contact_sheet import contact_sheet

        try:
            names = None
            if args.catalogue:
                from .real.catalogue import read_manifest

                names = {m["key"]: m["name"] for m in read_manifest(args.catalogue)["models"]}
            n = contact_sheet(args.data, args.out, names=names)
        except P2MError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"[contact-sheet] {n} objects -> {args.out}", file=sys.stderr)
        return 0
    from .shapes.preview import preview_grid

    preview_grid(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
