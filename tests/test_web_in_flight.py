"""The review page's server forwards at most N API calls at once: 503 + Retry-After past that.

    .venv/bin/python -m pytest tests/test_web_in_flight.py

A fake TorchServe (tests/page_server.py) holds calls until released, so "in flight" is exact;
the connection cap (uvicorn's limit_concurrency) is checked with idle kept-alive connections.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from serving.torchserve import free_ports
from tests.page_server import FakeTorchServe, raw_request, running_page
from web.settings import PageSettings

REVIEW = {"text": "A good film."}
WAIT_S = 20


def post(page, path: str = "/api/predict", body: dict = REVIEW) -> httpx.Response:
    return httpx.post(page.url + path, json=body, headers=page.browser_headers(), timeout=WAIT_S)


def wait_for_calls(fake: FakeTorchServe, n: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(fake.requests) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.requests) == n


def test_calls_past_the_limit_get_503_with_retry_after_and_the_held_ones_finish(tmp_path):
    fake = FakeTorchServe()
    fake.gate.clear()
    settings = PageSettings(key_file=tmp_path / "none.json", max_in_flight=2)
    with running_page(settings, fake) as page, ThreadPoolExecutor(2) as pool:
        held = [pool.submit(post, page, path) for path in ("/api/predict", "/api/explain")]
        wait_for_calls(fake, 2)

        busy = post(page)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert "busy (2 requests in flight)" in busy.json()["error"]
        assert httpx.get(page.url + "/", timeout=WAIT_S).status_code == 200  # the page itself is not limited
        assert len(fake.requests) == 2

        fake.gate.set()
        assert [call.result(timeout=WAIT_S).status_code for call in held] == [200, 200]
        assert post(page).status_code == 200


def test_refused_and_failed_calls_give_their_place_back(tmp_path):
    (closed_port,) = free_ports(1)
    settings = PageSettings(torchserve_url=f"http://127.0.0.1:{closed_port}", key_file=tmp_path / "none.json",
                            max_in_flight=1, max_body_bytes=100)
    with running_page(settings) as page:
        assert post(page, body={"text": "x" * 200}).status_code == 413
        assert post(page).status_code == 502
        assert post(page).status_code == 502  # not 503: the failed call left the slot


def test_connections_past_the_cap_get_503_from_uvicorn(tmp_path):
    settings = PageSettings(key_file=tmp_path / "none.json", max_connections=3)
    get = b"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with running_page(settings, FakeTorchServe()) as page:
        idle = [socket.create_connection(("127.0.0.1", page.port), timeout=2) for _ in range(2)]
        try:
            for sock in idle:  # answered, then kept open: they count as connections
                sock.sendall(get)
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            assert raw_request(page.port, get).status == 503
        finally:
            for sock in idle:
                sock.close()
        statuses = []
        for _ in range(100):  # until the server has seen the closes
            statuses.append(raw_request(page.port, get).status)
            if statuses[-1] == 200:
                break
            time.sleep(0.05)
        assert statuses[-1] == 200
