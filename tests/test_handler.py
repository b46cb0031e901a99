"""handler.py without a server: a mock TorchServe context, batches of several, every bad input.

    .venv/bin/python -m pytest tests/test_handler.py
"""

from __future__ import annotations

import json

import pytest
import torch

from handler import SentimentHandler
from model.export import load_export
from serving.request_parsing import DEFAULT_SETTINGS
from serving.local_context import LocalContext

MAX_TEXT_CHARS, MAX_TEXTS = DEFAULT_SETTINGS.max_text_chars, DEFAULT_SETTINGS.max_texts



def serve(model_dir, items: list[tuple[object, str | None]], explain: bool = False) -> tuple[list, LocalContext]:
    """Run one TorchServe batch: items are (body, content type); returns (responses, context)."""
    headers = [{"body": {"content-type": ctype}} if ctype else {} for _, ctype in items]
    if explain:
        for h in headers:
            h["explain"] = "True"
    context = LocalContext(model_dir, headers)
    handler = SentimentHandler()
    handler.initialize(context)
    return handler.handle([{"body": body} for body, _ in items], context), context


def reference_scores(model_dir, texts: list[str]) -> list[float]:
    net, encoder, _ = load_export(model_dir)
    with torch.no_grad():
        return torch.sigmoid(net(*encoder.batch(texts))).tolist()


def test_one_review_each_form(tiny_export):
    review = "A wonderful and moving film."
    responses, context = serve(tiny_export, [
        (review.encode(), "text/plain"),
        (review, "text/plain"),  # TorchServe hands text/* bodies over as str
        ({"text": review}, "application/json"),  # and JSON bodies already decoded
        (json.dumps({"text": review}).encode(), None),
    ])
    expected = reference_scores(tiny_export, [review])[0]
    for idx, response in enumerate(responses):
        assert context.status(idx) == 200
        assert set(response) == {"label", "score"}
        assert response["score"] == pytest.approx(expected, abs=1e-6)
        assert response["label"] == ("positive" if expected >= 0.5 else "negative")


def test_texts_answer_a_list_in_order(tiny_export):
    texts = ["great superb film", "awful boring waste", "the plot was a story"]
    responses, _ = serve(tiny_export, [({"texts": texts}, "application/json")])
    assert [r["score"] for r in responses[0]] == pytest.approx(reference_scores(tiny_export, texts), abs=1e-6)


def test_batch_mixes_good_and_bad_requests(tiny_export, monkeypatch):
    forward_calls = []
    original = SentimentHandler._predict

    def counting(self, texts):
        forward_calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(SentimentHandler, "_predict", counting)
    responses, context = serve(tiny_export, [
        (b"loved it, brilliant", "text/plain"),
        (b"   \n\t ", "text/plain"),
        ({"texts": ["dull", "excellent movie"]}, "application/json"),
        (b'{"text": 3}', "application/json"),
        (b"worst film", None),
    ])
    assert forward_calls == [4]  # one forward pass for the whole batch's good texts
    assert [context.status(i) for i in range(5)] == [200, 400, 200, 400, 200]
    assert "whitespace" in responses[1]["error"] and responses[1]["status"] == 400
    assert "must be a string" in responses[3]["error"]
    assert len(responses[2]) == 2
    scores = reference_scores(tiny_export, ["loved it, brilliant", "dull", "excellent movie", "worst film"])
    got = [responses[0]["score"], *(r["score"] for r in responses[2]), responses[4]["score"]]
    assert got == pytest.approx(scores, abs=1e-6)


BAD_INPUTS = {
    "empty body": (b"", "text/plain", 400, "empty"),
    "no body at all": (None, None, 400, "empty request body"),
    "whitespace only": (b" \n ", "text/plain", 400, "whitespace"),
    "invalid utf-8": (b"\xff\xfe bad", "text/plain", 400, "UTF-8"),
    "malformed json": (b'{"text": "unterminated', "application/json", 400, "malformed JSON"),
    "json array": (b'["a review"]', "application/json", 400, "must be an object"),
    "json wrong key": ({"review": "good"}, "application/json", 400, "\"text\" or \"texts\""),
    "text not a string": ({"text": ["a"]}, "application/json", 400, "must be a string"),
    "texts not a list": ({"texts": "a review"}, "application/json", 400, "list of strings"),
    "texts item not a string": ({"texts": ["ok", None]}, "application/json", 400, "texts[1]"),
    "empty texts": ({"texts": []}, "application/json", 400, "empty"),
    "too many texts": ({"texts": ["good"] * (MAX_TEXTS + 1)}, "application/json", 413, f"at most {MAX_TEXTS}"),
    "text over the cap": ({"text": "a" * (MAX_TEXT_CHARS + 1)}, "application/json", 413, f"cap is {MAX_TEXT_CHARS}"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_answers_4xx_and_the_next_request_still_works(tiny_export, name):
    body, ctype, status, words = BAD_INPUTS[name]
    items = [(b"a great film", "text/plain"), (body, ctype), (b"a dull film", "text/plain")]
    responses, context = serve(tiny_export, items)
    assert context.status(1) == status
    assert responses[1] == {"error": responses[1]["error"], "status": status}
    assert words in responses[1]["error"]
    assert context.request_processor[1].phrase  # a fixed reason phrase, never the client's text
    assert context.status(0) == context.status(2) == 200
    assert {"label", "score"} == set(responses[0]) == set(responses[2])


def test_form_encoded_body_is_refused_with_a_hint(tiny_export):
    # What TorchServe makes of `curl --data 'Great film'` without a content type.
    context = LocalContext(tiny_export, [{}])
    handler = SentimentHandler()
    handler.initialize(context)
    responses = handler.handle([{"Great film": b""}], context)
    assert context.status(0) == 415 and "text/plain" in responses[0]["error"]


def test_over_long_review_is_truncated_like_training(tiny_export):
    net, encoder, _ = load_export(tiny_export)
    long_review = " ".join(["great"] * 50 + ["film"] * (encoder.max_length * 3) + ["awful"] * 50)
    responses, context = serve(tiny_export, [(long_review.encode(), "text/plain")])
    assert context.status(0) == 200
    assert responses[0]["score"] == pytest.approx(reference_scores(tiny_export, [long_review])[0], abs=1e-6)
    assert len(encoder.encode_ids([long_review])[0]) == encoder.max_length


def test_explanations_route_to_serving_explain(tiny_export):
    pytest.importorskip("serving.explain")
    responses, context = serve(tiny_export, [({"text": "great film"}, "application/json"), (b"", "text/plain")], explain=True)
    assert context.status(0) == 200 and context.status(1) == 400
    assert {"label", "score", "tokens"} <= set(responses[0])
    assert [t["token"] for t in responses[0]["tokens"]] == ["great", "film"]


def test_mixed_predict_and_explain_batch_is_routed_per_request(tiny_export):
    pytest.importorskip("serving.explain")
    context = LocalContext(tiny_export, [{}, {"explain": "True"}])
    handler = SentimentHandler()
    handler.initialize(context)
    responses = handler.handle([{"body": b"great film"}, {"body": b"dull film"}], context)
    assert "tokens" not in responses[0] and "tokens" in responses[1]
