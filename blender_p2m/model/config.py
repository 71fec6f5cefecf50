"""Model configuration: one dataclass, saved inside every checkpoint.

A checkpoint alone rebuilds its network, so nothing about the architecture lives in
scattered constants: everything the network needs to be rebuilt is a field here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a Pixel2Mesh network.

    Attributes:
        name: a label for humans ("paper", "compact", ...).
        input_size: side in pixels of the square image the encoder sees.
        encoder_width: VGG-16 width multiplier (1.0 = 64..512 channels).
        encoder_norm: "group" (batch-independent, default) or "batch" normalisation.
        hidden: G-ResNet hidden width (128 in the paper).
        gresnet_layers: graph-conv layers per deformation block (14 in the paper).
        ellipsoid_radii: initial ellipsoid radii along camera X, Y, Z in metres.
        ellipsoid_depth: distance of the ellipsoid centre in front of the camera (metres).
        ellipsoid_rings, ellipsoid_segments: UV-sphere resolution of the initial mesh
            (11 x 14 + 2 poles = 156 vertices, as in the paper).
        unpool_steps: number of graph unpooling layers (2: 156 -> 618 -> 2466).
        encoder: "vgg" (VGG-16 with encoder_width / encoder_norm, trained from scratch) or
            "lite0" (EfficientNet-Lite0, ImageNet-pretrained when training starts; frozen
            batch norm; input_size a multiple of 32).
        pool_strides: strides of the maps pooled at the vertices; () = the encoder's
            default (vgg: 4, 8, 16, i.e. conv3_3, conv4_3, conv5_3; lite0: 8, 16, 32).
        pool_channels: 0 = pool the maps as they are and concatenate them (the paper);
            > 0 = each stride first through a learned 1x1 bottleneck to this many channels
            and a group norm (multiscale_pooling; required for lite0, whose pretrained maps
            have rms 3-9 and shifted receptive fields).
        silhouette: add the silhouette head (mask logits from the encoder's maps at every
            stride): an auxiliary training signal and the add-on's background removal.
        silhouette_size: side of the predicted mask.
        zero_offsets: initialise the coordinate heads to exactly zero, so that an untrained
            network returns the template (the default keeps the paper's small random init).
    """

    name: str = "paper"
    input_size: int = 224
    encoder_width: float = 1.0
    encoder_norm: str = "group"
    hidden: int = 128
    gresnet_layers: int = 14
    ellipsoid_radii: tuple[float, float, float] = (0.14, 0.10, 0.12)
    ellipsoid_depth: float = 0.8
    ellipsoid_rings: int = 11
    ellipsoid_segments: int = 14
    unpool_steps: int = 2
    encoder: str = "vgg"
    pool_strides: tuple[int, ...] = ()
    pool_channels: int = 0
    silhouette: bool = False
    silhouette_size: int = 56
    zero_offsets: bool = False

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose one of {sorted(ENCODERS)}")
        multiple = ENCODERS[self.encoder]["multiple"]
        if self.input_size % multiple:
            raise ValueError(f"input_size must be a multiple of {multiple} for the {self.encoder} "
                             f"encoder, got {self.input_size}")
        strides = self.strides_pooled
        if not strides or not set(strides) <= set(ENCODERS[self.encoder]["strides"]) or \
                len(set(strides)) != len(strides):
            raise ValueError(f"pool_strides {list(self.pool_strides)} must be distinct strides of the "
                             f"{self.encoder} encoder: {list(ENCODERS[self.encoder]['strides'])}")
        if self.pool_channels < 0 or (self.encoder == "lite0" and self.pool_channels == 0):
            raise ValueError(f"pool_channels must be > 0 for lite0 and >= 0 otherwise, got {self.pool_channels}")
        if self.silhouette_size < 1:
            raise ValueError(f"silhouette_size must be positive, got {self.silhouette_size}")

    @property
    def strides_pooled(self) -> tuple[int, ...]:
        """The strides pooled at the vertices, increasing."""
        return tuple(sorted(self.pool_strides or ENCODERS[self.encoder]["pooled"]))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ellipsoid_radii"] = list(self.ellipsoid_radii)
        d["pool_strides"] = list(self.pool_strides)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model configuration fields: {sorted(unknown)}")
        d = dict(d)
        if "ellipsoid_radii" in d:
            d["ellipsoid_radii"] = tuple(float(r) for r in d["ellipsoid_radii"])
        if "pool_strides" in d:
            d["pool_strides"] = tuple(int(s) for s in d["pool_strides"])
        return cls(**d)


# What each encoder offers: input multiple, strides of its maps, the strides pooled by default.
ENCODERS = {
    "vgg": {"multiple": 16, "strides": (4, 8, 16), "pooled": (4, 8, 16)},
    "lite0": {"multiple": 32, "strides": (4, 8, 16, 32), "pooled": (8, 16, 32)},
}


CONFIGS: dict[str, ModelConfig] = {
    # The network of the paper: VGG-16 conv3_3+conv4_3+conv5_3 (1280 dims), hidden 128.
    "paper": ModelConfig(name="paper"),
    # Trains in hours on a 2-core CPU: quarter-width encoder (320 pooled dims), hidden 64,
    # 10 graph layers per block, 128 px input.
    "compact": ModelConfig(name="compact", input_size=128, encoder_width=0.25, hidden=64,
                           gresnet_layers=10),
    # For tests only: seconds to build and run.
    "tiny": ModelConfig(name="tiny", input_size=64, encoder_width=0.125, hidden=16,
                        gresnet_layers=2),
    # ImageNet-pretrained EfficientNet-Lite0 at 224 px, strides 8/16/32 through 64-channel
    # bottlenecks, the silhouette head, zero-initialised offsets; the compact G-ResNet.
    # bench_model, batch 1, 2 passive threads, 2-core CPU shared with dataset builds: 46 ms median at
    # load 4 (192 px: 56 ms, same run), 88 ms median / 46 ms min at load 6.7. Remeasure when idle.
    "lite0": ModelConfig(name="lite0", input_size=224, hidden=64, gresnet_layers=10, encoder="lite0",
                         pool_channels=64, silhouette=True, zero_offsets=True),
    # For tests only: Lite0 at 64 px with a tiny G-ResNet.
    "lite0_tiny": ModelConfig(name="lite0_tiny", input_size=64, hidden=16, gresnet_layers=2,
                              encoder="lite0", pool_channels=8, silhouette=True, zero_offsets=True),
}


def get_config(name: str) -> ModelConfig:
    """The named configuration, or a ValueError listing the names that exist."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}; choose one of {sorted(CONFIGS)}") from None
