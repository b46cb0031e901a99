"""serving/envelopes.py around handler.py, in-process: loaded the way TorchServe's model loader loads
`service_envelope`, batches mixing good and bad protocol bodies, each answered on its own.

    .venv/bin/python -m pytest tests/test_envelopes.py
"""

from __future__ import annotations

import pytest
import torch
from ts.model_loader import TsModelLoader

import handler  # noqa: F401  (importing it registers the envelopes, as in the worker)
from handler import SentimentHandler
from model.export import load_export
from serving.envelopes import KServeV1Envelope, OpenInferenceV2Envelope
from serving.local_context import LocalContext
from serving.torchserve import MODEL_NAME
from tests.random_export import make_random_export


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_random_export(tmp_path_factory.mktemp("random"))


def serve(model_dir, envelope_name: str, bodies: list, explain: bool = False) -> tuple[list, LocalContext]:
    """One TorchServe batch through the envelope TorchServe would load for `service_envelope=envelope_name`."""
    context = LocalContext(model_dir, [{"explain": "True"} if explain else {} for _ in bodies])
    model = SentimentHandler()
    model.initialize(context)
    envelope = TsModelLoader()._load_default_envelope(envelope_name)(model.handle)
    return envelope.handle([{"body": body} for body in bodies], context), context


def scores(model_dir, texts):
    net, encoder, _ = load_export(model_dir)
    with torch.no_grad():
        return torch.sigmoid(net(*encoder.batch(texts))).tolist()


def v2(texts):
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}


def test_torchserve_finds_our_envelopes_by_name():
    assert issubclass(TsModelLoader()._load_default_envelope("open_inference_v2"), OpenInferenceV2Envelope)
    assert issubclass(TsModelLoader()._load_default_envelope("kserve_v1"), KServeV1Envelope)


def test_v2_batch_answers_each_request_and_refuses_the_bad_ones_alone(model_dir):
    texts = ["great superb film", "awful boring waste", "the plot"]
    bodies = [v2(texts[:2]), {"instances": ["great"]}, b'{"inputs": [', {**v2(texts[2:]), "id": "r-7"}, v2([" "])]
    responses, context = serve(model_dir, "open_inference_v2", bodies)
    assert [context.status(i) for i in range(len(bodies))] == [200, 400, 400, 200, 400]
    first, third = responses[0], responses[3]
    assert first["model_name"] == MODEL_NAME and "id" not in first and third["id"] == "r-7"
    label, score = first["outputs"]
    assert (label["name"], label["datatype"], label["shape"]) == ("label", "BYTES", [2])
    assert (score["name"], score["datatype"], score["shape"]) == ("score", "FP32", [2])
    expected = scores(model_dir, texts)
    assert score["data"] + third["outputs"][1]["data"] == pytest.approx(expected, abs=1e-5)
    assert label["data"] == ["positive" if p >= 0.5 else "negative" for p in expected[:2]]
    assert "KServe v1 body" in responses[1]["error"] and "malformed JSON" in responses[2]["error"]
    assert "inputs[0].data[0] is empty" in responses[4]["error"]


def test_v2_unknown_output_asked_for_fails_that_request_only(model_dir):
    bodies = [{**v2(["great"]), "outputs": [{"name": "scores"}]}, v2(["great"])]
    responses, context = serve(model_dir, "open_inference_v2", bodies)
    assert (context.status(0), context.status(1)) == (400, 200)
    assert "no output 'scores'" in responses[0]["error"]


def test_v2_explain_route_is_refused_with_where_to_go(model_dir):
    responses, context = serve(model_dir, "open_inference_v2", [v2(["great"])], explain=True)
    assert context.status(0) == 404 and "/explanations/sentiment" in responses[0]["error"]


def test_v1_batch(model_dir):
    bodies = [{"instances": ["great superb film", {"text": "awful boring waste"}]}, v2(["great"]), {"instances": []}]
    responses, context = serve(model_dir, "kserve_v1", bodies)
    assert [context.status(i) for i in range(3)] == [200, 400, 400]
    predictions = responses[0]["predictions"]
    assert [p["score"] for p in predictions] == pytest.approx(scores(model_dir, ["great superb film", "awful boring waste"]), abs=1e-5)
    assert "Open Inference Protocol (v2) body" in responses[1]["error"]


def test_v1_explain(model_dir):
    pytest.importorskip("captum")
    responses, context = serve(model_dir, "kserve_v1", [{"instances": ["great film"]}], explain=True)
    assert context.status(0) == 200 and "tokens" in responses[0]["explanations"][0]
