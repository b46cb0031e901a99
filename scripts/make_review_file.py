"""Write a review file of any size from IMDB's labelled rows, to try own-data training and bulk prediction.

    python scripts/make_review_file.py --rows 5000 --out reviews.csv
    python scripts/make_review_file.py --rows 1000000 --out reviews-1m.csv [--imdb PATH]   # default: paths.DEFAULT_DATASET

Columns `review` and `sentiment` (the strings negative / positive), as in the widely shared
"IMDB Dataset.csv". Rows are IMDB's 50,000 labelled reviews (train and test) in a seeded
shuffle, repeated when more are asked for (data/review_samples.py writes them, 10,000 rows at a
time, so memory stays flat); .csv, .jsonl or .parquet by extension. Never commit the result: it is data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data.review_samples import write_review_file
from paths import DEFAULT_DATASET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--imdb", type=Path, default=DEFAULT_DATASET, help="IMDB in the Hub layout (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.suffix.lower() not in (".csv", ".jsonl", ".parquet"):
        raise SystemExit(f"make_review_file.py: error: --out must end in .csv, .jsonl or .parquet, got {args.out.name!r}")
    try:
        print(write_review_file(args.out, args.rows, args.imdb, args.seed))
    except FileNotFoundError as error:
        raise SystemExit(f"make_review_file.py: error: {error}") from None


if __name__ == "__main__":
    main()
