"""Temperature scaling: fitted on validation, folded into the head, no label changed.

    .venv/bin/python -m pytest tests/test_calibration.py
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from model.calibration import expected_calibration_error, fit_temperature, fold_temperature
from model.export import CONFIG_FILE, load_export
from model.network_config import probabilities_from_logits
from scripts.calibrate_export import main as calibrate
from serving.runtime import Predictor
from serving.settings import HandlerSettings


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_fit_temperature_recovers_the_temperature_that_made_the_labels(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, 20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-logits / true_temperature))).astype(int)
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.1)


def test_fit_temperature_handles_softmax_heads_and_refuses_mismatched_rows():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (6_000, 3))
    probabilities = probabilities_from_logits(logits / 2.0)
    labels = np.array([rng.choice(3, p=p / p.sum()) for p in probabilities])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)
    with pytest.raises(ValueError, match="as many logits as labels"):
        fit_temperature(logits, labels[:-1])


def test_calibration_lowers_the_ece_of_an_overconfident_model():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 6, 10_000)
    labels = (rng.random(10_000) < 1 / (1 + np.exp(-logits / 3.0))).astype(int)
    temperature = fit_temperature(logits, labels)
    before = expected_calibration_error(probabilities_from_logits(logits), labels)
    after = expected_calibration_error(probabilities_from_logits(logits / temperature), labels)
    assert after < before / 3


def test_folding_divides_the_networks_logits_and_refuses_a_non_positive_temperature(tiny_export):
    net, encoder, _ = load_export(tiny_export)
    batch = encoder.batch(["a great film", "a dull and boring film", "the plot"])
    with torch.no_grad():
        before = net(*batch)
        fold_temperature(net, 1.7)
        after = net(*batch)
    torch.testing.assert_close(after, before / 1.7, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        fold_temperature(net, 0.0)


def test_calibrate_export_writes_every_runtime_and_keeps_the_labels(tiny_export, tiny_imdb, tmp_path):
    export = shutil.copytree(tiny_export, tmp_path / "export")
    texts = ["a great superb film", "awful boring waste", "the plot was a story", "loved it"]
    def logits(runtime: str, precision: str) -> np.ndarray:
        predictor = Predictor(export, HandlerSettings(runtime=runtime, precision=precision))
        return predictor.logits_ids(predictor.encoder.encode_ids(texts))

    before = {p: logits("onnx", p) for p in ("float32", "int8")}
    report = calibrate(["--export", str(export), "--dataset", str(tiny_imdb), "--write"])
    temperature = report["temperature"]
    assert temperature != pytest.approx(1.0, abs=1e-3)
    assert report["after"]["val"]["acc"] == report["before"]["val"]["acc"]
    assert report["after"]["val"]["ece"] <= report["before"]["val"]["ece"] + 1e-9
    assert json.loads((export / CONFIG_FILE).read_text())["temperature"] == pytest.approx(temperature, abs=1e-4)
    for runtime, precision in (("torch", "float32"), ("onnx", "float32"), ("onnx", "int8")):
        after = logits(runtime, precision)
        np.testing.assert_allclose(after, before[precision] / temperature, rtol=1e-3, atol=1e-3)
        assert (np.sign(after) == np.sign(before[precision])).all()  # the labels
