"""Running the model off Blender's main thread (no bpy in this module).

The Reconstruct operator gathers everything the model needs on the main thread into a
ReconstructRequest (numpy pixels, intrinsics, options), hands it to a ReconstructWorker
thread and drains the worker's queue from a modal timer. Loaded models are cached by
(weights file, its modification time, device), so only the first click pays for
importing PyTorch and loading the weights.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..errors import P2MError
from ..intrinsics import Intrinsics

if TYPE_CHECKING:                                    # numpy only when PyTorch is there
    import numpy as np

    from ..texture_projection import ProjectedTexture

TORCH_MISSING = ("PyTorch is not installed in Blender's Python. Open Edit > Preferences > "
                 "Add-ons > Pixel2Mesh and click Install PyTorch, or set 'PyTorch "
                 "site-packages' to a folder that has it.")


@dataclass(frozen=True)
class ReconstructRequest:
    """Everything the worker needs; plain data only.

    Attributes:
        rgba: (H, W, 4) float32 top-down RGBA in [0, 1].
        intrinsics: the camera's intrinsics for the render resolution (same aspect as rgba).
        stage: one of STAGE_NAMES.
        crop: None or "object".
        background: "keep", "remove" or "auto" (blender_p2m.api).
        weights: a checkpoint path, or None for the bundled weights.
        device: "auto", "cpu" or "cuda".
        project_texture: also compute the masked camera-projected texture (off the main thread).
    """

    rgba: np.ndarray
    intrinsics: Intrinsics
    stage: str
    crop: str | None
    weights: str | None
    device: str
    background: str = "keep"
    project_texture: bool = False


@dataclass(frozen=True)
class ReconstructOutcome:
    """The chosen stage in the camera frame, and what produced it.

    Attributes:
        vertices: (N, 3) float32, camera frame.
        faces: (F, 3) int64, counter-clockwise seen from outside.
        intrinsics: the intrinsics the API used, for the image as given (after rescaling).
        weights: the weights file actually used.
        device: the device it ran on ("cpu", "cuda").
        seconds: wall time from the request to the mesh data.
        network_image: (S, S, 3) float32, what the network saw (the panel's preview).
        network_mask: (S, S) float32 silhouette aligned with network_image, or None.
        texture: the masked projected texture (texture_projection), when requested.
    """

    vertices: np.ndarray
    faces: np.ndarray
    intrinsics: Intrinsics
    weights: str
    device: str
    seconds: float
    network_image: np.ndarray | None = None
    network_mask: np.ndarray | None = None
    texture: ProjectedTexture | None = None


class ModelCache:
    """Loaded models by (weights path, mtime, device); safe to use from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._models = {}

    def get(self, weights: str | None, device: str):
        from .. import api

        if weights is None:
            weights = api.bundled_weights_path()
        if device == "auto":
            device = "cuda" if "cuda" in api.available_devices() else "cpu"
        if weights is None:
            return api.load_model(None, device)      # raises the API's clear message
        key = (os.path.abspath(weights), _mtime(weights), device)
        with self._lock:
            if key not in self._models:
                self._models[key] = api.load_model(weights, device)
            return self._models[key]

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


def _mtime(path) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0                                   # load_model reports the missing file


MODELS = ModelCache()


class Cancelled(Exception):
    """The user pressed Esc: stop before the next step."""


def reconstruct(request: ReconstructRequest,
                on_step: Callable[[float, str], None] = lambda fraction, text: None,
                cache: ModelCache = MODELS,
                is_cancelled: Callable[[], bool] = lambda: False) -> ReconstructOutcome:
    """Load (or reuse) the model and reconstruct one image. Raises P2MError for user errors,
    Cancelled when is_cancelled() turns true between steps."""
    start = time.perf_counter()

    def step(fraction: float, text: str) -> None:
        if is_cancelled():
            raise Cancelled()
        on_step(fraction, text)

    step(0.05, "Loading PyTorch")
    try:
        from .. import api  # noqa: F401  (imported now for its side effect: PyTorch loads, or fails clearly)
    except (ImportError, OSError) as e:
        if getattr(e, "name", "") in ("torch", "numpy"):
            raise P2MError(TORCH_MISSING) from None
        raise P2MError(f"PyTorch could not be loaded ({e}). Reinstall it from the add-on "
                       f"preferences (Install PyTorch).") from None
    step(0.2, "Loading the model")
    model = cache.get(request.weights, request.device)
    step(0.5, "Reconstructing")
    rec = model.reconstruct(request.rgba, intrinsics=request.intrinsics, crop=request.crop,
                            background=request.background)
    vertices, faces = rec.stage(request.stage)
    texture = None
    if request.project_texture:
        step(0.85, "Projecting the texture")
        from ..texture_projection import project_texture

        texture = project_texture(request.rgba[..., :3], rec.mask, vertices, faces, rec.intrinsics)
    return ReconstructOutcome(vertices, faces, rec.intrinsics, model.weights_path,
                              str(model.device), time.perf_counter() - start,
                              rec.network_image, rec.network_mask, texture)


def describe_unexpected(error: BaseException) -> str:
    """A plain message for a bug (the traceback goes to the system console)."""
    traceback.print_exception(type(error), error, error.__traceback__)
    return (f"Unexpected error ({type(error).__name__}: {error}). This is a bug in the "
            f"Pixel2Mesh add-on; the details are in the system console (Window > Toggle "
            f"System Console on Windows). Please report it.")


class ReconstructWorker(threading.Thread):
    """Runs reconstruct() off the main thread; results arrive on `messages`:

    ("step", fraction, text), then ("done", ReconstructOutcome) or ("failed", message).
    A cancelled worker stops before its next step (a step under way, such as loading
    PyTorch, runs to its end) and sends nothing more.
    """

    def __init__(self, request: ReconstructRequest, cache: ModelCache = MODELS):
        super().__init__(name="pixel2mesh-reconstruct", daemon=True)
        self.request = request
        self.cache = cache
        self.messages: queue.Queue = queue.Queue()
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            outcome = reconstruct(self.request, self._step, self.cache, self.cancelled.is_set)
            self.messages.put(("done", outcome))
        except Cancelled:
            pass                                     # nobody is listening any more
        except P2MError as e:
            self.messages.put(("failed", str(e)))
        except Exception as e:                       # a bug: say so plainly, keep Blender alive
            self.messages.put(("failed", describe_unexpected(e)))

    def _step(self, fraction: float, text: str) -> None:
        self.messages.put(("step", fraction, text))

    def drain(self) -> list[tuple]:
        """All messages waiting now (main thread)."""
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out
