"""handler.py in TorchServe's own worker code, without a server: for `make evaluate` and the tests.

    from serving.torchserve_service import Request, handler_service
    with handler_service(export_dir) as service:          # config/model-config.yaml, as the archive packs it
        answers = service.predict([Request(b"A moving film.", "text/plain"),
                                   Request(b'{"texts": ["Dull."]}', "application/json")])
        answers[0].status, answers[0].json()               # 200, {"label": "positive", "score": 0.98...}

What a worker does with an archive, step by step: the export's files, model-config.yaml and
MAR-INF/MANIFEST.json lie in one folder (as TorchServe unpacks a .mar); ts.model_loader.TsModelLoader
loads handler.py from it, building ts.service.Service with its ts.context.Context and calling the
handler's initialize. Each batch then arrives as the frontend sends it, one predict message of
frames, read by the worker's ts.protocol.otf_message_handler.retrieve_msg (which turns JSON bodies
into Python values and text/* bodies into str) and answered by Service.predict; the answer frames
are read back as the frontend reads them: per request a status, a reason phrase and the body the
worker serialised.
"""

from __future__ import annotations

import json
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from serving.settings import load_model_yaml
from paths import MODEL_NAME

CONFIG_FILE = "model-config.yaml"  # the name torch-model-archiver gives --config-file inside the archive


@dataclass
class Request:
    """One request of a batch: its body, the body's content type, and HTTP headers (e.g. {"explain": "True"})."""

    body: bytes | str | None = b""  # None: no body parameter at all (the frontend always sends one)
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    name: str = "body"  # the frontend's name for a request body; form fields come as parameters of their own name

    def frames(self, request_id: str) -> bytes:
        out = _string(request_id.encode())
        for key, value in self.headers.items():
            out += _string(key.encode()) + _string(value.encode())
        out += struct.pack("!i", -1)
        if self.body is not None:
            body = self.body.encode() if isinstance(self.body, str) else self.body
            out += _string(self.name.encode()) + _string(self.content_type.encode()) + _string(body)
        return out + struct.pack("!i", -1)


@dataclass
class Answer:
    status: int
    phrase: str
    body: bytes

    def json(self):
        return json.loads(self.body)


class HandlerService:
    """A loaded worker: `predict` takes one batch of Requests and gives one Answer each, in order.

    batch_status / batch_message: the worker's word on the last batch as a whole (503 "Prediction
    failed" when the handler raised; each answer then carries that 503 too).
    """

    def __init__(self, service) -> None:
        self.service = service
        self.context = service.context  # TorchServe's ts.context.Context, as the handler sees it
        self.batch_status, self.batch_message = 0, ""
        self._next_id = 0

    def predict(self, requests: list[Request]) -> list[Answer]:
        from ts.protocol.otf_message_handler import retrieve_msg

        message = b"I"  # the frontend's predict command
        for request in requests:
            message += request.frames(str(self._next_id))
            self._next_id += 1
        message += struct.pack("!i", -1)
        _, batch = retrieve_msg(_Wire(message))
        response = _Wire(bytes(self.service.predict(batch)))
        self.batch_status, self.batch_message = response.int(), response.string().decode()
        return _read_answers(response)


@contextmanager
def handler_service(export_dir: str | Path, model_yaml_config: dict | None = None,
                    batch_size: int = 8) -> Iterator[HandlerService]:
    """handler.py loaded by TorchServe's worker code around export_dir; model_yaml_config replaces
    config/model-config.yaml (what torch-model-archiver packs)."""
    import ts
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.model_loader import TsModelLoader

    config = load_model_yaml() if model_yaml_config is None else model_yaml_config
    with tempfile.TemporaryDirectory(prefix="model_dir_") as tmp:
        model_dir = Path(tmp)
        for item in Path(export_dir).iterdir():
            if item.is_file():
                (model_dir / item.name).symlink_to(item.resolve())
        (model_dir / CONFIG_FILE).write_text(yaml.safe_dump(config))
        (model_dir / "MAR-INF").mkdir()
        manifest = {"runtime": "python", "model": {"modelName": MODEL_NAME, "handler": "handler.py",
                                                   "modelVersion": "1.0", "configFile": CONFIG_FILE}}
        (model_dir / "MAR-INF" / "MANIFEST.json").write_text(json.dumps(manifest))
        metrics = MetricsCacheYamlImpl(config_file_path=str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
        metrics.initialize_cache()
        service = TsModelLoader().load(MODEL_NAME, str(model_dir), "handler.py", None, batch_size,
                                       metrics_cache=metrics)
        service.set_cl_socket(None)  # only streaming handlers write to the frontend's socket
        yield HandlerService(service)


class _Wire:
    """Enough of a socket for TorchServe's frame reader."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def recv(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def int(self) -> int:
        return struct.unpack("!i", self.recv(4))[0]

    def string(self) -> bytes:
        return self.recv(self.int())


def _string(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


def _read_answers(wire: _Wire) -> list[Answer]:
    """The rest of the worker's predict response: per request its id, content type, status, reason
    phrase, headers and body, up to -1."""
    answers = []
    while True:
        length = wire.int()
        if length == -1:
            return answers
        wire.recv(length)  # request id: answers come in request order
        wire.string()  # content type
        status = wire.int()
        phrase = wire.string().decode()
        for _ in range(wire.int()):
            wire.string(), wire.string()  # response headers
        answers.append(Answer(status, phrase, wire.string()))
