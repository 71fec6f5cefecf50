"""Reading the project's dataset format for training and evaluation (torch Dataset).

Every sample is one view: the image exactly as inference preprocesses it (same code,
blender_p2m.model.preprocess), its network intrinsics, and ground-truth surface points and
normals moved into that view's camera frame.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from blender_p2m.image_io import load_image_file
from blender_p2m.intrinsics import Intrinsics
from blender_p2m.model.preprocess import prepare, resample


@dataclass(frozen=True)
class Augmentation:
    """Optional image augmentation (training only).

    Attributes:
        background: probability of compositing on a random colour instead of white.
        colour_jitter: maximum relative change of brightness, contrast and saturation.
    """

    background: float = 0.0
    colour_jitter: float = 0.0


def composite_background(rgba: np.ndarray, colour) -> np.ndarray:
    """Alpha-composite on a solid colour; the result keeps alpha = 1 (no transparency left)."""
    alpha = rgba[..., 3:]
    rgb = rgba[..., :3] * alpha + np.asarray(colour, dtype=np.float32) * (1 - alpha)
    return np.concatenate([rgb, np.ones_like(alpha)], axis=-1)


def jitter_colours(rgba: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    rgb = rgba[..., :3]
    b, c, s = (1 + rng.uniform(-amount, amount, size=3)).astype(np.float32)
    grey = rgb.mean(axis=-1, keepdims=True)
    rgb = grey + (rgb - grey) * s
    rgb = (rgb - rgb.mean()) * c + rgb.mean()
    rgb = np.clip(rgb * b, 0, 1)
    return np.concatenate([rgb, rgba[..., 3:]], axis=-1)


def read_dataset_json(root: Path) -> dict:
    path = Path(root) / "dataset.json"
    if not path.exists():
        raise FileNotFoundError(f"{root} is not a blender-p2m dataset (no dataset.json); build one with "
                                f"`python -m training.data build`")
    return json.loads(path.read_text())


@lru_cache(maxsize=64)
def _meta(object_dir: str) -> dict:
    return json.loads((Path(object_dir) / "meta.json").read_text())


@lru_cache(maxsize=256)
def _surface(object_dir: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(Path(object_dir) / "surface.npz") as z:
        return z["points"].astype(np.float32), z["normals"].astype(np.float32)


def camera_frame_surface(object_dir: Path, view: dict) -> tuple[np.ndarray, np.ndarray]:
    """All ground-truth points and normals of an object in one view's camera frame."""
    points, normals = _surface(str(object_dir))
    m = np.asarray(view["world_to_camera"], dtype=np.float32)
    return points @ m[:3, :3].T + m[:3, 3], normals @ m[:3, :3].T


class P2MDataset(Dataset):
    """Views of one split of a blender-p2m dataset.

    Args:
        root: dataset folder.
        split: "train", "val" or "test".
        input_size: the network's input side (the model configuration's input_size).
        points: ground-truth points per sample (a random subset when training, the first
            `points` otherwise); None = all.
        augment: image augmentation; None for evaluation.
        categories: optional subset of categories.
        max_objects, max_per_category: the first objects of the split (in its order), in all
            or per category, for scoring a subset such as some training objects of each category.
        seed: base seed of the random choices (point subsets, augmentation).
        backgrounds: with `augment`, a `training.data.backgrounds.BackgroundSampler` that puts
            each view on a real photo, a flat colour or white (its mix), drawn anew each epoch;
            replaces `augment.background`. Each sample's "mask" is the object's silhouette in
            the network image whatever the background (the silhouette head's target).
    """

    def __init__(self, root, split: str, input_size: int, points: int | None = 4000,
                 augment: Augmentation | None = None, categories=None, seed: int = 0,
                 max_objects: int | None = None, max_per_category: int | None = None,
                 backgrounds=None):
        self.root = Path(root)
        info = read_dataset_json(self.root)
        if split not in info["splits"]:
            raise ValueError(f"unknown split {split!r}; the dataset has {sorted(info['splits'])}")
        ids = info["splits"][split]
        self.samples: list[tuple[str, int]] = []
        self.categories: list[str] = []
        taken: dict[str, int] = {}
        for oid in ids[:max_objects] if max_objects else ids:
            meta = _meta(str(self.root / "objects" / oid))
            if categories and meta["category"] not in categories:
                continue
            if max_per_category is not None and taken.get(meta["category"], 0) >= max_per_category:
                continue
            taken[meta["category"]] = taken.get(meta["category"], 0) + 1
            for k in range(len(meta["views"])):
                self.samples.append((oid, k))
                self.categories.append(meta["category"])
        self.input_size, self.points, self.augment, self.seed = input_size, points, augment, seed
        self.backgrounds = backgrounds     # a BackgroundSampler (training.data.backgrounds), or None
        self.split = split
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Changes the random point subsets and augmentation from one epoch to the next."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        oid, k = self.samples[index]
        object_dir = self.root / "objects" / oid
        meta = _meta(str(object_dir))
        view = meta["views"][k]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        rgba = load_image_file(object_dir / view["image"])
        h, w = rgba.shape[:2]
        intr = Intrinsics(view["fx"], view["fy"], view["cx"], view["cy"], w, h)
        if self.augment is not None and self.augment.colour_jitter > 0:
            rgba = jitter_colours(rgba, self.augment.colour_jitter, rng)
        prepared = prepare(rgba, intr, self.input_size)          # on white, with the silhouette
        image = prepared.image
        if self.augment is not None:
            if self.backgrounds is not None:                     # photo, flat colour or white
                composited = self.backgrounds.composite(rgba, rng)
            elif rng.uniform() < self.augment.background:
                composited = composite_background(rgba, rng.uniform(0, 1, size=3))
            else:
                composited = None
            if composited is not None:                           # same virtual camera as above
                image, _ = resample(composited, intr, prepared.rotation,
                                    prepared.intrinsics.double().numpy(), self.input_size)
        points, normals = camera_frame_surface(object_dir, view)
        if self.points is not None and self.points < len(points):
            choice = (rng.choice(len(points), self.points, replace=False) if self.augment is not None
                      else np.arange(self.points))
            points, normals = points[choice], normals[choice]
        return {"image": image, "intrinsics": prepared.intrinsics, "mask": prepared.alpha,
                "points": torch.from_numpy(np.ascontiguousarray(points)),
                "normals": torch.from_numpy(np.ascontiguousarray(normals)),
                "category": meta["category"], "object_id": oid, "view": k}
