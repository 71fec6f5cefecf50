"""One checkpoint format for everything: configuration, weights and metadata.

A checkpoint is a plain dict of tensors, strings and numbers, saved with torch.save and
read back with ``torch.load(..., weights_only=True)``, so loading never runs pickled code.

    {"format": "blender-p2m-checkpoint", "format_version": 1,
     "config": ModelConfig.to_dict(), "state_dict": {name: tensor},
     "metadata": {...}}   # JSON-like: training data, metrics, versions, optimiser state...

Weights may be stored in float16 (the bundled file is); they are cast back to float32.
"""
from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import torch

from ..atomic_files import atomic_path
from ..errors import P2MError
from .config import ModelConfig
from .network import Pixel2Mesh

FORMAT = "blender-p2m-checkpoint"
FORMAT_VERSION = 1


def checkpoint_dict(model: Pixel2Mesh, metadata: dict | None = None, half: bool = False) -> dict:
    """The checkpoint of a model (weights copied to CPU, optionally in float16)."""
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        state[name] = tensor.clone()
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.config.to_dict(),
            "state_dict": state, "metadata": dict(metadata or {})}


def atomic_save(obj, path: str | os.PathLike) -> None:
    """torch.save through the shared atomic writer (temporary file, fsync, rename).

    A reader (or a resumed run) sees either the old file or the complete new one, never
    half a file, even if the process is killed during the write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate a checkpoint file; every problem becomes one P2MError naming the file."""
    path = Path(path)
    if not path.exists():
        raise P2MError(f"Weights file not found: {path}. Check the path, or leave it empty "
                       f"to use the bundled weights.")
    if path.is_dir():
        raise P2MError(f"Weights path is a folder, not a file: {path}.")
    if path.stat().st_size == 0:
        raise P2MError(f"Weights file is empty: {path}. Copy or export it again.")
    try:
        with warnings.catch_warnings():   # torch warns about foreign pickles before refusing them
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's message suggests weights_only=False: never pass that advice on.
        unsafe = _unsafe_globals(path)
        if unsafe:
            raise P2MError(f"Refused to load {path}: it contains Python objects other than "
                           f"weights ({', '.join(unsafe)}), which could run code. Only blender-p2m "
                           f"checkpoints are accepted.") from None
        raise P2MError(f"{path} is not a blender-p2m checkpoint, or it is corrupted (it is not "
                       f"a PyTorch weights file). Copy or export it again.") from None
    except Exception as e:  # noqa: BLE001 - any failure to parse is a damaged or foreign file
        if _looks_like_zip(path):
            first = str(e).strip().split(". ")[0].splitlines()[0] if str(e).strip() else type(e).__name__
            raise P2MError(f"Weights file {path} is truncated or corrupted ({first[:160]}). "
                           f"Copy or export it again.") from None
        raise P2MError(f"{path} is not a blender-p2m checkpoint, or it is corrupted (it is not "
                       f"a PyTorch weights file). Copy or export it again.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise P2MError(f"{path} is not a blender-p2m checkpoint (no '{FORMAT}' header). Export "
                       f"weights with `python -m training.export`.")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise P2MError(f"{path} has checkpoint format version {ckpt.get('format_version')}, this "
                       f"version of blender-p2m reads version {FORMAT_VERSION}.")
    state = ckpt.get("state_dict")
    if not isinstance(ckpt.get("config"), dict) or not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise P2MError(f"{path} is damaged: its configuration or weights are missing. "
                       f"Copy or export it again.")
    return ckpt


def _unsafe_globals(path: Path) -> list[str]:
    """The Python objects a torch checkpoint would load beyond weights, found by reading its
    pickle without running it (torch's own scan); [] for files that are not torch zips."""
    if not _looks_like_zip(path):
        return []
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - a damaged zip: reported as not a checkpoint
        return []


def _looks_like_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def model_from_checkpoint(ckpt: dict, source: str = "checkpoint") -> Pixel2Mesh:
    """Rebuild the network from the configuration stored in the checkpoint, load its weights."""
    try:
        config = ModelConfig.from_dict(ckpt["config"])
        model = Pixel2Mesh(config)
    except (KeyError, TypeError, ValueError) as e:
        raise P2MError(f"{source} has an invalid model configuration: {e}") from None
    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    except (KeyError, AttributeError, TypeError):
        raise P2MError(f"{source} is damaged: its weights are missing or not tensors.") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise P2MError(f"{source} does not match its configuration '{config.name}' "
                       f"({first}). The file is damaged or was edited.") from None
    return model


def load_checkpoint(path: str | os.PathLike) -> tuple[Pixel2Mesh, dict]:
    """Model (eval mode, CPU) and metadata from a checkpoint file."""
    ckpt = read_checkpoint(path)
    model = model_from_checkpoint(ckpt, source=str(path))
    return model.eval(), ckpt.get("metadata", {})
