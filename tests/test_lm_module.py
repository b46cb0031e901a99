"""Encoder language-model pretraining: no look-ahead, the loss falls on a repetitive corpus,
and the pretrained weights arrive in the classifier."""

import torch

from model.lm_module import EncoderLanguageModel, copy_encoder_weights
from model.network import SentimentNet, SentimentNetConfig

SIZES = dict(vocab_size=40, embedding_dim=12, gru_hidden=10, lstm_hidden=8)


def _lm(**overrides) -> EncoderLanguageModel:
    torch.manual_seed(0)
    return EncoderLanguageModel(**{**SIZES, "dropout": 0.0, "cutoffs": (10, 20), **overrides})


def test_each_direction_sees_only_its_own_side_of_the_review():
    lm = _lm().eval()
    ids = torch.randint(2, 40, (1, 12))
    changed = ids.clone()
    changed[0, 6] = (ids[0, 6] + 1 - 2) % 38 + 2  # another word at position 6
    lengths = torch.tensor([12])
    with torch.no_grad():
        forward_a, backward_a = lm.direction_states(ids, lengths)
        forward_b, backward_b = lm.direction_states(changed, lengths)
    assert torch.allclose(forward_a[0, :6], forward_b[0, :6])  # forward states before 6 never read it
    assert not torch.allclose(forward_a[0, 6], forward_b[0, 6])
    assert torch.allclose(backward_a[0, 7:], backward_b[0, 7:])  # backward states after 6 never read it
    assert not torch.allclose(backward_a[0, 6], backward_b[0, 6])


def test_lm_loss_falls_on_a_repetitive_corpus():
    lm = _lm()
    pattern = torch.tensor([2, 3, 4, 5, 6, 7, 8, 9])
    ids = pattern.repeat(8, 3)  # every review repeats the same 8-word cycle
    lengths = torch.tensor([24, 24, 20, 17, 24, 9, 24, 12])
    optimizer = torch.optim.Adam(lm.parameters(), lr=0.02)
    first = lm.lm_loss(ids, lengths).item()
    for _ in range(60):
        optimizer.zero_grad()
        loss = lm.lm_loss(ids, lengths)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first  # the cycle is fully predictable after its first word


def test_padding_does_not_enter_the_loss():
    lm = _lm().eval()
    ids = torch.randint(2, 40, (2, 10))
    lengths = torch.tensor([10, 6])
    garbage = ids.clone()
    garbage[1, 6:] = torch.randint(2, 40, (4,))
    with torch.no_grad():
        assert torch.allclose(lm.lm_loss(ids, lengths), lm.lm_loss(garbage, lengths))


def test_pretrained_encoder_weights_arrive_in_the_classifier_and_the_head_does_not():
    lm = _lm()
    classifier = SentimentNet(SentimentNetConfig(**SIZES))
    head_before = classifier.head.weight.clone()
    copied = copy_encoder_weights(lm.net, classifier)
    assert any(n.startswith("embedding.") for n in copied) and any(n.startswith("lstm.backward_rnn") for n in copied)
    for name in copied:
        assert torch.equal(classifier.state_dict()[name], lm.net.state_dict()[name]), name
    assert torch.equal(classifier.head.weight, head_before)


def test_mismatched_sizes_are_refused():
    lm = _lm()
    classifier = SentimentNet(SentimentNetConfig(**{**SIZES, "lstm_hidden": 9}))
    try:
        copy_encoder_weights(lm.net, classifier)
    except RuntimeError as error:
        assert "size mismatch" in str(error)
    else:
        raise AssertionError("a size mismatch was copied")
