"""Hypothesis strategies for hostile request bodies, shared by the property tests. Not a test.

    from tests.hostile_inputs import CONTENT_TYPES, EDGE_TEXT, JSON_VALUES, NEAR_VALID
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from serving.request_parsing import DEFAULT_SETTINGS

MAX_TEXTS = DEFAULT_SETTINGS.max_texts


CONTENT_TYPES = st.one_of(
    st.sampled_from([None, "", "application/json", "application/json; charset=utf-8", "text/plain",
                     "text/plain; charset=latin-1", "application/x-www-form-urlencoded", "application/octet-stream",
                     "TEXT/PLAIN", "multipart/form-data; boundary=x"]),
    st.text(max_size=40),
)
# Characters that break naive text handling: combining marks, bidi controls and RTL letters,
# emoji (incl. ZWJ sequences), NUL and other controls, BOM, zero-width space, lone surrogates,
# noncharacters, line/paragraph separators, and the markup the tokenizer strips.
EDGE_PIECES = [
    "\u0301", "\u0308" * 20, "e\u0301", "\u200f", "\u202e", "\u2066", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
    "\U0001f600", "\U0001f469\u200d\U0001f4bb", "\U0001f1eb\U0001f1f7", "\x00", "\x07", "\x1b[2J", "\ufeff", "\u200b",
    "\ud800", "\udfff", "\uffff", "\U0010ffff", "\u2028", "\u2029", " ", "\t", "\n", "\r\n", "<br />", "{", "}", "[", "]",
    '"', "\\", "NaN", "great film", "awful",
]
ANY_CHAR = st.characters(exclude_categories=())  # includes Cs: lone surrogates are legal in a Python str
EDGE_TEXT = st.lists(st.sampled_from(EDGE_PIECES) | st.text(ANY_CHAR, max_size=6), max_size=40).map("".join)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=20) | EDGE_TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=6)
    | st.dictionaries(st.sampled_from(["text", "texts", "data", ""]) | st.text(ANY_CHAR, max_size=8), inner, max_size=4),
    max_leaves=25,
)
# Objects close to the accepted shapes, so that the parser's own checks (not only "wrong shape") are exercised.
NEAR_VALID = st.one_of(
    st.fixed_dictionaries({"text": JSON_SCALARS | EDGE_TEXT}),
    st.fixed_dictionaries({"texts": st.lists(JSON_SCALARS | EDGE_TEXT, max_size=MAX_TEXTS + 2) | JSON_SCALARS}),
    st.fixed_dictionaries({"text": EDGE_TEXT, "texts": st.lists(EDGE_TEXT, max_size=2)}),
    st.fixed_dictionaries({"text": EDGE_TEXT}, optional={"extra": JSON_SCALARS}),
)


def _json_bytes(value) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: send them \u-escaped, as a client's encoder would
        return json.dumps(value).encode("utf-8")


# (body, Content-Type) as a client puts them on the wire: bytes, and a header the frontend passes on.
HEADER_TYPES = st.sampled_from(["application/json", "text/plain", "text/plain; charset=utf-8", "application/octet-stream",
                                "application/json; charset=utf-8", ""]) | st.text(st.characters(codec="ascii"), max_size=30)
WIRE_BODIES = st.one_of(
    st.tuples(st.binary(max_size=512), HEADER_TYPES),
    st.tuples((JSON_VALUES | NEAR_VALID).map(_json_bytes), HEADER_TYPES),
    st.tuples(EDGE_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), HEADER_TYPES),
    st.tuples(st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n), st.just("application/json")),
)
