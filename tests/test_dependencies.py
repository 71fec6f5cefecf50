"""The dependency groups of pyproject.toml, the lock file ./p2m installs from, and this environment agree."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;#]+)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = normalise(match[1])
        assert name not in pins, f"{name} pinned twice"
        pins[name] = match[2]
    return pins


def declared() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], **project["optional-dependencies"]}


def test_the_groups_are_the_ones_the_readme_explains():
    groups = declared()
    assert set(groups) == {"runtime", "blender", "training", "test"}
    names = {group: {normalise(PIN.match(r)[1]) for r in requirements} for group, requirements in groups.items()}
    assert names["runtime"] == {"torch", "numpy", "pillow"}
    assert names["blender"] == {"bpy"}
    assert {"matplotlib", "tqdm"} <= names["training"] and {"pytest", "ruff"} <= names["test"]
    readme = (REPO / "README.md").read_text()
    assert all(f"`{group}`" in readme for group in ("blender", "training", "test"))


def test_every_declared_dependency_is_locked_at_its_version():
    pins = lock_pins()
    for group, requirements in declared().items():
        for requirement in requirements:
            match = PIN.match(requirement)
            assert match, f"{group}: {requirement!r} is not pinned with =="
            assert pins.get(normalise(match[1])) == match[2], (group, requirement)


def test_this_environment_is_the_locked_one():
    """What the tests run with is what the lock says (a local build label such as +cpu aside)."""
    for name, version in lock_pins().items():
        installed = metadata.version(name)
        assert installed.split("+")[0] == version, (name, installed, version)
