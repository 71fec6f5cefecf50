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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ellipsoid_radii"] = list(self.ellipsoid_radii)
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
        return cls(**d)


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
}


def get_config(name: str) -> ModelConfig:
    """The named configuration, or a ValueError listing the names that exist."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}; choose one of {sorted(CONFIGS)}") from None
