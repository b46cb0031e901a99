"""serving/open_inference.py: KServe v2 and v1 bodies -> texts or a 4xx RequestError; answers -> protocol answers.

    .venv/bin/python -m pytest tests/test_open_inference.py
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.open_inference import V1_FORM, V2Request, json_body, parse_v1, parse_v2, v1_response, v2_response
from serving.request_parsing import DEFAULT_SETTINGS, RequestError
from tests.hostile_inputs import EDGE_TEXT, JSON_SCALARS, JSON_VALUES
from tests.hypothesis_cases import case_counter, examples, report_hypothesis_cases  # noqa: F401

MAX_TEXTS = DEFAULT_SETTINGS.max_texts
count = case_counter(__name__)
PROPERTY = settings(max_examples=examples(300), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def v2(texts, **tensor):
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts, **tensor}]}


def refusal(parse, body) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse(body)
    assert 400 <= caught.value.status < 500 and caught.value.message
    return caught.value


# -- v2 requests -------------------------------------------------------------------------------


def test_v2_request_gives_its_texts_id_and_outputs():
    body = {**v2(["Great.", "Awful."]), "id": "r-1", "parameters": {}, "outputs": [{"name": "score"}, {"name": "label"}]}
    assert parse_v2(body) == V2Request(["Great.", "Awful."], "r-1", ("score", "label"))
    assert parse_v2(v2(["Great."])) == V2Request(["Great."])


@pytest.mark.parametrize("body, status, words", [
    ([1, 2], 400, "JSON object"),
    ({"instances": ["Great."]}, 400, "KServe v1 body"),
    ({"text": "Great."}, 400, "/predictions form"),
    ({"inputs": []}, 400, "exactly one tensor"),
    ({"inputs": {"name": "text"}}, 400, "exactly one tensor"),
    ({**v2(["a"]), "input": 1}, 400, "unexpected key"),
    (v2(["a"], name="input-0"), 400, "name must be \"text\""),
    (v2(["a"], datatype="FP32"), 400, "BYTES"),
    (v2(["a"], shape=[1, 1]), 400, "shape must be [N]"),
    (v2(["a"], shape=[True]), 400, "shape must be [N]"),
    (v2(["a", "b"], shape=[3]), 400, "holds 2 texts but"),
    (v2([]), 400, "empty"),
    (v2(["ok"] * (MAX_TEXTS + 1)), 413, f"at most {MAX_TEXTS}"),
    (v2(["ok", 7]), 400, "inputs[0].data[1] must be a string"),
    (v2(["ok", " \n"]), 400, "inputs[0].data[1] is empty"),
    (v2(["x" * (DEFAULT_SETTINGS.max_text_chars + 1)]), 413, "inputs[0].data[0] has"),
    ({"inputs": [{"name": "text", "datatype": "BYTES", "data": ["a"]}]}, 400, "lacks ['shape']"),
    ({**v2(["a"]), "id": 5}, 400, "\"id\" must be a string"),
    ({**v2(["a"]), "outputs": [{"name": "logits"}]}, 400, "unknown output"),
    ({**v2(["a"]), "outputs": "label"}, 400, "\"outputs\" must be a list"),
])
def test_bad_v2_bodies_are_refused_with_a_message(body, status, words):
    error = refusal(parse_v2, body)
    assert error.status == status and words in error.message, error.message


# -- v1 requests -------------------------------------------------------------------------------


def test_v1_instances_are_strings_or_text_objects():
    assert parse_v1({"instances": ["Great.", {"text": "Awful."}]}) == ["Great.", "Awful."]


@pytest.mark.parametrize("body, words", [
    (v2(["Great."]), "Open Inference Protocol (v2) body"),
    ({"texts": ["Great."]}, "/predictions form"),
    ({"instances": "Great."}, "must be a list"),
    ({"instances": []}, "empty"),
    ({"instances": [{"data": "Great."}]}, "instances[0] must be a string"),
    ({"instances": ["a"], "signature_name": "x"}, "unexpected key"),
])
def test_bad_v1_bodies_are_refused_with_a_message(body, words):
    assert words in refusal(parse_v1, body).message


# -- bodies as TorchServe hands them over ----------------------------------------------------


@pytest.mark.parametrize("item", [{"body": b'{"a": 1}'}, {"body": '{"a": 1}'}, {"body": {"a": 1}}, {"data": {"a": 1}}])
def test_json_body_takes_every_form_torchserve_gives(item):
    assert json_body(item, DEFAULT_SETTINGS) == {"a": 1}


@pytest.mark.parametrize("item, words", [
    ({"body": b"{"}, "malformed JSON"), ({"body": b"\xff"}, "UTF-8"), ({"body": b"[" * 100_000}, "nested too deeply"),
    ({}, "empty request body"),
])
def test_json_body_refuses_what_is_not_json(item, words):
    assert words in refusal(lambda i: json_body(i, DEFAULT_SETTINGS), item).message


@PROPERTY
@given(st.one_of(JSON_VALUES, st.fixed_dictionaries({"inputs": JSON_VALUES}),
                 st.fixed_dictionaries({"inputs": st.lists(st.fixed_dictionaries(
                     {"name": st.sampled_from(["text", "x"]) | JSON_SCALARS,
                      "shape": st.lists(st.integers(-1, 3) | JSON_SCALARS, max_size=2),
                      "datatype": st.sampled_from(["BYTES", "FP32"]), "data": st.lists(EDGE_TEXT | JSON_SCALARS, max_size=3)}),
                     max_size=2)}),
                 st.fixed_dictionaries({"instances": st.lists(EDGE_TEXT | JSON_VALUES, max_size=3) | JSON_SCALARS})))
def test_any_json_gives_texts_or_a_4xx(body):
    count("test_any_json_gives_texts_or_a_4xx")
    for parse in (parse_v2, lambda b: parse_v1(b)):
        try:
            parsed = parse(body)
        except RequestError as error:
            assert 400 <= error.status < 500 and error.message
            json.dumps(error.to_json())
            continue
        texts = parsed.texts if isinstance(parsed, V2Request) else parsed
        assert 1 <= len(texts) <= MAX_TEXTS and all(isinstance(t, str) and t.strip() for t in texts)


# -- answers -----------------------------------------------------------------------------------

BINARY = [{"label": "positive", "score": 0.9}, {"label": "negative", "score": 0.2}]
THREE = [{"label": "neutral", "score": 0.7, "scores": {"negative": 0.2, "neutral": 0.7, "positive": 0.1}},
         {"label": "positive", "score": 0.6, "scores": {"negative": 0.1, "neutral": 0.3, "positive": 0.6}}]


def test_v2_answer_of_a_two_class_model():
    assert v2_response(BINARY, "sentiment", V2Request(["a", "b"], "r-1"), model_version="1.0") == {
        "model_name": "sentiment", "model_version": "1.0", "id": "r-1",
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [2], "data": ["positive", "negative"]},
                    {"name": "score", "datatype": "FP32", "shape": [2], "data": [0.9, 0.2]}],
    }


def test_v2_answer_of_three_classes_adds_scores_in_label_order():
    outputs = {o["name"]: o for o in v2_response(THREE, "sentiment")["outputs"]}
    assert outputs["scores"] == {"name": "scores", "datatype": "FP32", "shape": [2, 3], "data": [0.2, 0.7, 0.1, 0.1, 0.3, 0.6]}
    reordered = v2_response(THREE, "sentiment", labels=["positive", "neutral", "negative"])["outputs"][2]
    assert reordered["data"] == [0.1, 0.7, 0.2, 0.6, 0.3, 0.1]


def test_v2_answer_keeps_the_outputs_asked_for():
    only_label = v2_response(BINARY, "sentiment", V2Request(["a", "b"], outputs=("label",)))
    assert [o["name"] for o in only_label["outputs"]] == ["label"]
    with pytest.raises(RequestError, match="no output 'scores'"):
        v2_response(BINARY, "sentiment", V2Request(["a", "b"], outputs=("scores",)))


def test_v1_answers():
    assert v1_response(BINARY) == {"predictions": BINARY}
    assert v1_response(BINARY, explanations=True) == {"explanations": BINARY}


def test_json_body_names_form_bodies_with_the_expected_form():
    error = refusal(lambda i: json_body(i, DEFAULT_SETTINGS, "application/x-www-form-urlencoded", V1_FORM), {"great film": ""})
    assert error.status == 415 and V1_FORM in error.message
