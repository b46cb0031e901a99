"""benchmarks/model_throughput.py: two exports, the same real batches, a JSON report with their ratio."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SHARED_IMDB

pytestmark = pytest.mark.skipif(not SHARED_IMDB.exists(), reason="needs ../shared/imdb")


def test_reports_both_exports_and_their_ratio(tiny_export):
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "model_throughput.py"), "--baseline", str(ROOT / "model_store" / "artifacts"),
         "--export", str(tiny_export), "--batches", "2", "--batch-size", "8"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    report = json.loads(completed.stdout)
    shipped = json.loads((ROOT / "model_store" / "artifacts" / "model_config.json").read_text())
    assert report["baseline"]["max_length"] == shipped["preprocessing"]["max_length"]
    assert report["export"]["max_length"] == 48
    assert report["export"]["network"]["vocab_size"] == 200
    for side in ("baseline", "export"):
        assert report[side]["reviews_per_s"] > 0 and report[side]["onnx_mib"] > 0
    assert report["ratio"] == pytest.approx(report["export"]["reviews_per_s"] / report["baseline"]["reviews_per_s"], rel=1e-2)
