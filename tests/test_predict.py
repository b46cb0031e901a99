"""predict.py: file round trips in every format, chunking, answers as the handler gives them, bad input.

    .venv/bin/python -m pytest tests/test_predict.py

Untrained exports (tests/own_data_files.make_random_export) suffice: what is checked is that
every row comes back in order with its own columns and the handler's answer for its text.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from predict import main as predict_main
from serving.runtime import INT8_BATCH_TOLERANCE
from tests.conftest import ROOT
from tests.own_data_files import CLASSES_3, cue_rows, make_random_export, serve, write_csv, write_jsonl, write_parquet

NAMES_3 = ["bad", "so-so", "good"]


@pytest.fixture(scope="module")
def binary_export(tmp_path_factory) -> Path:
    return make_random_export(tmp_path_factory.mktemp("binary"), ["negative", "positive"])


@pytest.fixture(scope="module")
def three_class_export(tmp_path_factory) -> Path:
    return make_random_export(tmp_path_factory.mktemp("three"), NAMES_3, seed=1)


def handler_answers(export: Path, texts: list[str]) -> list[dict]:
    """handler.py in TorchServe's worker code, 64 texts a request (its cap)."""
    chunks = [texts[start : start + 64] for start in range(0, len(texts), 64)]
    return [answer for batch in serve(export, [{"texts": chunk} for chunk in chunks]) for answer in batch]


def read_output(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def predict(export: Path, source: Path, output: Path, *extra: str) -> int:
    return predict_main(["--export", str(export), "--input", str(source), "--output", str(output),
                         "--chunk-rows", "7", "--no-progress", *extra])


def rows_with_ids(n: int, seed: int = 0) -> list[dict]:
    return [{"id": i, "text": r["text"], "note": f"n{i}"} for i, r in enumerate(cue_rows(n, CLASSES_3, seed))]


@pytest.mark.parametrize("source_format, output_format", [("csv", "csv"), ("jsonl", "jsonl"), ("parquet", "csv")])
def test_round_trip_keeps_columns_order_and_answers(binary_export, tmp_path, source_format, output_format):
    rows = rows_with_ids(40)
    writers = {"csv": lambda p: write_csv_rows(p, rows), "jsonl": lambda p: write_jsonl(p, rows),
               "parquet": lambda p: write_parquet(p, rows)}
    source = writers[source_format](tmp_path / f"in.{source_format}")
    output = tmp_path / f"out.{output_format}"
    assert predict(binary_export, source, output) == 0
    scored = read_output(output)
    assert list(scored[0]) == ["id", "text", "note", "label", "score"]
    assert [str(r["id"]) for r in scored] == [str(r["id"]) for r in rows]
    assert [r["text"] for r in scored] == [r["text"] for r in rows] and scored[5]["note"] == "n5"
    expected = handler_answers(binary_export, [r["text"] for r in rows])
    assert [r["label"] for r in scored] == [a["label"] for a in expected]
    # The archive's int8 network, in chunks of 7 here and of 64 in the handler: INT8_BATCH_TOLERANCE apart at most.
    assert [float(r["score"]) for r in scored] == pytest.approx([a["score"] for a in expected], abs=INT8_BATCH_TOLERANCE)


def write_csv_rows(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_three_classes_add_scores_by_name(three_class_export, tmp_path):
    rows = rows_with_ids(30, seed=3)
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    for output in (tmp_path / "out.jsonl", tmp_path / "out.csv"):
        assert predict(three_class_export, source, output) == 0
        scored = read_output(output)
        expected = handler_answers(three_class_export, [r["text"] for r in rows])
        for row, answer in zip(scored, expected):
            scores = row["scores"] if isinstance(row["scores"], dict) else json.loads(row["scores"])
            assert list(scores) == NAMES_3 and sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
            assert scores == pytest.approx(answer["scores"], abs=1e-6)
            assert row["label"] == answer["label"] and float(row["score"]) == pytest.approx(scores[row["label"]])


def test_plain_text_is_one_review_per_line(binary_export, tmp_path):
    texts = [r["text"] for r in cue_rows(12, CLASSES_3)]
    source = tmp_path / "reviews.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert predict(binary_export, source, tmp_path / "out.jsonl") == 0
    scored = read_output(tmp_path / "out.jsonl")
    assert [r["text"] for r in scored] == texts and set(scored[0]) == {"text", "label", "score"}


def test_empty_texts_are_refused_by_row_across_chunks_and_nothing_is_written(binary_export, tmp_path, capsys):
    rows = rows_with_ids(30)
    for i in (2, 16, 29):  # in the first, third and last chunk of 7
        rows[i]["text"] = "  " if i != 16 else ""
    source = write_csv_rows(tmp_path / "in.csv", rows)
    assert predict(binary_export, source, tmp_path / "out.csv") == 2
    err = capsys.readouterr().err
    assert "predict.py: error: --input: 3 row(s) have an empty or null 'text' (rows 2, 16, 29;" in err
    assert "--empty-texts skip" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_empty_texts_skipped_on_request_keep_their_row(binary_export, tmp_path):
    rows = rows_with_ids(10)
    rows[4]["text"] = ""
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    assert predict(binary_export, source, tmp_path / "out.jsonl", "--empty-texts", "skip") == 0
    scored = read_output(tmp_path / "out.jsonl")
    assert len(scored) == 10 and scored[4]["label"] is None and scored[4]["score"] is None
    assert all(r["label"] for i, r in enumerate(scored) if i != 4)


def test_existing_prediction_columns_need_a_prefix(binary_export, tmp_path, capsys):
    labelled = write_csv(tmp_path / "labelled.csv", cue_rows(10, ["negative", "positive"]))
    assert predict(binary_export, labelled, tmp_path / "out.csv") == 2
    assert "already has column(s) ['label']; pass --prefix" in capsys.readouterr().err
    assert predict(binary_export, labelled, tmp_path / "out.csv", "--prefix", "pred_") == 0
    assert list(read_output(tmp_path / "out.csv")[0]) == ["text", "label", "pred_label", "pred_score"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing input", "--input: no such file"),
        ("unknown input extension", "--input: cannot read .xlsx files"),
        ("unknown output extension", "--output: writes ['.csv', '.jsonl'] files"),
        ("missing text column", "--text-column 'text' is not a column of"),
        ("missing export", "--export: no such folder"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(binary_export, tmp_path, capsys, case, message):
    source = write_jsonl(tmp_path / "in.jsonl", [{"review": "fine film"}] if case == "missing text column" else rows_with_ids(3))
    args = {"export": binary_export, "input": source, "output": tmp_path / "out.csv"}
    if case == "missing input":
        args["input"] = tmp_path / "absent.csv"
    elif case == "unknown input extension":
        args["input"] = tmp_path / "in.xlsx"
        args["input"].write_text("x")
    elif case == "unknown output extension":
        args["output"] = tmp_path / "out.xlsx"
    elif case == "missing export":
        args["export"] = tmp_path / "no-export"
    before = sorted(p.name for p in tmp_path.iterdir())
    assert predict(args["export"], args["input"], args["output"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("predict.py: error: ")] == [err.strip()]
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_command_line_exit_status_and_stderr(binary_export, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"review": "fine film"}])
    result = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), "--export", str(binary_export), "--input", str(source),
         "--output", str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("predict.py: error: --text-column 'text' is not a column")
    assert not (tmp_path / "out.csv").exists()
