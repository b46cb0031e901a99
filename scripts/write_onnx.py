"""Write network.onnx into an export folder from its network.pt, checked against PyTorch.

For export folders made before network.onnx existed (`make archive` calls it when the file is missing):

    python scripts/write_onnx.py model_store/artifacts                # checked on 1,000 IMDB test reviews
    python scripts/write_onnx.py DIR --reviews none                   # checked on random token ids instead
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model.export_writer import CHECK_REVIEWS, write_for_export
from paths import IMDB_TEST_PARQUET


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
