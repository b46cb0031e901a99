"""train.py on your own files: string labels, three classes with their names end to end, bad data.

    .venv/bin/python -m pytest tests/test_own_data_training.py

A three-class JSON Lines set trains, exports its names, and is answered with those names by the
handler in-process and by predict.py; every bad-data case stops train.py with one line and exit 2.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from model.export import load_export
from predict import main as predict_main
from serving.runtime import INT8_BATCH_TOLERANCE
from tests.conftest import tiny_fit_args
from tests.own_data_files import BAD_CASES, CLASSES_2, CLASSES_3, bad_source, cue_rows, serve, write_csv, write_jsonl
from train import cli_main

CUE_TEXTS = {
    "negative": "the film was dull and awful, a boring waste",
    "neutral": "the film was average and okay, a middling story",
    "positive": "the film was brilliant and moving, a superb story",
}


def fit(dataset: Path, run_dir: Path, *extra: str) -> Path:
    cli = cli_main(tiny_fit_args(dataset, run_dir, *extra))
    return Path(cli.trainer.log_dir)


@pytest.fixture(scope="module")
def three_class_run(tmp_path_factory) -> Path:
    data = write_jsonl(tmp_path_factory.mktemp("three") / "reviews.jsonl", cue_rows(480, CLASSES_3))
    return fit(data, tmp_path_factory.mktemp("three_run"), "--trainer.max_epochs", "4")


def test_three_classes_train_well_above_chance(three_class_run):
    metrics = json.loads((three_class_run / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.8  # chance is 1/3; the cue words are easy to learn
    assert {"test/f1", "test/auroc", "test/loss"} <= set(metrics)


def test_three_class_export_holds_names_and_a_head_per_class(three_class_run):
    net, _, config = load_export(three_class_run / "export")
    assert config["labels"] == CLASSES_3
    assert config["network"]["num_classes"] == 3 and net.head.out_features == 3


def test_handler_answers_with_the_class_names(three_class_run):
    export = three_class_run / "export"
    (answers,) = serve(export, [{"texts": list(CUE_TEXTS.values())}], precision="float32")
    net, encoder, _ = load_export(export)
    with torch.no_grad():
        expected = torch.softmax(net(*encoder.batch(list(CUE_TEXTS.values()))), dim=-1)
    for answer, (name, _), probabilities in zip(answers, CUE_TEXTS.items(), expected):
        assert set(answer) == {"label", "score", "scores"}
        assert list(answer["scores"]) == CLASSES_3
        assert [answer["scores"][n] for n in CLASSES_3] == pytest.approx(probabilities.tolist(), abs=1e-6)
        assert answer["label"] == CLASSES_3[int(probabilities.argmax())] == name
        assert answer["score"] == answer["scores"][answer["label"]]


def test_explanations_use_the_class_names(three_class_run):
    (explained,) = serve(three_class_run / "export", [{"text": CUE_TEXTS["neutral"]}], explain=True)
    assert explained["label"] == "neutral" and set(explained["scores"]) == set(CLASSES_3)
    top = max(explained["tokens"], key=lambda t: t["attribution"])["token"]
    assert top in {"average", "okay", "middling"}  # attributed towards the chosen class


def test_predict_py_scores_a_file_with_the_class_names(three_class_run, tmp_path):
    rows = cue_rows(60, CLASSES_3, seed=5)
    source = write_jsonl(tmp_path / "new.jsonl", [{"id": i, "text": r["text"]} for i, r in enumerate(rows)])
    assert predict_main(["--export", str(three_class_run / "export"), "--input", str(source),
                         "--output", str(tmp_path / "scored.csv"), "--chunk-rows", "16", "--no-progress"]) == 0
    with open(tmp_path / "scored.csv", newline="") as f:
        scored = list(csv.DictReader(f))
    assert [int(r["id"]) for r in scored] == list(range(60))
    handler_answers = serve(three_class_run / "export", [{"texts": [r["text"] for r in rows]}])[0]
    for row, answer in zip(scored, handler_answers):  # int8, in other batches: INT8_BATCH_TOLERANCE apart at most
        assert row["label"] == answer["label"]
        assert float(row["score"]) == pytest.approx(answer["score"], abs=INT8_BATCH_TOLERANCE)
        assert json.loads(row["scores"]) == pytest.approx(answer["scores"], abs=INT8_BATCH_TOLERANCE)
    accuracy = sum(s["label"] == r["label"] for s, r in zip(scored, rows)) / len(rows)
    assert accuracy >= 0.8


def test_csv_with_review_and_sentiment_strings_keeps_the_binary_answer(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", cue_rows(300, CLASSES_2), text="review", label="sentiment")
    run = fit(data, tmp_path / "runs", "--data.text_column", "review", "--data.label_column", "sentiment",
              "--trainer.max_epochs", "1")
    _, _, config = load_export(run / "export")
    assert config["labels"] == ["negative", "positive"] and config["network"]["num_classes"] == 2
    (answer,) = serve(run / "export", [{"text": "a brilliant superb film"}])
    assert set(answer) == {"label", "score"} and answer["label"] in CLASSES_2
    assert answer["label"] == CLASSES_2[int(answer["score"] >= 0.5)]  # score = P(positive)


def test_list_of_label_names_renames_integer_classes(tmp_path):
    rows = [{"text": r["text"], "label": CLASSES_3.index(r["label"]) + 1} for r in cue_rows(240, CLASSES_3)]
    data = write_jsonl(tmp_path / "stars.jsonl", rows)
    run = fit(data, tmp_path / "runs", "--data.label_names", "[one star, two stars, three stars]",
              "--trainer.max_epochs", "1")
    assert load_export(run / "export")[2]["labels"] == ["one star", "two stars", "three stars"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_data_stops_train_py_with_one_line(tmp_path, capsys, case):
    data = bad_source(tmp_path / "data", case)
    extra = [f"--data.{k}={v}" for k, v in data.items() if k != "dataset"]
    run_dir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        cli_main(tiny_fit_args(Path(data["dataset"]), run_dir, *extra))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("train.py: error: ")]
    assert len(errors) == 1 and "Traceback" not in err
    assert not run_dir.exists()  # nothing written: no run folder, checkpoint or export
