"""What the page's server may do: the limits and addresses web/server.py's flags set. Not run on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from serving.torchserve import KEY_FILE_NAME, MODEL_NAME, MODEL_STORE, inference_url


@dataclass(frozen=True)
class PageSettings:
    torchserve_url: str = field(default_factory=inference_url)  # `make serve`'s, from config/config.properties
    key_file: Path = MODEL_STORE / KEY_FILE_NAME  # where `make serve` has TorchServe write it
    model: str = MODEL_NAME
    # Host names the page answers to (the port is not compared; see SECURITY.md, "The review page").
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    max_body_bytes: int = 5 * 1024 * 1024  # TorchServe's max_request_size in config/config.properties
    # API calls forwarded at once; one TorchServe batch (batchSize in config/config.properties).
    max_in_flight: int = 16
    # uvicorn's limit_concurrency, a backstop: past it uvicorn answers 503 (without Retry-After). It
    # counts open connections (idle ones too) and running tasks, and a task just answered may still
    # be counted while the same connection's next request starts: set it well above the users expected.
    max_connections: int = 256
    # Time a client has to send its request head, and then its body.
    client_timeout_s: float = 10.0
    torchserve_timeout_s: float = 60.0  # TorchServe's default_response_timeout
