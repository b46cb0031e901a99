"""benchmarks/model_throughput.py: two exports, the same batches, a JSON report with their ratio.

The fast test measures two random exports whose networks differ 64-fold in width on the tiny data's
reviews: the wider one must measure slower. The slow one runs the command as `make bench-model`
does, on real IMDB test reviews, with the committed export as the baseline.
"""

import json
import subprocess
import sys

import pytest

from benchmarks.model_throughput import main
from paths import IMDB_TEST_PARQUET, ROOT, SHIPPED_EXPORT
from tests.random_export import make_random_export


def ratio(report: dict) -> float:
    return report["export"]["reviews_per_s"] / report["baseline"]["reviews_per_s"]


def test_a_network_that_computes_more_measures_slower(tiny_imdb, tmp_path):
    narrow = make_random_export(tmp_path / "narrow", width=4, onnx_checks=8)
    wide = make_random_export(tmp_path / "wide", width=256, onnx_checks=8)
    reviews = tiny_imdb / "plain_text" / "test-00000-of-00001.parquet"
    report = main(["--baseline", str(narrow), "--export", str(wide), "--reviews", str(reviews),
                   "--batches", "6", "--batch-size", "8"])
    assert report["reviews"] == str(reviews)
    assert report["baseline"]["network"]["gru_hidden"] == 4 and report["export"]["network"]["gru_hidden"] == 256
    assert report["export"]["onnx_mib"] > 10 * report["baseline"]["onnx_mib"]
    # Each GRU / LSTM step multiplies 256x256 weights instead of 4x4: the wide export is far slower,
    # well beyond what background load on shared cores can turn round.
    assert report["export"]["reviews_per_s"] < 0.5 * report["baseline"]["reviews_per_s"], report
    assert report["ratio"] == pytest.approx(ratio(report), rel=1e-2)


@pytest.mark.slow
@pytest.mark.requires_imdb
def test_make_bench_model_reports_the_shipped_export_on_real_reviews(tiny_export):
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "model_throughput.py"), "--baseline", str(SHIPPED_EXPORT),
         "--export", str(tiny_export), "--batches", "2", "--batch-size", "8"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    report = json.loads(completed.stdout)
    assert report["reviews"] == str(IMDB_TEST_PARQUET)
    shipped = json.loads((SHIPPED_EXPORT / "model_config.json").read_text())
    assert report["baseline"]["max_length"] == shipped["preprocessing"]["max_length"]
    assert report["baseline"]["network"] == shipped["network"]
    assert report["export"]["max_length"] == 48
    assert report["export"]["network"]["vocab_size"] == 200
    assert report["ratio"] == pytest.approx(ratio(report), rel=1e-2)
