"""A resumable, distributed sampler: the batch order is a pure function of (seed, epoch)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Shuffles by (seed, epoch), shards across ranks, and can start mid-epoch.

    Each rank takes every world_size-th index of the epoch's permutation (padded by
    wrapping so every rank gets the same number of full batches). Resuming at batch b
    skips the first b * batch_size indices of this rank's share, so a resumed run sees
    exactly the samples an uninterrupted run would have seen.

    Several datasets concatenated (`sources`: their sizes, in order) can be mixed in chosen
    proportions (`weights`): each position of the epoch's order draws its source with those
    probabilities, then the source's next index in its own permutation (restarted when
    used up, so a small source repeats and a large one is subsampled). An epoch keeps
    `length` positions. The whole order is computed identically by every rank, then sharded.
    """

    def __init__(self, length: int, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True, sources: Sequence[int] | None = None,
                 weights: Sequence[float] | None = None):
        if length < batch_size * world_size:
            raise ValueError(f"dataset of {length} samples is smaller than one global batch "
                             f"({batch_size} x {world_size} processes)")
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self.epoch, self.start_batch = 0, 0
        self.sources, self.weights = None, None
        if weights is not None:
            sources = list(sources or [])
            if len(sources) != len(weights) or sum(sources) != length or min(sources, default=0) < 1:
                raise ValueError(f"weights {list(weights)} need one non-empty source size each, summing to "
                                 f"{length}; got sources {sources}")
            w = np.asarray(weights, dtype=np.float64)
            if (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
            self.sources, self.weights = sources, w / w.sum()

    @property
    def batches_per_epoch(self) -> int:
        return self.length // (self.batch_size * self.world_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def epoch_order(self) -> np.ndarray:
        """Every rank's indices of this epoch, before sharding."""
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.weights is None:
            return rng.permutation(self.length) if self.shuffle else np.arange(self.length)
        choice = rng.choice(len(self.sources), size=self.length, p=self.weights)   # (length,)
        order = np.empty(self.length, dtype=np.int64)
        offset = 0
        for k, size in enumerate(self.sources):
            where = np.flatnonzero(choice == k)
            repeats = -(-len(where) // size)
            perms = [rng.permutation(size) if self.shuffle else np.arange(size) for _ in range(repeats)]
            order[where] = offset + (np.concatenate(perms)[:len(where)] if perms else where[:0])
            offset += size
        return order

    def _rank_indices(self) -> np.ndarray:
        order = self.epoch_order()
        total = self.batches_per_epoch * self.batch_size * self.world_size
        return order[:total][self.rank::self.world_size]

    def __iter__(self):
        indices = self._rank_indices()[self.start_batch * self.batch_size:]
        return iter(indices.tolist())

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size
