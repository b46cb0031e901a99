"""The handler scores real IMDB test reviews exactly as the in-process model does, on each runtime (slow tier).

    .venv/bin/python -m pytest -m slow tests/test_handler_agreement.py

Uses the committed export (paths.SHIPPED_EXPORT; the tiny model when it is absent) and 300 reviews
of the IMDB copy's test split (paths.DEFAULT_DATASET; tests/conftest.py says what happens without it).
The handler runs in TorchServe's worker code (scripts/evaluate_handler.py) and predicts with ONNX
Runtime or PyTorch (handler.runtime); the reference is always SentimentNet in PyTorch.
"""

from __future__ import annotations

import pytest
import torch

from paths import DEFAULT_DATASET, SHIPPED_EXPORT
from model.export import load_export
from scripts.evaluate_handler import handler_scores

pytestmark = [pytest.mark.slow, pytest.mark.requires_imdb]
N_REVIEWS = 300


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    import datasets

    test = datasets.load_dataset(str(DEFAULT_DATASET))["test"]
    return list(test.shuffle(seed=1).select(range(N_REVIEWS))["text"])


@pytest.fixture(autouse=True)
def torch_threads():
    """The torch runtime sets the process's thread count (a worker's own); give later tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_handler_matches_the_in_process_model(reviews, request, runtime):
    export = SHIPPED_EXPORT if (SHIPPED_EXPORT / "network.pt").is_file() else request.getfixturevalue("tiny_export")
    net, encoder, _ = load_export(export)
    with torch.no_grad():
        # One review at a time in-process, batches of 8 mixed lengths through the handler: padding must not matter.
        expected = [torch.sigmoid(net(*encoder.batch([r]))).item() for r in reviews]
    got = handler_scores(export, reviews, batch_size=8, runtime=runtime)
    worst = max(abs(a - b) for a, b in zip(got, expected))
    print(f"{runtime}: max |handler - in-process| over {len(reviews)} reviews: {worst:.2e}")
    assert worst <= 1e-5
