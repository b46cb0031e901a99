"""Write a review file of any size from IMDB's labelled rows, to try own-data training and bulk prediction.

    python scripts/make_review_file.py --rows 5000 --out reviews.csv
    python scripts/make_review_file.py --rows 1000000 --out reviews-1m.csv [--imdb ../shared/imdb]

Columns `review` and `sentiment` (the strings negative / positive), as in the widely shared
"IMDB Dataset.csv". Rows are IMDB's 50,000 labelled reviews (train and test) in a seeded
shuffle, repeated when more are asked for. Written 10,000 rows at a time, so memory stays flat;
.csv, .jsonl or .parquet by extension. Never commit the result: it is data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMDB = ROOT.parent / "shared" / "imdb"
SENTIMENTS = pa.array(["negative", "positive"])  # IMDB's label 0 / 1
BATCH_ROWS = 10_000


def imdb_rows(imdb: Path) -> pa.Table:
    files = [imdb / "plain_text" / f"{split}-00000-of-00001.parquet" for split in ("train", "test")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"make_review_file.py: error: IMDB parquet files not found: {missing}")
    table = pa.concat_tables([pq.read_table(f, columns=["text", "label"]) for f in files])
    return pa.table({"review": table["text"], "sentiment": SENTIMENTS.take(table["label"])})


def write_review_file(out: Path, rows: int, imdb: Path = DEFAULT_IMDB, seed: int = 0) -> Path:
    source = imdb_rows(imdb)
    order = np.random.default_rng(seed).permutation(len(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    writer = _writer(partial, out.suffix.lower(), source.schema)
    try:
        for start in range(0, rows, BATCH_ROWS):
            positions = order[np.arange(start, min(start + BATCH_ROWS, rows)) % len(order)]
            writer.write(source.take(positions))
    finally:
        writer.close()
    partial.replace(out)
    return out


class _JsonLines:
    def __init__(self, path: Path) -> None:
        self.file = open(path, "w", encoding="utf-8")

    def write(self, table: pa.Table) -> None:
        self.file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_pylist())

    def close(self) -> None:
        self.file.close()


def _writer(path: Path, suffix: str, schema: pa.Schema):
    if suffix == ".csv":
        return pa_csv.CSVWriter(str(path), schema)
    if suffix == ".parquet":
        return pq.ParquetWriter(str(path), schema)
    if suffix == ".jsonl":
        return _JsonLines(path)
    raise SystemExit(f"make_review_file.py: error: --out must end in .csv, .jsonl or .parquet, got {path.name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--imdb", type=Path, default=DEFAULT_IMDB, help="IMDB in the Hub layout")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_review_file(args.out, args.rows, args.imdb, args.seed))


if __name__ == "__main__":
    main()
