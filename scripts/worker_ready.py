"""Wait until a model's worker is READY (used by `make serve`, the load test and the fault tests).

    from scripts.worker_ready import wait_for_worker
    wait_for_worker(server.management_url, server.management_token)

TorchServe's /ping says "Healthy" once the frontend is up, before the worker has imported torch
and loaded the model; requests sent then queue behind the start (tens of seconds on busy cores)
and can run into client timeouts. The management API's model description lists the workers'
states, which is what this polls.
"""

from __future__ import annotations

import time

import requests


def wait_for_worker(management_url: str, token: str, model: str = "sentiment", timeout_s: float = 300) -> float:
    """Seconds waited; TimeoutError if no worker of `model` is READY within timeout_s."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            answer = requests.get(f"{management_url}/models/{model}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if answer.ok and any(w.get("status") == "READY" for v in answer.json() for w in v.get("workers", [])):
                return time.monotonic() - started
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no READY worker for {model} after {timeout_s} s")
