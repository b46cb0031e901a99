"""Count the inputs each Hypothesis property test ran, and print the totals at the end of its module.

Used by the property tests (tests/test_*_properties.py); not a test itself:

    from tests.hypothesis_cases import case_counter, report_hypothesis_cases  # noqa: F401  (the fixture must be imported)
    count = case_counter(__name__)

    @given(...)
    def test_x(...):
        count("test_x")

Set HYPOTHESIS_CASES_JSON=path to also write the counts as JSON (the README's figure comes from there).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

CASES: Counter = Counter()


def case_counter(module: str):
    def count(test: str) -> None:
        CASES[f"{module}::{test}"] += 1

    return count


def examples(default: int) -> int:
    """max_examples per property: small by default (fast tier), HYPOTHESIS_EXAMPLES=N for a long run."""
    return int(os.environ.get("HYPOTHESIS_EXAMPLES", default))


@pytest.fixture(scope="module", autouse=True)
def report_hypothesis_cases(request):
    yield
    module = request.module.__name__
    mine = {name: n for name, n in CASES.items() if name.startswith(module + "::")}
    if not mine:
        return
    total = sum(mine.values())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # fixture teardown output is captured otherwise
        print(f"\n[hypothesis] {module}: {total} cases over {len(mine)} properties")
    target = os.environ.get("HYPOTHESIS_CASES_JSON")
    if target:
        path = Path(target)
        known = json.loads(path.read_text()) if path.exists() else {}
        known.update(mine)
        known["total"] = sum(v for k, v in known.items() if k != "total")
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
