"""Pixel2Mesh training losses: one operation per module, plain functions over tensors."""
from training.losses.chamfer import ChamferResult, chamfer_loss, nearest_squared_distances
from training.losses.edge import edge_length_loss
from training.losses.laplacian import laplacian_coordinates, laplacian_loss
from training.losses.move import move_loss
from training.losses.normal import normal_loss
from training.losses.pixel2mesh_loss import LossWeights, pixel2mesh_loss

__all__ = [
    "ChamferResult", "LossWeights", "chamfer_loss", "edge_length_loss", "laplacian_coordinates",
    "laplacian_loss", "move_loss", "nearest_squared_distances", "normal_loss", "pixel2mesh_loss",
]
