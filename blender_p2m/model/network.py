"""The Pixel2Mesh network: encoder -> 3 x (perceptual pooling, G-ResNet) with unpooling between.

The encoder is VGG-16 (the paper's, trained from scratch) or EfficientNet-Lite0 (pretrained,
pooled through per-stride bottlenecks); an optional silhouette head reads the same maps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .efficientnet_lite import EfficientNetLite0
from .ellipsoid import uv_ellipsoid
from .encoder import VGG16Encoder
from .graph_conv import Adjacency, GraphAdjacency, GResNet
from .multiscale_pooling import MultiScalePooling
from .perceptual_pooling import perceptual_pool
from .silhouette_head import SilhouetteHead
from .topology import Stage, build_stages, normalized_adjacency


@dataclass
class StageOutput:
    """One deformation stage of a batch.

    Attributes:
        vertices: (B, N, 3) deformed vertices, camera frame.
        vertices_before: (B, N, 3) the block's input vertices (after unpooling).
        faces: (F, 3) int64, outward winding.
        edges: (E, 2) int64.
    """

    vertices: torch.Tensor
    vertices_before: torch.Tensor
    faces: torch.Tensor
    edges: torch.Tensor


def unpool(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Append one row per edge: the mean of its two ends. (B, N, C) -> (B, N + E, C)."""
    return torch.cat([x, 0.5 * (x[:, edges[:, 0]] + x[:, edges[:, 1]])], dim=1)


class Pixel2Mesh(nn.Module):
    """Pixel2Mesh network.

    forward(images (B, 3, S, S) in [0, 1], intrinsics (B, 4) fx, fy, cx, cy in pixels of
    the S x S input) -> list of StageOutput, coarse to fine; with return_silhouette=True,
    (that list, mask logits (B, 1, n, n)) from the same encoder pass.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder_frozen = False
        vertices0, faces0 = uv_ellipsoid(config.ellipsoid_radii, config.ellipsoid_depth,
                                         config.ellipsoid_rings, config.ellipsoid_segments)
        self.stages: list[Stage] = build_stages(faces0, len(vertices0), config.unpool_steps)
        self.register_buffer("centre", torch.tensor([0.0, 0.0, -config.ellipsoid_depth]),
                             persistent=False)
        template = torch.from_numpy(vertices0)
        for i, stage in enumerate(self.stages):
            self.register_buffer(f"faces_{i}", torch.from_numpy(stage.faces), persistent=False)
            self.register_buffer(f"edges_{i}", torch.from_numpy(stage.edges), persistent=False)
            self.register_buffer(f"adjacency_{i}", normalized_adjacency(stage.edges, stage.n_vertices),
                                 persistent=False)                                     # COO
            if i > 0:
                template = self.unpool(i, template[None])[0]
            self.register_buffer(f"template_{i}", template, persistent=False)
        # The same adjacencies in the fast (CSR) form the graph convolutions use.
        self.graphs = nn.ModuleList(GraphAdjacency(getattr(self, f"adjacency_{i}"))
                                    for i in range(self.n_stages))
        self.encoder, channels, shifts = _build_encoder(config)
        pooled_channels = {s: channels[s] for s in config.strides_pooled}
        if config.pool_channels:
            self.pooling = MultiScalePooling(pooled_channels, config.pool_channels,
                                             {s: shifts[s] for s in pooled_channels if s in shifts}, norm=True)
            pooled = self.pooling.out_features
        else:
            self.pooling = None
            pooled = sum(pooled_channels.values())
        self.silhouette_head = (SilhouetteHead(channels, shifts, output_size=config.silhouette_size)
                                if config.silhouette else None)
        self.blocks = nn.ModuleList()
        for i in range(self.n_stages):
            in_features = pooled + 3 + (config.hidden if i > 0 else 0)
            self.blocks.append(GResNet(in_features, config.hidden, config.gresnet_layers))
            if config.zero_offsets:
                head = self.blocks[-1].coordinates
                for weight in (head.self_weight.weight, head.neighbour_weight.weight, head.self_weight.bias):
                    nn.init.zeros_(weight)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def template(self, stage: int) -> torch.Tensor:
        """(N_s, 3) the stage's mesh before any deformation: the initial ellipsoid unpooled to
        this stage (camera frame). The network starts from template(0); later stages start
        from the unpooled output of the stage before."""
        return getattr(self, f"template_{stage}")

    def unpool(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Values on the previous stage's vertices (B, N_{s-1}, C) -> on this stage's (B, N_s, C)."""
        return unpool(x, self.edges(stage - 1))

    def faces(self, stage: int) -> torch.Tensor:
        return getattr(self, f"faces_{stage}")

    def edges(self, stage: int) -> torch.Tensor:
        return getattr(self, f"edges_{stage}")

    def adjacency(self, stage: int) -> Adjacency:
        """The stage's row-normalised adjacency (mean over neighbours), ready for GraphConv."""
        return self.graphs[stage].get()

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Keep the encoder as it is: no gradients, always in eval mode (batch norm and
        dropout included), run under no_grad. The pooling bottlenecks and the heads still learn."""
        self.encoder_frozen = frozen
        self.encoder.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> "Pixel2Mesh":
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def encode(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """images (B, 3, S, S) in [0, 1] -> the encoder's maps {stride: (B, C_s, S/s, S/s)}."""
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[-1] != self.config.input_size \
                or images.shape[-2] != self.config.input_size:
            s = self.config.input_size
            raise ValueError(f"expected images (B, 3, {s}, {s}), got shape {tuple(images.shape)}")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            maps = self.encoder(images)
        if isinstance(maps, (list, tuple)):                          # VGG: a list, strides 4, 8, 16
            maps = dict(zip(self.encoder.strides, maps))
        return maps

    def silhouette(self, feature_maps: dict[int, torch.Tensor]) -> torch.Tensor:
        """Mask logits (B, 1, n, n) from the encoder's maps (n = config.silhouette_size)."""
        if self.silhouette_head is None:
            raise ValueError(f"configuration '{self.config.name}' has no silhouette head")
        return self.silhouette_head(feature_maps)

    def forward(self, images: torch.Tensor, intrinsics: torch.Tensor, return_silhouette: bool = False
                ) -> list[StageOutput] | tuple[list[StageOutput], torch.Tensor]:
        feature_maps = self.encode(images)                           # {stride: (B, C_s, h_s, w_s)}
        outputs = self.deform(feature_maps, intrinsics.to(images.dtype))
        if return_silhouette:
            return outputs, self.silhouette(feature_maps)
        return outputs

    def deform(self, feature_maps: dict[int, torch.Tensor], intrinsics: torch.Tensor) -> list[StageOutput]:
        """The deformation stages from the encoder's maps; intrinsics (B, 4) of the S x S input."""
        b, size = intrinsics.shape[0], self.config.input_size
        if self.pooling is not None:
            reduced = self.pooling.reduce({s: feature_maps[s] for s in self.pooling.strides})

            def pool(v):
                return self.pooling.sample(reduced, v, intrinsics, size)
        else:
            maps = [feature_maps[s] for s in self.config.strides_pooled]

            def pool(v):
                return perceptual_pool(maps, v, intrinsics, size)
        vertices = self.template(0).unsqueeze(0).expand(b, -1, -1)   # (B, 156, 3)
        hidden = None
        outputs = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                vertices = self.unpool(i, vertices)                   # (B, N_i, 3)
                hidden = self.unpool(i, hidden)                       # (B, N_i, hidden)
            pooled = pool(vertices)                                   # (B, N_i, pooled)
            parts = [pooled, vertices - self.centre] + ([hidden] if hidden is not None else [])
            hidden, displacement = block(torch.cat(parts, dim=-1), self.adjacency(i))
            new_vertices = vertices + displacement.to(vertices.dtype)
            outputs.append(StageOutput(new_vertices, vertices, self.faces(i), self.edges(i)))
            vertices = new_vertices
        return outputs


def _build_encoder(config: ModelConfig) -> tuple[nn.Module, dict[int, int], dict[int, float]]:
    """The encoder, its channels {stride: C} and receptive-field shifts {stride: pixels}."""
    if config.encoder == "lite0":
        # Batch norm frozen at its (pretrained) statistics: batch 1-8 over several processes.
        encoder = EfficientNetLite0(freeze_batchnorm=True)
        return encoder, dict(encoder.out_channels), dict(encoder.shifts)
    encoder = VGG16Encoder(config.encoder_width, config.encoder_norm)
    return encoder, dict(zip(encoder.strides, encoder.out_channels)), {}
