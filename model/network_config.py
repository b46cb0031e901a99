"""SentimentNetConfig: the served network's shape, without torch.

model/network.py builds the network from it; model/export.py reads it from model_config.json, so a
server that predicts with ONNX Runtime checks an export without importing torch:

    config = SentimentNetConfig.from_dict({"vocab_size": 30000, "gru_hidden": 64, "lstm_hidden": 64})
    config.head_outputs       # 1 for two classes (a sigmoid logit), else one logit per class
    probabilities_from_logits(logits)   # numpy: what the head's logits mean, as class probabilities
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

import numpy as np

Pooling = Literal["last", "meanmax"]


@dataclass(frozen=True)
class SentimentNetConfig:
    vocab_size: int = 20000
    embedding_dim: int = 128
    gru_hidden: int = 64
    lstm_hidden: int = 64
    bidirectional: bool = True
    dropout: float = 0.3
    pooling: Pooling = "meanmax"
    pad_id: int = 0
    num_classes: int = 2
    rnn_dropout: float = 0.0  # locked (one mask per review) between the GRU and the LSTM

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_dim", "gru_hidden", "lstm_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"model.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.rnn_dropout < 1.0:
            raise ValueError(f"model.rnn_dropout must be in [0, 1), got {self.rnn_dropout!r}")
        if self.pooling not in ("last", "meanmax"):
            raise ValueError(f"model.pooling must be 'last' or 'meanmax', got {self.pooling!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"model.pad_id must be in [0, vocab_size), got {self.pad_id!r}")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"model.num_classes must be an integer >= 2, got {self.num_classes!r}")

    @property
    def head_outputs(self) -> int:
        return 1 if self.num_classes == 2 else self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SentimentNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown network config keys: {unknown}")
        return cls(**values)


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """The head's logits as class probabilities, (N, classes), in label order, with numpy.

    One logit per review (the sigmoid head) is P(second label): [1 - p, p]. Rows of several logits
    (a softmax head) are normalised with a softmax. model.network.class_probabilities is the same
    mapping in torch for training and explanations; tests/test_runtime.py holds the two equal.
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 1:
        positive = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - positive, positive], axis=-1)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
