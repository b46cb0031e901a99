"""Concurrent requests scored in one pass: the KServe model server's batching, inside the process.

    batcher = MicroBatcher(predictor.predict_proba, max_texts=64)
    probabilities = await batcher.score(["A fine film.", "Dull."])   # from any coroutine on one event loop

No timer and no added wait: a request that finds the model idle runs at once, alone. Requests that
arrive while a pass runs queue, and the next pass takes them together (up to `max_texts` reviews), so
batches grow with load by themselves. One pass runs at a time, on one thread: ONNX Runtime's own
threads use the cores, and passes side by side would only compete for them.

Why here and not KServe's `batcher`: that is a sidecar of the InferenceService that batches v1
`instances` only; v2 requests, gRPC and the local server would get none of it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class MicroBatcher:
    def __init__(self, score: Callable[[Sequence[str]], np.ndarray], max_texts: int) -> None:
        if max_texts < 1:
            raise ValueError(f"max_texts must be at least 1, got {max_texts}")
        self._score = score
        self.max_texts = max_texts
        self._waiting: deque[tuple[list[str], asyncio.Future]] = deque()
        self._draining: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="micro-batch")
        self.passes = 0  # passes run so far; texts per pass = scored texts / passes

    async def score(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of probabilities for `texts`, in order, scored alone or beside other requests' texts."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((list(texts), future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = [self._waiting.popleft()]
            size = len(batch[0][0])
            while self._waiting and size + len(self._waiting[0][0]) <= self.max_texts:
                texts, future = self._waiting.popleft()
                batch.append((texts, future))
                size += len(texts)
            batch = [(texts, future) for texts, future in batch if not future.done()]  # callers gone: skip
            if not batch:
                continue
            try:
                probabilities = await loop.run_in_executor(self._thread, self._score,
                                                           [text for texts, _ in batch for text in texts])
            except Exception as error:  # every request of the pass gets the error; the batcher goes on
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.passes += 1
            start = 0
            for texts, future in batch:
                if not future.done():
                    future.set_result(probabilities[start:start + len(texts)])
                start += len(texts)
