"""config/kserve.properties and config/kserve-v1.properties are config/config.properties plus the protocol keys.

    .venv/bin/python -m pytest tests/test_kserve_config.py
"""

from __future__ import annotations

import pytest

from serving.envelopes import ENVELOPES
from serving.torchserve import CONFIG, KSERVE_CONFIG, KSERVE_V1_CONFIG, read_properties

PROTOCOL_KEYS = {
    KSERVE_CONFIG: {"ts_open_inference_protocol": "true", "service_envelope": "open_inference_v2"},
    KSERVE_V1_CONFIG: {"service_envelope": "kserve_v1"},
}


@pytest.mark.parametrize("config", PROTOCOL_KEYS, ids=lambda p: p.name)
def test_protocol_config_is_the_default_config_plus_its_protocol_keys(config):
    default, protocol = read_properties(CONFIG), read_properties(config)
    assert {k: v for k, v in protocol.items() if k not in PROTOCOL_KEYS[config]} == default
    assert {k: protocol.get(k) for k in PROTOCOL_KEYS[config]} == PROTOCOL_KEYS[config]
    assert protocol["service_envelope"] in ENVELOPES
