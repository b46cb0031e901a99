"""Own data, slow tier: the README command on 5,000 IMDB rows, a real TorchServe answering three
named classes, and the memory bounds on a 1,000,000-row file.

    .venv/bin/python -m pytest -m slow tests/test_own_data_slow.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from model.export import load_export
from serving.archive import build
from data.review_samples import write_review_file
from serving.torchserve import running_torchserve
from paths import DEFAULT_DATASET, ROOT
from tests.conftest import tiny_fit_args
from tests.own_data_files import CLASSES_3, cue_rows, serve, write_jsonl
from train import cli_main

pytestmark = pytest.mark.slow

TRAIN_RSS_LIMIT_MIB = 4096
PREDICT_RSS_LIMIT_MIB = 1536


@pytest.mark.requires_imdb
@pytest.mark.timeout(3600)  # one epoch of the default network on 3,600 reviews, on 2 shared cores
def test_readme_command_trains_on_a_csv_of_imdb_rows(tmp_path):
    """The exact command of the issue, on 5,000 IMDB rows with review / sentiment string columns."""
    write_review_file(tmp_path / "reviews.csv", 5000, DEFAULT_DATASET)
    command = [sys.executable, str(ROOT / "train.py"), "fit", "--config", str(ROOT / "config" / "default.yaml"),
               "--data.dataset", "reviews.csv", "--data.text_column", "review", "--data.label_column", "sentiment",
               "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "runs" / "imdb").glob("version_*")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.6  # two epochs on 3,600 reviews: better than chance, not yet good
    net, _, config = load_export(run / "export")
    assert config["labels"] == ["negative", "positive"] and net.head.out_features == 1

    (answers,) = serve(run / "export", [{"texts": ["A wonderful, moving film.", "Dull and far too long."]}])
    assert all(set(a) == {"label", "score"} and a["label"] in ("negative", "positive") for a in answers)


@pytest.fixture(scope="module")
def three_class_server(tmp_path_factory):
    data = write_jsonl(tmp_path_factory.mktemp("three") / "reviews.jsonl", cue_rows(480, CLASSES_3))
    cli = cli_main(tiny_fit_args(data, tmp_path_factory.mktemp("three_run"), "--trainer.max_epochs", "4"))
    export = Path(cli.trainer.log_dir) / "export"
    mar = build(export, tmp_path_factory.mktemp("mar"))
    with running_torchserve(mar, tmp_path_factory.mktemp("ts")) as server:
        yield server, export


def test_real_server_answers_three_named_classes(three_class_server):
    server, _ = three_class_server
    texts = {"positive": "a brilliant and superb film", "neutral": "an average, okay film", "negative": "a dull awful waste"}
    response = requests.post(f"{server.inference_url}/predictions/sentiment", json={"texts": list(texts.values())},
                             headers=server.headers(), timeout=60)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["label"] for a in answers] == list(texts)
    for answer in answers:
        assert list(answer["scores"]) == CLASSES_3 and answer["score"] == answer["scores"][answer["label"]]
    one = requests.post(f"{server.inference_url}/predictions/sentiment", data=texts["neutral"].encode(),
                        headers={**server.headers(), "Content-Type": "text/plain"}, timeout=60)
    assert one.status_code == 200 and one.json()["label"] == "neutral"


@pytest.mark.requires_imdb
@pytest.mark.timeout(4 * 3600)
def test_a_million_rows_train_and_predict_within_memory_bounds(tmp_path):
    """benchmarks/own_data_scale.py on 1,000,000 IMDB rows: the kernel's peak RSS of each process."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "own_data_scale.py"), "--rows", "1000000", "--work", str(tmp_path),
         "--train-steps", "20"], capture_output=True, text=True, timeout=4 * 3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["rows"] == 1_000_000
    assert report["train"]["peak_rss_mib"] <= TRAIN_RSS_LIMIT_MIB, report["train"]
    assert report["predict"]["peak_rss_mib"] <= PREDICT_RSS_LIMIT_MIB, report["predict"]
    with open(tmp_path / "scored.csv", encoding="utf-8") as scored:
        scored_rows = sum(1 for _ in scored) - 1
    assert scored_rows == 1_000_000  # IMDB reviews hold no line breaks, so lines are rows
