"""Length-aware batching: reviews of similar length share a batch, so short reviews
do not pay for long ones (batches are padded only to their own longest review).

The sampler it wraps decides which rows and in what order (RandomSampler for
training; Lightning swaps in a DistributedSampler under DDP and rebuilds this
class around it); this class only regroups them into batches.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler


class BucketBatchSampler(BatchSampler):
    """Take `bucket_batches * batch_size` indices from `sampler`, sort them by length,
    cut them into batches and (if `shuffle`) shuffle the batch order."""

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        lengths: Sequence[int] = (),
        bucket_batches: int = 50,
        shuffle: bool = True,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if not len(lengths):
            raise ValueError("BucketBatchSampler needs the length of every row")
        self.lengths = lengths
        self.bucket_batches = bucket_batches
        self.shuffle = shuffle

    def __iter__(self) -> Iterator[list[int]]:
        bucket_size = self.batch_size * self.bucket_batches
        bucket: list[int] = []
        for index in self.sampler:
            bucket.append(index)
            if len(bucket) == bucket_size:
                yield from self._batches(bucket)
                bucket = []
        if bucket:
            yield from self._batches(bucket)

    def _batches(self, bucket: list[int]) -> Iterator[list[int]]:
        bucket.sort(key=lambda i: self.lengths[i])
        batches = [bucket[i : i + self.batch_size] for i in range(0, len(bucket), self.batch_size)]
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        # The global RNG is seeded by Lightning's seed_everything, so runs repeat.
        order = torch.randperm(len(batches)).tolist() if self.shuffle else range(len(batches))
        for i in order:
            yield batches[i]

    def __len__(self) -> int:
        # drop_last can drop one short batch per bucket; count exactly.
        n = len(self.sampler)
        if not self.drop_last:
            return (n + self.batch_size - 1) // self.batch_size
        bucket_size = self.batch_size * self.bucket_batches
        full, rest = divmod(n, bucket_size)
        return full * self.bucket_batches + rest // self.batch_size
