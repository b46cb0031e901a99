"""Own data, slow tier: the README command on 5,000 IMDB rows, a real TorchServe answering three
named classes, and memory that does not grow with the rows of a file (the million-row figures:
`make bench-own-data`, docs/figures/own_data_scale.json).

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
    """The README's command, on 5,000 IMDB rows with review / sentiment string columns."""
    write_review_file(tmp_path / "reviews.csv", 5000, DEFAULT_DATASET)
    command = [sys.executable, str(ROOT / "train.py"), "fit", "--config", str(ROOT / "config" / "default.yaml"),
               "--data.dataset", "reviews.csv", "--data.text_column", "review", "--data.label_column", "sentiment",
               "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
               # Adversarial training doubles a step's CPU and is tested on its own (test_regularization.py);
               # what this test proves is the README command on a CSV of strings, so it trains without it.
               "--model.adversarial_eps", "0"]
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


def scale_report(rows: int, work: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "own_data_scale.py"), "--rows", str(rows), "--work", str(work),
         "--train-steps", "5"], capture_output=True, text=True, timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    with open(work / "scored.csv", encoding="utf-8") as scored:
        assert sum(1 for _ in scored) - 1 == rows  # IMDB reviews hold no line breaks, so lines are rows
    return report


@pytest.mark.requires_imdb
@pytest.mark.timeout(3600)
def test_memory_does_not_grow_with_the_rows_of_the_file(tmp_path):
    """benchmarks/own_data_scale.py on 10,000 and 100,000 IMDB rows: train.py and predict.py stream the file.

    What a process holds of its own (anonymous memory: heap, tensors, Python objects) grows by less than
    half of the 90,000 added rows' bytes, and each process stays within the bounds the million-row run
    (`make bench-own-data`) is held to. Arrow's memory-mapped files (RssFile) are the kernel's to drop.
    """
    small, large = (scale_report(rows, tmp_path / str(rows)) for rows in (10_000, 100_000))
    added_mib = large["file_mib"] - small["file_mib"]
    for phase, limit in (("train", TRAIN_RSS_LIMIT_MIB), ("predict", PREDICT_RSS_LIMIT_MIB)):
        grown = large[phase]["peak_RssAnon_mib"] - small[phase]["peak_RssAnon_mib"]
        assert grown < added_mib / 2, (phase, grown, added_mib, small[phase], large[phase])
        # Sampled VmRSS: the kernel's ru_maxrss of a child also counts the parent's pages before exec.
        assert large[phase]["peak_VmRSS_mib"] <= limit, large[phase]
