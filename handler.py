"""TorchServe handler for the IMDB sentiment model: reviews in, {"label", "score"} out.

Packed into model_store/sentiment.mar by `make archive` (scripts/build_archive.py) together
with the packages it imports, so `from model.export import ...` resolves inside the archive
exactly as in the repo. In tests it runs without a server:

    handler = SentimentHandler(); handler.initialize(context)      # context.system_properties["model_dir"]
    handler.handle([{"body": b'{"texts": ["Great.", "Awful."]}'}], context)

Requests (one item of a TorchServe batch each): text/plain body, JSON {"text": "..."} or
JSON {"texts": [...]}. Answers (serving/answers.py): {"label": "positive"|"negative", "score": P(positive)}
for a two-class export, {"label", "score", "scores": {name: probability}} for more, named by the
export's labels; a list of them for "texts", or for a bad request its own 4xx status with
{"error": ..., "status": ...}.
POST /explanations/sentiment takes the same inputs and answers serving.explain's dicts.
KServe's protocols (Open Inference v2, v1) are served by KServe's own model server over the same
Predictor (serving/kserve_model.py), not by TorchServe.

Thin on purpose: parse (serving/request_parsing.py) -> predict (serving/runtime.py, ONNX Runtime
or PyTorch as config/model-config.yaml says) -> answers (serving/answers.py); explanations go to
serving/explain.py with the PyTorch network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from http import HTTPStatus

from ts.torch_handler.base_handler import BaseHandler

from serving.answers import answers
from serving.request_parsing import RequestError, parse_request
from serving.runtime import Predictor
from serving.settings import HandlerSettings

logger = logging.getLogger(__name__)


class SentimentHandler(BaseHandler):
    # Nested: TorchServe wants exactly one top-level class in the handler module.
    @dataclass
    class Parsed:
        texts: list[str]
        many: bool  # {"texts": [...]}: answer with a list
        explain: bool  # sent to /explanations
        answers: list = field(default_factory=list)  # one per text, filled by inference

    def initialize(self, context) -> None:
        # BaseHandler.initialize would look for a TorchScript or pickled model; the Predictor loads the export.
        self.context = context
        self.manifest = context.manifest
        self.settings = HandlerSettings.from_model_yaml(getattr(context, "model_yaml_config", None))
        # oneDNN caches a compiled RNN kernel per (batch, length) shape, up to 1,024 of them: PyTorch sees
        # a new shape with nearly every batch and memory kept growing (in-process, 1,500 random batches:
        # 446 -> 610 MiB before the cap, 403 -> 407 MiB with 16 entries). Read at the first RNN call.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(self.settings.onednn_cache_capacity))
        model_dir = context.system_properties["model_dir"]
        self.predictor = Predictor(model_dir, self.settings)
        self.initialized = True
        logger.info("sentiment model loaded from %s (runtime=%s, precision=%s, max_length=%d)", model_dir,
                    self.predictor.runtime, self.predictor.precision, self.predictor.encoder.max_length)

    def preprocess(self, data: list) -> list[SentimentHandler.Parsed | RequestError]:
        return [self._parse(idx, item) for idx, item in enumerate(data)]

    def inference(self, requests: list[SentimentHandler.Parsed | RequestError], *args, **kwargs) -> list:
        """Fill each good request's answers; all prediction texts of the batch go through one forward pass.

        The explain flag is read per request because TorchServe can batch /predictions and
        /explanations requests together, while BaseHandler.handle only looks at the first one's.
        """
        good = [r for r in requests if isinstance(r, self.Parsed)]
        for wanted, answer in ((False, self._predict), (True, self._explain)):
            chosen = [r for r in good if r.explain == wanted]
            answers = iter(answer([t for r in chosen for t in r.texts]) if chosen else [])
            for request in chosen:
                request.answers = [next(answers) for _ in request.texts]
        return requests

    def postprocess(self, requests: list[SentimentHandler.Parsed | RequestError]) -> list:
        """One response per request: the answer (a list for "texts"), or an error with its own status."""
        responses = []
        for idx, request in enumerate(requests):
            if isinstance(request, RequestError):
                # A fixed reason phrase: the message may quote the client's input, which never goes in a status line.
                self.context.set_response_status(request.status, HTTPStatus(request.status).phrase, idx)
                responses.append(request.to_json())
            else:
                responses.append(request.answers if request.many else request.answers[0])
        return responses

    def explain_handle(self, data_preprocess: list, raw_data: list) -> list:
        """POST /explanations/sentiment: the same per-request routing as predictions (see inference)."""
        return self.postprocess(self.inference(data_preprocess))

    # -- helpers ---------------------------------------------------------------------------

    def _parse(self, idx: int, item) -> SentimentHandler.Parsed | RequestError:
        try:
            texts, many = parse_request(item, self._content_type(idx), self.settings)
        except RequestError as error:
            return error
        return self.Parsed(texts, many, self._header(idx, "explain") == "True")

    def _predict(self, texts: list[str]) -> list[dict]:
        return answers(self.predictor.predict_proba(texts), self.predictor.labels, self.settings.threshold)

    def _explain(self, texts: list[str]) -> list[dict]:
        from serving.explain import explain_texts  # captum is heavy; load it on the first explanation only

        predictor = self.predictor
        return explain_texts(predictor.network, predictor.encoder, texts, predictor.labels, self.settings.threshold,
                             self.settings.explain_steps)

    def _content_type(self, idx: int) -> str | None:
        # TorchServe keeps the body's content type per parameter ("body" or "data"), and the HTTP
        # headers beside them; either may be missing in a hand-made context.
        for name in ("body", "data"):
            value = self._header(idx, name)
            if isinstance(value, dict) and value.get("content-type"):
                return value["content-type"]
        value = self._header(idx, "Content-Type") or self._header(idx, "content-type")
        return value if isinstance(value, str) else None

    def _header(self, idx: int, key: str):
        try:
            return self.context.get_request_header(idx, key)
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
