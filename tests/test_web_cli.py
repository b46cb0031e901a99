"""`python web/server.py` (what `make web` runs) starts the page's server and stops on SIGTERM.

    .venv/bin/python -m pytest tests/test_web_cli.py
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx

from serving.torchserve import free_ports
from tests.conftest import ROOT


def test_the_script_serves_the_page_on_loopback_and_says_where(tmp_path):
    (closed_port,) = free_ports(1)
    command = [sys.executable, str(ROOT / "web" / "server.py"), "--port", "0",
               "--torchserve", f"http://127.0.0.1:{closed_port}", "--key-file", str(tmp_path / "key_file.json")]
    # Started from another folder: the script's imports come from the project's install, not the folder.
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first_line = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", first_line)
        assert url, first_line
        page = httpx.get(url.group(0), timeout=10)
        assert page.status_code == 200 and "Review sentiment" in page.text
        answer = httpx.post(url.group(0) + "api/predict", json={"text": "Good."}, timeout=10)
        assert answer.status_code == 502 and "not reachable" in answer.json()["error"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises the signal it caught: the exit status says SIGTERM.
    assert "Finished server process" in output
    assert server.returncode == -signal.SIGTERM, output
