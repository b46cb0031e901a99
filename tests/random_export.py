"""A serving export in a second: a small tokenizer and a randomly initialised network. Not a test.

    from tests.random_export import make_random_export
    model_dir = make_random_export(tmp_path)      # network.pt, network.onnx, tokenizer.json, model_config.json
    wider = make_random_export(tmp_path / "wide", width=256)   # the same, a network that computes more
    mar = make_random_mar(tmp_path)               # a sentiment.mar around it

For tests where the weights do not matter (request parsing, archive integrity, load errors).
"""

from __future__ import annotations

import random
from pathlib import Path


def make_random_export(folder: Path, seed: int = 0, width: int = 4, onnx_checks: int | None = None) -> Path:
    """An export whose GRU and LSTM have `width` units (the embedding twice that): a wider one computes more.

    network.onnx is checked against PyTorch on save_export's random sequences, or on `onnx_checks` of them
    (a wide network's full check takes a minute on two shared cores).
    """
    import torch

    from tests.conftest import make_review
    from data.text_encoding import train_tokenizer
    from model.export_writer import save_export
    from model.network import SentimentNet, SentimentNetConfig

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer([make_review(rng, i % 2) for i in range(200)], vocab_size=100)
    tokenizer.save(str(folder / "source_tokenizer.json"))
    torch.manual_seed(seed)
    net = SentimentNet(SentimentNetConfig(vocab_size=100, embedding_dim=2 * width, gru_hidden=width, lstm_hidden=width))
    checks = None if onnx_checks is None else [
        [rng.randrange(1, 100) for _ in range(rng.randint(1, 64))] for _ in range(onnx_checks)]
    return save_export(folder / "export", net, folder / "source_tokenizer.json",
                       {"max_length": 64, "truncation": "head+tail"}, check_sequences=checks)


def make_random_mar(folder: Path, seed: int = 0) -> Path:
    """sentiment.mar (handler, code, random export) built by serving/archive.py, as `make archive` does."""
    from serving.archive import build

    return build(make_random_export(folder / "random", seed), folder / "mar")
