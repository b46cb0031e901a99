"""An export folder: the names of its files and graph, and how serving reads it.

model/export_writer.py writes one (`save_export`); serving.runtime.Predictor reads it with
`load_encoder(dir)` and, for PyTorch or explanations, `load_network(dir)`. Nothing here imports torch
until a function needs the PyTorch network, so ONNX Runtime serving runs without it:

    net, encoder, config = load_export("model_store/artifacts")      # config["labels"]: one name per class
    encoder, config = load_encoder("model_store/artifacts")          # no torch

Files of an export folder (EXPORT_FILES):
    network.pt          state_dict (fp16 or fp32 tensors; loaded as fp32), loaded with weights_only=True
    network.onnx        the same network for ONNX Runtime, float32: inputs input_ids (batch, time) int64,
                        right-padded with [PAD], and lengths (batch,) int64; output logits
    tokenizer.json      the Hugging Face tokenizer, normalization included
    model_config.json   {"network": {...}, "preprocessing": {...}, "labels": [...], "weights_dtype": ...}
and, optionally (OPTIONAL_EXPORT_FILES): network.int8.onnx, the same graph with int8 weights (written with
every export since it existed, checked against network.onnx), and MODEL_CARD.md.

"labels" names the classes in the order of the network's outputs; every answer shows these names.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from data.text_encoding import TextEncoder, load_tokenizer
from model.network_config import SentimentNetConfig

if TYPE_CHECKING:
    import torch

    from model.network import SentimentNet

WEIGHTS_FILE, ONNX_FILE, TOKENIZER_FILE, CONFIG_FILE = "network.pt", "network.onnx", "tokenizer.json", "model_config.json"
EXPORT_FILES = (WEIGHTS_FILE, ONNX_FILE, TOKENIZER_FILE, CONFIG_FILE)
ONNX_INT8_FILE, MODEL_CARD_FILE = "network.int8.onnx", "MODEL_CARD.md"
OPTIONAL_EXPORT_FILES = (ONNX_INT8_FILE, MODEL_CARD_FILE)
# network.onnx's graph: what the writer names and every ONNX Runtime session checks.
ONNX_INPUTS, ONNX_OUTPUT = ("input_ids", "lengths"), "logits"
# For callers that build a two-class network without data of their own (tests, benchmarks).
BINARY_LABELS = ("negative", "positive")


def load_export(directory: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[SentimentNet, TextEncoder, dict]:
    """Load an export; every failure names the file and what is wrong with it."""
    encoder, config = load_encoder(directory)
    return load_network(directory, config, device), encoder, config


def load_encoder(directory: str | os.PathLike) -> tuple[TextEncoder, dict]:
    """The export's preprocessing and model_config.json, without the network."""
    directory = Path(directory)
    config = read_config(directory)
    net_config = SentimentNetConfig.from_dict(config["network"])
    preprocessing = config["preprocessing"]
    tokenizer = load_tokenizer(str(directory / TOKENIZER_FILE))
    if tokenizer.get_vocab_size() > net_config.vocab_size:
        raise ValueError(
            f"{directory / TOKENIZER_FILE} has {tokenizer.get_vocab_size()} tokens but the network embeds only {net_config.vocab_size}"
        )
    return TextEncoder(tokenizer, preprocessing["max_length"], preprocessing["truncation"]), config


def read_config(directory: str | os.PathLike) -> dict:
    config_path = Path(directory) / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text())
        net_config = SentimentNetConfig.from_dict(config["network"])
        missing = sorted({"max_length", "truncation"} - set(config["preprocessing"]))
        if missing:
            raise KeyError(f"preprocessing lacks {missing}")
        config["labels"] = check_labels(config["labels"], net_config.num_classes)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"bad model config {config_path}: {error!r}") from error
    return config


def load_network(directory: str | os.PathLike, config: dict, device: str | torch.device = "cpu") -> SentimentNet:
    """The PyTorch network of an export, fp32, in eval mode."""
    from model.network import SentimentNet

    path = Path(directory) / WEIGHTS_FILE
    net = SentimentNet(SentimentNetConfig.from_dict(config["network"]))
    try:
        net.load_state_dict(_load_weights(path))
    except RuntimeError as error:  # names or shapes of another network
        raise ValueError(f"cannot load weights {path}: {error}") from error
    return net.to(device).eval()


def check_weights(directory: str | os.PathLike, config: dict) -> None:
    """Fail like load_network on weights that are missing, corrupt or of another network, without
    building it or reading its tensors: for a process that predicts with ONNX Runtime and builds
    the network only to explain. (Loading it and dropping it left 17 MiB more in a fresh worker,
    ~5 MiB after 1,500 batches.)"""
    from model.network import SentimentNet

    path = Path(directory) / WEIGHTS_FILE
    net_config = SentimentNetConfig.from_dict(config["network"])
    # Every shape but the embedding's is independent of the vocabulary: take them from a twin with
    # a one-row vocabulary (a few hundred kB), and the embedding's from the config.
    twin = SentimentNet(dataclasses.replace(net_config, vocab_size=1, pad_id=0))
    expected = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    expected["embedding.weight"] = (net_config.vocab_size, net_config.embedding_dim)
    found = {k: tuple(v.shape) for k, v in _load_weights(path, mmap=True).items()}
    if found != expected:
        differing = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
        raise ValueError(f"cannot load weights {path}: they do not fit the configured network (differing: {differing[:5]})")


def _load_weights(path: Path, mmap: bool = False) -> dict:
    """The state_dict in fp32; with mmap=True as stored, its tensors backed by the file and not read."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        if not isinstance(state, dict):
            raise TypeError(f"a {type(state).__name__}, not a state_dict")
        return state if mmap else {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    except Exception as error:  # torch raises many types for truncated or foreign files
        raise ValueError(f"cannot load weights {path}: {error}") from error


def check_labels(labels, num_classes: int) -> list[str]:
    """One distinct, non-empty name per class, or ValueError saying what is wrong."""
    if not isinstance(labels, (list, tuple)) or not all(isinstance(name, str) and name.strip() for name in labels):
        raise ValueError(f"labels must be a list of non-empty names, got {labels!r}")
    if len(labels) != num_classes or len(set(labels)) != len(labels):
        raise ValueError(f"labels must name each of the {num_classes} classes once, got {list(labels)}")
    return list(labels)
