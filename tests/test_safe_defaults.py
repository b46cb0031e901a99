"""Safe defaults of config/config.properties, read from the file and checked on a live TorchServe.

    .venv/bin/python -m pytest tests/test_safe_defaults.py            # the file checks
    .venv/bin/python -m pytest -m slow tests/test_safe_defaults.py    # the live server (one start)

Live: every listening socket of the server's processes is on loopback; the management API refuses to
register, scale or delete models; token authorization refuses requests without a token or with a
wrong one on both the inference and the management API. SECURITY.md says why each default is there.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest
import requests

from tests.conftest import ROOT
from tests.random_export import make_random_mar

CONFIG = ROOT / "config" / "config.properties"


def read_properties(path: Path) -> dict[str, str]:
    """key=value entries as Java reads them: comments skipped, backslash-newline joined, \\\\ unescaped."""
    properties = {}
    for entry in re.split(r"(?<!\\)\n", path.read_text()):
        entry = re.sub(r"\\\n\s*", "", entry).strip()
        if entry and not entry.startswith(("#", "!")) and "=" in entry:
            key, value = entry.split("=", 1)
            properties[key.strip()] = value.strip().replace("\\\\", "\\")
    return properties


def test_every_address_is_loopback():
    properties = read_properties(CONFIG)
    for key in ("inference_address", "management_address", "metrics_address"):
        assert urlparse(properties[key]).hostname == "127.0.0.1", key
    # gRPC listens on 0.0.0.0 unless told otherwise.
    assert properties["grpc_inference_address"] == properties["grpc_management_address"] == "127.0.0.1"


def test_frontend_heap_is_bounded():
    """TorchServe passes vmargs to the JVM; without -Xmx the heap may grow to a quarter of the host's memory."""
    vmargs = read_properties(CONFIG)["vmargs"].split()
    heap = [a for a in vmargs if a.startswith("-Xmx")]
    assert len(heap) == 1 and re.fullmatch(r"-Xmx\d+[mg]", heap[0])


def test_model_api_off_and_token_authorization_on():
    properties = read_properties(CONFIG)
    assert properties["enable_model_api"] == "false"
    assert properties.get("disable_token_authorization", "false") == "false"


@pytest.mark.parametrize("url, allowed", [
    ("file:///srv/app/model_store/sentiment.mar", True),
    ("http://example.com/sentiment.mar", False),
    ("https://127.0.0.1/model_store/sentiment.mar", False),
    ("file:///srv/elsewhere/sentiment.mar", False),
    ("file:///srv/app/model_store/sub/evil.mar", False),
    ("file:///srv/app/model_store/sentiment.mar.sh", False),
])
def test_allowed_urls_pattern(url, allowed):
    """TorchServe matches the whole URL against each comma-separated regex (Java String.matches)."""
    patterns = read_properties(CONFIG)["allowed_urls"].split(",")
    assert any(re.fullmatch(p, url) for p in patterns) == allowed


# -- live server ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from serving.torchserve import running_torchserve

    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="ts-"))  # short: worker socket paths are capped (serving/torchserve.py)
    try:
        with running_torchserve(make_random_mar(tmp), tmp) as live:
            yield live
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predict(server, token: str | None) -> requests.Response:
    headers = {"Content-Type": "text/plain"} | ({"Authorization": f"Bearer {token}"} if token is not None else {})
    return requests.post(f"{server.inference_url}/predictions/sentiment", data=b"A fine film.", headers=headers, timeout=60)


def manage(server, method: str, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, f"{server.management_url}{path}", headers=headers, timeout=60)


@pytest.mark.slow
def test_live_server_listens_on_loopback_only(server):
    frontend = psutil.Process(server.pid)
    # connections(), not net_connections(): kserve pins psutil<6, which has only the older name
    listening = [
        c.laddr for p in [frontend, *frontend.children(recursive=True)]
        for c in p.connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    ports = {urlparse(u).port for u in (server.inference_url, server.management_url, server.metrics_url)}
    assert ports <= {a.port for a in listening}  # the sockets we expect are the ones we looked at
    for address in listening:
        ip = ipaddress.ip_address(address.ip)
        assert (getattr(ip, "ipv4_mapped", None) or ip).is_loopback, listening  # Java shows ::ffff:127.0.0.1


@pytest.mark.slow
@pytest.mark.parametrize("method, path", [
    ("POST", "/models?url=sentiment.mar&model_name=again&initial_workers=1"),
    ("POST", "/models?url=http://127.0.0.1:9/evil.mar"),
    ("DELETE", "/models/sentiment"),
])
def test_management_api_cannot_change_models(server, method, path):
    answer = manage(server, method, path, server.management_token)
    assert 400 <= answer.status_code < 500, answer.text
    listed = manage(server, "GET", "/models", server.management_token)
    assert [m["modelName"] for m in listed.json()["models"]] == ["sentiment"]
    assert predict(server, server.token).status_code == 200


def refused_for_token(answer: requests.Response) -> bool:
    # TorchServe 0.12 answers 400 "Token Authorization failed. Token either incorrect, expired, or not provided correctly".
    return answer.status_code in (400, 401, 403) and "token authorization failed" in answer.text.lower()


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "", "wrong-token", "management"])
def test_inference_api_refuses_missing_or_wrong_token(server, token):
    token = server.management_token if token == "management" else token  # each API has its own key
    assert refused_for_token(predict(server, token))
    assert predict(server, server.token).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "", "wrong-token", "inference"])
def test_management_api_refuses_missing_or_wrong_token(server, token):
    token = server.token if token == "inference" else token
    assert refused_for_token(manage(server, "GET", "/models", token))
    assert manage(server, "GET", "/models", server.management_token).status_code == 200
