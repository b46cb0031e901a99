"""Write an export folder (model/export.py names its files): weights, tokenizer, config, and network.onnx
exported from PyTorch and checked against it when written.

    save_export("model_store/artifacts", net, "path/to/tokenizer.json", {"max_length": 400, "truncation": "head+tail"},
                labels=["negative", "positive"], check_sequences=test_token_ids)   # ONNX checked on these
    write_checked_onnx(path, net, sequences)   # raises OnnxMismatch, and writes nothing, when ORT and PyTorch differ

For an export folder without network.onnx: `python scripts/write_onnx.py DIR` (write_for_export).

network.onnx's graph: inputs input_ids (batch, time) int64, right-padded with [PAD], and lengths (batch,) int64;
output logits, (batch,) for the sigmoid head. Both axes are dynamic, and padding is exact as in
SentimentNet (the backward RNNs read each review reversed within its own length; pooling masks
the padding), so a review scores the same alone or among longer ones.

Why the TorchScript-based exporter (dynamo=False): like the torch.export-based one it maps
nn.GRU/nn.LSTM onto ONNX's GRU/LSTM operators, and both gave the same logits on a sample here;
it exported in 2 s instead of 73 s and needs only `onnx`, not onnxscript.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from data.text_encoding import pad_batch, pad_ids
from model.export import (BINARY_LABELS, CONFIG_FILE, ONNX_FILE, ONNX_INPUTS, ONNX_INT8_FILE, ONNX_OUTPUT, TOKENIZER_FILE,
                          WEIGHTS_FILE, check_labels, load_export)
from model.network import SentimentNet, class_probabilities
from model.network_config import probabilities_from_logits

OPSET = 17
TOLERANCE = 1e-5  # on class probabilities, the served scores
CHECK_BATCH = 16  # rows per checked batch: mixed lengths, so padding is part of the check
CHECK_REVIEWS = 1000
# network.int8.onnx: ONNX Runtime's dynamic quantization (int8 weights, activations quantized per batch).
# GRU has no integer kernel in ONNX Runtime; the embedding table (Gather) and the LSTM do.
INT8_OP_TYPES = ("Gather", "LSTM")
INT8_MIN_AGREEMENT = 0.99  # share of the checked inputs whose label int8 must keep, or it is not written


class OnnxMismatch(ValueError):
    """ONNX Runtime and PyTorch disagree on the same inputs beyond TOLERANCE."""


def save_export(
    directory: str | os.PathLike,
    net: SentimentNet,
    tokenizer_path: str | os.PathLike,
    preprocessing: dict,
    weights_dtype: str = "float32",
    check_sequences: list | None = None,
    labels: Sequence[str] = BINARY_LABELS,
) -> Path:
    """Write an export folder. network.onnx is exported from the weights as saved (fp16 ones
    rounded, as serving loads them) and checked against PyTorch on `check_sequences` (token-id
    lists; seeded random ones when None): a mismatch raises and leaves no network.onnx.
    network.int8.onnx follows if it keeps INT8_MIN_AGREEMENT of network.onnx's labels there, else a warning."""
    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"weights_dtype must be float32 or float16, got {weights_dtype!r}")
    labels = check_labels(labels, net.config.num_classes)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Write each file beside its final name, then rename: a crash never leaves a half export.
    write_weights(directory, net, weights_dtype)
    _atomic(directory / TOKENIZER_FILE, lambda p: shutil.copyfile(tokenizer_path, p))
    write_config(directory, {
        "network": net.config.to_dict(),
        "preprocessing": dict(preprocessing),
        "labels": labels,
        "weights_dtype": weights_dtype,
    })
    served, encoder, _ = load_export(directory)
    if check_sequences is None:
        check_sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length)
    write_checked_onnx(directory / ONNX_FILE, served, check_sequences)
    # Optional: an int8 file of an earlier network must not outlive it, and a network whose int8 twin flips
    # too many labels (small or barely trained ones sit near the threshold) is still exported, without it.
    (directory / ONNX_INT8_FILE).unlink(missing_ok=True)
    try:
        write_int8_onnx(directory / ONNX_FILE, directory / ONNX_INT8_FILE, check_sequences)
    except OnnxMismatch as error:
        warnings.warn(f"{error}: precision int8 is unavailable for this export", stacklevel=2)
    return directory



def write_weights(directory: Path, net: SentimentNet, weights_dtype: str) -> None:
    """network.pt: the state dict, floating-point tensors in `weights_dtype`, written atomically."""
    dtype = getattr(torch, weights_dtype)
    state = {k: v.detach().to("cpu", dtype) if v.is_floating_point() else v.cpu() for k, v in net.state_dict().items()}
    _atomic(directory / WEIGHTS_FILE, lambda p: torch.save(state, p))


def write_config(directory: Path, config: dict) -> None:
    """model_config.json, written atomically."""
    _atomic(directory / CONFIG_FILE, lambda p: Path(p).write_text(json.dumps(config, indent=2) + "\n"))


def export_onnx(net: SentimentNet, path: str | os.PathLike) -> Path:
    """Trace `net` (eval mode) into an ONNX file with dynamic batch and time axes."""
    net = net.eval()
    # Two rows of different lengths, so the trace carries the padding path (reverse_padded, masks).
    example = pad_batch([[2, 3, 4, 5], [2, 3]])
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter's deprecation notice, the tracer's notes on nn.RNN's input-size checks, and its
        # warning that GRU/LSTM initial states might be fixed to the traced batch size: they are not here,
        # and max_difference checks batch sizes 1 and 16.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(
            net, example, str(path), input_names=list(ONNX_INPUTS), output_names=[ONNX_OUTPUT], opset_version=OPSET,
            dynamic_axes={"input_ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, ONNX_OUTPUT: {0: "batch"}},
            dynamo=False,
        )
    return Path(path)


def max_difference(path: str | os.PathLike, net: SentimentNet, sequences: list) -> float:
    """Largest |P_onnx - P_torch| over `sequences` (token-id lists), scored the first one alone and
    then in batches of CHECK_BATCH in the given order (mixed lengths, so padded)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batches = [sequences[:1]] + [sequences[i : i + CHECK_BATCH] for i in range(0, len(sequences), CHECK_BATCH)]
    worst = 0.0
    net = net.eval()
    for batch in batches:
        input_ids, lengths = pad_batch(batch)
        (logits,) = session.run([ONNX_OUTPUT], {"input_ids": input_ids.numpy(), "lengths": lengths.numpy()})
        with torch.no_grad():
            expected = class_probabilities(net(input_ids, lengths))
        worst = max(worst, float((class_probabilities(torch.from_numpy(logits)) - expected).abs().max()))
    return worst


def write_checked_onnx(path: str | os.PathLike, net: SentimentNet, sequences: list, tolerance: float = TOLERANCE) -> float:
    """Export `net` to `path` if ONNX Runtime agrees with it on `sequences` within `tolerance`;
    the largest difference seen. Written beside `path` and renamed: never a half or unchecked file."""
    if not sequences:
        raise ValueError("write_checked_onnx needs token-id sequences to check the export on")
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        export_onnx(net, partial)
        worst = max_difference(partial, net, sequences)
        if not worst <= tolerance:  # also refuses NaN
            raise OnnxMismatch(
                f"{path.name}: ONNX Runtime and PyTorch differ by {worst:.3g} on {len(sequences)} checked inputs "
                f"(tolerance {tolerance:g}); not written"
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return worst


def onnx_probabilities(path: str | os.PathLike, sequences: list) -> np.ndarray:
    """(len(sequences), classes) from an ONNX file, in batches of CHECK_BATCH in the given order."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = []
    for i in range(0, len(sequences), CHECK_BATCH):
        (logits,) = session.run([ONNX_OUTPUT], dict(zip(ONNX_INPUTS, pad_ids(sequences[i : i + CHECK_BATCH]))))
        rows.append(probabilities_from_logits(logits))
    return np.concatenate(rows)


def write_int8_onnx(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, sequences: list,
                    op_types: Sequence[str] = INT8_OP_TYPES, per_channel: bool = False,
                    min_agreement: float = INT8_MIN_AGREEMENT) -> dict:
    """Quantize `fp32_path` into `int8_path` if it keeps at least `min_agreement` of the labels on `sequences`;
    returns the check: label agreement and the largest probability difference. Never a half or unchecked file."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not sequences:
        raise ValueError("write_int8_onnx needs token-id sequences to check the quantized network on")
    int8_path = Path(int8_path)
    partial = int8_path.with_name(f".{int8_path.name}.{os.getpid()}.tmp")
    try:
        quantize_dynamic(str(fp32_path), str(partial), weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=list(op_types))
        full, quantized = onnx_probabilities(fp32_path, sequences), onnx_probabilities(partial, sequences)
        check = {
            "label_agreement": float((full.argmax(axis=1) == quantized.argmax(axis=1)).mean()),
            "max_probability_difference": float(np.abs(full - quantized).max()),
            "checked_on": len(sequences), "op_types": list(op_types), "per_channel": per_channel,
        }
        if not check["label_agreement"] >= min_agreement:
            raise OnnxMismatch(f"{int8_path.name}: int8 keeps {check['label_agreement']:.2%} of the float32 labels on "
                               f"{len(sequences)} checked inputs (at least {min_agreement:.0%} needed); not written")
        os.replace(partial, int8_path)
    finally:
        partial.unlink(missing_ok=True)
    return check


def random_sequences(vocab_size: int, max_length: int, n: int = 256, seed: int = 0) -> list[list[int]]:
    """Token-id sequences of random lengths 1..max_length: check inputs when no texts are at hand."""
    rng = random.Random(seed)
    return [[rng.randrange(1, vocab_size) for _ in range(rng.randint(1, max_length))] for _ in range(n)]


def check_sequences_for(directory: str | Path, reviews: Path | None, limit: int = CHECK_REVIEWS) -> tuple[list, str]:
    """Token ids to check an export's ONNX files on: `limit` reviews of the parquet file `reviews` (a seeded
    sample) through the export's own tokenizer, or random token ids when `reviews` is None."""
    from data.review_samples import sample_reviews
    from model.export import load_encoder

    encoder, _ = load_encoder(directory)
    if reviews is not None:
        return encoder.encode_ids(sample_reviews(reviews, limit)), f"{limit} reviews of {reviews}"
    sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length)
    return sequences, f"{len(sequences)} random token-id sequences"


def write_for_export(directory: str | Path, reviews: Path | None, limit: int = CHECK_REVIEWS,
                     int8_only: bool = False) -> str:
    """network.onnx (unless int8_only) and network.int8.onnx for an export folder from its network.pt, each
    checked; what the checks found, as a line to print."""
    directory = Path(directory)
    sequences, checked_on = check_sequences_for(directory, reviews, limit)
    lines = []
    if not int8_only:
        net, _, _ = load_export(directory)
        worst = write_checked_onnx(directory / ONNX_FILE, net, sequences)
        lines.append(f"{directory / ONNX_FILE}: max |P_onnx - P_torch| = {worst:.2e}")
    int8 = write_int8_onnx(directory / ONNX_FILE, directory / ONNX_INT8_FILE, sequences)
    lines.append(f"{directory / ONNX_INT8_FILE}: {int8['label_agreement']:.2%} of the float32 labels kept, "
                 f"max |P_int8 - P_float32| = {int8['max_probability_difference']:.2e}")
    return "\n".join(lines) + f"\n(checked on {checked_on})"


def _atomic(path: Path, write) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(partial)
    os.replace(partial, path)
