"""Pixel2Mesh in pure PyTorch (no bpy): shared by the add-on and the training package."""
from .config import CONFIGS, ModelConfig, get_config
from .network import Pixel2Mesh, StageOutput

__all__ = ["CONFIGS", "ModelConfig", "get_config", "Pixel2Mesh", "StageOutput"]
