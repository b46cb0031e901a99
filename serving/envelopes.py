"""TorchServe request envelopes for KServe's protocols: `service_envelope=open_inference_v2` or `kserve_v1`.

config/kserve.properties and config/kserve-v1.properties name them; handler.py calls
`register_envelopes()` when TorchServe imports it. An envelope sits between TorchServe and the
handler for every request of the server: it turns each protocol body into the handler's own
{"texts": [...]} form (serving/open_inference.py does the protocol), and each list of answers back
into the protocol's answer. A body it refuses reaches the handler as a RequestError, which the handler
answers with its 4xx status like any other bad request, so one bad request never fails its batch.

Why not TorchServe's own `kservev2` / `kserve` envelopes (0.12): they read only the first request of
a batch and answer once for all of it, keep only data[0] of a BYTES tensor, and raise on any other
body (a v1 body on the v2 envelope: KeyError 'inputs', answered 503).
"""

from __future__ import annotations

import sys
import types
from http import HTTPStatus
from typing import Any

from ts.torch_handler.request_envelope.base import BaseEnvelope

from serving.open_inference import V1_FORM, V2_FORM, V2Request, json_body, parse_v1, parse_v2, v1_response, v2_response
from serving.request_parsing import RequestError
from serving.settings import HandlerSettings

# ts.model_loader imports f"{TORCHSERVE_ENVELOPES}.{service_envelope}" after the handler module and
# instantiates the first class defined in that module.
TORCHSERVE_ENVELOPES = "ts.torch_handler.request_envelope"


class ProtocolEnvelope(BaseEnvelope):
    """One protocol for every request of the server; subclasses say which."""

    form: str  # the body the protocol expects, for messages

    def parse_input(self, data: list) -> list:
        settings = HandlerSettings.from_model_yaml(getattr(self.context, "model_yaml_config", None))
        self._parsed = [self._parse_one(idx, item, settings) for idx, item in enumerate(data)]
        return [p if isinstance(p, RequestError) else {"body": {"texts": self._texts(p)}} for p in self._parsed]

    def format_output(self, data: list) -> list:
        responses = []
        for idx, (parsed, answer) in enumerate(zip(self._parsed, data)):
            if isinstance(parsed, RequestError) or not isinstance(answer, list):
                responses.append(answer)  # the handler's own error answer, status already set
                continue
            try:
                responses.append(self._answer(parsed, answer))
            except RequestError as error:
                self.context.set_response_status(error.status, HTTPStatus(error.status).phrase, idx)
                responses.append(error.to_json())
        return responses

    def _parse_one(self, idx: int, item: Any, settings: HandlerSettings):
        try:
            body = json_body(item, settings, self._header(idx, "Content-Type"), self.form)
            # TorchServe's :explain and /explain routes set this header, as /explanations does.
            return self._parse(body, settings, self._header(idx, "explain") == "True")
        except RequestError as error:
            return error

    def _header(self, idx: int, key: str):
        try:
            value = self.context.get_request_header(idx, key)
            return value if value is not None else self.context.get_request_header(idx, key.lower())
        except (AttributeError, IndexError, KeyError, TypeError):
            return None

    def _model(self, key: str) -> str | None:
        return ((getattr(self.context, "manifest", None) or {}).get("model") or {}).get(key)

    def _parse(self, body: Any, settings: HandlerSettings, explain: bool):
        raise NotImplementedError

    def _texts(self, parsed) -> list[str]:
        raise NotImplementedError

    def _answer(self, parsed, answers: list) -> dict:
        raise NotImplementedError


class OpenInferenceV2Envelope(ProtocolEnvelope):
    """POST /v2/models/{name}/infer: {"inputs": [text tensor]} -> {"model_name", "outputs": [label, score(, scores)]}."""

    form = V2_FORM

    def _parse(self, body: Any, settings: HandlerSettings, explain: bool) -> V2Request:
        if explain:
            name = self._model("modelName")
            raise RequestError(f"the Open Inference Protocol has no explanations: ask POST /explanations/{name} "
                               f"(config/config.properties) or POST /v1/models/{name}:explain (config/kserve-v1.properties)", 404)
        return parse_v2(body, settings)

    def _texts(self, parsed: V2Request) -> list[str]:
        return parsed.texts

    def _answer(self, parsed: V2Request, answers: list) -> dict:
        return v2_response(answers, self._model("modelName"), parsed, model_version=self._model("modelVersion"))


class KServeV1Envelope(ProtocolEnvelope):
    """POST /v1/models/{name}:predict (or :explain): {"instances": [...]} -> {"predictions": [...]}."""

    form = V1_FORM

    def _parse(self, body: Any, settings: HandlerSettings, explain: bool) -> tuple[list[str], bool]:
        return parse_v1(body, settings), explain

    def _texts(self, parsed: tuple[list[str], bool]) -> list[str]:
        return parsed[0]

    def _answer(self, parsed: tuple[list[str], bool], answers: list) -> dict:
        return v1_response(answers, explanations=parsed[1])


ENVELOPES = {"open_inference_v2": OpenInferenceV2Envelope, "kserve_v1": KServeV1Envelope}


def register_envelopes() -> None:
    """Make `service_envelope=<name>` of ENVELOPES resolve to our classes in this worker process."""
    for name, envelope in ENVELOPES.items():
        module = types.ModuleType(f"{TORCHSERVE_ENVELOPES}.{name}")
        # ts.utils.util.list_classes_from_module keeps only classes whose __module__ is the module's own name.
        module.__dict__[envelope.__name__] = type(envelope.__name__, (envelope,), {"__module__": module.__name__})
        sys.modules.setdefault(module.__name__, module)
