"""The load script at CI size: 500 mixed requests from 32 clients; every answer as expected, no 5xx, no timeout.

    .venv/bin/python -m pytest -m slow tests/test_load.py -s

The full run (benchmarks/load_test.py's default count, on the trained model) is `make load-test`; its
figures are in the README.
Here the archive holds a random network (tests/random_export.py): the answers' shape and status
matter, not the scores.
"""

from __future__ import annotations

import pytest

from tests.figures import record_figure
from tests.random_export import make_random_mar

from benchmarks.load_test import main

pytestmark = pytest.mark.slow


def test_mixed_load_gets_the_expected_answers(tmp_path, request):
    mar = make_random_mar(tmp_path)
    report = main(["--requests", "500", "--warmup", "50", "--clients", "32", "--timeout", "60", "--max-seconds", "300",
                   "--mar", str(mar), "--out", str(tmp_path / "load.json")])
    assert report["sent"] == 500 and report["not_sent"] == 0
    assert report["server_errors_5xx"] == 0 and report["timeouts"] == 0 and report["connection_errors"] == 0
    assert report["unexpected_answers"] == {}  # each good request 200 with predictions, each bad one its 4xx
    bad = sum(n for kind, n in report["kinds"].items() if kind.startswith("bad_"))
    assert 0 < bad < 500 and report["status_counts"]["200"] == 500 - bad
    assert report["warmup"]["unexpected"] == 0
    record_figure(request, "load_ci", {k: report[k] for k in ("requests_per_s", "latency_ms", "status_counts",
                                                              "memory_start", "memory_end")})
