"""TorchServe's Context for running handler.py in-process (evaluation, tests), without a server.

    context = LocalContext(model_dir, [{"body": {"content-type": "text/plain"}}, {}])   # one dict of headers per request
    answers = handler.handle([{"body": b"Great."}, {"body": b"Dull."}], context)
    context.status(0)   # 200, or the status the handler set for that request
"""

from __future__ import annotations

from serving.settings import load_model_yaml
from serving.torchserve import MODEL_NAME


class FakeRequest:
    """TorchServe's RequestProcessor: request headers in, status out."""

    def __init__(self, headers: dict) -> None:
        self.headers, self.status, self.phrase = headers, 200, None

    def get_request_property(self, key):
        return self.headers.get(key)

    def report_status(self, code, reason_phrase=None):
        self.status, self.phrase = code, reason_phrase


class FakeMetrics:
    def add_time(self, *args, **kwargs):
        pass


class LocalContext:
    """What TorchServe's Context gives a handler: model_dir, manifest, per-request headers and status."""

    def __init__(self, model_dir, headers: list[dict], model_yaml_config: dict | None = None) -> None:
        self.system_properties = {"model_dir": str(model_dir), "batch_size": len(headers), "gpu_id": None}
        self.manifest = {"model": {"modelName": MODEL_NAME, "handler": "handler.py"}}
        # What torch-model-archiver packs (config/model-config.yaml) unless a test gives its own.
        self.model_yaml_config = load_model_yaml() if model_yaml_config is None else model_yaml_config
        self.metrics = FakeMetrics()
        self.request_processor = [FakeRequest(h) for h in headers]

    def get_request_header(self, idx, key):
        return self.request_processor[idx].get_request_property(key)

    def set_response_status(self, code=200, phrase="", idx=0):
        self.request_processor[idx].report_status(code, phrase)

    def status(self, idx) -> int:
        return self.request_processor[idx].status
