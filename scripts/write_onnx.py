"""Write network.onnx and network.int8.onnx into an export folder from its network.pt, each checked.

For export folders made before these files existed (`make archive` calls it when one is missing):

    python scripts/write_onnx.py model_store/artifacts                # checked on 1,000 IMDB test reviews
    python scripts/write_onnx.py DIR --reviews none                   # checked on random token ids instead
    python scripts/write_onnx.py DIR --int8-only                      # keep network.onnx, (re)write the int8 file

network.onnx must equal PyTorch within 1e-5 on the check inputs; network.int8.onnx must keep 99% of
network.onnx's labels there. Either is written only if its check passes.
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
    parser.add_argument("--int8-only", action="store_true", help="write only network.int8.onnx from network.onnx")
    args = parser.parse_args(argv)
    reviews = None if args.reviews == "none" else Path(args.reviews)
    print(write_for_export(args.directory, reviews, args.limit, int8_only=args.int8_only))


if __name__ == "__main__":
    main()
