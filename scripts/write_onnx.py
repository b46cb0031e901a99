"""Write network.onnx into an export folder from its network.pt, checked against PyTorch.

For export folders made before network.onnx existed (`make archive` calls it when the file is missing):

    python scripts/write_onnx.py model_store/artifacts                # checked on 1,000 IMDB test reviews
    python scripts/write_onnx.py DIR --reviews none                   # checked on random token ids instead
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data.review_samples import sample_reviews
from model.export import ONNX_FILE, load_export
from model.export_writer import CHECK_REVIEWS, random_sequences, write_checked_onnx
from paths import IMDB_TEST_PARQUET


def write_for_export(directory: str | Path, reviews: Path | None, limit: int = CHECK_REVIEWS) -> tuple[Path, float, str]:
    """network.onnx for an export folder from its network.pt, checked on `limit` reviews of the
    parquet file `reviews` (seeded sample), or on random token ids when `reviews` is None."""
    net, encoder, _ = load_export(directory)
    if reviews is not None:
        sequences, checked_on = encoder.encode_ids(sample_reviews(reviews, limit)), f"{limit} reviews of {reviews}"
    else:
        sequences = random_sequences(encoder.tokenizer.get_vocab_size(), encoder.max_length)
        checked_on = f"{len(sequences)} random token-id sequences"
    path = Path(directory) / ONNX_FILE
    return path, write_checked_onnx(path, net, sequences), checked_on


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="an export folder (network.pt, tokenizer.json, model_config.json)")
    parser.add_argument("--reviews", default=str(IMDB_TEST_PARQUET), help="parquet file with a text column, or 'none' for random ids")
    parser.add_argument("--limit", type=int, default=CHECK_REVIEWS)
    args = parser.parse_args(argv)
    reviews = None if args.reviews == "none" else Path(args.reviews)
    path, worst, checked_on = write_for_export(args.directory, reviews, args.limit)
    print(f"{path}: max |P_onnx - P_torch| = {worst:.2e} on {checked_on}")


if __name__ == "__main__":
    main()
