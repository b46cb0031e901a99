"""Start a real TorchServe on free loopback ports for a test, and always stop it.

    from tests.torchserve_server import running_torchserve
    with running_torchserve(mar_path, tmp_path) as server:
        requests.post(f"{server.inference_url}/predictions/sentiment", data="Great film.",
                      headers={"Authorization": f"Bearer {server.token}"})

Each server gets its own folder under tmp_dir: model store, working dir (key_file.json, logs/),
TMPDIR/TEMP (TorchServe's pid file and the worker sockets, so servers started by other people
or other tests never collide), and a config.properties derived from config/config.properties
with the addresses and ports replaced. Only the process this helper started is ever stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "config" / "config.properties"
LOG_CONFIG = ROOT / "config" / "log4j2.xml"
STARTUP_TIMEOUT_S = 180  # JVM + worker start on two busy cores


@dataclass
class TorchServe:
    inference_url: str
    management_url: str
    metrics_url: str
    token: str  # inference key
    management_token: str
    log_dir: Path
    pid: int  # the Java frontend
    work_dir: Path

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def write_config(path: Path, ports: dict[str, int], overrides: dict | None = None) -> Path:
    """config/config.properties with our ports; `overrides` replace or add keys."""
    text = BASE_CONFIG.read_text()
    values = {
        "inference_address": f"http://127.0.0.1:{ports['inference']}",
        "management_address": f"http://127.0.0.1:{ports['management']}",
        "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
        "grpc_inference_port": str(ports["grpc_inference"]),
        "grpc_management_port": str(ports["grpc_management"]),
        "initial_worker_port": str(ports["worker"]),
        **{k: str(v) for k, v in (overrides or {}).items()},
    }
    # Logical lines: a trailing backslash continues an entry (the models= JSON spans several).
    entries = re.split(r"(?<!\\)\n", text)
    kept = [e for e in entries if e.split("=", 1)[0].strip() not in values]
    text = "\n".join(kept + [f"{key}={value}" for key, value in values.items()]) + "\n"
    path.write_text(text)
    return path


def served_batch_size(model: str = "sentiment") -> int:
    """The batchSize that config/config.properties gives the model (its models= JSON)."""
    entries = re.split(r"(?<!\\)\n", BASE_CONFIG.read_text())
    (models,) = [e.split("=", 1)[1] for e in entries if e.split("=", 1)[0].strip() == "models"]
    versions = json.loads(models.replace("\\\n", ""))[model]
    return next(v["batchSize"] for v in versions.values() if v.get("defaultVersion"))


@contextmanager
def running_torchserve(mar_path: str | os.PathLike, tmp_dir: str | os.PathLike, config_overrides: dict | None = None) -> Iterator[TorchServe]:
    mar_path = Path(mar_path)
    base = Path(tmp_dir) / f"torchserve-{os.getpid()}-{time.monotonic_ns()}"
    store, work = base / "model_store", base / "work"
    for folder in (store, work):
        folder.mkdir(parents=True)
    # Worker sockets are AF_UNIX paths under TMPDIR, capped at 107 bytes by Linux: under a deep
    # tmp_dir (pytest's) the worker cannot bind and requests wait forever. Keep TMPDIR short.
    tmp = Path(tempfile.mkdtemp(prefix="ts-"))
    shutil.copy2(mar_path, store / "sentiment.mar")
    # Worker sockets are numbered from initial_worker_port; a random high base keeps even TCP workers apart.
    names = ["inference", "management", "metrics", "grpc_inference", "grpc_management", "worker"]
    ports = dict(zip(names, free_ports(len(names))))
    config = write_config(base / "config.properties", ports, config_overrides)
    log_dir = work / "logs"
    env = {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(log_dir), "METRICS_LOCATION": str(log_dir)}
    torchserve = str(Path(sys.executable).with_name("torchserve"))
    command = [
        torchserve, "--start", "--foreground", "--ts-config", str(config), "--model-store", str(store),
        "--log-config", str(LOG_CONFIG), "--ncs",
    ]
    launcher = subprocess.Popen(
        command, cwd=work, env=env, stdout=open(base / "stdout.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        server = _wait_until_ready(launcher, ports, work, tmp, log_dir, config_overrides or {})
        yield server
    finally:
        _stop(launcher, env, work)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_until_ready(launcher, ports, work: Path, tmp: Path, log_dir: Path, overrides: dict) -> TorchServe:
    inference = f"http://127.0.0.1:{ports['inference']}"
    token_off = str(overrides.get("disable_token_authorization", "")).lower() == "true"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    keys = None
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise RuntimeError(f"torchserve exited with {launcher.returncode}; see {work.parent / 'stdout.log'} and {log_dir}")
        if keys is None and (token_off or (work / "key_file.json").is_file()):
            try:
                keys = {} if token_off else json.loads((work / "key_file.json").read_text())
            except ValueError:
                keys = None  # still being written
        token = (keys or {}).get("inference", {}).get("key", "")
        try:
            # /ping needs the inference token too while token authorization is on.
            answer = requests.get(f"{inference}/ping", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            healthy = keys is not None and answer.json().get("status") == "Healthy"
        except (requests.RequestException, ValueError):
            healthy = False
        if healthy and keys is not None:
            pid_file = tmp / ".model_server.pid"
            return TorchServe(
                inference_url=inference,
                management_url=f"http://127.0.0.1:{ports['management']}",
                metrics_url=f"http://127.0.0.1:{ports['metrics']}",
                token=keys.get("inference", {}).get("key", ""),
                management_token=keys.get("management", {}).get("key", ""),
                log_dir=log_dir,
                pid=int(pid_file.read_text()) if pid_file.is_file() else launcher.pid,
                work_dir=work,
            )
        time.sleep(0.5)
    raise TimeoutError(f"torchserve not healthy after {STARTUP_TIMEOUT_S} s; see {log_dir}")


def _stop(launcher: subprocess.Popen, env: dict, work: Path) -> None:
    """Stop our server: `torchserve --stop` reads the pid file in our own TMPDIR, then reap what is left."""
    try:
        ours = psutil.Process(launcher.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        ours = []
    torchserve = str(Path(sys.executable).with_name("torchserve"))
    subprocess.run([torchserve, "--stop"], cwd=work, env=env, capture_output=True, timeout=60, check=False)
    try:
        launcher.wait(timeout=30)
    except subprocess.TimeoutExpired:
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
    # Workers whose frontend died first would linger; these pids are children of our own launcher.
    for process in ours:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(ours, timeout=10)
