"""Shared test fixtures and the rules for tests that need outside programs.

Tests marked ``blender_binary`` or ``xvfb`` skip with a visible reason where the program
is missing, except under CI (CI=true), where a missing program is a failure.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REQUIRED_PROGRAMS = {"blender_binary": "blender", "xvfb": "Xvfb", "assimp": "assimp"}
DEBIAN_PACKAGE = {"blender": "blender", "Xvfb": "xvfb", "assimp": "assimp-utils"}


def pytest_runtest_setup(item):
    for marker, program in REQUIRED_PROGRAMS.items():
        if item.get_closest_marker(marker) and shutil.which(program) is None:
            message = f"{program} not found (apt-get install -y {DEBIAN_PACKAGE[program]})"
            if UNDER_CI:
                pytest.fail(f"{message}: required under CI", pytrace=False)
            pytest.skip(message)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint of the 'tiny' configuration with seeded random weights (for plumbing tests)."""
    import torch

    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    torch.manual_seed(0)
    model = Pixel2Mesh(get_config("tiny"))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    atomic_save(checkpoint_dict(model, metadata={"note": "random weights for tests"}), path)
    return path


@pytest.fixture(scope="session")
def still_model(tmp_path_factory):
    """Tiny model with its coordinate heads zeroed: the output is the initial ellipsoid in the
    virtual camera, mapped back to the real camera (so with crop="object" the mesh centre
    projects onto the object's centre)."""
    import torch

    from blender_p2m.api import load_model
    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    torch.manual_seed(0)
    network = Pixel2Mesh(get_config("tiny"))
    with torch.no_grad():
        for block in network.blocks:
            for linear in (block.coordinates.self_weight, block.coordinates.neighbour_weight):
                linear.weight.zero_()
            block.coordinates.self_weight.bias.zero_()
    path = tmp_path_factory.mktemp("still") / "still.pt"
    atomic_save(checkpoint_dict(network), path)
    return load_model(path, device="cpu")
