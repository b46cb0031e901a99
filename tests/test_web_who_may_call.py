"""Who may use the review page's server: trusted Host names, writes from the page's own origin, the key kept inside.

    .venv/bin/python -m pytest tests/test_web_who_may_call.py

A real uvicorn on a free loopback port with a fake TorchServe (tests/page_server.py). The rules
are SECURITY.md's "The review page".
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from serving.torchserve import free_ports
from tests.page_server import FakeTorchServe, running_page
from web.settings import PageSettings

KEY = "inference-key-that-must-stay-here"
REVIEW = {"text": "A good film."}


def write_keys(path, inference_key: str = KEY):
    path.write_text(json.dumps({"inference": {"key": inference_key}, "management": {"key": "management-key"}}))
    return path


@pytest.fixture
def fake():
    return FakeTorchServe()


@pytest.fixture
def key_file(tmp_path):
    return write_keys(tmp_path / "key_file.json")


@pytest.fixture
def page(fake, key_file):
    with running_page(PageSettings(key_file=key_file), fake) as page:
        yield page


def call(page, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
    return httpx.request(method, page.url + path, headers=headers, timeout=10, **kwargs)


# --- Host ---


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.2:{port}", "localhost.evil.example:{port}"]
)
@pytest.mark.parametrize("method, path", [("GET", "/"), ("POST", "/api/explain")])
def test_foreign_host_is_refused(page, fake, host, method, path):
    # A page on evil.example that rebinds its name to 127.0.0.1 sends Host: evil.example:<port>.
    answer = call(page, method, path, {"Host": host.format(port=page.port)}, json=REVIEW)
    assert answer.status_code == 400
    assert "Invalid host header" in answer.text
    assert fake.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_names_are_trusted_by_default(page, host):
    assert call(page, "GET", "/", {"Host": host.format(port=page.port)}).status_code == 200


def test_trusted_hosts_are_configurable(fake, key_file):
    with running_page(PageSettings(key_file=key_file, allowed_hosts=("review.lan",)), fake) as page:
        assert call(page, "GET", "/", {"Host": f"review.lan:{page.port}"}).status_code == 200
        assert call(page, "GET", "/", {"Host": f"127.0.0.1:{page.port}"}).status_code == 400


# --- Origin ---


def test_the_pages_own_post_is_forwarded(page, fake):
    answer = call(page, "POST", "/api/explain", page.browser_headers(), json=REVIEW)
    assert answer.status_code == 200
    assert answer.json()["tokens"][0]["token"] == "good"
    assert [r.url.path for r in fake.requests] == ["/explanations/sentiment"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:{other_port}", "Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost:{port}"},  # another origin than the Host the request went to
        {"Origin": "https://127.0.0.1:{port}"},
        {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-origin"},  # a browser POST without Origin
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
    ],
)
@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
def test_browser_post_from_another_or_no_origin_is_403(page, fake, headers, path):
    (other_port,) = free_ports(1)
    headers = {name: value.format(port=page.port, other_port=other_port) for name, value in headers.items()}
    answer = call(page, "POST", path, headers, content=json.dumps(REVIEW))
    assert answer.status_code == 403
    assert "refused" in answer.json()["error"]
    assert fake.requests == []


def test_forwarded_headers_cannot_change_the_pages_origin(page, fake):
    headers = {
        "Origin": f"https://127.0.0.1:{page.port}", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"
    }
    assert call(page, "POST", "/api/predict", headers, json=REVIEW).status_code == 403
    assert fake.requests == []


def test_post_without_browser_headers_is_a_local_program_and_accepted(page, fake):
    # curl and scripts send neither Origin nor Sec-Fetch-Site; every browser sends Origin on a POST.
    answer = call(page, "POST", "/api/predict", {"Content-Type": "application/json"}, json=REVIEW)
    assert answer.status_code == 200
    assert len(fake.requests) == 1


def test_reading_the_page_needs_no_origin_and_grants_no_cors(page):
    answer = call(page, "GET", "/app.js", {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


# --- The key ---


def test_key_is_added_for_torchserve_and_a_callers_authorization_is_not_passed_on(page, fake):
    headers = {**page.browser_headers(), "Authorization": "Bearer the-callers-own"}
    assert call(page, "POST", "/api/predict", headers, json=REVIEW).status_code == 200
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_key_never_reaches_the_browser(page):
    answers = [call(page, "GET", path) for path in ("/", "/index.html", "/app.js", "/style.css")]
    answers += [call(page, "POST", api, page.browser_headers(), json=body)
                for api in ("/api/predict", "/api/explain") for body in (REVIEW, {"text": ""})]
    answers.append(call(page, "GET", "/model_store/key_file.json"))
    for answer in answers:
        assert KEY not in answer.text
        assert KEY not in str(answer.headers)
    assert {a.status_code for a in answers} == {200, 400, 404}


def test_key_is_read_on_every_call(page, fake, key_file):
    call(page, "POST", "/api/predict", page.browser_headers(), json=REVIEW)
    write_keys(key_file, "a-new-key-after-a-torchserve-restart")
    call(page, "POST", "/api/predict", page.browser_headers(), json=REVIEW)
    sent = [r.headers["Authorization"] for r in fake.requests]
    assert sent == [f"Bearer {KEY}", "Bearer a-new-key-after-a-torchserve-restart"]


def test_without_a_key_file_no_authorization_is_sent(fake, tmp_path):
    with running_page(PageSettings(key_file=tmp_path / "absent.json"), fake) as page:
        assert call(page, "POST", "/api/predict", page.browser_headers(), json=REVIEW).status_code == 200
    assert "Authorization" not in fake.requests[0].headers


# --- TorchServe's answers ---


def test_torchserve_errors_pass_through_unchanged(page):
    answer = call(page, "POST", "/api/explain", page.browser_headers(), json={"text": ""})
    assert answer.status_code == 400
    assert answer.json() == {"code": 400, "error": "the review is empty"}


def test_unreachable_torchserve_is_502_in_words(key_file):
    (closed_port,) = free_ports(1)
    url = f"http://127.0.0.1:{closed_port}"
    with running_page(PageSettings(torchserve_url=url, key_file=key_file)) as page:
        answer = call(page, "POST", "/api/predict", page.browser_headers(), json=REVIEW)
    assert answer.status_code == 502
    assert f"the model server at {url} is not reachable" in answer.json()["error"]


def test_torchserve_too_slow_is_504_in_words(key_file):
    # A socket that takes connections (the kernel's backlog) and never answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with running_page(PageSettings(torchserve_url=url, key_file=key_file, torchserve_timeout_s=0.5)) as page:
            answer = call(page, "POST", "/api/predict", page.browser_headers(), json=REVIEW)
    assert answer.status_code == 504
    assert "did not answer within 0.5 s" in answer.json()["error"]


def test_every_answer_carries_the_security_headers(page):
    for answer in (call(page, "GET", "/"), call(page, "GET", "/nope"), call(page, "POST", "/api/predict", {"Origin": "http://evil.example"})):
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
