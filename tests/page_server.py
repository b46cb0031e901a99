"""The review page's server on a free loopback port in a thread, a fake TorchServe, and raw HTTP. Not a test.

    from tests.page_server import FakeTorchServe, raw_request, running_page
    fake = FakeTorchServe()
    with running_page(PageSettings(key_file=path), fake) as page:   # page.url, page.port
        answer = raw_request(page.port, b"GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")

The server is web/server.py's (uvicorn, the same protocol, limits and app); the fake answers
TorchServe's two routes from memory, records what it got, and holds every call while `gate` is clear.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import httpx

from web.server import build_server, listening_socket
from web.settings import PageSettings

ANSWER_TIMEOUT_S = 2.0  # the bound: every bad request is answered within 2 s
START_TIMEOUT_S = 20.0


@dataclass
class Page:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def browser_headers(self) -> dict[str, str]:
        """What a browser sends with the page's own fetch()."""
        return {"Origin": self.origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}


class FakeTorchServe:
    """Answers /predictions/<model> and /explanations/<model>: 400 for an empty text, else a fixed answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.gate = threading.Event()
        self.gate.set()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        await asyncio.to_thread(self.gate.wait, 30)
        try:
            text = json.loads(request.content).get("text")
        except (ValueError, AttributeError):
            text = None
        if not text:
            return httpx.Response(400, json={"code": 400, "error": "the review is empty"})
        answer = {"label": "positive", "score": 0.75}
        if request.url.path.startswith("/explanations/"):
            answer["tokens"] = [{"token": "good", "start": 0, "end": 4, "attribution": 0.5}]
        return httpx.Response(200, json=answer)


@contextmanager
def running_page(settings: PageSettings | None = None, torchserve: FakeTorchServe | None = None) -> Iterator[Page]:
    """Serve the page until the block ends; `torchserve` None: calls go to settings.torchserve_url."""
    settings = settings or PageSettings()
    sock = listening_socket("127.0.0.1", 0)
    server = build_server(settings, torchserve.transport if torchserve else None, log_config=None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            raise RuntimeError("the page's server did not start")
        yield Page(sock.getsockname()[1])
    finally:
        if torchserve is not None:
            torchserve.gate.set()  # held calls finish, so shutdown does not wait for them
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@dataclass
class RawAnswer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(port: int, data: bytes, timeout: float = ANSWER_TIMEOUT_S) -> RawAnswer:
    """Send bytes as they are on a new connection; the answer, or socket.timeout when none comes in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return RawAnswer(answer.status, answer.headers, answer.read())


def closed_without_answer(port: int, data: bytes, timeout: float = ANSWER_TIMEOUT_S) -> bool:
    """Whether the server closes this connection, having answered nothing, within `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return sock.recv(1) == b""


def all_until_closed(port: int, data: bytes, timeout: float = ANSWER_TIMEOUT_S) -> bytes:
    """Every byte the server sends on this connection until it closes it (each read waits at most `timeout`)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    return received
