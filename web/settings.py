"""What the page's server may do: the limits and addresses web/server.py's flags set. Not run on its own.

The limits that mirror TorchServe's (request size, response timeout, batch) are read from the same
config/config.properties that `make serve` starts TorchServe with, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from paths import MODEL_NAME, MODEL_STORE
from serving.torchserve import KEY_FILE_NAME, inference_url, read_properties, served_model_settings


def torchserve_setting(key: str) -> str:
    """A value of config/config.properties (`make serve`'s TorchServe)."""
    return read_properties()[key]


@dataclass(frozen=True)
class PageSettings:
    torchserve_url: str = field(default_factory=inference_url)  # `make serve`'s, from config/config.properties
    key_file: Path = MODEL_STORE / KEY_FILE_NAME  # where `make serve` has TorchServe write it
    model: str = MODEL_NAME
    # Host names the page answers to (the port is not compared; see SECURITY.md, "The review page").
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    # Bodies TorchServe would refuse are refused here first (max_request_size).
    max_body_bytes: int = field(default_factory=lambda: int(torchserve_setting("max_request_size")))
    # API calls forwarded at once: two TorchServe batches (batchSize), one being scored while the next
    # fills, so the worker never waits for the page; past that, calls would only queue inside TorchServe.
    max_in_flight: int = field(default_factory=lambda: 2 * int(served_model_settings()["batchSize"]))
    # uvicorn's limit_concurrency, a backstop: past it uvicorn answers 503 (without Retry-After). It
    # counts open connections (idle ones too) and running tasks, and a task just answered may still
    # be counted while the same connection's next request starts: set it well above the users expected.
    max_connections: int = 256
    # Time a client has to send its request head, and then its body.
    client_timeout_s: float = 10.0
    # TorchServe's own deadline for an answer (default_response_timeout): waiting longer gains nothing.
    torchserve_timeout_s: float = field(default_factory=lambda: float(torchserve_setting("default_response_timeout")))
