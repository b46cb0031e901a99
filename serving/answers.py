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
    if len(labels) == 2:
        return [{"label": labels[int(p >= threshold)], "score": float(p)} for p in probabilities[:, 1]]
    return [
        {"label": labels[int(row.argmax())], "score": float(row.max()),
         "scores": {label: float(p) for label, p in zip(labels, row)}}
        for row in probabilities
    ]
