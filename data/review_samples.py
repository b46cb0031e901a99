"""Real reviews for export checks, benchmarks and own-data trials: samples, one typical review, review files of any size.

    from data.review_samples import REVIEW, real_reviews, sample_reviews, write_review_file
    texts = sample_reviews(path, 1000)            # the same 1,000 texts of a parquet file on every call
    texts = real_reviews(500)                     # the same for the IMDB test split (paths.IMDB_TEST_PARQUET)
    write_review_file(Path("reviews.csv"), 5000)  # IMDB's labelled rows as review / sentiment columns

The IMDB copy is the offline one beside the repository (paths.DEFAULT_DATASET).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from paths import DEFAULT_DATASET, IMDB_TEST_PARQUET

# A typical IMDB review: 233 words, 266 tokens with the committed tokenizer, near the test split's median length.
REVIEW = (
    "I went into this film with modest expectations, having heard mixed things from friends, and I came out "
    "pleasantly surprised. The story follows a retired schoolteacher who returns to the small coastal town where "
    "she grew up, hoping to sell her late brother's house and leave as quickly as possible. Of course, things do "
    "not go according to plan. The town is full of eccentric characters, old grudges and a few secrets that the "
    "script reveals at a patient, well judged pace. The lead performance is the heart of the movie: subtle, dry, "
    "often funny and occasionally heartbreaking without ever begging for tears. The supporting cast is uneven; the "
    "local mayor is played far too broadly, and a subplot about a missing fishing boat goes nowhere. The "
    "photography, on the other hand, is gorgeous, with grey skies and long shots of the harbour that say more "
    "about loneliness than any of the dialogue. The music is sparse and used well. At nearly two hours the film is "
    "perhaps twenty minutes too long, and the final act leans on a coincidence that I found hard to swallow. Still, "
    "these are small complaints about a warm, intelligent and beautifully acted drama that trusts its audience. It "
    "is the kind of quiet movie that rarely gets made any more, and I would happily watch it again. Recommended, "
    "especially if you enjoy character studies more than plot."
)
SENTIMENTS = ("negative", "positive")  # IMDB's label 0 / 1, as in the widely shared "IMDB Dataset.csv"
BATCH_ROWS = 10_000  # rows a review file is written in, so memory stays flat


def sample_reviews(path: str | Path, n: int, seed: int = 0) -> list[str]:
    """n texts drawn without replacement (all of them if the file has fewer), in a seeded order."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reviews file {path} (a parquet file with a text column)")
    texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return random.Random(seed).sample(texts, min(n, len(texts)))


def real_reviews(n: int, seed: int = 0) -> list[str]:
    """A seeded sample of the IMDB test split: real reviews of mixed length."""
    return sample_reviews(IMDB_TEST_PARQUET, n, seed)


def imdb_rows(imdb: Path):
    """IMDB's 50,000 labelled reviews (train and test) as an Arrow table with `review` and `sentiment` columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = [imdb / "plain_text" / f"{split}-00000-of-00001.parquet" for split in ("train", "test")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"IMDB parquet files not found: {missing}")
    table = pa.concat_tables([pq.read_table(f, columns=["text", "label"]) for f in files])
    return pa.table({"review": table["text"], "sentiment": pa.array(SENTIMENTS).take(table["label"])})


def write_review_file(out: Path, rows: int, imdb: Path = DEFAULT_DATASET, seed: int = 0) -> Path:
    """`rows` of IMDB's labelled reviews in a seeded shuffle, repeated when more are asked for; .csv, .jsonl or .parquet."""
    import numpy as np

    writer_class = _WRITERS.get(out.suffix.lower())
    if writer_class is None:
        raise ValueError(f"a review file must end in .csv, .jsonl or .parquet, got {out.name!r}")
    source = imdb_rows(imdb)
    order = np.random.default_rng(seed).permutation(len(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    writer = writer_class(partial, source.schema)
    try:
        for start in range(0, rows, BATCH_ROWS):
            positions = order[np.arange(start, min(start + BATCH_ROWS, rows)) % len(order)]
            writer.write(source.take(positions))
    finally:
        writer.close()
    partial.replace(out)
    return out


class _JsonLines:
    def __init__(self, path: Path, schema) -> None:
        self.file = open(path, "w", encoding="utf-8")

    def write(self, table) -> None:
        self.file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_pylist())

    def close(self) -> None:
        self.file.close()


def _csv_writer(path: Path, schema):
    import pyarrow.csv as pa_csv

    return pa_csv.CSVWriter(str(path), schema)


def _parquet_writer(path: Path, schema):
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), schema)


_WRITERS = {".csv": _csv_writer, ".jsonl": _JsonLines, ".parquet": _parquet_writer}
