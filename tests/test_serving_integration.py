"""A real TorchServe on free loopback ports with an archive built from the tiny model, on each runtime (slow tier).

    .venv/bin/python -m pytest -m slow tests/test_serving_integration.py

One server per network the archive can serve (its model-config.yaml: the defaults, which run the export's
int8 network; precision float32; runtime torch); every test runs against each. float32 and torch answers
must equal the PyTorch network's within 1e-5, int8 answers the in-process int8 network's, each review
scored alone, within INT8_BATCH_TOLERANCE (its answers move that little with their batch-mates).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import torch

from model.export import load_export
from serving.archive import build, model_config_with
from serving.runtime import INT8_BATCH_TOLERANCE, Predictor
from serving.settings import HandlerSettings
from serving.torchserve import running_torchserve

pytestmark = pytest.mark.slow


SERVED = {"int8": {}, "float32": {"precision": "float32"}, "torch": {"runtime": "torch"}}


@pytest.fixture(scope="module", params=list(SERVED))
def server(tiny_export, tmp_path_factory, request):
    config = model_config_with(SERVED[request.param], tmp_path_factory.mktemp("config"))
    mar = build(tiny_export, tmp_path_factory.mktemp("mar"), model_config=config)
    # A longer batch delay than production, so the concurrent test reliably forms batches.
    overrides = {"models": '{"sentiment": {"1.0": {"defaultVersion": true, "marName": "sentiment.mar", '
                 '"minWorkers": 1, "maxWorkers": 1, "batchSize": 8, "maxBatchDelay": 50, "responseTimeout": 60}}}'}
    with running_torchserve(mar, tmp_path_factory.mktemp("ts"), overrides) as running:
        running.network = request.param
        yield running


def post(server, body, content_type="text/plain", path="predictions"):
    headers = {**server.headers(), "Content-Type": content_type}
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{server.inference_url}/{path}/sentiment", data=data, headers=headers, timeout=60)


def in_process(tiny_export, texts, network: str):
    """What the server must answer (scores) and how closely."""
    if network == "int8":
        predictor = Predictor(tiny_export, HandlerSettings(precision="int8"))
        return pytest.approx([float(predictor.predict_proba([t])[0, 1]) for t in texts], abs=INT8_BATCH_TOLERANCE)
    net, encoder, _ = load_export(tiny_export)
    with torch.no_grad():
        return pytest.approx(torch.sigmoid(net(*encoder.batch(texts))).tolist(), abs=1e-5)


def test_ping_and_token(server):
    assert requests.get(f"{server.inference_url}/ping", headers=server.headers(), timeout=10).json()["status"] == "Healthy"
    refused = requests.post(f"{server.inference_url}/predictions/sentiment", data=b"great", timeout=10)
    assert refused.status_code == 400 and "Token" in refused.json()["message"]


def test_single_and_texts(server, tiny_export):
    one = post(server, "a wonderful and moving film")
    assert one.status_code == 200 and set(one.json()) == {"label", "score"}
    many = post(server, '{"texts": ["great superb film", "awful boring waste"]}', "application/json")
    assert many.status_code == 200
    expected = in_process(tiny_export, ["a wonderful and moving film", "great superb film", "awful boring waste"],
                          server.network)
    assert [one.json()["score"]] + [r["score"] for r in many.json()] == expected


def test_concurrent_requests_are_batched_and_answered(server, tiny_export):
    texts = [f"the film was {'great' if i % 2 else 'dull'} and the plot {i}" for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda t: post(server, t), texts))
    assert [a.status_code for a in answers] == [200] * len(texts)
    assert [a.json()["score"] for a in answers] == in_process(tiny_export, texts, server.network)


BAD = [
    (b"", "text/plain", 400),
    (b"   \n ", "text/plain", 400),
    (b"\xff\xfe\xfd", "text/plain", 400),
    (b'{"text": ', "application/json", 400),
    (b'{"text": 7}', "application/json", 400),
    (b'["a"]', "application/json", 400),
    (b'{"texts": []}', "application/json", 400),
    (b'{"texts": [' + b",".join([b'"ok"'] * 65) + b"]}", "application/json", 413),
    (b"x" * 20_001, "text/plain", 413),
    (b"great film", "application/x-www-form-urlencoded", 415),
]


def test_bad_inputs_get_4xx_json_and_the_worker_keeps_serving(server):
    for body, content_type, status in BAD:
        answer = post(server, body, content_type)
        assert answer.status_code == status, (body[:40], answer.text)
        assert answer.json()["error"]
        assert post(server, "a great film").status_code == 200


def test_bad_request_inside_a_batch_fails_alone(server):
    bodies = [b"great film", b"", b"dull film", b'{"text": ', b"superb"] * 3
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda b: post(server, b, "application/json" if b.startswith(b"{") else "text/plain"), bodies))
    assert [a.status_code for a in answers] == [200, 400, 200, 400, 200] * 3


def test_explanations(server):
    pytest.importorskip("serving.explain")
    answer = post(server, '{"text": "great film"}', "application/json", path="explanations")
    assert answer.status_code == 200 and "tokens" in answer.json()
    assert post(server, b"", path="explanations").status_code == 400


def test_metrics_in_prometheus_format(server):
    post(server, "great film")
    text = requests.get(f"{server.metrics_url}/metrics", timeout=10).text
    assert "# TYPE" in text and "ts_inference_requests_total" in text
