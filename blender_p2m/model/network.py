"""The Pixel2Mesh network: encoder -> 3 x (perceptual pooling, G-ResNet) with unpooling between."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .ellipsoid import uv_ellipsoid
from .encoder import VGG16Encoder
from .graph_conv import Adjacency, GraphAdjacency, GResNet
from .perceptual_pooling import perceptual_pool
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
    the S x S input) -> list of StageOutput, coarse to fine.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {config.input_size}")
        self.config = config
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
        self.encoder = VGG16Encoder(config.encoder_width, config.encoder_norm)
        pooled = sum(self.encoder.out_channels)
        self.blocks = nn.ModuleList()
        for i in range(self.n_stages):
            in_features = pooled + 3 + (config.hidden if i > 0 else 0)
            self.blocks.append(GResNet(in_features, config.hidden, config.gresnet_layers))

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

    def forward(self, images: torch.Tensor, intrinsics: torch.Tensor) -> list[StageOutput]:
        b = images.shape[0]
        feature_maps = self.encoder(images)                          # 3 x (B, C_i, h_i, w_i)
        intrinsics = intrinsics.to(images.dtype)
        vertices = self.template(0).unsqueeze(0).expand(b, -1, -1)   # (B, 156, 3)
        hidden = None
        outputs = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                vertices = self.unpool(i, vertices)                   # (B, N_i, 3)
                hidden = self.unpool(i, hidden)                       # (B, N_i, hidden)
            pooled = perceptual_pool(feature_maps, vertices, intrinsics, self.config.input_size)
            parts = [pooled, vertices - self.centre] + ([hidden] if hidden is not None else [])
            hidden, displacement = block(torch.cat(parts, dim=-1), self.adjacency(i))
            new_vertices = vertices + displacement.to(vertices.dtype)
            outputs.append(StageOutput(new_vertices, vertices, self.faces(i), self.edges(i)))
            vertices = new_vertices
        return outputs
