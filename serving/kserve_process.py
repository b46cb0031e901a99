"""Start KServe's model server (serving/kserve_model.py) as a process on free loopback ports, wait until the
model is ready, stop it: for the tests and the benchmarks, as serving/torchserve.py does for TorchServe.

    from serving.kserve_process import running_kserve
    with running_kserve("model_store/artifacts", log_dir) as server:
        requests.post(f"{server.http_url}/v2/models/sentiment/infer", json=body)
        server.grpc_address, server.pid, server.ready_s          # "127.0.0.1:PORT", its pid, start -> ready

`python` picks the interpreter, e.g. a lean venv's (requirements-serve.txt) to show the image's install suffices.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from paths import MODEL_NAME, ROOT
from serving.torchserve import free_ports

STARTUP_TIMEOUT_S = 120  # generous: two busy cores in CI
STOP_TIMEOUT_S = 15


@dataclass(frozen=True)
class KServeProcess:
    process: subprocess.Popen
    http_url: str
    grpc_address: str
    ready_s: float  # from the process start until the model answered ready
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def infer_url(self) -> str:
        return f"{self.http_url}/v2/models/{MODEL_NAME}/infer"


def wait_until_ready(process: subprocess.Popen, url: str, log: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the KServe model server exited with {process.returncode}:\n{tail(log)}")
        try:
            if requests.get(f"{url}/v2/models/{MODEL_NAME}/ready", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"the KServe model server was not ready within {timeout_s} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_kserve(model_dir: str | os.PathLike, log_dir: str | os.PathLike, python: str = sys.executable,
                   extra_args: tuple[str, ...] = (), env: dict | None = None) -> Iterator[KServeProcess]:
    """The model server on free loopback ports, REST and gRPC, stopped on exit (also when the body fails)."""
    http_port, grpc_port = free_ports(2)
    log = Path(log_dir) / f"kserve-{http_port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "serving.kserve_model", "--model_dir", str(model_dir), "--http_port", str(http_port),
               "--grpc_port", str(grpc_port), *extra_args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    url = f"http://127.0.0.1:{http_port}"
    with open(log, "wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, url, log)
        yield KServeProcess(process, url, f"127.0.0.1:{grpc_port}", time.monotonic() - started, log)
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
