"""A resumable, distributed sampler: the batch order is a pure function of (seed, epoch)."""
from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Shuffles by (seed, epoch), shards across ranks, and can start mid-epoch.

    Each rank takes every world_size-th index of the epoch's permutation (padded by
    wrapping so every rank gets the same number of full batches). Resuming at batch b
    skips the first b * batch_size indices of this rank's share, so a resumed run sees
    exactly the samples an uninterrupted run would have seen.
    """

    def __init__(self, length: int, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True):
        if length < batch_size * world_size:
            raise ValueError(f"dataset of {length} samples is smaller than one global batch "
                             f"({batch_size} x {world_size} processes)")
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.length // (self.batch_size * self.world_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _rank_indices(self) -> np.ndarray:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
                 if self.shuffle else np.arange(self.length))
        total = self.batches_per_epoch * self.batch_size * self.world_size
        return order[:total][self.rank::self.world_size]

    def __iter__(self):
        indices = self._rank_indices()[self.start_batch * self.batch_size:]
        return iter(indices.tolist())

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size
