"""torchrun / DistributedDataParallel setup: one process per device, PyTorch's own engine."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from blender_p2m.errors import P2MError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_request: str = "auto") -> tuple[DistInfo, torch.device]:
    """Read torchrun's environment, start the process group (NCCL on GPUs, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_request in ("auto", "cuda")
    if device_request == "cuda" and not torch.cuda.is_available():
        raise P2MError("--device cuda but PyTorch sees no CUDA GPU; use --device cpu")
    device = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local), device


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world_size
    return value


def cleanup(info: DistInfo) -> None:
    """Leave together: rank 0 validates and plots after the last step while the others would
    otherwise tear the process group down under it (an abort in the peer, seen in CI)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
