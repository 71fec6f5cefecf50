"""A small model whose silhouette head answers one logit everywhere: background removal
with a known outcome (everything is object, or nothing is), for tests of the mechanism."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from blender_p2m.api import LoadedModel, load_model


def constant_head_model(folder: Path, logit: float) -> LoadedModel:
    """A lite0_tiny network whose silhouette head answers `logit` everywhere, loaded on CPU."""
    from blender_p2m.model import Pixel2Mesh, get_config
    from blender_p2m.model.checkpoint import atomic_save, checkpoint_dict

    config = get_config("lite0_tiny")
    if not config.silhouette:
        pytest.skip("lite0_tiny has no silhouette head")
    torch.manual_seed(0)
    network = Pixel2Mesh(config)
    last = [m for m in network.silhouette_head.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)
    path = Path(folder) / f"head{logit:+g}.pt"
    atomic_save(checkpoint_dict(network), path)
    return load_model(path, device="cpu")
