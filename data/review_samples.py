"""Real reviews for export checks and benchmarks: a seeded sample of a parquet file's text column.

    from data.review_samples import IMDB_TEST, sample_reviews
    texts = sample_reviews(IMDB_TEST, 1000)          # the same 1,000 test reviews on every call

IMDB_TEST is the offline copy of the test split beside the repository (../shared/imdb).
"""

from __future__ import annotations

import random
from pathlib import Path

IMDB_TEST = Path(__file__).resolve().parents[2] / "shared" / "imdb" / "plain_text" / "test-00000-of-00001.parquet"


def sample_reviews(path: str | Path, n: int, seed: int = 0) -> list[str]:
    """n texts drawn without replacement (all of them if the file has fewer), in a seeded order."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reviews file {path} (a parquet file with a text column)")
    texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return random.Random(seed).sample(texts, min(n, len(texts)))
