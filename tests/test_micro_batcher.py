"""serving/micro_batcher.py: requests that arrive during a pass share the next one, each gets its own rows.

    .venv/bin/python -m pytest tests/test_micro_batcher.py
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from serving.micro_batcher import MicroBatcher


class GatedScorer:
    """Scores text i as [len(text)]; each pass waits for `release` so the test decides what queues."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.release = threading.Event()
        self.fail_next = False

    def __call__(self, texts):
        self.passes.append(list(texts))
        self.release.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the network failed")
        return np.array([[float(len(t))] for t in texts])


async def settle():
    for _ in range(20):
        await asyncio.sleep(0.01)


def test_requests_queued_during_a_pass_share_the_next_and_get_their_own_rows():
    async def run():
        scorer = GatedScorer()
        batcher = MicroBatcher(scorer, max_texts=64)
        first = asyncio.create_task(batcher.score(["a"]))
        await settle()  # the first pass is running, alone
        later = [asyncio.create_task(batcher.score(["bb", "ccc"])), asyncio.create_task(batcher.score(["dddd"]))]
        await settle()
        scorer.release.set()
        results = await asyncio.gather(first, *later)
        return scorer.passes, results, batcher.passes

    passes, results, count = asyncio.run(run())
    assert passes == [["a"], ["bb", "ccc", "dddd"]]
    assert [r[:, 0].tolist() for r in results] == [[1.0], [2.0, 3.0], [4.0]]
    assert count == 2


def test_a_pass_holds_at_most_max_texts_and_the_rest_wait_for_the_next():
    async def run():
        scorer = GatedScorer()
        batcher = MicroBatcher(scorer, max_texts=3)
        first = asyncio.create_task(batcher.score(["a"]))
        await settle()
        later = [asyncio.create_task(batcher.score([c * 2, c * 3])) for c in "xyz"]
        await settle()
        scorer.release.set()
        await asyncio.gather(first, *later)
        return scorer.passes

    assert asyncio.run(run()) == [["a"], ["xx", "xxx"], ["yy", "yyy"], ["zz", "zzz"]]


def test_a_failed_pass_fails_its_requests_only_and_the_next_pass_answers():
    async def run():
        scorer = GatedScorer()
        batcher = MicroBatcher(scorer, max_texts=64)
        scorer.fail_next = True
        doomed = [asyncio.create_task(batcher.score(["a"])), asyncio.create_task(batcher.score(["b"]))]
        await settle()
        scorer.release.set()
        outcomes = await asyncio.gather(*doomed, return_exceptions=True)
        after = await batcher.score(["ccc"])
        return outcomes, after

    outcomes, after = asyncio.run(run())
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    assert after[:, 0].tolist() == [3.0]


def test_a_caller_that_went_away_is_skipped_and_others_still_answer():
    async def run():
        scorer = GatedScorer()
        batcher = MicroBatcher(scorer, max_texts=64)
        first = asyncio.create_task(batcher.score(["a"]))
        await settle()
        gone = asyncio.create_task(batcher.score(["gone"]))
        kept = asyncio.create_task(batcher.score(["kept!"]))
        await settle()
        gone.cancel()
        scorer.release.set()
        return scorer.passes, await first, await kept

    passes, first, kept = asyncio.run(run())
    assert passes == [["a"], ["kept!"]]
    assert first[:, 0].tolist() == [1.0] and kept[:, 0].tolist() == [5.0]


def test_max_texts_below_one_is_refused():
    with pytest.raises(ValueError, match="max_texts must be at least 1"):
        MicroBatcher(lambda texts: np.zeros((len(texts), 1)), 0)
