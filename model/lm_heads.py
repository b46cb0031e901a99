"""Forward and backward language-model heads over a SentimentNet's encoder (no Lightning here).

    heads = LanguageModelHeads(vocab_size=30000, lstm_hidden=64)
    loss = heads.loss(net, input_ids, lengths)   # mean NLL per predicted token, both directions

The forward direction predicts each next token, the backward direction (reading the review
reversed) each previous one, ULMFiT-style. The served network stacks bidirectional layers: its
forward LSTM reads the GRU's forward *and* backward states, and the backward GRU state at step t
has already read token t+1, so a language model over that input would see the answer. Here each
direction's LSTM sees its own direction's GRU states and zeros in place of the other direction's;
the LSTM input weights for the other direction keep their values and are learnt by the classifier.

Batches are the classifier's (one review per row, right-padded); nothing crosses a review's end.
Used by model.lm_module.EncoderLanguageModel, the pretraining stage (pretrain_lm.py).
"""

from __future__ import annotations

import torch
from torch import nn

from model.network import SentimentNet, reverse_padded


class LanguageModelHeads(nn.Module):
    def __init__(self, vocab_size: int, lstm_hidden: int, dropout: float = 0.1, cutoffs: tuple[int, ...] = (2000, 10000)) -> None:
        """
        Args:
            vocab_size, lstm_hidden: the encoder's.
            dropout: on the states fed to the softmax.
            cutoffs: word-frequency bands of the adaptive softmax; ids are in frequency order, so the
                frequent words get the full-width head and rare ones cheaper tails.
        """
        super().__init__()
        # A vocabulary smaller than the bands (a toy run) gets one split at its middle.
        cutoffs = [c for c in cutoffs if c < vocab_size - 1] or [vocab_size // 2]
        self.forward_softmax = nn.AdaptiveLogSoftmaxWithLoss(lstm_hidden, vocab_size, cutoffs=cutoffs, div_value=2.0)
        self.backward_softmax = nn.AdaptiveLogSoftmaxWithLoss(lstm_hidden, vocab_size, cutoffs=cutoffs, div_value=2.0)
        self.state_dropout = nn.Dropout(dropout)

    def loss(self, net: SentimentNet, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per predicted token, both directions together."""
        forward_states, backward_states = direction_states(net, input_ids, lengths)
        steps = torch.arange(input_ids.size(1), device=input_ids.device)[None, :]
        has_next = (steps < (lengths.to(input_ids.device)[:, None] - 1))[:, :-1]  # positions 0..len-2 predict t+1
        forward = self.forward_softmax(self.state_dropout(forward_states[:, :-1][has_next]), input_ids[:, 1:][has_next])
        # The backward state at t+1 (it has read t+1..end) predicts token t.
        backward = self.backward_softmax(self.state_dropout(backward_states[:, 1:][has_next]), input_ids[:, :-1][has_next])
        return (forward.loss + backward.loss) / 2


def direction_states(net: SentimentNet, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM states (batch, time, lstm_hidden) of the forward direction, and of the backward one
    in reading order reversed back (state at t has read tokens t..end only)."""
    embedded = net.embedding_dropout(net.embedding(input_ids))
    forward_gru, _ = net.gru.forward_rnn(embedded)
    backward_gru, _ = net.gru.backward_rnn(reverse_padded(embedded, lengths))  # in reversed order
    zeros = torch.zeros_like(forward_gru)
    forward_states, _ = net.lstm.forward_rnn(torch.cat([forward_gru, zeros], dim=-1))
    backward_states, _ = net.lstm.backward_rnn(torch.cat([zeros, backward_gru], dim=-1))
    return forward_states, reverse_padded(backward_states, lengths)
