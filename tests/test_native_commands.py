"""docs/serving.md's TorchServe commands as a user types them: the block runs from a copy of the checkout and
must start, answer and stop TorchServe (slow); the torch-model-archiver flags the page shows are those
scripts/build_archive.py passes (fast).

    .venv/bin/python -m pytest tests/test_native_commands.py -m "slow or not slow"
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import pytest

from paths import ROOT, SHIPPED_EXPORT
from serving import archive as build_archive
from serving.torchserve import TorchServe, free_port_overrides, stop, write_properties

DOCS = ROOT / "docs" / "serving.md"
MAKE_SERVE_ADDRESS = "127.0.0.1:8080"  # config/config.properties' inference_address, as the page shows it


def fenced_block(marker: str) -> str:
    """The fenced code block that follows the `<!-- marker ... -->` comment in docs/serving.md."""
    text = DOCS.read_text()
    block = re.compile(r"```\w*\n(.*?)\n[ \t]*```", re.DOTALL).search(text, text.index(f"<!-- {marker}"))
    return textwrap.dedent(block.group(1))


def copy_of_checkout(target: Path) -> Path:
    """The checkout's tracked files (as they are in the working tree): what a fresh clone holds."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, listed.decode().split("\0")):
        if (ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target / rel)
    return target


def test_archiver_flags_shown_are_those_build_archive_passes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(build_archive.subprocess, "run", lambda command, **kwargs: calls.append(command))
    out = tmp_path / "out"
    build_archive.build(SHIPPED_EXPORT, out)
    (command,) = calls
    staging = command[command.index("--extra-files") + 1]
    as_shown = {command[0]: "torch-model-archiver", staging: "$STAGING", str(out): "model_store"}
    normalised = [as_shown.get(arg, os.path.relpath(arg, ROOT) if arg.startswith(str(ROOT)) else arg) for arg in command]
    assert shlex.split(fenced_block("archiver-command").replace("\\\n", " ")) == normalised
    page = DOCS.read_text()
    for name in {rel.split("/")[0] + "/" for rel in build_archive.PACKAGE_FILES} | set(build_archive.EXPORT_FILES):
        assert name in page, f"docs/serving.md does not say the archive holds {name}"


@pytest.mark.slow
def test_native_commands_start_answer_and_stop_torchserve(tmp_path):
    checkout = copy_of_checkout(tmp_path / "checkout")
    # Free loopback ports in the copy's config, and the same inference port in the curl lines: a
    # `make serve` on 8080 stays untouched. Every other character of the block runs as shown.
    ports = free_port_overrides()
    config = checkout / "config" / "config.properties"
    write_properties(config, ports, base=config)
    script = fenced_block("native-commands")
    assert script.count(MAKE_SERVE_ADDRESS) == 2, "the block's addresses changed: update this test"
    script = script.replace(MAKE_SERVE_ADDRESS, urlparse(ports["inference_address"]).netloc)
    # TorchServe's pid file lives in TMPDIR: ours alone, so `torchserve --stop` can only stop this server.
    server = TorchServe(inference_url=ports["inference_address"], management_url=ports["management_address"],
                        metrics_url=ports["metrics_address"], work_dir=checkout, tmp_dir=Path(tempfile.mkdtemp(prefix="ts-")))
    environment = {key: value for key, value in os.environ.items() if key != "TS_CONFIG_FILE"}
    environment.update(  # the activated virtual environment; PYTHONPATH stands in for its editable install of this copy
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(checkout),
        TMPDIR=str(server.tmp_dir), TEMP=str(server.tmp_dir),
    )
    try:
        result = subprocess.run(["bash", "-e", "-c", script], cwd=checkout, env=environment,
                                capture_output=True, text=True, timeout=900, check=False)
    finally:
        stop(server)  # only matters if the block failed before its own `torchserve --stop`
        shutil.rmtree(server.tmp_dir, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    start = re.search(r'\{\s*"label"', result.stdout)
    answer, _ = json.JSONDecoder().raw_decode(result.stdout[start.start():])
    assert answer["label"] == "positive" and answer["score"] > 0.5, answer  # the committed model on a clear review
    assert "TorchServe has stopped" in result.stdout
