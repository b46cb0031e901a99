"""Temperature scaling (Guo et al. 2017): one number that divides the head's logits, fitted on validation.

    from model.calibration import expected_calibration_error, fit_temperature, fold_temperature
    temperature = fit_temperature(val_logits, val_labels)     # lowest validation log loss; labels never change
    fold_temperature(net, temperature)                        # the head's weights and bias divided by it

Folded into the head, the temperature reaches every runtime at once: network.pt, network.onnx and
network.int8.onnx (whose head stays float32) all carry it, and so do explanations, which run the
PyTorch network. Dividing logits by a positive number keeps their sign and their order, so no
label changes: only the confidence does. scripts/calibrate_export.py applies it to an export.
"""

from __future__ import annotations

import numpy as np
import torch

from model.network_config import probabilities_from_logits

TEMPERATURE_BOUNDS = (0.05, 20.0)
ECE_BINS = 15  # equal-width confidence bins of the expected calibration error (training logs the same)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: |accuracy - confidence| per equal-width confidence bin, weighted by the bin's share.
    For two classes this is torchmetrics' BinaryCalibrationError (norm l1), which training logs."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def log_loss(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    probabilities = probabilities_from_logits(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in TEMPERATURE_BOUNDS with the lowest log loss of `logits` / T on `labels`.
    `logits`: (N,) for a sigmoid head, (N, classes) for a softmax head."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels)
    if len(labels) == 0 or len(logits) != len(labels):
        raise ValueError(f"fit_temperature needs as many logits as labels, got {len(logits)} and {len(labels)}")
    found = minimize_scalar(lambda t: log_loss(logits, labels, t), bounds=TEMPERATURE_BOUNDS, method="bounded",
                            options={"xatol": 1e-4})
    return float(found.x)


@torch.no_grad()
def fold_temperature(net: torch.nn.Module, temperature: float) -> None:
    """Divide the head's weights and bias by `temperature`: the network then outputs logits / temperature."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    net.head.weight.div_(temperature)
    if net.head.bias is not None:
        net.head.bias.div_(temperature)
