"""serving/kserve_model.py in-process: v1/v2 requests -> texts or a refusal with the handler's status, the
answers of a two-class and a three-class export, and the metadata KServe serves. Fast tier.

    .venv/bin/python -m pytest tests/test_kserve_model.py
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
import torch
from kserve import InferInput, InferRequest
from kserve.protocol.infer_type import RequestedOutput

from serving.kserve_app import RejectedRequest
from serving.kserve_model import SentimentModel, v1_texts, v2_texts
from serving.request_parsing import RequestError
from serving.runtime import Predictor
from serving.settings import HandlerSettings

SETTINGS = HandlerSettings(max_texts=3, max_text_chars=50)


def v2(data, name="text", datatype="BYTES", shape=None, outputs=None) -> InferRequest:
    tensor = InferInput(name, [len(data)] if shape is None else shape, datatype, data)
    return InferRequest("sentiment", [tensor], request_outputs=outputs)


@pytest.fixture(scope="module")
def three_class_export(tmp_path_factory):
    from data.text_encoding import train_tokenizer
    from model.export_writer import save_export
    from model.network import SentimentNet, SentimentNetConfig

    folder = tmp_path_factory.mktemp("three")
    train_tokenizer(["a fine film", "a dull film", "an odd film"], vocab_size=20).save(str(folder / "tok.json"))
    torch.manual_seed(0)
    net = SentimentNet(SentimentNetConfig(vocab_size=20, embedding_dim=4, gru_hidden=3, lstm_hidden=3, num_classes=3))
    return save_export(folder / "export", net, folder / "tok.json", {"max_length": 16, "truncation": "head"},
                       labels=["bad", "mixed", "good"])


def loaded(export) -> SentimentModel:
    model = SentimentModel("sentiment", export, HandlerSettings())
    assert model.load() and model.ready
    return model


@pytest.mark.parametrize("request_, message, status", [
    (v2(["fine"], name="review"), "must be \"text\"", 400),
    (v2([1.5], datatype="FP32"), "must be \"BYTES\"", 400),
    (v2(["fine"], shape=[2]), "holds 1 texts but inputs[0].shape is [2]", 400),
    (v2(["fine", "ok"], shape=[1, 2]), "must be [N]", 400),
    (v2([]), "is empty", 400),
    (v2([" \n\t"]), "empty or only whitespace", 400),
    (v2(["a"] * 4), "at most 3 per request", 413),
    (v2(["a" * 51]), "the cap is 50", 413),
    (v2([b"\xff\xfe"]), "not valid UTF-8", 400),
], ids=["name", "datatype", "shape vs data", "shape rank", "none", "blank", "too many", "too long", "not UTF-8"])
def test_bad_v2_tensors_name_what_is_wrong(request_, message, status):
    with pytest.raises(RequestError) as refused:
        v2_texts(request_, SETTINGS)
    assert message in refused.value.message and refused.value.status == status


def test_v2_texts_from_json_and_from_bytes():
    assert v2_texts(v2(["Fine.", "Dull."]), SETTINGS) == ["Fine.", "Dull."]
    assert v2_texts(v2([b"Fine.", "caf\u00e9".encode()]), SETTINGS) == ["Fine.", "caf\u00e9"]


@pytest.mark.parametrize("body, message", [
    ({"instances": "Fine."}, "must be a list"),
    ({"inputs": []}, "a v1 request is"),
    ({"instances": ["Fine."], "extra": 1}, "unexpected key(s) ['extra']"),
    ({"instances": [{"review": "Fine."}]}, "instances[0] must be a string"),
    (["Fine."], "got array"),
])
def test_bad_v1_bodies_name_what_is_wrong(body, message):
    with pytest.raises(RequestError, match=re.escape(message)):
        v1_texts(body, SETTINGS)


def test_v1_instances_are_strings_or_text_objects():
    assert v1_texts({"instances": ["Fine.", {"text": "Dull."}]}, SETTINGS) == ["Fine.", "Dull."]


def test_a_refusal_keeps_its_status_through_the_model(tiny_export):
    model = loaded(tiny_export)
    with pytest.raises(RejectedRequest) as refused:
        asyncio.run(model.predict(v2(["a" * 20_001])))
    assert refused.value.status == 413


def test_two_class_answers_and_metadata(tiny_export):
    model = loaded(tiny_export)
    texts = ["A wonderful film.", "Dull and awful."]
    expected = Predictor(tiny_export).predict_proba(texts)[:, 1]
    response = asyncio.run(model.predict(v2(texts)))
    outputs = {o.name: o for o in response.outputs}
    assert sorted(outputs) == ["label", "score"] and response.id
    np.testing.assert_allclose(outputs["score"].data, expected, atol=1e-6)
    assert outputs["label"].data == ["positive" if p >= 0.5 else "negative" for p in expected]
    assert [o["name"] for o in model.get_output_types()] == ["label", "score"]
    v1 = asyncio.run(model.predict({"instances": texts}))
    np.testing.assert_allclose([p["score"] for p in v1["predictions"]], expected, atol=1e-6)


def test_three_classes_answer_scores_in_label_order(three_class_export):
    model = loaded(three_class_export)
    texts = ["a fine film", "an odd film"]
    expected = Predictor(three_class_export).predict_proba(texts)
    response = asyncio.run(model.predict(v2(texts)))
    outputs = {o.name: o for o in response.outputs}
    assert outputs["scores"].shape == [2, 3]
    np.testing.assert_allclose(np.reshape(outputs["scores"].data, (2, 3)), expected, atol=1e-6)
    assert outputs["label"].data == [["bad", "mixed", "good"][k] for k in expected.argmax(axis=1)]
    np.testing.assert_allclose(outputs["score"].data, expected.max(axis=1), atol=1e-6)
    assert model.get_output_types()[-1] == {"name": "scores", "datatype": "FP32", "shape": [-1, 3]}


def test_an_unknown_requested_output_is_refused(tiny_export):
    with pytest.raises(RejectedRequest, match="no output 'logits'"):
        asyncio.run(loaded(tiny_export).predict(v2(["Fine."], outputs=[RequestedOutput("logits")])))
