"""The sentiment model on KServe's own model server: the scale-out path, without TorchServe or torch.

    python -m serving.kserve_model --model_dir model_store/artifacts          # `make kserve`: 127.0.0.1:8095
    python -m serving.kserve_model --model_dir /mnt/models --host 0.0.0.0 --http_port 8080   # the image

KServe's flags (`--http_port`, `--grpc_port`, `--enable_grpc`, `--model_name`, ...) work as in any KServe
custom predictor; `--host` is ours (kserve 0.21 always binds every interface: serving/kserve_app.py).
The library speaks the protocols: Open Inference Protocol v2 over REST and gRPC (health, metadata, JSON
and binary tensors), KServe v1 and Prometheus `/metrics`. This file only maps them onto the one door
for inference, serving.runtime.Predictor, with the limits and 4xx messages of the TorchServe handler
(serving/request_parsing.py, serving/settings.py: the same config/model-config.yaml):

    v2: one BYTES input "text", shape [N]  ->  "label" BYTES [N], "score" FP32 [N] (P(second label) for two
        classes, else the chosen label's), and for more than two classes "scores" FP32 [N, classes]
    v1: {"instances": ["review", {"text": "review"}, ...]}  ->  {"predictions": [{"label", "score"}, ...]}
        POST /v1/models/sentiment:explain  ->  {"explanations": [...]} (word attributions; needs torch)

With ONNX Runtime nothing here imports torch (requirements-serve.txt, the image's install, has none).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model

from paths import MODEL_NAME, SHIPPED_EXPORT
from serving.answers import answers
from serving.kserve_app import RejectedRequest, serve
from serving.micro_batcher import MicroBatcher
from serving.request_parsing import RequestError, check_text, json_type
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml

logger = logging.getLogger(__name__)

HTTP_PORT, GRPC_PORT = 8095, 8096  # beside TorchServe's 8080-8082 / 7070-7071 and the page's 8090
INPUT = {"name": "text", "datatype": "BYTES", "shape": [-1]}


class SentimentModel(Model):
    def __init__(self, name: str, model_dir: str | Path, settings: HandlerSettings) -> None:
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.settings = settings
        self.predictor: Predictor | None = None
        self.batcher: MicroBatcher | None = None

    def load(self) -> bool:
        # check_network=False: reading network.pt would import torch; explanations load it when asked.
        self.predictor = Predictor(self.model_dir, self.settings, check_network=False)
        self.batcher = MicroBatcher(self.predictor.predict_proba, self.settings.max_texts)
        self.ready = True
        logger.info("%s loaded from %s (runtime=%s, precision=%s)", self.name, self.model_dir, self.predictor.runtime,
                    self.predictor.precision)
        return self.ready

    def get_input_types(self) -> list[dict]:
        return [INPUT]

    def get_output_types(self) -> list[dict]:
        outputs = [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                   {"name": "score", "datatype": "FP32", "shape": [-1]}]
        if len(self.predictor.labels) > 2:
            outputs.append({"name": "scores", "datatype": "FP32", "shape": [-1, len(self.predictor.labels)]})
        return outputs

    async def predict(self, payload: InferRequest | dict, headers: dict | None = None) -> InferResponse | dict:
        if isinstance(payload, InferRequest):
            texts = rejecting(v2_texts, payload, self.settings)
            return self._v2_response(payload, await self._scored(texts))
        texts = rejecting(v1_texts, payload, self.settings)
        return {"predictions": await self._scored(texts)}

    async def explain(self, payload: dict, headers: dict | None = None) -> dict:
        texts = rejecting(v1_texts, payload, self.settings)
        return {"explanations": await asyncio.get_running_loop().run_in_executor(None, self._explain, texts)}

    async def _scored(self, texts: list[str]) -> list[dict]:
        # Off the event loop, beside the texts of requests that arrive meanwhile (serving/micro_batcher.py).
        probabilities = await self.batcher.score(texts)
        return answers(probabilities, self.predictor.labels, self.settings.threshold)

    def _explain(self, texts: list[str]) -> list[dict]:
        try:
            from serving.explain import explain_texts
        except ImportError as error:  # the lean install (requirements-serve.txt) has no torch or captum
            raise RejectedRequest(RequestError(
                f"explanations need PyTorch and Captum, which this server's install lacks ({error.name}); "
                "use a full install (requirements.txt)", 501)) from None
        predictor = self.predictor
        return explain_texts(predictor.network, predictor.encoder, texts, predictor.labels, self.settings.threshold,
                             self.settings.explain_steps)

    def _v2_response(self, request: InferRequest, scored: list[dict]) -> InferResponse:
        n = len(scored)
        # Lists, not arrays: kserve 0.21's gRPC encoder tests an output's data for truth, which an array
        # of more than one element refuses.
        outputs = [
            InferOutput("label", [n], "BYTES", [a["label"] for a in scored]),
            InferOutput("score", [n], "FP32", [a["score"] for a in scored]),
        ]
        labels = self.predictor.labels
        if len(labels) > 2:
            row_major = [a["scores"][name] for a in scored for name in labels]
            outputs.append(InferOutput("scores", [n, len(labels)], "FP32", row_major))
        known = {output.name for output in outputs}
        for wanted in request.request_outputs or []:
            if wanted.name not in known:
                raise RejectedRequest(RequestError(f"this model has no output {wanted.name!r}; its outputs are "
                                                   f"{sorted(known)}"))
        # The protocol's response carries an id: the request's, else a new one (KServe's REST layer requires it).
        return InferResponse(request.id or uuid.uuid4().hex, self.name, outputs, use_binary_outputs=request.use_binary_outputs,
                             requested_outputs=request.request_outputs)


def rejecting(parse, payload: Any, settings: HandlerSettings) -> list[str]:
    try:
        return parse(payload, settings)
    except RequestError as error:
        raise RejectedRequest(error) from None


def v2_texts(request: InferRequest, settings: HandlerSettings) -> list[str]:
    """The review texts of a v2 request: exactly one BYTES input "text" of shape [N], N texts."""
    if len(request.inputs) != 1:
        raise RequestError(f"\"inputs\" must hold exactly one tensor named \"text\", got {len(request.inputs)}")
    tensor = request.inputs[0]
    if tensor.name != INPUT["name"]:
        raise RequestError(f"inputs[0].name must be \"text\", got {tensor.name!r}"[:200])
    if tensor.datatype != "BYTES":
        raise RequestError(f"inputs[0].datatype must be \"BYTES\" (UTF-8 review texts), got {tensor.datatype!r}"[:200])
    shape = list(tensor.shape)
    if len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 0:
        raise RequestError(f"inputs[0].shape must be [N], N the number of texts, got {shape}"[:200])
    try:  # JSON data and binary or gRPC raw tensors alike
        data = list(tensor.as_numpy().reshape(-1))
    except ValueError:
        held = f"{len(tensor.data)} texts" if isinstance(tensor.data, list) and tensor.data else "other data"
        raise RequestError(f"inputs[0].data holds {held} but inputs[0].shape is [{shape[0]}]") from None
    count(data, "inputs[0].data", settings)
    return [check_text(utf8(value, f"inputs[0].data[{i}]"), f"inputs[0].data[{i}]", settings)
            for i, value in enumerate(data)]


def v1_texts(body: Any, settings: HandlerSettings) -> list[str]:
    """The review texts of a v1 request: {"instances": [...]}, each a string or {"text": "..."}."""
    if not isinstance(body, dict) or "instances" not in body:
        got = f"keys {sorted(map(str, body))[:5]}" if isinstance(body, dict) else json_type(body)
        raise RequestError(f"a v1 request is {{\"instances\": [\"review\", ...]}}, got {got}")
    unknown = sorted(set(body) - {"instances"})
    if unknown:
        raise RequestError(f"unexpected key(s) {unknown[:5]}: a v1 request has \"instances\" only")
    instances = body["instances"]
    count(instances, "\"instances\"", settings)
    texts = []
    for i, instance in enumerate(instances):
        if isinstance(instance, dict) and set(instance) == {"text"}:
            instance = instance["text"]
        texts.append(check_text(instance, f"instances[{i}]", settings))
    return texts


def count(values: Any, where: str, settings: HandlerSettings) -> None:
    if not isinstance(values, list):
        raise RequestError(f"{where} must be a list of review texts, got {json_type(values)}")
    if not values:
        raise RequestError(f"{where} is empty: send at least one review")
    if len(values) > settings.max_texts:
        raise RequestError(f"{where} has {len(values)} reviews; at most {settings.max_texts} per request", 413)


def utf8(value: Any, where: str) -> Any:
    """Binary tensors carry bytes: UTF-8 text, or a 400 naming the element."""
    if isinstance(value, (bytes, bytearray, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestError(f"{where} is not valid UTF-8 (byte {error.start})") from None
    return value


def main(argv: list[str] | None = None) -> None:
    from kserve import model_server

    parser = argparse.ArgumentParser(parents=[model_server.parser], description=__doc__.splitlines()[0])
    parser.add_argument("--model_dir", type=Path, default=SHIPPED_EXPORT, help="an export folder (default: the shipped one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address REST and gRPC listen on: loopback here, 0.0.0.0 in a container")
    # Latency logging off by default: a log line per request costs CPU that two cores share with the model,
    # and /metrics already holds the same times as Prometheus histograms. `--enable_latency_logging true` turns it on.
    parser.set_defaults(http_port=HTTP_PORT, grpc_port=GRPC_PORT, model_name=MODEL_NAME, enable_latency_logging=False)
    args = parser.parse_args(argv)
    if args.workers != 1:
        parser.error("--workers must be 1: scale with replicas (deploy/kserve/), each one process")
    settings = HandlerSettings.from_model_yaml(load_model_yaml())
    model = SentimentModel(args.model_name, args.model_dir, settings)
    try:
        model.load()
    except (OSError, ValueError) as error:
        parser.error(f"cannot load the model from {args.model_dir}: {error}")
    serve(model, args, settings)


if __name__ == "__main__":
    main()
