"""Hostile input through the handler's whole request path, without a server: every request of a batch
gets an answer (200) or its own 4xx, and the batch never fails as a whole.

    .venv/bin/python -m pytest tests/test_handler_properties.py
    HYPOTHESIS_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_handler_properties.py

Each case is a batch of 1-8 requests as TorchServe's frontend sends them to a worker. The bodies are
decoded by TorchServe's own worker code (ts.protocol.otf_message_handler._retrieve_input_data, which
turns application/json into Python values and text/* into str) and run through ts.service.Service.predict,
the function the worker calls: it answers 503 for the whole batch if the handler raises. The export
is a randomly initialised network with a small tokenizer: the weights do not matter to parsing.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_inputs import WIRE_BODIES
from tests.hypothesis_cases import case_counter, examples, report_hypothesis_cases  # noqa: F401
from tests.random_export import make_random_export

count = case_counter(__name__)


class Wire:
    """Enough of a socket for the worker's frame reader."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def recv(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


def worker_request(request_id: int, body: bytes, content_type: str) -> dict:
    """One REQUEST_INPUT as the worker builds it from the frontend's frames."""
    from ts.protocol.otf_message_handler import _retrieve_input_data

    frame = b"".join(struct.pack("!i", len(p)) + p for p in (b"body", content_type.encode(), body))
    parameter = _retrieve_input_data(Wire(frame))
    return {
        "requestId": str(request_id).encode(),
        "parameters": [parameter],
        "headers": [{"name": b"Content-Type", "value": content_type.encode()}],
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    import ts
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.service import Service

    from handler import SentimentHandler

    model_dir = make_random_export(tmp_path_factory.mktemp("random_export"))
    metrics = MetricsCacheYamlImpl(config_file_path=str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
    metrics.initialize_cache()
    handler = SentimentHandler()
    answers = []

    def entry_point(data, context):
        answers.append(handler.handle(data, context))
        return answers[-1]

    service = Service("sentiment", str(model_dir), None, entry_point, None, 8, metrics_cache=metrics)
    service.set_cl_socket(None)  # only streaming handlers write to the frontend's socket
    handler.initialize(service.context)
    service.answers = answers
    return service


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(batch=st.lists(WIRE_BODIES, min_size=1, max_size=8))
def test_every_request_of_a_batch_gets_its_own_answer(service, batch):
    count("test_every_request_of_a_batch_gets_its_own_answer")
    response = service.predict([worker_request(i, body, ct) for i, (body, ct) in enumerate(batch)])
    (batch_code,) = struct.unpack("!i", bytes(response[:4]))
    assert batch_code == 200, bytes(response[:200])  # 503 here: the handler raised for the whole batch
    answers = service.answers[-1]
    assert len(answers) == len(batch)
    for idx, answer in enumerate(answers):
        json.dumps(answer)  # the worker serialises it
        status, _ = service.context.get_response_status(idx)
        status = status or 200
        if status == 200:
            for prediction in answer if isinstance(answer, list) else [answer]:
                assert prediction["label"] in ("negative", "positive") and 0.0 <= prediction["score"] <= 1.0
        else:
            assert 400 <= status < 500 and answer["status"] == status and answer["error"]


def test_good_and_bad_requests_in_one_batch(service):
    """A bad neighbour does not spoil the good requests' answers (nor their order)."""
    batch = [(b"A wonderful film.", "text/plain"), (b"\xff\xfe", "text/plain"), (b'{"texts": ["Dull.", "Great."]}', "application/json"),
             (b"[" * 5000 + b"]" * 5000, "application/json"), (b'{"text": "Awful."}', "application/json; charset=utf-8")]
    service.predict([worker_request(i, body, ct) for i, (body, ct) in enumerate(batch)])
    answers = service.answers[-1]
    statuses = [service.context.get_response_status(i)[0] or 200 for i in range(len(batch))]
    assert statuses == [200, 400, 200, 400, 200]
    assert isinstance(answers[0], dict) and len(answers[2]) == 2 and isinstance(answers[4], dict)
