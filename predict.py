"""Score a whole file of reviews with an export: every input column kept, plus label and score.

    python predict.py --input reviews.csv --output scored.csv
    python predict.py --export runs/imdb/version_0/export --input reviews.parquet --output scored.jsonl --text-column review
    python predict.py --input reviews.txt --output scored.jsonl          # plain text: one review per line
    python predict.py --input export.csv --output scored.csv --encoding cp1252 --delimiter ';'

Input: .csv or .tsv (pandas' parser, as `datasets`' CSV loader that train.py uses), .jsonl/.json
(JSON Lines), .parquet, or .txt (one review per line; its column is `text`). CSV, TSV and text
are read as UTF-8, with or without a byte-order mark, unless --encoding names another; a file that
does not decode is refused with the encoding it looks like and the flag that reads it. A .tsv is
tab-separated, a .csv comma-separated unless --delimiter says otherwise or its header reads as one
column holding ';', a tab or '|', which is then sniffed (data/delimited_files.py, shared with
train.py). A file with columns and no rows (a header alone) gives an output of the same: its
columns and the added ones.

Output: .csv or .jsonl, UTF-8, by extension, rows in input order. Added columns are the answers
the server gives (serving/answers.py): `label` and `score` (P(second label) for two classes, else
P(label)), and for more than two classes `scores` ({name: probability}; a JSON string in a CSV
cell). `--prefix pred_` names them pred_label, ... when the input has such columns.

Scoring goes through the handler's door, serving.runtime.Predictor, with the handler's settings
(config/model-config.yaml: runtime, threads, sub-batches, threshold), so a file is scored exactly
as the server would answer each review. Rows are read, scored and written --chunk-rows at a time,
so memory stays flat however long the file. The output is written beside its final name and
renamed at the end: a failed run leaves nothing. Bad input is one line `predict.py: error: ...`
and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from data.delimited_files import (
    check_delimiter, check_encoding, decoding_error, delimiter_hint, delimiter_of, header_hint, text_codec,
)
from data.text_encoding import ConfigError
from paths import SHIPPED_EXPORT
from serving.answers import answers
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml

READ = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt")
DELIMITED = (".csv", ".tsv")
WRITTEN = (".csv", ".jsonl")
ROWS_NAMED = 10


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    partial = None
    try:
        check_paths(args)
        check_read_options(args)
        settings = HandlerSettings.from_model_yaml(load_model_yaml())
        if args.threads:
            settings = dataclasses.replace(settings, intra_op_threads=args.threads)
        try:
            predictor = Predictor(args.export, settings)
        except ValueError as error:
            raise ConfigError(f"--export: {error}") from None
        partial = args.output.with_name(f".{args.output.name}.{os.getpid()}.partial")
        summary = predict_file(args, predictor, partial)
        os.replace(partial, args.output)
        partial = None
        print(f"predict.py: {summary}; written to {args.output}", file=sys.stderr)
        return 0
    except ConfigError as error:
        print(f"predict.py: error: {error}", file=sys.stderr)
        return 2
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=SHIPPED_EXPORT, help="export folder (default model_store/artifacts)")
    parser.add_argument("--input", type=Path, required=True, help=".csv, .tsv, .jsonl/.json, .parquet or .txt")
    parser.add_argument("--output", type=Path, required=True, help=".csv or .jsonl")
    parser.add_argument("--text-column", default="text", help="the column holding the review text (default text)")
    parser.add_argument("--encoding", help="of a .csv, .tsv or .txt input, e.g. cp1252 or latin-1 (default UTF-8, with or without BOM)")
    parser.add_argument("--delimiter", help="of a .csv or .tsv input: one character, \\t for a tab (default , or a tab for .tsv)")
    parser.add_argument("--prefix", default="", help="prefix of the added columns, e.g. pred_")
    parser.add_argument(
        "--empty-texts", choices=("refuse", "skip"), default="refuse",
        help="rows with an empty or null text: refuse (stop, naming them) or skip (written without a prediction)",
    )
    parser.add_argument("--chunk-rows", type=int, default=4096, help="rows read, scored and written at a time")
    parser.add_argument("--threads", type=int, help="threads per operator (default: the handler's intra_op_threads)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.chunk_rows <= 0 or (args.threads is not None and args.threads <= 0):
        parser.error("--chunk-rows and --threads must be positive")
    return args


def check_paths(args: argparse.Namespace) -> None:
    if not args.input.is_file():
        raise ConfigError(f"--input: no such file: {str(args.input)!r}")
    if args.input.suffix.lower() not in READ:
        raise ConfigError(f"--input: cannot read {args.input.suffix or 'extension-less'} files; use one of {sorted(READ)}")
    if args.output.suffix.lower() not in WRITTEN:
        raise ConfigError(f"--output: writes {list(WRITTEN)} files, by extension; got {str(args.output)!r}")
    if args.output.resolve() == args.input.resolve():
        raise ConfigError("--output must not be the input file")
    if not args.output.parent.is_dir():
        raise ConfigError(f"--output: no such folder: {str(args.output.parent)!r}")
    if not args.export.is_dir():
        raise ConfigError(f"--export: no such folder: {str(args.export)!r}")


def check_read_options(args: argparse.Namespace) -> None:
    """--encoding and --delimiter: known, and meaningful for the input's format."""
    args.encoding = check_encoding(args.encoding, "--encoding")
    args.delimiter = check_delimiter(args.delimiter, "--delimiter")
    suffix = args.input.suffix.lower()
    if args.encoding and suffix not in (*DELIMITED, ".txt"):
        raise ConfigError(f"--encoding applies to .csv, .tsv and .txt inputs; {suffix} files are read as their format defines")
    if args.delimiter and suffix not in DELIMITED:
        raise ConfigError(f"--delimiter applies to .csv and .tsv inputs, not {suffix}")


# -- reading ------------------------------------------------------------------------------------


def read_chunks(path: Path, chunk_rows: int, encoding: str | None = None, sep: str = ",") -> Iterator[dict[str, list]]:
    """Column -> values, at most chunk_rows rows at a time; the file is closed however the caller stops.
    A file with columns and no rows yields one empty chunk, so its columns are known."""
    try:
        for batch in _record_batches(path, chunk_rows, encoding, sep):
            for start in range(0, max(batch.num_rows, 1), chunk_rows):
                yield batch.slice(start, chunk_rows).to_pydict()
    except UnicodeDecodeError:
        raise decoding_error(path, encoding, "--input", "--") from None
    except (OSError, ValueError) as error:  # pandas and pyarrow parser errors are ValueErrors
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = header_hint(path, encoding, sep, "--") if path.suffix.lower() in DELIMITED else ""
        raise ConfigError(f"--input: cannot read {str(path)!r}: {message}{hint}") from None


def _record_batches(path: Path, chunk_rows: int, encoding: str | None, sep: str) -> Iterator:
    import pyarrow as pa

    suffix = path.suffix.lower()
    if suffix in DELIMITED:
        import pandas as pd

        # pandas' parser, as datasets' CSV loader that train.py reads files with; Arrow turns NaN into null.
        # A header alone is one empty frame; only a file with no header at all yields none.
        with pd.read_csv(path, chunksize=chunk_rows, sep=sep, encoding=encoding or "utf-8") as frames:
            for frame in frames:
                yield pa.RecordBatch.from_pandas(frame, preserve_index=False)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            if not parquet.metadata.num_rows:  # its schema is its header
                yield pa.RecordBatch.from_pylist([], schema=parquet.schema_arrow)
            yield from parquet.iter_batches(batch_size=chunk_rows)
    elif suffix in (".jsonl", ".json"):
        import pyarrow.json as pa_json

        reader = pa_json.open_json(path)  # one JSON object per line, read a block at a time
        try:
            yield from reader
        finally:
            reader.close()
    else:  # plain text: one review per line, line endings removed
        with open(path, encoding=text_codec(encoding)) as lines:
            while chunk := [line.rstrip("\r\n") for _, line in zip(range(chunk_rows), lines)]:
                yield pa.RecordBatch.from_pydict({"text": chunk})


def total_rows(path: Path) -> int | None:
    """Rows in the file when that is cheap to know (Parquet's footer), for the progress bar."""
    if path.suffix.lower() != ".parquet":
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def blank(text) -> bool:
    return not isinstance(text, str) or not text.strip()


# -- writing ------------------------------------------------------------------------------------


class Output:
    """CSV or JSON Lines, by extension; None and NaN are written as empty / null."""

    def __init__(self, path: Path, final_suffix: str) -> None:
        self.file = open(path, "w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.file) if final_suffix == ".csv" else None
        self.columns: list[str] | None = None

    def write(self, columns: list[str], rows: Iterator[list]) -> None:
        if self.csv is not None:
            if self.columns is None:
                self.csv.writerow(columns)
            self.csv.writerows([_csv_cell(v) for v in row] for row in rows)
        else:
            for row in rows:
                self.file.write(json.dumps(dict(zip(columns, map(_json_value, row))), ensure_ascii=False, default=str) + "\n")
        self.columns = columns

    def close(self) -> None:
        self.file.close()


def _csv_cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


# -- the whole file -----------------------------------------------------------------------------


def predict_file(args: argparse.Namespace, predictor: Predictor, partial: Path) -> str:
    from tqdm import tqdm

    labels = predictor.labels
    added = [f"{args.prefix}{name}" for name in (["label", "score"] if len(labels) == 2 else ["label", "score", "scores"])]
    sep = _delimiter(args)
    output = Output(partial, args.output.suffix.lower())
    progress = tqdm(total=total_rows(args.input), unit=" rows", disable=True if args.no_progress else None, file=sys.stderr)
    rows_done, skipped, blanks, columns = 0, [], [], None
    chunks = read_chunks(args.input, args.chunk_rows, args.encoding, sep)
    try:
        for chunk in chunks:
            if columns is None:
                _check_columns(list(chunk), args.text_column, added, args.input)
            columns = list(chunk)
            texts = chunk[args.text_column]
            empty = [i for i, text in enumerate(texts) if blank(text)]
            if empty and args.empty_texts == "refuse":
                blanks += [rows_done + i for i in empty]  # keep reading, to name them all
            if not blanks:
                good = sorted(set(range(len(texts))) - set(empty))
                predicted = [None] * len(texts)
                if good:
                    probabilities = predictor.predict_proba([texts[i] for i in good])
                    for i, answer in zip(good, answers(probabilities, labels, predictor.settings.threshold)):
                        predicted[i] = answer
                skipped += [rows_done + i for i in empty]
                output.write(columns + added, (
                    [chunk[c][i] for c in columns] + _answer_cells(predicted[i], len(added)) for i in range(len(texts))
                ))
            rows_done += len(texts)
            progress.update(len(texts))
    finally:
        chunks.close()  # an early stop closes the input file too
        progress.close()
        output.close()
    if columns is None:  # not even a header: an empty JSON Lines or text file
        raise ConfigError(f"--input: {str(args.input)!r} has no rows")
    if blanks:
        raise ConfigError(
            f"--input: {len(blanks)} row(s) have an empty or null {args.text_column!r} ({_rows(blanks)}); "
            "fix them, or pass --empty-texts skip to write them without a prediction"
        )
    if rows_done == 0:
        return "0 rows scored (the input has its columns and no rows)"
    if skipped:
        return f"{rows_done - len(skipped):,} of {rows_done:,} rows scored; {len(skipped)} with an empty text left unscored ({_rows(skipped)})"
    return f"{rows_done:,} rows scored"


def _delimiter(args: argparse.Namespace) -> str:
    """--delimiter, a tab for .tsv, else ',' or what the header shows (sniffed, with a note)."""
    if args.input.suffix.lower() not in DELIMITED:
        return ","
    sep, sniffed = delimiter_of(args.input, args.encoding, args.delimiter, "--input", "--")
    if sniffed:
        print(f"predict.py: {str(args.input)!r} is {sep!r}-separated (sniffed from its header; --delimiter {sep!r} says so)",
              file=sys.stderr)
    return sep


def _check_columns(columns: list[str], text_column: str, added: list[str], path: Path) -> None:
    if text_column not in columns:
        raise ConfigError(
            f"--text-column {text_column!r} is not a column of {str(path)!r}; its columns are {columns}"
            f"{delimiter_hint(columns, '--')}"
        )
    clash = [name for name in added if name in columns]
    if clash:
        raise ConfigError(
            f"the input already has column(s) {clash}; pass --prefix (e.g. --prefix pred_) to name the added columns apart"
        )


def _answer_cells(answer: dict | None, width: int) -> list:
    if answer is None:
        return [None] * width
    return [answer.get(key) for key in ("label", "score", "scores")][:width]


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:ROWS_NAMED])
    more = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
    return f"rows {shown}{more}; 0-based, header not counted"


if __name__ == "__main__":
    sys.exit(main())
