"""KServe's model server (serving/kserve_model.py) on free loopback ports, asked by clients nobody here wrote:
tritonclient (HTTP and gRPC) and KServe's own InferenceRESTClient. One server for the module (slow tier).

    .venv/bin/python -m pytest -m slow tests/test_kserve_server.py

Every answer is compared with the in-process Predictor on the same texts; every bad request must answer
4xx and leave the server answering the next good one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from paths import MODEL_NAME, SHIPPED_EXPORT
from serving.kserve_process import running_kserve
from serving.runtime import INT8_BATCH_TOLERANCE, Predictor
from serving.settings import HandlerSettings, load_model_yaml

pytestmark = pytest.mark.slow

TEXTS = ["A moving, beautifully acted film.", "Dull, predictable and far too long.", "It was fine, I suppose."]
SETTINGS = HandlerSettings.from_model_yaml(load_model_yaml())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_kserve(SHIPPED_EXPORT, tmp_path_factory.mktemp("kserve")) as server:
        yield server


@pytest.fixture(scope="module")
def expected():
    """The in-process scores of TEXTS: what every server answer must equal."""
    return Predictor(SHIPPED_EXPORT, SETTINGS).predict_proba(TEXTS)[:, 1]


@pytest.fixture()
def triton(server):
    client = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
    yield client
    client.close()


def text_input(texts: list[str], binary: bool) -> httpclient.InferInput:
    batch = np.array([t.encode() for t in texts], dtype=np.object_)
    tensor = httpclient.InferInput("text", list(batch.shape), np_to_triton_dtype(batch.dtype))
    tensor.set_data_from_numpy(batch, binary_data=binary)
    return tensor


def assert_still_answers(server, expected):
    answer = requests.post(server.infer_url, json=v2_body(TEXTS), timeout=30)
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["outputs"][1]["data"], expected, atol=1e-6)


def v2_body(texts, **tensor):
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts, **tensor}]}


# -- what the process is (first: an explanation, below, loads PyTorch into the server) -------------


def test_it_listens_on_loopback_only_and_maps_no_libtorch(server):
    process = psutil.Process(server.pid)
    listening = [c.laddr.ip for c in process.connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert len(listening) == 2, listening  # REST and gRPC
    assert all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for ip in listening), listening
    maps = Path(f"/proc/{server.pid}/maps").read_text()
    assert "libtorch" not in maps
    assert "onnxruntime" in maps


# -- health and metadata ---------------------------------------------------------------------------


def test_health_and_readiness_through_tritonclient(triton):
    assert triton.is_server_live() and triton.is_server_ready() and triton.is_model_ready(MODEL_NAME)
    assert not triton.is_model_ready("no-such-model")


def test_model_metadata_declares_text_in_label_and_score_out(triton):
    metadata = triton.get_model_metadata(MODEL_NAME)
    assert metadata["name"] == MODEL_NAME
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [("label", "BYTES"), ("score", "FP32")]


# -- inference -------------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_inference_equals_in_process(triton, expected, binary):
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("label", "score")]
    result = triton.infer(MODEL_NAME, [text_input(TEXTS, binary)], outputs=outputs)
    np.testing.assert_allclose(result.as_numpy("score"), expected, atol=1e-6)
    assert [label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("label")] == \
        ["positive" if p >= SETTINGS.threshold else "negative" for p in expected]


def test_a_request_for_one_output_gets_only_that_output(triton, expected):
    result = triton.infer(MODEL_NAME, [text_input(TEXTS, False)], outputs=[httpclient.InferRequestedOutput("score")])
    assert result.as_numpy("label") is None
    np.testing.assert_allclose(result.as_numpy("score"), expected, atol=1e-6)


def test_tritonclient_grpc(server, expected):
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("triton_grpc_client.py")), server.grpc_address,
                           *TEXTS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["live"] and answer["ready"] and answer["model_ready"]
    assert answer["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": ["-1"]}]
    assert answer["outputs"] == ["label", "score"]
    np.testing.assert_allclose(answer["scores"], expected, atol=1e-6)
    np.testing.assert_allclose(answer["after"], expected, atol=1e-6)
    assert answer["unload_refused"] == "StatusCode.UNIMPLEMENTED"
    assert answer["wrong_datatype"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert "BYTES" in answer["wrong_datatype"]["message"]


def test_kserve_inference_rest_client(server, expected):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    async def ask():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            live = await client.is_server_live(server.http_url)
            ready = await client.is_model_ready(server.http_url, MODEL_NAME)
            request = InferRequest(MODEL_NAME, [InferInput("text", [len(TEXTS)], "BYTES", TEXTS)])
            return live, ready, await client.infer(server.http_url, request, model_name=MODEL_NAME)
        finally:
            await client.close()

    live, ready, response = asyncio.run(ask())
    assert live and ready
    scores = next(o for o in response.outputs if o.name == "score")
    np.testing.assert_allclose(scores.data, expected, atol=1e-6)


def test_v1_predict_and_explain(server, expected):
    url = f"{server.http_url}/v1/models/{MODEL_NAME}"
    predicted = requests.post(f"{url}:predict", json={"instances": [TEXTS[0], {"text": TEXTS[1]}]}, timeout=30)
    assert predicted.status_code == 200, predicted.text
    # Two of the three texts: another pass than `expected`'s, which moves int8 answers slightly.
    np.testing.assert_allclose([p["score"] for p in predicted.json()["predictions"]], expected[:2],
                               atol=INT8_BATCH_TOLERANCE)
    explained = requests.post(f"{url}:explain", json={"instances": [TEXTS[0]]}, timeout=120)
    assert explained.status_code == 200, explained.text
    (explanation,) = explained.json()["explanations"]
    assert [t["token"] for t in explanation["tokens"]][:3] == ["a", "moving", ","]
    # Explanations run the float32 PyTorch network, whatever network predicts.
    float32 = Predictor(SHIPPED_EXPORT, replace(SETTINGS, precision="float32")).predict_proba(TEXTS[:1])[0, 1]
    assert explanation["score"] == pytest.approx(float32, abs=1e-5)


def test_concurrent_requests_each_get_their_own_answer(server):
    texts = [f"{TEXTS[i % 3]} Seen on day {i}." for i in range(48)]
    together = Predictor(SHIPPED_EXPORT, SETTINGS).predict_proba(texts)[:, 1]

    def ask(i):
        answer = requests.post(server.infer_url, json=v2_body([texts[i]], **{}), timeout=60)
        return answer.json()["outputs"][1]["data"][0]

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(ask, range(len(texts))))
    # The micro-batcher forms its passes from whatever arrives: int8 answers move by at most the tolerance.
    np.testing.assert_allclose(got, together, atol=INT8_BATCH_TOLERANCE)


# -- bad requests: 4xx, and the server goes on ------------------------------------------------------


BAD_BODIES = {
    "wrong datatype": (v2_body(["A film."], datatype="FP32", data=[1.0]), 400, "BYTES"),
    "shape not matching the data": (v2_body(["A film."], shape=[3]), 400, "holds 1 texts"),
    "unknown input name": ({"inputs": [{"name": "review", "shape": [1], "datatype": "BYTES", "data": ["A"]}]}, 400,
                           "must be \"text\""),
    "empty text": (v2_body(["   "]), 400, "empty"),
    "too many texts": (v2_body(["A film."] * (SETTINGS.max_texts + 1)), 413, f"at most {SETTINGS.max_texts}"),
    "over-long text": (v2_body(["a" * (SETTINGS.max_text_chars + 1)]), 413, "characters"),
    "no such output": ({**v2_body(["A film."]), "outputs": [{"name": "logits"}]}, 400, "no output 'logits'"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_a_malformed_tensor_is_refused_and_the_next_request_answers(server, expected, case):
    body, status, message = BAD_BODIES[case]
    answer = requests.post(server.infer_url, json=body, timeout=30)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert_still_answers(server, expected)


def test_not_json_is_refused(server, expected):
    answer = requests.post(server.infer_url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= answer.status_code < 500, answer.text
    assert_still_answers(server, expected)


def test_a_body_over_the_cap_is_refused_before_it_is_read(server, expected):
    answer = requests.post(server.infer_url, data=b"x" * (SETTINGS.max_body_bytes + 1),
                           headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413 and "byte cap" in answer.json()["error"]
    assert_still_answers(server, expected)


def test_a_form_body_gets_415_with_the_header_to_send(server, expected):
    answer = requests.post(server.infer_url, data={"text": "A film."}, timeout=30)
    assert answer.status_code == 415 and "application/json" in answer.json()["error"]
    assert_still_answers(server, expected)


def test_the_model_cannot_be_unloaded_or_loaded_over_http(server, expected):
    for verb in ("unload", "load"):
        answer = requests.post(f"{server.http_url}/v2/repository/models/{MODEL_NAME}/{verb}", timeout=30)
        assert answer.status_code in (404, 405), answer.text
    assert_still_answers(server, expected)


def test_tritonclient_sees_the_refusal_as_an_error(triton):
    wrong = httpclient.InferInput("text", [1], "FP32")
    wrong.set_data_from_numpy(np.array([1.0], dtype=np.float32), binary_data=True)
    with pytest.raises(InferenceServerException, match="must be \"BYTES\""):
        triton.infer(MODEL_NAME, [wrong])
