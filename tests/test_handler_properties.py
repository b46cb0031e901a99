"""Hostile input through the handler's whole request path, without a server: every request of a batch
gets an answer (200) or its own 4xx, and the batch never fails as a whole.

    .venv/bin/python -m pytest tests/test_handler_properties.py
    HYPOTHESIS_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_handler_properties.py

Each case is a batch of 1-8 requests as TorchServe's frontend sends them to a worker, run by
serving/torchserve_service.py: TorchServe's own worker code decodes the bodies (application/json into
Python values, text/* into str) and ts.service.Service.predict calls the handler, answering 503 for the
whole batch if it raises, and serialises each answer. The export is a randomly initialised network
with a small tokenizer: the weights do not matter to parsing.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.torchserve_service import Request, handler_service
from tests.hostile_inputs import WIRE_BODIES
from tests.hypothesis_cases import case_counter, examples, report_hypothesis_cases  # noqa: F401
from tests.random_export import make_random_export

count = case_counter(__name__)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with handler_service(make_random_export(tmp_path_factory.mktemp("random_export"))) as service:
        yield service


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(batch=st.lists(WIRE_BODIES, min_size=1, max_size=8))
def test_every_request_of_a_batch_gets_its_own_answer(service, batch):
    count("test_every_request_of_a_batch_gets_its_own_answer")
    answers = service.predict([Request(body, ct) for body, ct in batch])
    assert len(answers) == len(batch)
    # 503: the handler raised for the whole batch, or gave an answer the worker cannot serialise.
    assert service.batch_status == 200, service.batch_message
    for answer in answers:
        if answer.status == 200:
            body = answer.json()
            for prediction in body if isinstance(body, list) else [body]:
                assert prediction["label"] in ("negative", "positive") and 0.0 <= prediction["score"] <= 1.0
        else:
            error = answer.json()
            assert 400 <= answer.status < 500 and error["status"] == answer.status and error["error"]


def test_good_and_bad_requests_in_one_batch(service):
    """A bad neighbour does not spoil the good requests' answers (nor their order)."""
    batch = [(b"A wonderful film.", "text/plain"), (b"\xff\xfe", "text/plain"), (b'{"texts": ["Dull.", "Great."]}', "application/json"),
             (b"[" * 5000 + b"]" * 5000, "application/json"), (b'{"text": "Awful."}', "application/json; charset=utf-8")]
    answers = service.predict([Request(body, ct) for body, ct in batch])
    assert [a.status for a in answers] == [200, 400, 200, 400, 200]
    assert isinstance(answers[0].json(), dict) and len(answers[2].json()) == 2 and isinstance(answers[4].json(), dict)
