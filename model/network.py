"""The sentiment network: Embedding -> GRU -> LSTM -> linear head -> class logits.

Plain PyTorch, no Lightning, so the TorchServe handler can load it alone:

    net = SentimentNet(SentimentNetConfig(vocab_size=20000))
    logits = net(input_ids, lengths)          # (batch,) raw logits; sigmoid -> P(positive)
    probabilities = class_probabilities(logits)       # (batch, num_classes), rows sum to 1

With two classes the head is one logit whose sigmoid is P(second class), as every export
before num_classes existed was trained; with more it is one logit per class (softmax).

Padded positions never change the output: batches are right-padded, the
backward direction reads each review reversed within its own length, and
pooling masks the padding, so a review scores the same alone or inside a
batch of longer ones.
"""

from __future__ import annotations

import torch
from torch import nn

from model.network_config import Pooling, SentimentNetConfig  # noqa: F401  (re-exported: the network's config)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first `length` steps in time and leave its padding in place.

    Its own inverse. Running a forward RNN over this gives the backward direction,
    exactly: the padding still comes after the real steps.
    """
    steps = torch.arange(x.size(1), device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(2)))


class PaddedBiRNN(nn.Module):
    """A GRU or LSTM layer, one or both directions, over right-padded batches.

    Why not nn.GRU(bidirectional=True) with a PackedSequence: on the CPU a packed
    sequence forgoes oneDNN's fused kernels and trained 4-8x slower here
    (benchmarks/train_throughput.py). A forward RNN over right-padded input is
    already exact (padding comes after every real step), and the backward
    direction runs forward over each review reversed within its own length.
    """

    def __init__(self, cell: type[nn.RNNBase], input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.forward_rnn = cell(input_size, hidden_size, batch_first=True)
        self.backward_rnn = cell(input_size, hidden_size, batch_first=True) if bidirectional else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time, input) -> (batch, time, hidden * directions); steps past a row's length are garbage."""
        out, _ = self.forward_rnn(x)
        if self.backward_rnn is None:
            return out
        backward, _ = self.backward_rnn(reverse_padded(x, lengths))
        return torch.cat([out, reverse_padded(backward, lengths)], dim=-1)


class LockedDropout(nn.Module):
    """Dropout with one mask per review, shared by all its time steps (Gal & Ghahramani; AWD-LSTM).

    A fresh mask per step would let the next layer average the noise away over time;
    a fixed one removes the same features for the whole review.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, features) -> same shape; the identity in eval mode or with p = 0."""
        if not self.training or self.p == 0.0:
            return x
        mask = torch.empty(x.size(0), 1, x.size(2), device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.p)
        return x * mask / (1.0 - self.p)


class SentimentNet(nn.Module):
    def __init__(self, config: SentimentNetConfig) -> None:
        super().__init__()
        self.config = config
        directions = 2 if config.bidirectional else 1
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_id)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.gru = PaddedBiRNN(nn.GRU, config.embedding_dim, config.gru_hidden, config.bidirectional)
        self.lstm = PaddedBiRNN(nn.LSTM, config.gru_hidden * directions, config.lstm_hidden, config.bidirectional)
        self.rnn_dropout = LockedDropout(config.rnn_dropout)
        pooled = config.lstm_hidden * directions * (2 if config.pooling == "meanmax" else 1)
        self.head_dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(pooled, config.head_outputs)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """input_ids: (batch, time) right-padded token ids; lengths: (batch,) true lengths >= 1.
        Returns (batch,) logits of the second class for two classes, else (batch, num_classes)."""
        embedded = self.embedding_dropout(self.embedding(input_ids))
        return self.forward_embedded(embedded, lengths)

    def forward_embedded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The network after the embedding lookup; attribution methods differentiate through this."""
        lengths = lengths.to(embedded.device)
        states = self.lstm(self.rnn_dropout(self.gru(embedded, lengths)), lengths)
        if self.config.pooling == "last":
            pooled = self._last(states, lengths)
        else:
            pooled = self._mean_max(states, lengths)
        logits = self.head(self.head_dropout(pooled))
        return logits.squeeze(-1) if self.config.num_classes == 2 else logits

    def _last(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # Forward half: the state at the last real step; backward half: at step 0, after reading it all.
        hidden = self.config.lstm_hidden
        last = states[torch.arange(states.size(0), device=states.device), lengths - 1]
        if not self.config.bidirectional:
            return last
        return torch.cat([last[:, :hidden], states[:, 0, hidden:]], dim=-1)

    @staticmethod
    def _mean_max(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(states.size(1), device=states.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        mean = states.masked_fill(~mask, 0.0).sum(dim=1) / lengths[:, None].to(states.dtype)
        maximum = states.masked_fill(~mask, float("-inf")).amax(dim=1)
        return torch.cat([mean, maximum], dim=-1)

    @torch.inference_mode()
    def predict_proba(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """In eval mode: P(second class) per review (batch,) for two classes, else (batch, num_classes)."""
        was_training = self.training
        self.eval()
        try:
            probabilities = class_probabilities(self(input_ids, lengths))
            return probabilities[:, 1] if self.config.num_classes == 2 else probabilities
        finally:
            self.train(was_training)


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """The network's output as class probabilities, (N, classes), in label order.

    One logit per review (the sigmoid head) is P(second label): [1 - p, p]. Rows of several
    logits (a softmax head) are normalised with a softmax. Shared by every runtime, so the
    served scores mean the same whichever one computed the logits.
    """
    logits = logits.float()
    if logits.dim() == 1:
        positive = torch.sigmoid(logits)
        return torch.stack([1.0 - positive, positive], dim=-1)
    return torch.softmax(logits, dim=-1)
