"""KServe's two REST protocols <-> review texts and answers: the Open Inference Protocol (v2) and v1.

Pure Python (no torch, no TorchServe), so it is cheap to property-test. serving/envelopes.py calls it
for each request of a batch; every refusal is a RequestError with a 4xx status and a message:

    request = parse_v2({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES",
                                    "data": ["Great.", "Awful."]}]})
    request.texts                                  # ["Great.", "Awful."]
    v2_response(answers, "sentiment", request)     # {"model_name": "sentiment", "outputs": [label, score(, scores)]}
    parse_v1({"instances": ["Great."]})            # ["Great."]
    v1_response(answers)                           # {"predictions": answers}

`answers` are the handler's per-text dicts: {"label", "score"}, plus "scores": {label: probability}
for models with more than two classes, whose columns the `scores` output keeps in label order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serving.request_parsing import (
    DEFAULT_SETTINGS, FORM_TYPES, RequestError, check_text, decode_body, json_type, load_json, request_body,
)
from serving.settings import HandlerSettings

INPUT_NAME = "text"
OUTPUT_NAMES = ("label", "score", "scores")
V2_FORM = '{"inputs": [{"name": "text", "shape": [N], "datatype": "BYTES", "data": ["review", ...]}]}'
V1_FORM = '{"instances": ["review", ...]}'
NATIVE_FORM = '{"text": "..."} or {"texts": [...]} (the /predictions form)'


@dataclass(frozen=True)
class V2Request:
    texts: list[str]
    id: str | None = None
    outputs: tuple[str, ...] | None = None  # the outputs the client asked for; None: all


def json_body(request: Any, settings: HandlerSettings, content_type: str | None = None, form: str = V2_FORM) -> Any:
    """One TorchServe request item's body as decoded JSON (TorchServe decodes application/json bodies itself).

    form: the body this server expects, for the messages.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    try:
        if media_type in FORM_TYPES:
            raise RequestError("", 415)
        body = request_body(request)
    except RequestError as error:
        if error.status == 415:  # TorchServe split the body into form fields (curl --data's default type)
            raise RequestError(f"the body arrived as HTML form fields (Content-Type {media_type or 'form'}): "
                               f"send it as application/json: {form}", 415) from None
        raise RequestError(f"empty request body: send {form}") from None
    body = decode_body(body, settings)
    if isinstance(body, str):
        if not body.strip():
            raise RequestError(f"empty request body: send {form}")
        return load_json(body, f"; this server expects {form}")
    return body


def parse_v2(body: Any, settings: HandlerSettings = DEFAULT_SETTINGS) -> V2Request:
    """An inference request of the Open Inference Protocol with one BYTES input "text" of shape [N]."""
    _expect_protocol(body, "inputs", "the Open Inference Protocol (v2)", V2_FORM)
    unknown = sorted(set(body) - {"inputs", "id", "parameters", "outputs"})
    if unknown:
        raise RequestError(f"unexpected key(s) {unknown[:5]}: a v2 request has \"inputs\" and optionally "
                           f"\"id\", \"parameters\", \"outputs\"")
    inputs = body["inputs"]
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = f"{len(inputs)} tensors" if isinstance(inputs, list) else json_type(inputs)
        raise RequestError(f"\"inputs\" must hold exactly one tensor named \"{INPUT_NAME}\", got {got}")
    texts = _parse_text_tensor(inputs[0], settings)
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"\"id\" must be a string, got {json_type(request_id)}")
    if not isinstance(body.get("parameters", {}), dict):
        raise RequestError(f"\"parameters\" must be an object, got {json_type(body['parameters'])}")
    return V2Request(texts, request_id, _requested_outputs(body.get("outputs")))


def parse_v1(body: Any, settings: HandlerSettings = DEFAULT_SETTINGS) -> list[str]:
    """A KServe v1 predict request: {"instances": [review, ...]}, each a string or {"text": review}."""
    _expect_protocol(body, "instances", "KServe's v1 protocol", V1_FORM)
    unknown = sorted(set(body) - {"instances"})
    if unknown:
        raise RequestError(f"unexpected key(s) {unknown[:5]}: a v1 request has \"instances\" only")
    instances = body["instances"]
    _check_count(instances, "\"instances\"", settings)
    texts = []
    for i, instance in enumerate(instances):
        if isinstance(instance, dict) and set(instance) == {"text"}:
            instance = instance["text"]
        texts.append(check_text(instance, f"instances[{i}]", settings))
    return texts


def v2_response(answers: Sequence[dict], model_name: str, request: V2Request | None = None,
                labels: Sequence[str] | None = None, model_version: str | None = None) -> dict:
    """The v2 answer: label (BYTES [N]), score (FP32 [N]) and, for more than two classes, scores (FP32 [N, classes]).

    labels orders the scores columns; by default the order of the first answer's "scores".
    """
    n = len(answers)
    tensors = {
        "label": {"name": "label", "datatype": "BYTES", "shape": [n], "data": [a["label"] for a in answers]},
        "score": {"name": "score", "datatype": "FP32", "shape": [n], "data": [a["score"] for a in answers]},
    }
    if answers and all("scores" in a for a in answers):
        names = list(labels if labels is not None else answers[0]["scores"])
        tensors["scores"] = {"name": "scores", "datatype": "FP32", "shape": [n, len(names)],
                             "data": [a["scores"][name] for a in answers for name in names]}
    wanted = request.outputs if request and request.outputs else tuple(tensors)
    missing = [name for name in wanted if name not in tensors]
    if missing:
        raise RequestError(f"this model has no output {missing[0]!r}; its outputs are {list(tensors)}")
    response = {"model_name": model_name}
    if model_version:
        response["model_version"] = model_version
    if request and request.id is not None:
        response["id"] = request.id
    response["outputs"] = [tensors[name] for name in wanted]
    return response


def v1_response(answers: Sequence[dict], explanations: bool = False) -> dict:
    return {"explanations" if explanations else "predictions": list(answers)}


# -- helpers -----------------------------------------------------------------------------------


def _expect_protocol(body: Any, key: str, protocol: str, form: str) -> None:
    """A body of another protocol is refused with the form this server expects."""
    if not isinstance(body, dict):
        raise RequestError(f"this server speaks {protocol}: the body must be a JSON object {form}, got {json_type(body)}")
    if key in body:
        return
    if "inputs" in body:
        other = "an Open Inference Protocol (v2) body"
    elif "instances" in body:
        other = "a KServe v1 body"
    elif "text" in body or "texts" in body:
        other = NATIVE_FORM
    else:
        other = f"an object with keys {sorted(map(str, body))[:5]}"
    raise RequestError(f"this server speaks {protocol}; got {other}: send {form}")


def _parse_text_tensor(tensor: Any, settings: HandlerSettings) -> list[str]:
    where = "inputs[0]"
    if not isinstance(tensor, dict):
        raise RequestError(f"{where} must be an object with name, shape, datatype and data, got {json_type(tensor)}")
    missing = [key for key in ("name", "shape", "datatype", "data") if key not in tensor]
    if missing:
        raise RequestError(f"{where} lacks {missing}: send {V2_FORM}")
    unknown = sorted(set(tensor) - {"name", "shape", "datatype", "data", "parameters"})
    if unknown:
        raise RequestError(f"{where} has unexpected key(s) {unknown[:5]}")
    if tensor["name"] != INPUT_NAME:
        raise RequestError(f"{where}.name must be \"{INPUT_NAME}\", got {_show(tensor['name'])}")
    if tensor["datatype"] != "BYTES":
        raise RequestError(f"{where}.datatype must be \"BYTES\" (UTF-8 review texts), got {_show(tensor['datatype'])}")
    shape, data = tensor["shape"], tensor["data"]
    if not (isinstance(shape, list) and len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0):
        raise RequestError(f"{where}.shape must be [N], N the number of texts, got {_show(shape)}")
    _check_count(data, f"{where}.data", settings)
    if len(data) != shape[0]:
        raise RequestError(f"{where}.data holds {len(data)} texts but {where}.shape is [{shape[0]}]")
    return [check_text(value, f"{where}.data[{i}]", settings) for i, value in enumerate(data)]


def _check_count(values: Any, where: str, settings: HandlerSettings) -> None:
    if not isinstance(values, list):
        raise RequestError(f"{where} must be a list of review texts, got {json_type(values)}")
    if not values:
        raise RequestError(f"{where} is empty: send at least one review")
    if len(values) > settings.max_texts:
        raise RequestError(f"{where} has {len(values)} reviews; at most {settings.max_texts} per request", 413)


def _show(value: Any) -> str:
    """A client value for a message: scalars as JSON (cut short), containers by their type."""
    if isinstance(value, list) and len(value) <= 4 and all(type(v) in (int, float, bool) for v in value):
        return json.dumps(value)
    return json.dumps(value)[:100] if isinstance(value, (str, int, float, bool, type(None))) else json_type(value)


def _requested_outputs(outputs: Any) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise RequestError("\"outputs\" must be a list of objects with a \"name\", e.g. [{\"name\": \"label\"}]")
    names = tuple(o["name"] for o in outputs)
    unknown = [name for name in names if name not in OUTPUT_NAMES]
    if unknown:
        raise RequestError(f"unknown output {unknown[0][:100]!r}: the outputs are {list(OUTPUT_NAMES)}")
    return tuple(dict.fromkeys(names))
