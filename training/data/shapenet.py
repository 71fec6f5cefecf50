"""ShapeNet as distributed for the original Pixel2Mesh, read safely.

Layout: a file list (one `.../rendering/NN.dat` path per line, relative to a root); beside
each .dat, the view's PNG (`NN.png`, 137 x 137 RGBA in the 3D-R2N2 renderings). A .dat is
a Python-2 pickle of an (N, 6) float array: points and normals in the camera frame of that
view, centred at the origin; the original code adds mesh_pos = (0, 0, -0.8) to move them
in front of the camera, whose intrinsics are f = 250 px, c = 112 px on a 224 px image.

Pickles can run code, so they are read with a restricted unpickler that accepts nothing
but numpy arrays; a file carrying anything else is refused with a clear error.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from blender_p2m.image_io import load_image_file
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.preprocess import prepare

MESH_POS = np.array([0.0, 0.0, -0.8], dtype=np.float32)
ORIGINAL_FOCAL, ORIGINAL_CENTRE, ORIGINAL_SIZE = 250.0, 112.0, 224

ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),   # Python 2 pickles store array bytes through it
}


class UnsafePickleError(ValueError):
    """A pickle that tries to load something other than numpy arrays."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refused to unpickle {module}.{name}: only numpy arrays are accepted")
        return super().find_class(module, name)


def load_numpy_pickle(path: str | Path) -> np.ndarray:
    """Load a pickled numpy array without running any other code."""
    data = Path(path).read_bytes()
    try:
        obj = NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{path}: {e}") from None
    except Exception as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    if not isinstance(obj, np.ndarray):
        raise UnsafePickleError(f"{path}: expected a numpy array, found {type(obj).__name__}")
    if obj.dtype.hasobject:                # Python objects inside an array: not point data
        raise UnsafePickleError(f"{path}: expected an array of numbers, found one of Python objects")
    return obj


class ShapeNetP2MDataset(Dataset):
    """Samples of the original Pixel2Mesh ShapeNet data, in this project's sample format."""

    def __init__(self, root, file_list, input_size: int, points: int | None = 4000, seed: int = 0):
        self.root = Path(root)
        lines = Path(file_list).read_text().split()
        self.files = [self.root / line.strip() for line in lines if line.strip()]
        self.input_size, self.points, self.seed, self.epoch = input_size, points, seed, 0
        self.categories = [self._category(p) for p in self.files]
        self.augment = None

    @staticmethod
    def _category(path: Path) -> str:
        parts = path.parts
        return parts[-4] if len(parts) >= 4 else "unknown"

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        dat = self.files[index]
        array = load_numpy_pickle(dat).astype(np.float32)
        if array.ndim != 2 or array.shape[1] != 6:
            raise ValueError(f"{dat}: expected an (N, 6) array of points and normals, got {array.shape}")
        points, normals = array[:, :3] + MESH_POS, array[:, 3:]
        rgba = load_image_file(dat.with_suffix(".png"))
        h, w = rgba.shape[:2]
        s = w / ORIGINAL_SIZE
        intr = Intrinsics(ORIGINAL_FOCAL * s, ORIGINAL_FOCAL * s, ORIGINAL_CENTRE * s, ORIGINAL_CENTRE * s, w, h)
        prepared = prepare(rgba, intr, self.input_size)
        if self.points is not None and self.points < len(points):
            rng = np.random.default_rng([self.seed, self.epoch, index])
            choice = rng.choice(len(points), self.points, replace=False)
            points, normals = points[choice], normals[choice]
        return {"image": prepared.image, "intrinsics": prepared.intrinsics,
                "points": torch.from_numpy(np.ascontiguousarray(points)),
                "normals": torch.from_numpy(np.ascontiguousarray(normals)),
                "category": self.categories[index], "object_id": str(dat.parent.parent.name),
                "view": int(dat.stem) if dat.stem.isdigit() else 0}
