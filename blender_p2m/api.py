"""The public inference API: where the add-on, the batch tools and users meet the model.

    from blender_p2m.api import Intrinsics, load_model
    model = load_model(weights=None, device="auto")   # None = bundled weights
    rec = model.reconstruct(image, intrinsics=None, crop=None, background="keep")
    rec.vertices  # (N, 3) float32, camera frame (X right, Y up, looking down -Z), finest stage
    rec.mask      # (H, W) float32 silhouette in the image as given (removed background or alpha)
    rec.faces     # (F, 3) int64, counter-clockwise seen from outside
    rec.stages    # [(vertices, faces), ...] coarse (156) to fine (2466)
    model.reconstruct_many(images, intrinsics_list, batch_size=8)

Outputs are in the frame of the camera that took the image, so they line up with it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .errors import P2MError
from .image_io import exif_orientation, orient_intrinsics, to_rgba
from .intrinsics import Intrinsics
from .model.checkpoint import load_checkpoint
from .model.inference import for_inference
from .model.network import Pixel2Mesh
from .model.preprocess import Prepared, network_to_image, prepare
from .stage_names import STAGE_NAMES

__all__ = ["Intrinsics", "P2MError", "Reconstruction", "LoadedModel", "load_model",
           "bundled_weights_path", "available_devices", "STAGE_NAMES"]

BUNDLED_WEIGHTS_NAME = "pixel2mesh_compact.pt"
BACKGROUND_MODES = ("keep", "remove", "auto")
MASK_SHARPNESS = 4.0        # the head's soft 56 x 56 edge, steepened: alpha 0..1 over p 0.375..0.625
MIN_OBJECT_PIXELS = 16      # fewer silhouette pixels than this: no object found


def bundled_weights_path() -> Path | None:
    """The bundled weights: inside the add-on package (zip) or in the repository's weights/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "weights" / BUNDLED_WEIGHTS_NAME,
                      here.parent / "weights" / BUNDLED_WEIGHTS_NAME):
        if candidate.is_file():
            return candidate
    return None


def available_devices() -> list[str]:
    """Devices this machine can run the model on: "cpu" and, where present, "cuda"."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA when present (honours CUDA_VISIBLE_DEVICES), else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise P2MError(f"Device '{device}' was asked for but no CUDA GPU is available to PyTorch "
                       f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                       f"Use 'cpu' or 'auto'.")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise P2MError(f"Unknown device '{device}': use 'auto', 'cpu' or 'cuda'.") from None
    if dev.type not in ("cpu", "cuda"):
        raise P2MError(f"Unsupported device '{device}': use 'auto', 'cpu' or 'cuda'.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise P2MError(f"Device '{device}' does not exist: this machine has "
                       f"{torch.cuda.device_count()} CUDA GPU(s), numbered from 0.")
    return dev


@dataclass
class Reconstruction:
    """One reconstructed mesh, in the camera frame of the input image.

    Attributes:
        vertices: (N, 3) float32, finest stage.
        faces: (F, 3) int64, outward winding.
        stages: [(vertices, faces)] for every stage, coarse to fine.
        intrinsics: the intrinsics used, for the image as given.
        network_image: (S, S, 3) float32, what the network saw (for previews), after any
            background removal and crop.
        mask: (H, W) float32 in [0, 1], the object's silhouette in the image as given: the
            one the model predicted when the background was removed, else the image's own
            alpha when it has transparency, else None.
        network_mask: (S, S) float32, that silhouette as the network saw it (aligned with
            network_image), or None when there is none.
    """

    stages: list[tuple[np.ndarray, np.ndarray]]
    intrinsics: Intrinsics
    network_image: np.ndarray = field(repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)
    network_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def vertices(self) -> np.ndarray:
        return self.stages[-1][0]

    @property
    def faces(self) -> np.ndarray:
        return self.stages[-1][1]

    def stage(self, which: int | str) -> tuple[np.ndarray, np.ndarray]:
        """(vertices, faces) of a stage by index or by name (STAGE_NAMES)."""
        if isinstance(which, str):
            if which not in STAGE_NAMES:
                raise P2MError(f"Unknown stage {which!r}: use one of {', '.join(STAGE_NAMES)}.")
            which = STAGE_NAMES.index(which)
        return self.stages[which]


def mask_in_picture(probability: torch.Tensor, intr: Intrinsics, whole: Prepared) -> np.ndarray:
    """The silhouette head's (1, n, n) probability, seen through the uncropped virtual camera
    `whole`, as an (H, W) float32 mask in [0, 1] in the picture's pixels, its soft edge steepened
    (MASK_SHARPNESS). Shared with training.diagnostics.mask_ceiling."""
    mask = network_to_image(probability, intr, whole.rotation, whole.intrinsics.double().numpy())[0]
    return ((mask - 0.5) * MASK_SHARPNESS + 0.5).clamp(0.0, 1.0).numpy().astype(np.float32)


class LoadedModel:
    """What load_model() returns: a Pixel2Mesh network (`.network`, an nn.Module) loaded on a
    device, with the preprocessing that makes any image fit it and the checkpoint's metadata.
    load_model's network is rewritten for inference (model/inference.py): same outputs, but
    not for training or saving back."""

    def __init__(self, network: Pixel2Mesh, device: torch.device, metadata: dict, weights_path: str):
        self.network = network.to(device).eval()
        self.device = device
        self.metadata = metadata
        self.weights_path = weights_path
        self.config = network.config

    @property
    def can_remove_background(self) -> bool:
        """Whether these weights have a silhouette head (needed for background="remove")."""
        return getattr(self.network, "silhouette_head", None) is not None

    def prepare_input(self, image, intrinsics: Intrinsics | None = None, crop: str | None = None,
                      background: str = "keep") -> tuple[Prepared, Intrinsics, np.ndarray | None]:
        """What reconstruct() feeds the network for one image: (the network input, the
        intrinsics used for the image as given, the (H, W) mask or None). Evaluation scores
        the product's own path through it."""
        if background not in BACKGROUND_MODES:
            raise P2MError(f"Unknown background mode {background!r}: use one of {', '.join(BACKGROUND_MODES)}.")
        rgba = to_rgba(image)
        h, w = rgba.shape[:2]
        # Intrinsics of a file's stored pixel grid turn with its EXIF orientation (image_io).
        if intrinsics is not None:
            intrinsics = orient_intrinsics(intrinsics, exif_orientation(image), w, h)
        # The intrinsics actually used: validated, and rescaled when given for a resized copy.
        used = Intrinsics.default(w, h) if intrinsics is None else intrinsics.for_image(w, h)
        has_alpha = bool(rgba[..., 3].min() < 0.99)
        mask = rgba[..., 3].copy() if has_alpha else None
        if background == "remove" or (background == "auto" and not has_alpha and self.can_remove_background):
            mask = self._predict_mask(rgba, used)
            rgba = np.concatenate([rgba[..., :3], mask[..., None]], axis=-1)   # white outside, crop from it
        prepared = prepare(rgba, used, self.config.input_size, crop)
        return prepared, used, mask

    @torch.inference_mode()
    def _predict_mask(self, rgba: np.ndarray, intr: Intrinsics) -> np.ndarray:
        """The object's silhouette (H, W) in [0, 1], from the silhouette head on the whole
        picture seen through the uncropped virtual camera (one extra encoder pass)."""
        if not self.can_remove_background:
            raise P2MError(f"These weights ({Path(self.weights_path).name}) have no silhouette head, so "
                           f"they cannot remove backgrounds. Use background='keep' (or 'auto'), give "
                           f"an image with transparency, or weights trained with a silhouette head.")
        whole = prepare(rgba, intr, self.config.input_size, None)
        maps = self.network.encode(whole.image[None].to(self.device))
        probability = torch.sigmoid(self.network.silhouette(maps)[0].float()).cpu()      # (1, n, n)
        mask = mask_in_picture(probability, intr, whole)                                 # (H, W)
        if (mask > 0.5).sum() < MIN_OBJECT_PIXELS:
            raise P2MError("No object found in the picture: the predicted silhouette is empty. Keep "
                           "the background instead (Remove Background: Off in Blender, --background "
                           "keep in the batch tool, background='keep' in Python), or use a picture "
                           "where the object is larger and in front of a plainer background.")
        return mask.astype(np.float32)

    @torch.inference_mode()
    def _run(self, prepared: Sequence[Prepared]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        images = torch.stack([p.image for p in prepared]).to(self.device)       # (B, 3, S, S)
        intrinsics = torch.stack([p.intrinsics for p in prepared]).to(self.device)  # (B, 4)
        outputs = self.network(images, intrinsics)
        results = []
        for b, p in enumerate(prepared):
            rotation = torch.from_numpy(p.rotation).float()
            stages = []
            for out in outputs:
                v_virtual = out.vertices[b].float().cpu()                       # (N, 3)
                v = (v_virtual @ rotation).numpy()                              # R^T v, row vectors
                stages.append((np.ascontiguousarray(v, dtype=np.float32), out.faces.cpu().numpy()))
            results.append(stages)
        return results

    def reconstruct(self, image, intrinsics: Intrinsics | None = None,
                    crop: str | None = None, background: str = "keep") -> Reconstruction:
        """Reconstruct one image (path, PIL image or H x W x {1,3,4} array).

        background: "keep" (the image as given, transparency composited on white),
        "remove" (the silhouette head finds the object; everything else becomes white, and
        crop="object" crops to the found silhouette), or "auto" ("remove" for an image
        without transparency when the weights can, else "keep").
        """
        return self.reconstruct_many([image], [intrinsics], batch_size=1, crop=crop, background=background)[0]

    def reconstruct_many(self, images: Sequence, intrinsics_list: Sequence[Intrinsics | None] | None = None,
                         batch_size: int = 8, crop: str | None = None,
                         progress: Callable[[int, int], None] | None = None,
                         background: str = "keep") -> list[Reconstruction]:
        """Reconstruct several images in batches; results equal those of reconstruct()."""
        images = list(images)
        intrinsics_list = list(intrinsics_list) if intrinsics_list is not None else [None] * len(images)
        if len(intrinsics_list) != len(images):
            raise P2MError(f"Got {len(images)} images but {len(intrinsics_list)} intrinsics.")
        if batch_size < 1:
            raise P2MError(f"batch_size must be at least 1, got {batch_size}.")
        results: list[Reconstruction] = []
        for start in range(0, len(images), batch_size):
            chunk = [self.prepare_input(img, intr, crop, background)
                     for img, intr in zip(images[start:start + batch_size],
                                          intrinsics_list[start:start + batch_size])]
            stages = self._run([p for p, _, _ in chunk])
            for (p, used, mask), st in zip(chunk, stages):
                network_mask = None if mask is None or p.alpha is None else p.alpha[0].numpy()   # (S, S)
                results.append(Reconstruction(st, used, p.image.permute(1, 2, 0).numpy(), mask, network_mask))
            if progress is not None:
                progress(len(results), len(images))
        return results


def load_model(weights: str | os.PathLike | None = None, device: str = "auto") -> LoadedModel:
    """Load a checkpoint (None = the bundled weights) onto a device ("auto", "cpu", "cuda")."""
    if weights is None:
        weights = bundled_weights_path()
        if weights is None:
            raise P2MError(f"No bundled weights found ({BUNDLED_WEIGHTS_NAME} is missing from "
                           f"weights/). Train and export them (see weights/MODEL_CARD.md) or pass "
                           f"a weights file.")
    dev = resolve_device(device)
    network, metadata = load_checkpoint(weights)
    return LoadedModel(for_inference(network.to(dev)), dev, metadata, str(weights))   # a fresh network: ours to fold
