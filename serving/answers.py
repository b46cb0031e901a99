"""Class probabilities -> the JSON answers the server sends, one dict per text.

    from serving.answers import answers
    answers(predictor.predict_proba(texts), predictor.labels, threshold=0.5)
    # two labels:  [{"label": "positive", "score": 0.97}]                  score = P(second label)
    # more labels: [{"label": "b", "score": 0.7, "scores": {"a": 0.1, "b": 0.7, "c": 0.2}}]

Two labels keep the binary answer: the second label when its probability reaches `threshold`.
With more, the most probable label wins and every label's probability is listed.
"""

from __future__ import annotations

import numpy as np


def answers(probabilities: np.ndarray, labels: list[str], threshold: float = 0.5) -> list[dict]:
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise ValueError(f"probabilities of shape {probabilities.shape} do not fit {len(labels)} labels")
    chosen = chosen_classes(probabilities, threshold)
    if len(labels) == 2:
        return [{"label": labels[k], "score": float(p)} for k, p in zip(chosen, probabilities[:, 1])]
    return [
        {"label": labels[k], "score": float(row[k]), "scores": {label: float(p) for label, p in zip(labels, row)}}
        for k, row in zip(chosen, probabilities)
    ]


def chosen_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The class index each answer names (for the confusion matrix and explanations as for answers)."""
    probabilities = np.asarray(probabilities)
    if probabilities.shape[1] == 2:
        return (probabilities[:, 1] >= threshold).astype(np.int64)
    return probabilities.argmax(axis=1)
