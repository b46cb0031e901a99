"""Fault (c) and allowed_urls on a real TorchServe: broken archives fail to load, loudly; outside URLs are refused.

    .venv/bin/python -m pytest -m slow tests/test_fault_bad_archives.py -s

One server with the management API switched on (the shipped config has it off, see
test_safe_defaults.py) so that archives can be registered one by one: a truncated .mar, and .mar files
whose network.pt, tokenizer.json or model_config.json is truncated, garbage, or from another network.
Each registration must fail (no model that answers /predictions) and the reason must be in the
server's logs naming the file, never a model that loads and answers wrongly. The archive predicts
with ONNX Runtime (the shipped runtime) from network.int8.onnx (the default precision), so that file is
broken too; network.onnx (what precision float32 would serve) and network.pt (built only for
explanations) must still be refused at load. The same server
shows that allowed_urls refuses archive URLs outside the model store and accepts one inside it.
"""

from __future__ import annotations

import io
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest
import requests
import torch

from tests.figures import record_figure
from tests.random_export import make_random_mar
from serving.torchserve import running_torchserve

pytestmark = pytest.mark.slow


def with_member(mar: Path, target: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(mar) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            out.writestr(info, data if info.filename == member else source.read(info))
    return target


def other_network_weights() -> bytes:
    from model.network import SentimentNet, SentimentNetConfig

    buffer = io.BytesIO()
    torch.save(SentimentNet(SentimentNetConfig(vocab_size=100, embedding_dim=12, gru_hidden=4, lstm_hidden=4)).state_dict(), buffer)
    return buffer.getvalue()


def broken_archives(mar: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (archive, what the logs must say)."""
    with zipfile.ZipFile(mar) as archive:
        weights, tokenizer, graph = archive.read("network.pt"), archive.read("tokenizer.json"), archive.read("network.onnx")
        int8_graph = archive.read("network.int8.onnx")
        # Cut in the middle of the largest member's data: TorchServe unzips as a stream, so a cut that falls
        # after the last member (in the central directory) would still unpack.
        largest = max(archive.infolist(), key=lambda info: info.compress_size)
        cut = largest.header_offset + 30 + len(largest.filename.encode()) + largest.compress_size // 2
    truncated = folder / "truncated_mar.mar"
    truncated.write_bytes(mar.read_bytes()[:cut])
    return {
        # TorchServe cannot unzip it; it says so in the answer only ("Failed to save model: truncated_mar.mar").
        "truncated_mar": (truncated, "Failed to save model: truncated_mar.mar"),
        "weights_truncated": (with_member(mar, folder / "weights_truncated.mar", "network.pt", weights[: len(weights) // 2]),
                              "cannot load weights"),
        "weights_garbage": (with_member(mar, folder / "weights_garbage.mar", "network.pt", os.urandom(len(weights))),
                            "cannot load weights"),
        "weights_other_network": (with_member(mar, folder / "weights_other_network.mar", "network.pt", other_network_weights()),
                                  "cannot load weights"),
        "onnx_truncated": (with_member(mar, folder / "onnx_truncated.mar", "network.onnx", graph[: len(graph) // 2]),
                           "cannot load ONNX model"),
        "onnx_garbage": (with_member(mar, folder / "onnx_garbage.mar", "network.onnx", os.urandom(len(graph))),
                         "cannot load ONNX model"),
        "int8_truncated": (with_member(mar, folder / "int8_truncated.mar", "network.int8.onnx", int8_graph[: len(int8_graph) // 2]),
                           "cannot load ONNX model"),
        "tokenizer_truncated": (with_member(mar, folder / "tokenizer_truncated.mar", "tokenizer.json", tokenizer[: len(tokenizer) // 2]),
                                "cannot load tokenizer"),
        "config_garbage": (with_member(mar, folder / "config_garbage.mar", "model_config.json", b"{not json"),
                           "bad model config"),
    }


@pytest.fixture(scope="module")
def server_and_archives():
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="ts-"))  # module scope: no tmp_path
    try:
        mar = make_random_mar(tmp / "build")
        broken = broken_archives(mar, tmp)
        with running_torchserve(mar, tmp, config_overrides={"enable_model_api": "true"}) as server:
            store = server.work_dir.parent / "model_store"
            for archive, _ in broken.values():
                shutil.copy2(archive, store / archive.name)
            elsewhere = tmp / "elsewhere" / "model_store"  # a URL is copied into the store, so not from there
            elsewhere.mkdir(parents=True)
            shutil.copy2(mar, elsewhere / "control.mar")
            yield server, elsewhere, broken
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def register(server, url: str, name: str) -> requests.Response:
    return requests.post(
        f"{server.management_url}/models",
        params={"url": url, "model_name": name, "initial_workers": 1, "synchronous": "true"},
        headers={"Authorization": f"Bearer {server.management_token}"}, timeout=300,
    )


def registered(server) -> set[str]:
    answer = requests.get(f"{server.management_url}/models", headers={"Authorization": f"Bearer {server.management_token}"}, timeout=60)
    return {m["modelName"] for m in answer.json()["models"]}


def unregister(server, name: str) -> None:
    requests.delete(f"{server.management_url}/models/{name}", headers={"Authorization": f"Bearer {server.management_token}"}, timeout=120)


def logs(server) -> str:
    return "".join(p.read_text(errors="replace") for p in server.log_dir.glob("*.log"))


@pytest.mark.parametrize("name", ["truncated_mar", "weights_truncated", "weights_garbage", "weights_other_network",
                                  "onnx_truncated", "onnx_garbage", "int8_truncated", "tokenizer_truncated",
                                  "config_garbage"])
def test_broken_archive_fails_to_load_with_a_clear_message(server_and_archives, name, request):
    server, store, broken = server_and_archives
    archive, message = broken[name]
    started = time.monotonic()
    answer = register(server, archive.name, name)
    refused_s = time.monotonic() - started
    try:
        assert answer.status_code != 200, answer.text
        predicted = requests.post(f"{server.inference_url}/predictions/{name}", data=b"A fine film.",
                                  headers={**server.headers(), "Content-Type": "text/plain"}, timeout=60)
        assert predicted.status_code != 200  # no model answers under that name
        deadline = time.monotonic() + 30  # async logging: give the appender a moment
        while name != "truncated_mar" and message not in logs(server) and time.monotonic() < deadline:
            time.sleep(0.5)
        where = logs(server) + (answer.text if name == "truncated_mar" else "")
        assert message in where, f"no {message!r} in the server logs; registration answered {answer.text}"
    finally:
        if name in registered(server):
            unregister(server, name)  # else TorchServe retries the failing worker forever
    assert requests.post(f"{server.inference_url}/predictions/sentiment", data=b"A fine film.",
                         headers={**server.headers(), "Content-Type": "text/plain"}, timeout=60).status_code == 200
    record_figure(request, f"bad_archive_{name}", {"status": answer.status_code, "refused_after_s": round(refused_s, 1),
                                                   "answer": answer.text[:200]})


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/evil.mar", "https://example.com/evil.mar", "file:///srv/elsewhere/evil.mar",
                                 "../evil.mar"])
def test_urls_outside_the_model_store_are_refused(server_and_archives, url):
    server, _, _ = server_and_archives
    answer = register(server, url, "evil")
    assert 400 <= answer.status_code < 500, answer.text
    assert "evil" not in registered(server)


def test_an_archive_url_the_pattern_allows_is_accepted(server_and_archives):
    """The control: the refusals above are about the URL, not about registration failing altogether.
    (The pattern accepts any folder named model_store; it matters only with the model API on.)"""
    server, elsewhere, _ = server_and_archives
    answer = register(server, f"file://{elsewhere / 'control.mar'}", "control")
    try:
        assert answer.status_code == 200, answer.text
        predicted = requests.post(f"{server.inference_url}/predictions/control", data=b"A fine film.",
                                  headers={**server.headers(), "Content-Type": "text/plain"}, timeout=60)
        assert predicted.status_code == 200
    finally:
        unregister(server, "control")
