"""handler.py without a server, in TorchServe's own worker code: batches of several, every bad input.

    .venv/bin/python -m pytest tests/test_handler.py

Each batch goes through serving/torchserve_service.py: TorchServe's model loader, Service and Context,
and the worker's frame reader, which decodes application/json bodies and text/* ones before the
handler sees them; answers come back as the frontend reads them (status, reason phrase, body).
"""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
import torch

from handler import SentimentHandler
from model.export import load_export
from serving.request_parsing import DEFAULT_SETTINGS
from serving.torchserve_service import Answer, Request, handler_service

MAX_TEXT_CHARS, MAX_TEXTS = DEFAULT_SETTINGS.max_text_chars, DEFAULT_SETTINGS.max_texts


# The archive's default precision runs the export's int8 network (test_runtime.py checks it against
# float32); these tests check answers against the PyTorch network to 1e-6, so they serve float32.
FLOAT32 = {"handler": {"precision": "float32"}}


def serve(model_dir, items: list[tuple[bytes | None, str]], explain: bool = False,
          model_yaml_config: dict | None = FLOAT32) -> list[Answer]:
    """Run one TorchServe batch: items are (body, content type; "" for none); one answer each."""
    headers = {"explain": "True"} if explain else {}
    with handler_service(model_dir, model_yaml_config) as service:
        return service.predict([Request(body, ctype, headers) for body, ctype in items])


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def reference_scores(model_dir, texts: list[str]) -> list[float]:
    net, encoder, _ = load_export(model_dir)
    with torch.no_grad():
        return torch.sigmoid(net(*encoder.batch(texts))).tolist()


def test_one_review_each_form(tiny_export):
    review = "A wonderful and moving film."
    answers = serve(tiny_export, [
        (review.encode(), "text/plain"),  # the worker hands text/* bodies over as str
        (review.encode(), "text/plain; charset=utf-8"),
        (as_json({"text": review}), "application/json"),  # and application/json ones already decoded
        (as_json({"text": review}), "application/json; charset=utf-8"),  # this one as bytes
        (as_json({"text": review}), ""),
    ])
    expected = reference_scores(tiny_export, [review])[0]
    for answer in answers:
        assert answer.status == 200
        response = answer.json()
        assert set(response) == {"label", "score"}
        assert response["score"] == pytest.approx(expected, abs=1e-6)
        assert response["label"] == ("positive" if expected >= 0.5 else "negative")


def test_the_archive_serves_the_int8_network_within_its_tolerance_of_float32(tiny_export):
    from serving.runtime import INT8_BATCH_TOLERANCE, Predictor
    from serving.settings import HandlerSettings

    texts = ["great superb film", "awful boring waste", "the plot was a story", "loved it, brilliant"]
    (answer,) = serve(tiny_export, [(as_json({"texts": texts}), "application/json")], model_yaml_config=None)
    int8 = Predictor(tiny_export, HandlerSettings(precision="int8")).predict_proba(texts)[:, 1]
    assert [r["score"] for r in answer.json()] == pytest.approx(int8.tolist(), abs=INT8_BATCH_TOLERANCE)
    assert [r["score"] for r in answer.json()] != pytest.approx(reference_scores(tiny_export, texts), abs=1e-6)


def test_texts_answer_a_list_in_order(tiny_export):
    texts = ["great superb film", "awful boring waste", "the plot was a story"]
    (answer,) = serve(tiny_export, [(as_json({"texts": texts}), "application/json")])
    assert [r["score"] for r in answer.json()] == pytest.approx(reference_scores(tiny_export, texts), abs=1e-6)


def test_batch_mixes_good_and_bad_requests(tiny_export, monkeypatch):
    forward_calls = []
    original = SentimentHandler._predict

    def counting(self, texts):
        forward_calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(SentimentHandler, "_predict", counting)
    answers = serve(tiny_export, [
        (b"loved it, brilliant", "text/plain"),
        (b"   \n\t ", "text/plain"),
        (as_json({"texts": ["dull", "excellent movie"]}), "application/json"),
        (b'{"text": 3}', "application/json"),
        (b"worst film", ""),
    ])
    assert forward_calls == [4]  # one forward pass for the whole batch's good texts
    assert [a.status for a in answers] == [200, 400, 200, 400, 200]
    responses = [a.json() for a in answers]
    assert "whitespace" in responses[1]["error"] and responses[1]["status"] == 400
    assert "must be a string" in responses[3]["error"]
    assert len(responses[2]) == 2
    scores = reference_scores(tiny_export, ["loved it, brilliant", "dull", "excellent movie", "worst film"])
    got = [responses[0]["score"], *(r["score"] for r in responses[2]), responses[4]["score"]]
    assert got == pytest.approx(scores, abs=1e-6)


BAD_INPUTS = {
    "empty body": (b"", "text/plain", 400, "empty"),
    "no content type": (b"", "", 400, "empty"),
    "no body at all": (None, "", 400, "empty request body"),
    "whitespace only": (b" \n ", "text/plain", 400, "whitespace"),
    "invalid utf-8": (b"\xff\xfe bad", "text/plain", 400, "UTF-8"),
    "malformed json": (b'{"text": "unterminated', "application/json", 400, "malformed JSON"),
    "json array": (b'["a review"]', "application/json", 400, "must be an object"),
    "json wrong key": (as_json({"review": "good"}), "application/json", 400, "\"text\" or \"texts\""),
    "text not a string": (as_json({"text": ["a"]}), "application/json", 400, "must be a string"),
    "texts not a list": (as_json({"texts": "a review"}), "application/json", 400, "list of strings"),
    "texts item not a string": (as_json({"texts": ["ok", None]}), "application/json", 400, "texts[1]"),
    "empty texts": (as_json({"texts": []}), "application/json", 400, "empty"),
    "too many texts": (as_json({"texts": ["good"] * (MAX_TEXTS + 1)}), "application/json", 413, f"at most {MAX_TEXTS}"),
    "text over the cap": (as_json({"text": "a" * (MAX_TEXT_CHARS + 1)}), "application/json", 413, f"cap is {MAX_TEXT_CHARS}"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_answers_4xx_and_the_next_request_still_works(tiny_export, name):
    body, ctype, status, words = BAD_INPUTS[name]
    items = [(b"a great film", "text/plain"), (body, ctype), (b"a dull film", "text/plain")]
    answers = serve(tiny_export, items)
    assert answers[1].status == status
    error = answers[1].json()
    assert error == {"error": error["error"], "status": status}
    assert words in error["error"]
    assert answers[1].phrase == HTTPStatus(status).phrase  # a fixed reason phrase, never the client's text
    assert answers[0].status == answers[2].status == 200
    assert {"label", "score"} == set(answers[0].json()) == set(answers[2].json())


def test_form_encoded_body_is_refused_with_a_hint(tiny_export):
    # What TorchServe makes of `curl --data 'Great film'` without a content type: a form field, no body.
    with handler_service(tiny_export) as service:
        (answer,) = service.predict([Request(b"", "", name="Great film")])
    assert answer.status == 415 and "text/plain" in answer.json()["error"]


def test_over_long_review_is_truncated_like_training(tiny_export):
    net, encoder, _ = load_export(tiny_export)
    long_review = " ".join(["great"] * 50 + ["film"] * (encoder.max_length * 3) + ["awful"] * 50)
    (answer,) = serve(tiny_export, [(long_review.encode(), "text/plain")])
    assert answer.status == 200
    assert answer.json()["score"] == pytest.approx(reference_scores(tiny_export, [long_review])[0], abs=1e-6)
    assert len(encoder.encode_ids([long_review])[0]) == encoder.max_length


def test_explanations_route_to_serving_explain(tiny_export):
    pytest.importorskip("serving.explain")
    answers = serve(tiny_export, [(as_json({"text": "great film"}), "application/json"), (b"", "text/plain")], explain=True)
    assert answers[0].status == 200 and answers[1].status == 400
    explained = answers[0].json()
    assert {"label", "score", "tokens"} <= set(explained)
    assert [t["token"] for t in explained["tokens"]] == ["great", "film"]


def test_mixed_predict_and_explain_batch_is_routed_per_request(tiny_export):
    pytest.importorskip("serving.explain")
    with handler_service(tiny_export) as service:
        answers = service.predict([Request(b"great film", "text/plain"),
                                   Request(b"dull film", "text/plain", {"explain": "True"})])
    assert "tokens" not in answers[0].json() and "tokens" in answers[1].json()
