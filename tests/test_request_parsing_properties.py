"""Hostile input, property-based: every request body gets texts or a 4xx RequestError, never another exception.

    .venv/bin/python -m pytest tests/test_request_parsing_properties.py            # fast tier, ~300 cases a property
    HYPOTHESIS_EXAMPLES=3000 .venv/bin/python -m pytest tests/test_request_parsing_properties.py

Bodies arrive in every form TorchServe's worker hands over: bytes, str (text/* decoded by
the worker), and already-decoded JSON values (application/json decoded by the worker).
Where the input is valid by construction the test also checks the texts that come back.
"""

from __future__ import annotations

import json

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hostile_inputs import ANY_CHAR, CONTENT_TYPES, EDGE_TEXT, JSON_VALUES, NEAR_VALID
from tests.hypothesis_cases import case_counter, examples, report_hypothesis_cases  # noqa: F401
from serving.request_parsing import DEFAULT_SETTINGS, RequestError, parse_request

MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS = DEFAULT_SETTINGS.max_body_bytes, DEFAULT_SETTINGS.max_text_chars, DEFAULT_SETTINGS.max_texts


count = case_counter(__name__)
PROPERTY = settings(
    max_examples=examples(300), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

def outcome(request, content_type):
    """Call the parser; check the invariants of a success or of a refusal and return (texts, many) or the error."""
    try:
        texts, many = parse_request(request, content_type)
    except RequestError as error:
        assert 400 <= error.status < 500, error.status
        assert isinstance(error.message, str) and error.message
        json.dumps(error.to_json())  # the handler sends it as the response body
        return error
    assert isinstance(many, bool)
    assert isinstance(texts, list) and 1 <= len(texts) <= MAX_TEXTS
    assert many or len(texts) == 1
    for text in texts:
        assert isinstance(text, str) and text.strip() and len(text) <= MAX_TEXT_CHARS
        text.encode("utf-8")  # no lone surrogates reach the tokenizer
    return texts, many


def is_valid_text(value) -> bool:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        return False
    if all(c.isspace() or unicodedata.category(c).startswith("C") for c in value):
        return False  # whitespace, NUL and other control or format characters only: no review
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@PROPERTY
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES, key=st.sampled_from(["body", "data"]))
@example(body=b"\xff\xfe\x00", content_type="application/json", key="body")
@example(body=b"\x00", content_type="text/plain", key="body")
@example(body=b"", content_type=None, key="data")
def test_arbitrary_bytes(body, content_type, key):
    count("test_arbitrary_bytes")
    outcome({key: body}, content_type)
    outcome({key: bytearray(body)}, content_type)


@PROPERTY
@given(value=JSON_VALUES | NEAR_VALID, content_type=CONTENT_TYPES, ensure_ascii=st.booleans())
def test_arbitrary_json(value, content_type, ensure_ascii):
    count("test_arbitrary_json")
    try:
        raw = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be sent unescaped; the escaped form is covered
        raw = json.dumps(value).encode("utf-8")
    outcome({"body": raw}, content_type)
    outcome({"body": value}, "application/json")  # as the worker hands over decoded JSON


@PROPERTY
@given(value=NEAR_VALID, content_type=st.sampled_from([None, "application/json", "application/json; charset=utf-8"]))
@example(value={"text": "\ud800\udc00"}, content_type=None)
def test_json_answers_match_the_request(value, content_type):
    """Where every text is valid and the shape is right, the texts come back unchanged; otherwise a 4xx."""
    count("test_json_answers_match_the_request")
    got = outcome({"body": json.dumps(value).encode("utf-8")}, content_type)
    # What the server reads is the JSON round trip: a surrogate pair written as two escapes
    # ("\\ud800\\udc00") decodes to the one character it encodes.
    value = json.loads(json.dumps(value))
    if set(value) == {"text"}:
        expected = ([value["text"]], False) if is_valid_text(value["text"]) else None
    elif set(value) == {"texts"}:
        texts = value["texts"]
        ok = isinstance(texts, list) and 1 <= len(texts) <= MAX_TEXTS and all(map(is_valid_text, texts))
        expected = (texts, True) if ok else None
    else:
        expected = None
    if expected is None:
        assert isinstance(got, RequestError)
    else:
        assert got == expected


@PROPERTY
@given(text=EDGE_TEXT | st.text(ANY_CHAR, max_size=200))
@example(text="\x00")
@example(text="\u200b")
@example(text="a\x00b")
@example(text="\ud800")
def test_unicode_plain_text(text):
    """text/plain: a valid text comes back byte for byte; whitespace-only or unencodable text is a 4xx."""
    count("test_unicode_plain_text")
    got = outcome({"body": text}, "text/plain")
    assert (got == ([text], False)) if is_valid_text(text) else isinstance(got, RequestError)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    got_bytes = outcome({"body": raw}, "text/plain")
    assert (got_bytes == ([text], False)) if is_valid_text(text) else isinstance(got_bytes, RequestError)


@PROPERTY
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"text":', '{"texts":[', '{"a":']),
       content_type=st.sampled_from([None, "application/json"]))
@example(depth=100_000, opener="[", content_type="application/json")
@example(depth=100_000, opener='{"texts":[', content_type=None)
def test_deeply_nested_json(depth, opener, content_type):
    count("test_deeply_nested_json")
    closer = {"[": "]", '{"text":': "}", '{"texts":[': "]}", '{"a":': "}"}[opener]
    raw = (opener * depth + "1" + closer * depth).encode()
    assert isinstance(outcome({"body": raw}, content_type), RequestError)


@settings(PROPERTY, max_examples=min(examples(300), 60))  # each case builds megabytes
@given(n_texts=st.integers(0, 3 * MAX_TEXTS), length=st.integers(0, MAX_TEXT_CHARS + 10), char=st.sampled_from("a\u00e9\U0001f600 "))
@example(n_texts=MAX_TEXTS, length=MAX_TEXT_CHARS, char="\U0001f600")  # the largest valid request
@example(n_texts=MAX_TEXTS + 1, length=1, char="a")
@example(n_texts=1, length=MAX_TEXT_CHARS + 1, char="a")
def test_huge_json(n_texts, length, char):
    count("test_huge_json")
    texts = [char * length] * n_texts
    got = outcome({"body": json.dumps({"texts": texts}, ensure_ascii=False).encode("utf-8")}, "application/json")
    ok = 1 <= n_texts <= MAX_TEXTS and is_valid_text(char * length)
    assert (got == (texts, True)) if ok else isinstance(got, RequestError)
    if n_texts > MAX_TEXTS or (n_texts and length > MAX_TEXT_CHARS):
        assert got.status == 413


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 50 * 1024 * 1024])
def test_body_over_the_cap_is_413(size):
    got = outcome({"body": b"a" * size}, "text/plain")
    assert isinstance(got, RequestError) and got.status == 413


def test_request_items_of_every_shape():
    """What a worker could hand over besides a body: nothing, None, other types."""
    for request in ({}, {"data": None, "body": None}, None, 3, [], ["a"], b"", {"other": b"x"}):
        assert isinstance(outcome(request, None), RequestError)
