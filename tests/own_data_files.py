"""Tiny review files for the own-data tests, written by the tests into their tmp folders. Not a test.

    rows = cue_rows(300, CLASSES_3)               # [{"text": ..., "label": "neutral"}, ...]
    write_csv(tmp_path / "reviews.csv", rows, text="review", label="sentiment")
    write_jsonl(tmp_path / "reviews.jsonl", rows)
    write_parquet(tmp_path / "folder" / "train.parquet", rows)
    export = make_random_export(tmp_path, ["bad", "meh", "good"])   # untrained, for plumbing tests
    serve(export, [{"texts": ["Great.", "Dull."]}])                # handler.py in-process

Each class has its own cue words among shared filler, so a small network learns them in seconds.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from tests.conftest import FILLER, NEGATIVE, POSITIVE

NEUTRAL = ["average", "okay", "mediocre", "middling", "fine", "passable", "ordinary", "decent"]
CUES = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}
CLASSES_2 = ["negative", "positive"]
CLASSES_3 = ["negative", "neutral", "positive"]


def cue_review(rng: random.Random, label: str) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(5, 40))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
    return " ".join(words).capitalize()


def cue_rows(n: int, classes: list[str], seed: int = 0) -> list[dict]:
    """n rows cycling through `classes` (balanced), with string labels."""
    rng = random.Random(seed)
    return [{"text": cue_review(rng, classes[i % len(classes)]), "label": classes[i % len(classes)]} for i in range(n)]


def renamed(rows: list[dict], text: str = "text", label: str = "label", **extra) -> list[dict]:
    return [{text: r["text"], label: r["label"], **{k: f(i) for k, f in extra.items()}} for i, r in enumerate(rows)]


def write_csv(path: Path, rows: list[dict], text: str = "text", label: str = "label") -> Path:
    rows = renamed(rows, text, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


BAD_CASES = (
    "missing file", "unknown extension", "missing text column", "missing label column", "empty texts",
    "null labels", "single class", "label unseen in training",
)


def bad_source(tmp_path: Path, case: str) -> dict:
    """Write one kind of bad data under tmp_path; returns the data arguments that read it."""
    rows = cue_rows(40, CLASSES_2)
    tmp_path.mkdir(parents=True, exist_ok=True)
    if case == "missing file":
        return {"dataset": str(tmp_path / "nowhere.csv")}
    if case == "unknown extension":
        (tmp_path / "reviews.xlsx").write_text("text,label\n")
        return {"dataset": str(tmp_path / "reviews.xlsx")}
    if case == "missing text column":
        return {"dataset": str(write_csv(tmp_path / "r.csv", rows, text="body"))}
    if case == "missing label column":
        return {"dataset": str(write_csv(tmp_path / "r.csv", rows)), "label_column": "stars"}
    if case == "empty texts":
        rows[5]["text"], rows[12]["text"] = "", " \t "
        return {"dataset": str(write_csv(tmp_path / "r.csv", rows))}
    if case == "null labels":
        rows[7]["label"] = None
        return {"dataset": str(write_jsonl(tmp_path / "r.jsonl", rows))}
    if case == "single class":
        return {"dataset": str(write_csv(tmp_path / "r.csv", [dict(r, label="positive") for r in rows]))}
    if case == "label unseen in training":
        write_csv(tmp_path / "f" / "train.csv", rows)
        return {"dataset": str(write_csv(tmp_path / "f" / "test.csv", cue_rows(9, CLASSES_3)).parent)}
    raise ValueError(f"unknown case {case!r}")


def serve(model_dir: Path, bodies: list, explain: bool = False, precision: str | None = None) -> list:
    """handler.py in TorchServe's worker code (serving/torchserve_service.py) on one batch of JSON bodies;
    the decoded answers. `precision` replaces the archive's (float32: answers comparable to PyTorch's)."""
    import json

    from serving.torchserve_service import Request, handler_service

    headers = {"explain": "True"} if explain else {}
    with handler_service(model_dir, {"handler": {"precision": precision}} if precision else None) as service:
        answers = service.predict([Request(json.dumps(body).encode(), "application/json", headers) for body in bodies])
    return [answer.json() for answer in answers]


def make_random_export(folder: Path, labels: list[str], seed: int = 0) -> Path:
    """An untrained export with len(labels) classes: a tokenizer of the cue words, random weights."""
    import torch

    from data.text_encoding import train_tokenizer
    from model.export_writer import save_export
    from model.network import SentimentNet, SentimentNetConfig

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer([r["text"] for r in cue_rows(300, CLASSES_3, seed)], vocab_size=100)
    tokenizer.save(str(folder / "source_tokenizer.json"))
    torch.manual_seed(seed)
    config = SentimentNetConfig(vocab_size=100, embedding_dim=8, gru_hidden=4, lstm_hidden=4, num_classes=len(labels))
    return save_export(folder / "export", SentimentNet(config), folder / "source_tokenizer.json",
                       {"max_length": 32, "truncation": "head+tail"}, labels=labels)
