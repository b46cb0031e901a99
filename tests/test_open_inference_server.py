"""KServe's protocols against a real TorchServe on free loopback ports (slow tier): config/kserve.properties
(Open Inference Protocol, v2) and config/kserve-v1.properties (v1), with good, batched and bad bodies.

    .venv/bin/python -m pytest -m slow tests/test_open_inference_server.py
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import torch

from model.export import load_export
from scripts.build_archive import build
from serving.torchserve import KSERVE_CONFIG, KSERVE_V1_CONFIG, MODEL_NAME, running_torchserve
from tests.random_export import make_random_export

pytestmark = pytest.mark.slow
# A longer batch delay than production, so concurrent requests reliably share a batch.
BATCHING = {"models": '{"sentiment": {"1.0": {"defaultVersion": true, "marName": "sentiment.mar", '
            '"minWorkers": 1, "maxWorkers": 1, "batchSize": 8, "maxBatchDelay": 50, "responseTimeout": 60}}}'}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return make_random_export(tmp_path_factory.mktemp("random"))


@pytest.fixture(scope="module")
def mar(export, tmp_path_factory):
    return build(export, tmp_path_factory.mktemp("mar"))


@pytest.fixture(scope="module")
def v2_server(mar, tmp_path_factory):
    with running_torchserve(mar, tmp_path_factory.mktemp("ts"), BATCHING, base_config=KSERVE_CONFIG) as server:
        yield server


@pytest.fixture(scope="module")
def v1_server(mar, tmp_path_factory):
    with running_torchserve(mar, tmp_path_factory.mktemp("ts"), base_config=KSERVE_V1_CONFIG) as server:
        yield server


def v2(texts):
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}


def infer(server, body, content_type="application/json", path=f"v2/models/{MODEL_NAME}/infer"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{server.inference_url}/{path}", data=data, timeout=60,
                         headers={**server.headers(), "Content-Type": content_type})


def in_process(export, texts):
    net, encoder, _ = load_export(export)
    with torch.no_grad():
        return torch.sigmoid(net(*encoder.batch(texts))).tolist()


# -- v2 ----------------------------------------------------------------------------------------


def test_v2_infer_answers_label_and_score_tensors(v2_server, export):
    texts = ["a wonderful and moving film", "awful boring waste of time", "the plot"]
    answer = infer(v2_server, {**v2(texts), "id": "req-1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (MODEL_NAME, "1.0", "req-1")
    label, score = body["outputs"]
    assert (label["name"], label["datatype"], label["shape"]) == ("label", "BYTES", [3])
    assert (score["name"], score["datatype"], score["shape"]) == ("score", "FP32", [3])
    expected = in_process(export, texts)
    assert score["data"] == pytest.approx(expected, abs=1e-5)
    assert label["data"] == ["positive" if p >= 0.5 else "negative" for p in expected]


def test_v2_concurrent_requests_each_get_their_own_answer(v2_server, export):
    requests_texts = [[f"the film was {'great' if i % 2 else 'dull'} {j}" for j in range(1 + i % 3)] for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda texts: infer(v2_server, v2(texts)), requests_texts))
    assert [a.status_code for a in answers] == [200] * len(answers)
    for texts, answer in zip(requests_texts, answers):
        assert answer.json()["outputs"][1]["data"] == pytest.approx(in_process(export, texts), abs=1e-5)


BAD_V2 = [
    (b'{"inputs": [', "application/json", 400, "malformed JSON"),
    (b'{"instances": ["great film"]}', "application/json", 400, "KServe v1 body"),
    (b'{"text": "great film"}', "application/json", 400, "/predictions form"),
    (b"great film", "text/plain", 400, "malformed JSON"),
    (b"great film", "application/x-www-form-urlencoded", 415, "form fields"),
    (b"", "application/json", 400, "empty request body: send {\"inputs\""),
    (b'{"inputs": []}', "application/json", 400, "exactly one tensor"),
    (b'{"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}', "application/json", 400, "holds 1"),
    (b'{"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}', "application/json", 400, "name"),
    (b'{"inputs": [{"name": "text", "shape": [1], "datatype": "INT64", "data": [5]}]}', "application/json", 400, "BYTES"),
    (b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["   "]}]}', "application/json", 400, "empty"),
]


@pytest.mark.parametrize("body, content_type, status, words", BAD_V2)
def test_bad_v2_bodies_get_4xx_with_a_message_and_the_server_keeps_serving(v2_server, body, content_type, status, words):
    answer = infer(v2_server, body, content_type)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]
    assert infer(v2_server, v2(["a great film"])).status_code == 200


def test_other_routes_of_the_v2_server_speak_v2_too(v2_server):
    native = infer(v2_server, b"great film", "text/plain", path=f"predictions/{MODEL_NAME}")
    assert native.status_code == 400 and 'this server expects {"inputs"' in native.json()["error"]
    explain = infer(v2_server, v2(["great film"]), path=f"v2/models/{MODEL_NAME}/explain")
    assert explain.status_code == 404 and "explanations" in explain.json()["error"]


def test_health_routes_and_what_the_http_frontend_does_not_serve(v2_server):
    get = lambda path, **kw: requests.get(f"{v2_server.inference_url}{path}", timeout=10, **kw)
    assert get("/v2/health/ready", headers=v2_server.headers()).json() == {"ready": True}
    assert get("/v2/health/live", headers=v2_server.headers()).json() == {"live": True}
    assert get("/v2/health/ready").status_code == 400  # the token guards these routes too
    # TorchServe 0.12 serves model readiness and metadata over gRPC only (docs/serving.md).
    assert get(f"/v2/models/{MODEL_NAME}/ready", headers=v2_server.headers()).status_code == 404
    # KServe v1's model-ready route is on the management API.
    ready = requests.get(f"{v2_server.management_url}/v1/models/{MODEL_NAME}", timeout=10,
                         headers={"Authorization": f"Bearer {v2_server.management_token}"})
    assert ready.json() == {"name": MODEL_NAME, "ready": True}


# -- v1 ----------------------------------------------------------------------------------------


def test_v1_predict_bad_bodies_and_explain(v1_server, export):
    path = f"v1/models/{MODEL_NAME}:predict"
    texts = ["a wonderful and moving film", "awful boring waste of time"]
    good = infer(v1_server, {"instances": texts}, path=path)
    assert good.status_code == 200, good.text
    assert [p["score"] for p in good.json()["predictions"]] == pytest.approx(in_process(export, texts), abs=1e-5)
    for body, words in [(v2(texts), "Open Inference Protocol (v2) body"), (b'{"instances": ', "malformed JSON"),
                        ({"instances": [7]}, "instances[0] must be a string")]:
        bad = infer(v1_server, body, path=path)
        assert bad.status_code == 400 and words in bad.json()["error"], bad.text
        assert infer(v1_server, {"instances": ["great"]}, path=path).status_code == 200
    explained = infer(v1_server, {"instances": ["great film"]}, path=f"v1/models/{MODEL_NAME}:explain")
    assert explained.status_code == 200 and "tokens" in explained.json()["explanations"][0]
