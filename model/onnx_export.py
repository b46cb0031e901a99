"""network.onnx: the served network for ONNX Runtime, exported from PyTorch and checked against it when written.

    python -m model.onnx_export model_store/artifacts                 # checked on 1,000 IMDB test reviews
    python -m model.onnx_export DIR --reviews none                    # checked on random token ids instead

    from model.onnx_export import write_checked_onnx
    write_checked_onnx(path, net, sequences)   # raises OnnxMismatch, and writes nothing, when ORT and PyTorch differ

Graph: inputs input_ids (batch, time) int64, right-padded with [PAD], and lengths (batch,) int64;
output logits, (batch,) for the sigmoid head. Both axes are dynamic, and padding is exact as in
SentimentNet (the backward RNNs read each review reversed within its own length; pooling masks
the padding), so a review scores the same alone or among longer ones.

Why the TorchScript-based exporter (dynamo=False): like the torch.export-based one it maps
nn.GRU/nn.LSTM onto ONNX's GRU/LSTM operators, and both gave the same logits on a sample here;
it exported in 2 s instead of 73 s and needs only `onnx`, not onnxscript.
"""

from __future__ import annotations

import argparse
import os
import random
import warnings
from pathlib import Path

import torch

from data.text_encoding import pad_batch
from model.network import SentimentNet, class_probabilities

ONNX_FILE = "network.onnx"
INPUTS, OUTPUT = ("input_ids", "lengths"), "logits"
OPSET = 17
TOLERANCE = 1e-5  # on class probabilities, the served scores
CHECK_BATCH = 16  # rows per checked batch: mixed lengths, so padding is part of the check
CHECK_REVIEWS = 1000


class OnnxMismatch(ValueError):
    """ONNX Runtime and PyTorch disagree on the same inputs beyond TOLERANCE."""


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
            net, example, str(path), input_names=list(INPUTS), output_names=[OUTPUT], opset_version=OPSET,
            dynamic_axes={"input_ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, OUTPUT: {0: "batch"}},
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
        (logits,) = session.run([OUTPUT], {"input_ids": input_ids.numpy(), "lengths": lengths.numpy()})
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


def random_sequences(vocab_size: int, max_length: int, n: int = 256, seed: int = 0) -> list[list[int]]:
    """Token-id sequences of random lengths 1..max_length: check inputs when no texts are at hand."""
    rng = random.Random(seed)
    return [[rng.randrange(1, vocab_size) for _ in range(rng.randint(1, max_length))] for _ in range(n)]


def write_for_export(directory: str | os.PathLike, reviews: Path | None, limit: int = CHECK_REVIEWS) -> tuple[Path, float, str]:
    """network.onnx for an export folder from its network.pt, checked on `limit` reviews of the
    parquet file `reviews` (seeded sample), or on random token ids when `reviews` is None."""
    from data.review_samples import sample_reviews
    from model.export import load_export

    net, encoder, _ = load_export(directory)
    if reviews is not None:
        sequences, checked_on = encoder.encode_ids(sample_reviews(reviews, limit)), f"{limit} reviews of {reviews}"
    else:
        sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length)
        checked_on = f"{len(sequences)} random token-id sequences"
    path = Path(directory) / ONNX_FILE
    return path, write_checked_onnx(path, net, sequences), checked_on


def main(argv: list[str] | None = None) -> None:
    from data.review_samples import IMDB_TEST

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="an export folder (network.pt, tokenizer.json, model_config.json)")
    parser.add_argument("--reviews", default=str(IMDB_TEST), help="parquet file with a text column, or 'none' for random ids")
    parser.add_argument("--limit", type=int, default=CHECK_REVIEWS)
    args = parser.parse_args(argv)
    reviews = None if args.reviews == "none" else Path(args.reviews)
    path, worst, checked_on = write_for_export(args.directory, reviews, args.limit)
    print(f"{path}: max |P_onnx - P_torch| = {worst:.2e} on {checked_on}")


if __name__ == "__main__":
    main()
