"""Print a measured figure (recovery time, failed count) from a test, and keep it as JSON.

Not a test. Tests assert on correctness; times are measured and reported, never asserted:

    record_figure(request, "worker_kill", {"unavailable_s": 4.2, "failed": 3})

The line is printed even under pytest's output capture; RELIABILITY_FIGURES_JSON=path also
merges each figure into that JSON file (the README's figures come from there).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def record_figure(request, name: str, data: dict) -> None:
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[figure] {name}: {json.dumps(data, sort_keys=True)}")
    target = os.environ.get("RELIABILITY_FIGURES_JSON")
    if target:
        path = Path(target)
        known = json.loads(path.read_text()) if path.exists() else {}
        known[name] = data
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
