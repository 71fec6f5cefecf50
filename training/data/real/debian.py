"""Fetching Debian packages by name (`apt-get download`) and unpacking them, with a cache.

The real-data build takes its meshes and photographs from Debian main only, so provenance
and licences stay clear. Downloads land in `CACHE/debs/` and are reused on a re-run;
unpacked trees in `CACHE/unpacked/PACKAGE/`, marked complete by a stamp file written last,
so an interrupted unpack is redone rather than trusted.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from blender_p2m.errors import P2MError

# Tools the build runs, and the Debian package that provides each.
TOOLS = {"apt-get": "apt", "dpkg-deb": "dpkg", "assimp": "assimp-utils"}


def require_tools(names=tuple(TOOLS)) -> None:
    """Stop with one line naming what to install when a tool the build runs is missing."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = " ".join(sorted({TOOLS[n] for n in missing}))
        raise P2MError(f"{', '.join(missing)} not found: the real-data build runs "
                       f"{'it' if len(missing) == 1 else 'them'}; "
                       f"install it with `apt-get install -y {packages}` (as root)")


def cached_deb(cache: Path, package: str) -> Path | None:
    found = sorted((cache / "debs").glob(f"{package}_*.deb"))
    return found[-1] if found else None


def download(package: str, cache: Path) -> Path:
    """The package's .deb in CACHE/debs, downloaded with `apt-get download` unless cached."""
    existing = cached_deb(cache, package)
    if existing is not None:
        return existing
    require_tools(("apt-get",))
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    partial = debs / ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    result = subprocess.run(["apt-get", "download", package], cwd=partial, capture_output=True, text=True)
    files = sorted(partial.glob("*.deb"))
    if result.returncode != 0 or not files:
        shutil.rmtree(partial, ignore_errors=True)
        detail = (result.stderr.strip().splitlines() or ["no .deb was written"])[-1]
        raise P2MError(f"could not download the Debian package {package}: {detail}; "
                       f"run `apt-get update` (as root) and check the network, then run the build again")
    target = debs / files[0].name
    files[0].replace(target)
    shutil.rmtree(partial, ignore_errors=True)
    return target


def unpack(deb: Path, cache: Path, package: str, members: tuple[str, ...] = ()) -> Path:
    """Unpack a .deb (only `members`, tar wildcards, when given) into CACHE/unpacked/PACKAGE."""
    root = cache / "unpacked" / package
    stamp = root / ".unpacked"
    wanted = f"{deb.name}\n" + "\n".join(members)
    if stamp.is_file() and stamp.read_text() == wanted:
        return root
    require_tools(("dpkg-deb",))
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if members:
        dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", str(root), "--wildcards", *members],
                             stdin=dpkg.stdout, capture_output=True, text=True)
        dpkg.stdout.close()
        ok = dpkg.wait() == 0 and tar.returncode == 0
        error = tar.stderr
    else:
        result = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
        ok, error = result.returncode == 0, result.stderr
    if not ok:
        shutil.rmtree(root, ignore_errors=True)
        raise P2MError(f"could not unpack {deb.name}: {error.strip()[-300:] or 'dpkg-deb failed'}; "
                       f"delete {deb} and run the build again to download it anew")
    stamp.write_text(wanted)
    return root


def fetch(package: str, cache: Path, members: tuple[str, ...] = ()) -> Path:
    """Download (or reuse) and unpack one package; returns the unpacked root."""
    return unpack(download(package, cache), cache, package, members)


def copyright_text(root: Path, package: str) -> str:
    path = root / "usr" / "share" / "doc" / package / "copyright"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
