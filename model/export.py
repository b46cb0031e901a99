"""Save and load what serving needs: weights, tokenizer.json and model_config.json.

No Lightning here: the TorchServe handler loads an export with `load_export(dir)`.

    save_export("model_store/artifacts", net, "path/to/tokenizer.json", {"max_length": 400, "truncation": "head+tail"})
    net, encoder, config = load_export("model_store/artifacts")

Files of an export folder:
    network.pt          state_dict (fp16 or fp32 tensors; loaded as fp32), loaded with weights_only=True
    tokenizer.json      the Hugging Face tokenizer, normalization included
    model_config.json   {"network": {...}, "preprocessing": {...}, "labels": [...], "weights_dtype": ...}
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from data.text_encoding import TextEncoder, load_tokenizer
from model.network import SentimentNet, SentimentNetConfig

WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE = "network.pt", "tokenizer.json", "model_config.json"
LABELS = ("negative", "positive")  # index = predicted class; neg=0 / pos=1 as in IMDB


def save_export(
    directory: str | os.PathLike,
    net: SentimentNet,
    tokenizer_path: str | os.PathLike,
    preprocessing: dict,
    weights_dtype: str = "float32",
) -> Path:
    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"weights_dtype must be float32 or float16, got {weights_dtype!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dtype = getattr(torch, weights_dtype)
    state = {k: v.detach().to("cpu", dtype) if v.is_floating_point() else v.cpu() for k, v in net.state_dict().items()}
    # Write each file beside its final name, then rename: a crash never leaves a half export.
    _atomic(directory / WEIGHTS_FILE, lambda p: torch.save(state, p))
    _atomic(directory / TOKENIZER_FILE, lambda p: shutil.copyfile(tokenizer_path, p))
    config = {
        "network": net.config.to_dict(),
        "preprocessing": dict(preprocessing),
        "labels": list(LABELS),
        "weights_dtype": weights_dtype,
    }
    _atomic(directory / CONFIG_FILE, lambda p: Path(p).write_text(json.dumps(config, indent=2) + "\n"))
    return directory


def load_export(directory: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[SentimentNet, TextEncoder, dict]:
    """Load an export; every failure names the file and what is wrong with it."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text())
        net_config = SentimentNetConfig.from_dict(config["network"])
        preprocessing = config["preprocessing"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"bad model config {config_path}: {error!r}") from error
    tokenizer = load_tokenizer(str(directory / TOKENIZER_FILE))
    if tokenizer.get_vocab_size() > net_config.vocab_size:
        raise ValueError(
            f"{directory / TOKENIZER_FILE} has {tokenizer.get_vocab_size()} tokens but the network embeds only {net_config.vocab_size}"
        )
    encoder = TextEncoder(tokenizer, preprocessing["max_length"], preprocessing["truncation"])
    weights_path = directory / WEIGHTS_FILE
    net = SentimentNet(net_config)
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except Exception as error:  # torch raises many types for truncated or foreign files
        raise ValueError(f"cannot load weights {weights_path}: {error}") from error
    net.to(device).eval()
    return net, encoder, config


def _atomic(path: Path, write) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(partial)
    os.replace(partial, path)
