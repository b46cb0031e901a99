"""Start TorchServe with model_store/sentiment.mar and wait until it answers; or stop it.

    python scripts/serve.py start     # `make serve`
    python scripts/serve.py start --no-token   # `make serve TOKEN_AUTH=off`: local experiments only
    python scripts/serve.py stop      # `make stop`

The server runs in model_store/ (key_file.json and logs/ land there) with config/config.properties;
its pid file and worker sockets live in .ts_tmp/ (TMPDIR/TEMP), so `stop` finds this server only,
never another TorchServe on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from worker_ready import wait_for_worker  # scripts/ is this script's import path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "model_store"
RUN_TMP = ROOT / ".ts_tmp"
CONFIG = ROOT / "config" / "config.properties"
LOG_CONFIG = ROOT / "config" / "log4j2.xml"
KEY_FILE = STORE / "key_file.json"
INFERENCE = "http://127.0.0.1:8080"
MANAGEMENT = "http://127.0.0.1:8081"
STARTUP_TIMEOUT_S = 180


def _env() -> dict:
    RUN_TMP.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(RUN_TMP), "TEMP": str(RUN_TMP), "LOG_LOCATION": str(STORE / "logs"),
            "METRICS_LOCATION": str(STORE / "logs")}


def _torchserve() -> str:
    return str(Path(sys.executable).with_name("torchserve"))


def start(token_auth: bool = True) -> int:
    if not (STORE / "sentiment.mar").is_file():
        print("model_store/sentiment.mar is missing: run `make archive`", file=sys.stderr)
        return 1
    KEY_FILE.unlink(missing_ok=True)  # a stale key file would look like the new server's
    command = [_torchserve(), "--start", "--ts-config", str(CONFIG), "--model-store", str(STORE),
               "--log-config", str(LOG_CONFIG), "--ncs"] + ([] if token_auth else ["--disable-token-auth"])
    (STORE / "logs").mkdir(exist_ok=True)
    console = STORE / "logs" / "torchserve_console.log"
    # To a file, not a pipe: the Java frontend inherits it and outlives this script.
    with open(console, "w") as out:
        launched = subprocess.run(command, cwd=STORE, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    if launched.returncode != 0 or "already running" in console.read_text():
        print(console.read_text(), file=sys.stderr)
        return 1
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        token = _key("inference") if token_auth else ""
        try:
            answer = requests.get(f"{INFERENCE}/ping", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if (token or not token_auth) and answer.json().get("status") == "Healthy":
                break
        except (requests.RequestException, ValueError):
            pass
        time.sleep(1)
    else:
        print(f"TorchServe did not become healthy in {STARTUP_TIMEOUT_S} s; see model_store/logs/", file=sys.stderr)
        return 1
    # /ping is Healthy once the frontend is up; the worker may still be loading the model.
    try:
        wait_for_worker(MANAGEMENT, _key("management") if token_auth else "", timeout_s=STARTUP_TIMEOUT_S)
    except TimeoutError as error:
        print(f"{error}; see model_store/logs/model_log.log", file=sys.stderr)
        return 1
    print(f"TorchServe is serving `sentiment` on {INFERENCE} (keys in model_store/key_file.json)")
    auth = f"-H 'Authorization: Bearer {token}' " if token_auth else ""
    print(f"inference token: {token}" if token_auth else "token authorization is OFF")
    print(
        f"curl {auth}-H 'Content-Type: text/plain' "
        f"--data-binary 'A moving, beautifully acted film.' {INFERENCE}/predictions/sentiment"
    )
    return 0


def stop() -> int:
    """`torchserve --stop` only signals the frontend; wait until it and its workers are gone."""
    try:
        frontend = psutil.Process(int((RUN_TMP / ".model_server.pid").read_text()))
        ours = [frontend, *frontend.children(recursive=True)]
    except (OSError, ValueError, psutil.Error):
        ours = []
    result = subprocess.run([_torchserve(), "--stop"], cwd=STORE, env=_env(), capture_output=True, text=True)
    print((result.stdout + result.stderr).strip())
    _, alive = psutil.wait_procs(ours, timeout=60)
    for process in alive:  # these pids came from our own pid file and its process tree
        process.kill()
    psutil.wait_procs(alive, timeout=10)
    return result.returncode


def _key(api: str) -> str:
    """The current key of `api` ("inference" or "management") from TorchServe's key file."""
    try:
        return json.loads(KEY_FILE.read_text())[api]["key"]
    except (OSError, ValueError, KeyError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--no-token", action="store_true", help="start with token authorization off")
    args = parser.parse_args(argv)
    return start(token_auth=not args.no_token) if args.action == "start" else stop()


if __name__ == "__main__":
    sys.exit(main())
