"""The one TorchServe helper: model name, config, keys, start, wait for a READY worker, stop.

Used by `make serve` / `make stop` (scripts/serve.py), the tests, the benchmarks and the web page:

    from serving.torchserve import running_torchserve
    with running_torchserve("model_store/sentiment.mar", tmp_dir) as server:      # free loopback ports
        requests.post(f"{server.inference_url}/predictions/{MODEL_NAME}", data="Great film.", headers=server.headers())

The ports of `make serve` are those of config/config.properties; a test server gets a copy of that
file with free loopback ports written in. Every server has its own working folder (key_file.json,
logs/) and its own TMPDIR (TorchServe's pid file and worker sockets), so `stop` only ever stops
the server it started.
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

from paths import ARCHIVE, CONFIG_DIR, MODEL_NAME

MAR_NAME = ARCHIVE.name
CONFIG = CONFIG_DIR / "config.properties"
LOG_CONFIG = CONFIG_DIR / "log4j2.xml"
KEY_FILE_NAME = "key_file.json"  # TorchServe writes it into its working directory
PID_FILE_NAME = ".model_server.pid"  # TorchServe writes it into TMPDIR
STARTUP_TIMEOUT_S = 180  # JVM + worker start on two busy cores
# config.properties keys that hold an address or port; a test server gets free ones for each.
PORT_KEYS = {
    "inference_address": "http://127.0.0.1:{}",
    "management_address": "http://127.0.0.1:{}",
    "metrics_address": "http://127.0.0.1:{}",
    "grpc_inference_port": "{}",
    "grpc_management_port": "{}",
    "initial_worker_port": "{}",
}


# -- config.properties -------------------------------------------------------------------------


def _logical_lines(text: str) -> list[str]:
    # A trailing backslash continues an entry (the models= JSON spans several lines).
    return re.split(r"(?<!\\)\n", text)


def read_properties(path: str | os.PathLike = CONFIG) -> dict[str, str]:
    """key -> value of a Java properties file as TorchServe reads it (comments dropped, continuations joined)."""
    values = {}
    for entry in _logical_lines(Path(path).read_text()):
        entry = entry.strip()
        if not entry or entry.startswith("#") or "=" not in entry:
            continue
        key, value = entry.split("=", 1)
        values[key.strip()] = re.sub(r"\\\n\s*", "", value).strip()
    return values


def write_properties(path: Path, overrides: dict, base: str | os.PathLike = CONFIG) -> Path:
    """`base` with `overrides` replacing or adding keys (comments kept), written to `path`."""
    entries = _logical_lines(Path(base).read_text())
    kept = [e for e in entries if e.split("=", 1)[0].strip() not in overrides]
    path.write_text("\n".join(kept + [f"{key}={value}" for key, value in overrides.items()]) + "\n")
    return path


def served_model_settings(config: str | os.PathLike = CONFIG, model: str = MODEL_NAME) -> dict:
    """The default version's entry of `model` in the config's models= JSON (batchSize, maxBatchDelay, ...)."""
    versions = json.loads(read_properties(config)["models"])[model]
    return next(v for v in versions.values() if v.get("defaultVersion"))


def inference_url(config: str | os.PathLike = CONFIG) -> str:
    return read_properties(config)["inference_address"]


def management_url(config: str | os.PathLike = CONFIG) -> str:
    return read_properties(config)["management_address"]


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


def free_port_overrides() -> dict[str, str]:
    return {key: pattern.format(port) for (key, pattern), port in zip(PORT_KEYS.items(), free_ports(len(PORT_KEYS)))}


# -- keys --------------------------------------------------------------------------------------


def read_key(key_file: str | os.PathLike, api: str = "inference") -> str:
    """The current key of `api` ("inference" or "management") from TorchServe's key file; "" if none yet."""
    try:
        return json.loads(Path(key_file).read_text())[api]["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""


# -- a running server --------------------------------------------------------------------------


@dataclass
class TorchServe:
    inference_url: str
    management_url: str
    metrics_url: str
    work_dir: Path  # key_file.json and logs/ live here
    tmp_dir: Path  # TMPDIR: pid file and worker sockets
    token_auth: bool = True

    @property
    def key_file(self) -> Path:
        return self.work_dir / KEY_FILE_NAME

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def token(self) -> str:
        return read_key(self.key_file, "inference") if self.token_auth else ""

    @property
    def management_token(self) -> str:
        return read_key(self.key_file, "management") if self.token_auth else ""

    @property
    def pid(self) -> int | None:
        """The Java frontend's pid, from TorchServe's own pid file."""
        try:
            return int((self.tmp_dir / PID_FILE_NAME).read_text())
        except (OSError, ValueError):
            return None

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def environment(self) -> dict:
        return {**os.environ, "TMPDIR": str(self.tmp_dir), "TEMP": str(self.tmp_dir),
                "LOG_LOCATION": str(self.log_dir), "METRICS_LOCATION": str(self.log_dir)}


def executable(name: str = "torchserve") -> str:
    """A console script of this Python environment (torchserve, torch-model-archiver)."""
    return str(Path(sys.executable).with_name(name))


def start_command(config: str | os.PathLike, model_store: str | os.PathLike, token_auth: bool = True,
                  foreground: bool = False) -> list[str]:
    return [
        executable(), "--start", "--ts-config", str(config), "--model-store", str(model_store),
        "--models", f"{MODEL_NAME}={MAR_NAME}", "--log-config", str(LOG_CONFIG), "--ncs",
        *(["--foreground"] if foreground else []), *([] if token_auth else ["--disable-token-auth"]),
    ]


def start(server: TorchServe, config: Path, model_store: Path, foreground: bool = False) -> subprocess.Popen:
    """Launch TorchServe for `server`'s folders. With foreground=True the returned process is the
    frontend's launcher and lives as long as the server; else it returns once the daemon is started."""
    for folder in (server.work_dir, server.log_dir, server.tmp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    server.key_file.unlink(missing_ok=True)  # a stale key file would look like the new server's
    # A file, not a pipe: the JVM outlives this process. The child keeps its own copy of the descriptor.
    with open(server.log_dir / "torchserve_console.log", "wb") as console:
        return subprocess.Popen(
            start_command(config, model_store, server.token_auth, foreground), cwd=server.work_dir,
            env=server.environment(), stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_until_ready(server: TorchServe, launcher: subprocess.Popen | None = None,
                     timeout_s: float = STARTUP_TIMEOUT_S) -> float:
    """Seconds until a worker of the model is READY.

    /ping says Healthy once the frontend is up, before the worker has imported torch and loaded the
    model; the management API's model description lists the workers' states, which is what counts.
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if launcher is not None and launcher.poll() not in (None, 0):
            raise RuntimeError(f"torchserve exited with {launcher.returncode}; see {server.log_dir}")
        if not server.token_auth or server.management_token:
            try:
                answer = requests.get(f"{server.management_url}/models/{MODEL_NAME}",
                                      headers={"Authorization": f"Bearer {server.management_token}"}, timeout=5)
                if answer.ok and any(w.get("status") == "READY" for v in answer.json() for w in v.get("workers", [])):
                    return time.monotonic() - started
            except (requests.RequestException, ValueError):
                pass
        time.sleep(0.25)
    raise TimeoutError(f"no READY worker for {MODEL_NAME} after {timeout_s} s; see {server.log_dir}")


def stop(server: TorchServe, launcher: subprocess.Popen | None = None) -> int:
    """`torchserve --stop` (it reads the pid file in this server's TMPDIR), then reap what is left:
    the frontend and its workers, found through our own pid file or launcher, never by name."""
    pid = server.pid or (launcher.pid if launcher else None)
    try:
        frontend = psutil.Process(pid) if pid else None
        ours = [frontend, *frontend.children(recursive=True)] if frontend else []
    except psutil.Error:
        ours = []
    result = subprocess.run([executable(), "--stop"], cwd=server.work_dir, env=server.environment(),
                            capture_output=True, timeout=60, check=False)
    if launcher is not None:
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launcher.send_signal(signal.SIGKILL)
            launcher.wait(timeout=10)
    _, alive = psutil.wait_procs(ours, timeout=30)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    return result.returncode


@contextmanager
def running_torchserve(mar_path: str | os.PathLike, tmp_dir: str | os.PathLike, config_overrides: dict | None = None,
                       base_config: str | os.PathLike = CONFIG, wait_for_worker: bool = True) -> Iterator[TorchServe]:
    """A TorchServe with `mar_path` on free loopback ports, stopped on exit (also on errors).

    config_overrides replace or add config.properties keys; "disable_token_authorization": "true" (there or
    in base_config) turns tokens off.
    """
    base = Path(tmp_dir) / f"torchserve-{os.getpid()}-{time.monotonic_ns()}"
    store = base / "model_store"
    store.mkdir(parents=True)
    shutil.copy2(mar_path, store / MAR_NAME)
    ports = free_port_overrides()
    overrides = {**ports, **{k: str(v) for k, v in (config_overrides or {}).items()}}
    config = write_properties(base / "config.properties", overrides, base_config)
    # Worker sockets are AF_UNIX paths under TMPDIR, capped at 107 bytes by Linux: under a deep
    # tmp_dir (pytest's) the worker could not bind. Keep TMPDIR short.
    server = TorchServe(
        inference_url=overrides["inference_address"], management_url=overrides["management_address"],
        metrics_url=overrides["metrics_address"], work_dir=base / "work", tmp_dir=Path(tempfile.mkdtemp(prefix="ts-")),
        token_auth=read_properties(config).get("disable_token_authorization", "").lower() != "true",
    )
    launcher = start(server, config, store, foreground=True)
    try:
        if wait_for_worker:
            wait_until_ready(server, launcher)
        yield server
    finally:
        stop(server, launcher)
        shutil.rmtree(server.tmp_dir, ignore_errors=True)
