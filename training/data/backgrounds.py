"""Training-time backgrounds: renders composited on real photographs, flat colours or white.

Training renders have transparent backgrounds; user photos never do. Compositing each view on
a random crop of a real photograph (a different one every epoch) teaches the network to find
the object in clutter. A share of flat colours and plain white keeps the clean case covered.

Arrays are float32 in [0, 1]; images are (H, W, C). Photos are kept decoded as uint8 (h, w, 3).
"""
from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from blender_p2m.errors import P2MError

KINDS = ("photo", "flat", "white")
# Background crops: this fraction of the largest crop of the output's aspect that fits the
# photo (for a square output, of the photo's shorter side).
MIN_CROP, MAX_CROP = 0.3, 1.0
RESAMPLE = Image.BILINEAR          # antialiased when shrinking


@dataclass(frozen=True)
class BackgroundMix:
    """Proportions of photo, flat-colour and white backgrounds (non-negative, summing to 1)."""

    photo: float
    flat: float
    white: float

    def __post_init__(self):
        values = {k: getattr(self, k) for k in KINDS}
        for k, v in values.items():
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"BackgroundMix.{k} must be a finite number >= 0, got {v!r}")
        total = sum(values.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"BackgroundMix proportions must sum to 1, got {total:g} "
                             f"(photo={self.photo}, flat={self.flat}, white={self.white})")

    @classmethod
    def parse(cls, text: str) -> "BackgroundMix":
        """From "photo=0.6,flat=0.2,white=0.2" (a command-line form); omitted kinds are 0."""
        values = dict.fromkeys(KINDS, 0.0)
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in values:
                raise ValueError(f"bad background mix {text!r}: expected kind=proportion items "
                                 f"with kinds {', '.join(KINDS)}, e.g. photo=0.6,flat=0.2,white=0.2")
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"bad background mix {text!r}: {value!r} is not a number") from None
        return cls(**values)


@dataclass(frozen=True)
class Background:
    """One drawn background: what `BackgroundSampler.draw` chose, enough to redraw it.

    crop_box is (left, top, right, bottom) in photo pixels; flip mirrors the resized crop.
    """

    kind: str
    photo: Path | None = None
    crop_box: tuple[int, int, int, int] | None = None
    flip: bool = False
    colour: tuple[float, float, float] | None = None


def largest_crop(photo_size: tuple[int, int], out_size: tuple[int, int]) -> tuple[float, float]:
    """Width and height of the largest crop of the output's aspect (out_size = (W, H)) that
    fits in a photo of photo_size = (w, h)."""
    (w, h), (W, H) = photo_size, out_size
    return (w, w * H / W) if w * H <= h * W else (h * W / H, h)


def centre_crop_box(photo_size, out_size, fraction: float = 1.0) -> tuple[int, int, int, int]:
    """The centred crop of the output's aspect, `fraction` of the largest that fits."""
    cw, ch = _crop_size(photo_size, out_size, fraction)
    left, top = (photo_size[0] - cw) // 2, (photo_size[1] - ch) // 2
    return left, top, left + cw, top + ch


def random_crop_box(photo_size, out_size, rng: np.random.Generator,
                    min_fraction: float = MIN_CROP, max_fraction: float = MAX_CROP):
    """A crop of the output's aspect, of a random fraction of the largest that fits, at a
    random position."""
    cw, ch = _crop_size(photo_size, out_size, rng.uniform(min_fraction, max_fraction))
    left = int(rng.integers(0, photo_size[0] - cw + 1))
    top = int(rng.integers(0, photo_size[1] - ch + 1))
    return left, top, left + cw, top + ch


def _crop_size(photo_size, out_size, fraction: float) -> tuple[int, int]:
    bw, bh = largest_crop(photo_size, out_size)
    return (min(photo_size[0], max(1, round(bw * fraction))),
            min(photo_size[1], max(1, round(bh * fraction))))


def render_photo_background(photo: np.ndarray, crop_box, flip: bool, out_size) -> np.ndarray:
    """Crop, resize to out_size = (W, H), optionally mirror: (H, W, 3) float32 in [0, 1]."""
    left, top, right, bottom = crop_box
    h, w = photo.shape[:2]
    if not (0 <= left < right <= w and 0 <= top < bottom <= h):
        raise ValueError(f"crop box {tuple(crop_box)} is not inside the {w}x{h} photo")
    crop = Image.fromarray(np.ascontiguousarray(photo[top:bottom, left:right]))
    bg = np.asarray(crop.resize(tuple(out_size), RESAMPLE), dtype=np.float32) / 255   # (H, W, 3)
    return bg[:, ::-1] if flip else bg


def blend(rgba: np.ndarray, background_rgb: np.ndarray) -> np.ndarray:
    """Alpha-composite over an opaque background: rgb*a + bg*(1-a), alpha 1 everywhere."""
    alpha = rgba[..., 3:]                                                    # (H, W, 1)
    rgb = rgba[..., :3] * alpha + background_rgb * (1 - alpha)               # (H, W, 3)
    return np.concatenate([rgb, np.ones_like(alpha)], axis=-1).astype(np.float32)


def _check_rgba(rgba) -> np.ndarray:
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.shape[0] < 1 or rgba.shape[1] < 1:
        raise ValueError(f"expected an RGBA image of shape (H, W, 4), got shape {rgba.shape}")
    if not np.issubdtype(rgba.dtype, np.floating):
        raise ValueError(f"expected float RGBA values in [0, 1], got dtype {rgba.dtype}")
    return rgba.astype(np.float32, copy=False)


def _as_uint8_photo(photo) -> np.ndarray:
    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"expected an RGB photo of shape (h, w, 3), got shape {photo.shape}")
    if photo.dtype == np.uint8:
        return photo
    if np.issubdtype(photo.dtype, np.floating):
        return np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8)
    raise ValueError(f"expected a uint8 or float photo, got dtype {photo.dtype}")


def photo_for_view(photos: list[Path], object_id: str, view: int) -> Path:
    """The held-out photo a view is shown on in evaluation and examples: a hash of (object,
    view) picks it, so it never depends on what else is evaluated."""
    return photos[zlib.crc32(f"{object_id}/{view}".encode()) % len(photos)]


def composite_on_photo(rgba: np.ndarray, photo_rgb: np.ndarray, crop_box=None,
                       flip: bool = False) -> np.ndarray:
    """A view on one given photo, deterministically (evaluation on held-out photos).

    Args:
        rgba: (H, W, 4) float32 view in [0, 1].
        photo_rgb: (h, w, 3) photo, uint8 or float in [0, 1].
        crop_box: (left, top, right, bottom) in photo pixels; None = the largest centred crop
            of the view's aspect.
        flip: mirror the background left-right.

    Returns:
        (H, W, 4) float32, alpha 1 everywhere.
    """
    rgba = _check_rgba(rgba)
    photo = _as_uint8_photo(photo_rgb)
    out_size = (rgba.shape[1], rgba.shape[0])
    if crop_box is None:
        crop_box = centre_crop_box((photo.shape[1], photo.shape[0]), out_size)
    return blend(rgba, render_photo_background(photo, crop_box, flip, out_size))


class BackgroundSampler:
    """Draws a background for each training view: a random photo crop, a flat random colour or
    white, in the proportions of `mix`; deterministic given the rng.

    Photos are decoded on first use and kept in a bounded LRU cache (each worker process of a
    DataLoader has its own; a 512 x 768 photo takes 1.2 MB).

    Args:
        photo_files: the photographs (e.g. training.data.real.photos.photo_paths(dir, "train")).
        mix: proportions of photo, flat and white backgrounds.
        min_crop, max_crop: range of the crop's size, as a fraction of the largest crop of the
            view's aspect that fits in the photo.
        cache_size: decoded photos kept in memory.
    """

    def __init__(self, photo_files: Sequence[Path], mix: BackgroundMix,
                 min_crop: float = MIN_CROP, max_crop: float = MAX_CROP, cache_size: int = 32):
        self.photo_files = [Path(p) for p in photo_files]
        if not isinstance(mix, BackgroundMix):
            raise ValueError(f"mix must be a BackgroundMix, got {type(mix).__name__}")
        if mix.photo > 0 and not self.photo_files:
            raise ValueError("the background mix asks for photos but no photo files were given")
        missing = [str(p) for p in self.photo_files if not p.is_file()]
        if missing:
            raise P2MError(f"{len(missing)} background photo(s) not found, e.g. {missing[0]}. "
                           f"Extract the photo library again (training.data.real.photos).")
        if not 0 < min_crop <= max_crop <= 1:
            raise ValueError(f"need 0 < min_crop <= max_crop <= 1, got {min_crop}, {max_crop}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.mix, self.min_crop, self.max_crop, self.cache_size = mix, min_crop, max_crop, cache_size
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()

    def __getstate__(self):
        # Worker processes start with an empty cache rather than a pickled copy of this one.
        return {**self.__dict__, "_cache": OrderedDict()}

    @property
    def cached_photos(self) -> int:
        return len(self._cache)

    def photo(self, path: Path) -> np.ndarray:
        """The decoded photo, (h, w, 3) uint8, from the cache when there."""
        path = Path(path)
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        try:
            with Image.open(path) as img:
                photo = np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise P2MError(f"Cannot read background photo {path} ({exc}). Extract the photo "
                           f"library again (training.data.real.photos).") from None
        self._cache[path] = photo
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return photo

    def draw(self, out_size: tuple[int, int], rng: np.random.Generator) -> Background:
        """Choose a background for an image of out_size = (W, H)."""
        u = rng.uniform()
        if u < self.mix.photo:
            path = self.photo_files[int(rng.integers(len(self.photo_files)))]
            h, w = self.photo(path).shape[:2]
            box = random_crop_box((w, h), out_size, rng, self.min_crop, self.max_crop)
            return Background("photo", photo=path, crop_box=box, flip=bool(rng.uniform() < 0.5))
        if u < self.mix.photo + self.mix.flat:
            return Background("flat", colour=tuple(float(c) for c in rng.uniform(0, 1, size=3)))
        return Background("white")

    def render(self, background: Background, out_size: tuple[int, int]) -> np.ndarray:
        """The background as (H, W, 3) float32 for out_size = (W, H)."""
        W, H = out_size
        if background.kind == "photo":
            return render_photo_background(self.photo(background.photo), background.crop_box,
                                           background.flip, out_size)
        colour = (1.0, 1.0, 1.0) if background.kind == "white" else background.colour
        return np.broadcast_to(np.asarray(colour, dtype=np.float32), (H, W, 3))

    def composite(self, rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The view on a drawn background: (H, W, 4) float32 in [0, 1], alpha 1 everywhere."""
        rgba = _check_rgba(rgba)
        out_size = (rgba.shape[1], rgba.shape[0])
        return blend(rgba, self.render(self.draw(out_size, rng), out_size))
