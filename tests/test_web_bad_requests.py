"""Bad requests to the review page's server get a 4xx within 2 s, sent as raw bytes to a real uvicorn.

    .venv/bin/python -m pytest tests/test_web_bad_requests.py

Some are refused by h11 inside uvicorn (malformed Content-Length, oversized header), some by the
app (too large, wrong method, unknown path), slow clients by the deadlines (web/head_timeout.py,
web/proxy.py). Each socket waits at most 2 s for the answer.
"""

from __future__ import annotations

import pytest

from tests.page_server import FakeTorchServe, all_until_closed, closed_without_answer, raw_request, running_page
from web.settings import PageSettings

CAP = 1000


@pytest.fixture(scope="module")
def fake():
    return FakeTorchServe()


@pytest.fixture(scope="module")
def page(fake):
    settings = PageSettings(max_body_bytes=CAP, client_timeout_s=1.0)
    with running_page(settings, fake) as page:
        yield page


def head(page, first_line: str, *headers: str) -> bytes:
    return "\r\n".join([first_line, f"Host: 127.0.0.1:{page.port}", *headers, "", ""]).encode()


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "10, 20", "99999999999999999999999"])
def test_malformed_or_absurd_content_length_is_400(page, fake, length):
    calls = len(fake.requests)
    answer = raw_request(page.port, head(page, "POST /api/predict HTTP/1.1", f"Content-Length: {length}"))
    assert answer.status == 400
    assert len(fake.requests) == calls


@pytest.mark.parametrize("length", [CAP + 1, 10**12, 10**19])
def test_content_length_over_the_cap_is_413_before_the_body(page, length):
    answer = raw_request(page.port, head(page, "POST /api/predict HTTP/1.1", f"Content-Length: {length}"))
    assert answer.status == 413
    assert "too long" in answer.json()["error"]
    assert answer.headers["Connection"] == "close"


def test_chunked_body_over_the_cap_is_413(page, fake):
    chunk = b"x" * 400
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    calls = len(fake.requests)
    answer = raw_request(page.port, head(page, "POST /api/predict HTTP/1.1", "Transfer-Encoding: chunked") + chunks)
    assert answer.status == 413
    assert len(fake.requests) == calls


def test_head_still_incomplete_past_h11_limit_is_400(page):
    # h11 (max_incomplete_event_size, 16 KiB) limits an unfinished head: a client dribbling headers
    # is stopped there. A whole head that arrives in one read is parsed, whatever its size.
    unfinished = head(page, "GET / HTTP/1.1", "X-Padding: " + "a" * 20_000)[:-2]
    answer = raw_request(page.port, unfinished)
    assert answer.status == 400


@pytest.mark.parametrize(
    "first_line, allowed",
    [("GET /api/predict HTTP/1.1", "POST"), ("DELETE /api/explain HTTP/1.1", "POST"),
     ("POST / HTTP/1.1", "GET"), ("PUT /app.js HTTP/1.1", "GET"), ("OPTIONS /api/predict HTTP/1.1", "POST")],
)
def test_wrong_method_is_405_with_allow(page, first_line, allowed):
    answer = raw_request(page.port, head(page, first_line, "Content-Length: 0"))
    assert answer.status == 405
    assert allowed in answer.headers["Allow"]
    assert "not allowed" in answer.json()["error"]


@pytest.mark.parametrize(
    "first_line",
    ["GET /server.py HTTP/1.1", "GET /../web/server.py HTTP/1.1", "GET /%2e%2e/model_store/key_file.json HTTP/1.1",
     "GET /static/app.js HTTP/1.1", "POST /api/other HTTP/1.1"],
)
def test_unknown_path_is_404(page, first_line):
    answer = raw_request(page.port, head(page, first_line, "Content-Length: 0"))
    assert answer.status == 404
    assert "no such page" in answer.json()["error"]


def test_half_sent_head_is_408_after_the_client_timeout(page):
    answer = raw_request(page.port, f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n".encode())
    assert answer.status == 408


def test_body_slower_than_the_client_timeout_is_408(page, fake):
    calls = len(fake.requests)
    answer = raw_request(page.port, head(page, "POST /api/predict HTTP/1.1", "Content-Length: 20") + b'{"text":')
    assert answer.status == 408
    assert "did not arrive" in answer.json()["error"]
    assert len(fake.requests) == calls


def test_connection_that_sends_nothing_is_closed(page):
    assert closed_without_answer(page.port, b"")


def test_second_request_head_on_a_kept_connection_has_the_same_deadline(page):
    received = all_until_closed(page.port, head(page, "GET /style.css HTTP/1.1") + b"GET / HTTP/1.1\r\n")
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.index(b"HTTP/1.1 408 ") > 0  # the second answer: its head never came whole


def test_a_good_request_still_works(page):
    request = head(page, "POST /api/predict HTTP/1.1", "Content-Length: 16", "Connection: close") + b'{"text": "good"}'
    answer = raw_request(page.port, request)
    assert answer.status == 200
    assert answer.json()["label"] == "positive"
