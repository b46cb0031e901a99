"""Turn one TorchServe request into review texts, or a RequestError that says what is wrong.

Pure Python (no torch), so it is cheap to property-test:

    texts, many = parse_request({"body": b'{"texts": ["Great.", "Awful."]}'})   # (["Great.", "Awful."], True)
    texts, many = parse_request({"data": "Great film."})                       # (["Great film."], False)

Accepted bodies: text/plain; JSON {"text": "..."}; JSON {"texts": ["...", ...]}.
TorchServe hands the body over as bytes, str (text/*) or already-decoded JSON
(application/json); bodies it could not decode arrive as bytes, so every form
is handled here.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from serving.settings import HandlerSettings

DEFAULT_SETTINGS = HandlerSettings()


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FORM_BODY_HINT = (
    "the body arrived as HTML form fields (Content-Type application/x-www-form-urlencoded, curl's default "
    "for --data): send it as text/plain or application/json, e.g. "
    "curl -H 'Content-Type: text/plain' --data-binary @review.txt"
)


class RequestError(ValueError):
    """A bad request: answered with `status` and {"error": message}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict:
        return {"error": self.message, "status": self.status}


def request_body(request: Any) -> Any:
    """The payload of one TorchServe request item ({"data": ...} or {"body": ...})."""
    if isinstance(request, dict):
        for key in ("data", "body"):
            if request.get(key) is not None:
                return request[key]
        if set(request) - {"data", "body"}:
            # TorchServe splits application/x-www-form-urlencoded bodies (curl --data's default type)
            # into form fields, mangling "&", "=" and "+": the review cannot be recovered.
            raise RequestError(FORM_BODY_HINT, 415)
        raise RequestError("empty request body: send a review as text/plain, or JSON {\"text\": \"...\"}")
    return request


def decode_body(body: Any, settings: HandlerSettings) -> Any:
    """Bytes as UTF-8 text within the body cap; anything TorchServe already decoded, unchanged."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > settings.max_body_bytes:
            raise RequestError(f"request body of {len(body)} bytes exceeds the {settings.max_body_bytes}-byte cap", 413)
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestError(f"body is not valid UTF-8 (byte {error.start})") from None
    return body


def parse_request(request: Any, content_type: str | None = None,
                  settings: HandlerSettings = DEFAULT_SETTINGS) -> tuple[list[str], bool]:
    """Return (texts, many): many is True for {"texts": [...]} (answer with a list).

    content_type: the request's Content-Type. application/json must parse as JSON;
    text/plain is always review text; anything else (curl's default form type,
    none) is JSON if it looks like a JSON object or array, else text.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    try:
        body = request_body(request)
    except RequestError:
        # TorchServe drops form fields without a value, so `curl --data 'Great film'` arrives empty.
        if media_type in FORM_TYPES:
            raise RequestError(FORM_BODY_HINT, 415) from None
        raise
    body = decode_body(body, settings)
    if isinstance(body, str) and media_type != "text/plain":
        body = _maybe_json(body, required=media_type == "application/json")
    if isinstance(body, str):
        return [check_text(body, "body", settings)], False
    if isinstance(body, dict):
        return _parse_object(body, settings)
    raise RequestError(
        f"JSON body must be an object with \"text\" or \"texts\", got {json_type(body)}"
    )


def _maybe_json(text: str, required: bool) -> Any:
    """A body that looks like a JSON object or array must parse as one; anything else is review text."""
    stripped = text.strip()
    if not required and not (stripped.startswith(("{", "[")) and stripped.endswith(("}", "]"))):
        return text
    return load_json(stripped)


def load_json(text: str, hint: str = "") -> Any:
    """json.loads, with a 400 that says what is wrong for malformed or too deeply nested JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError("JSON body is nested too deeply") from None
    except ValueError as error:
        raise RequestError(f"malformed JSON: {error}{hint}") from None


def _parse_object(body: dict, settings: HandlerSettings) -> tuple[list[str], bool]:
    keys = set(body)
    if keys == {"text"}:
        return [check_text(body["text"], "text", settings)], False
    if keys == {"texts"}:
        texts = body["texts"]
        if not isinstance(texts, list):
            raise RequestError(f"\"texts\" must be a list of strings, got {json_type(texts)}")
        if not texts:
            raise RequestError("\"texts\" is empty: send at least one review")
        if len(texts) > settings.max_texts:
            raise RequestError(f"\"texts\" has {len(texts)} reviews; at most {settings.max_texts} per request", 413)
        return [check_text(t, f"texts[{i}]", settings) for i, t in enumerate(texts)], True
    if "text" in keys and "texts" in keys:
        raise RequestError("send either \"text\" or \"texts\", not both")
    unknown = sorted(keys - {"text", "texts"})
    if "text" in keys or "texts" in keys:
        raise RequestError(f"unexpected key(s) {unknown[:5]}: only \"text\" or \"texts\" are accepted")
    raise RequestError(f"JSON object needs a \"text\" or \"texts\" key, got keys {sorted(map(str, keys))[:5]}")


def check_text(value: Any, where: str, settings: HandlerSettings) -> str:
    """`value` if it is a review text within the caps, else a RequestError naming `where`."""
    if not isinstance(value, str):
        raise RequestError(f"{where} must be a string, got {json_type(value)}")
    if len(value) > settings.max_text_chars:
        raise RequestError(f"{where} has {len(value)} characters; the cap is {settings.max_text_chars}", 413)
    if not any(_is_content(char) for char in value):
        raise RequestError(f"{where} is empty or only whitespace or control characters: send a review")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"{where} holds an unpaired UTF-16 surrogate, which is not text") from None
    return value


def _is_content(char: str) -> bool:
    # NUL bytes, other control and format characters and whitespace carry no review.
    return not char.isspace() and unicodedata.category(char)[0] != "C"


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
