"""Graph convolution and the G-ResNet deformation block.

Graph conv (paper, eq. 1 with a normalised adjacency): f'_p = W0 f_p + W1 mean_{q in N(p)} f_q + b.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
from torch import nn


class Adjacency(NamedTuple):
    """A fixed graph's adjacency in CSR form, with its transpose for the backward pass.

    Multiplying by a CSR matrix is several times faster on CPU than by the same matrix in
    COO form (the 2466-vertex graph convolutions were the slowest ops of the compact
    model); the stored transpose keeps the backward pass a plain CSR product on every
    device instead of relying on autograd support for sparse layouts.
    """

    matrix: torch.Tensor       # (N, N) sparse CSR
    transpose: torch.Tensor    # (N, N) sparse CSR

    @classmethod
    def from_sparse(cls, adjacency: torch.Tensor) -> "Adjacency":
        """From any sparse (N, N) tensor, e.g. topology.normalized_adjacency()."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta")
            coo = adjacency.to_sparse_coo().coalesce()
            return cls(coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr())


class GraphAdjacency(nn.Module):
    """A fixed graph's Adjacency kept as plain CSR-part buffers (not persistent).

    Sparse CSR tensors cannot be deep-copied or pickled, so the module stores their parts
    (row pointers, column indices, values) and assembles the Adjacency on use (no copy):
    the network still copies, moves and casts like any other module.
    """

    def __init__(self, adjacency: torch.Tensor):
        super().__init__()
        fast = Adjacency.from_sparse(adjacency)
        for name, csr in zip(Adjacency._fields, fast):
            self.register_buffer(f"{name}_crow", csr.crow_indices(), persistent=False)
            self.register_buffer(f"{name}_col", csr.col_indices(), persistent=False)
            self.register_buffer(f"{name}_values", csr.values(), persistent=False)
        self.size = tuple(adjacency.shape)

    def get(self) -> Adjacency:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta")
            return Adjacency(*(
                torch.sparse_csr_tensor(getattr(self, f"{name}_crow"), getattr(self, f"{name}_col"),
                                        getattr(self, f"{name}_values"), self.size,
                                        check_invariants=False)   # valid by construction
                for name in Adjacency._fields))


class _SparseProduct(torch.autograd.Function):
    """matrix @ dense, with the gradient transpose @ grad (no gradient for the graph)."""

    @staticmethod
    def forward(ctx, matrix, transpose, dense):
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx, grad):
        return None, None, torch.sparse.mm(ctx.transpose, grad.contiguous())


def aggregate_neighbours(adjacency: torch.Tensor | Adjacency, x: torch.Tensor) -> torch.Tensor:
    """Row-normalised sparse adjacency times batched features.

    Args:
        adjacency: sparse (N, N) tensor, or an Adjacency (faster).
        x: (B, N, C).
    Returns:
        (B, N, C), in the dtype of x (computed in float32, or float64 for float64 input:
        sparse kernels lack fp16).
    """
    b, n, c = x.shape
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    flat = x.to(dtype).transpose(0, 1).reshape(n, b * c)           # (N, B*C)
    with torch.autocast(device_type=x.device.type, enabled=False):
        if isinstance(adjacency, Adjacency):
            out = _SparseProduct.apply(adjacency.matrix.to(dtype), adjacency.transpose.to(dtype), flat)
        else:
            out = torch.sparse.mm(adjacency.to(dtype), flat)        # (N, B*C)
    return out.reshape(n, b, c).transpose(0, 1).to(x.dtype)


class GraphConv(nn.Module):
    """One graph convolution over a fixed mesh graph (adjacency passed in at call time:
    a sparse tensor or an Adjacency)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.self_weight = nn.Linear(in_features, out_features, bias=True)
        self.neighbour_weight = nn.Linear(in_features, out_features, bias=False)
        bound = math.sqrt(6.0 / (in_features + out_features)) / math.sqrt(2.0)
        nn.init.uniform_(self.self_weight.weight, -bound, bound)
        nn.init.uniform_(self.neighbour_weight.weight, -bound, bound)
        nn.init.zeros_(self.self_weight.bias)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        # Aggregate on the narrower side: cheaper when out_features < in_features.
        if self.neighbour_weight.out_features < self.neighbour_weight.in_features:
            neighbours = aggregate_neighbours(adjacency, self.neighbour_weight(x))
        else:
            neighbours = self.neighbour_weight(aggregate_neighbours(adjacency, x))
        return self.self_weight(x) + neighbours                    # (B, N, out)


class GResNet(nn.Module):
    """Deformation block: graph conv in, (layers - 2) / 2 residual pairs, and two heads.

    Residual pairs average input and output, (x + f(x)) / 2, as the original code does,
    which keeps activations bounded through 14 layers. The coordinate branch predicts a
    displacement of every vertex, initialised near zero so training starts at the
    ellipsoid.

    Returns the hidden features (B, N, hidden) and the displacements (B, N, 3).
    """

    def __init__(self, in_features: int, hidden: int, layers: int):
        super().__init__()
        if layers < 2 or layers % 2:
            raise ValueError(f"G-ResNet needs an even number of layers >= 2, got {layers}")
        self.input = GraphConv(in_features, hidden)
        self.residual = nn.ModuleList(
            nn.ModuleList([GraphConv(hidden, hidden), GraphConv(hidden, hidden)])
            for _ in range((layers - 2) // 2))
        self.coordinates = GraphConv(hidden, 3)
        nn.init.uniform_(self.coordinates.self_weight.weight, -1e-3, 1e-3)
        nn.init.uniform_(self.coordinates.neighbour_weight.weight, -1e-3, 1e-3)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.input(x, adjacency))                      # (B, N, hidden)
        for first, second in self.residual:
            y = self.act(first(h, adjacency))
            y = self.act(second(y, adjacency))
            h = (h + y) * 0.5
        return h, self.coordinates(h, adjacency)                    # (B, N, hidden), (B, N, 3)
