"""The plain network: shapes, padding invariance, and no Lightning import."""

import subprocess
import sys

import pytest
import torch

from model.network import SentimentNet, SentimentNetConfig, reverse_padded
from tests.conftest import ROOT

CONFIGS = [
    dict(bidirectional=True, pooling="meanmax"),
    dict(bidirectional=True, pooling="last"),
    dict(bidirectional=False, pooling="meanmax"),
    dict(bidirectional=False, pooling="last"),
]


def make_net(**overrides) -> SentimentNet:
    torch.manual_seed(0)
    config = SentimentNetConfig(vocab_size=500, embedding_dim=16, gru_hidden=12, lstm_hidden=10, **overrides)
    return SentimentNet(config).eval()


@pytest.mark.parametrize("overrides", CONFIGS)
def test_output_is_one_logit_per_review(overrides):
    net = make_net(**overrides)
    logits = net(torch.randint(1, 500, (5, 13)), torch.tensor([13, 1, 7, 2, 13]))
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("overrides", CONFIGS)
def test_padding_never_changes_the_output(overrides):
    """A review alone and inside a batch of longer ones gives the same logit (within 1e-5)."""
    net = make_net(**overrides)
    generator = torch.Generator().manual_seed(1)
    review = torch.randint(2, 500, (9,), generator=generator)
    alone = net(review[None, :], torch.tensor([9]))

    batch = torch.randint(2, 500, (4, 40), generator=generator)
    batch[2, :9] = review
    lengths = torch.tensor([40, 25, 9, 33])
    in_batch = net(batch, lengths)
    assert torch.allclose(alone, in_batch[2:3], atol=1e-5), (alone, in_batch[2])

    # Whatever sits in the padding of row 2 is ignored too.
    batch[2, 9:] = torch.randint(2, 500, (31,), generator=generator)
    assert torch.allclose(net(batch, lengths)[2], in_batch[2], atol=1e-5)


def test_reverse_padded_reverses_within_length_and_is_its_own_inverse():
    x = torch.arange(12, dtype=torch.float32).view(2, 6, 1)
    lengths = torch.tensor([6, 3])
    reversed_x = reverse_padded(x, lengths)
    assert reversed_x[:, :, 0].tolist() == [[5, 4, 3, 2, 1, 0], [8, 7, 6, 9, 10, 11]]
    assert torch.equal(reverse_padded(reversed_x, lengths), x)


def test_gradients_reach_every_parameter():
    net = make_net().train()
    net(torch.randint(1, 500, (3, 8)), torch.tensor([8, 5, 2])).sum().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert not missing


@pytest.mark.parametrize(
    "overrides, field",
    [(dict(vocab_size=0), "vocab_size"), (dict(gru_hidden=0), "gru_hidden"), (dict(dropout=1.0), "dropout"),
     (dict(pooling="attention"), "pooling")],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        SentimentNetConfig(**overrides)


def test_config_round_trips_through_a_dict():
    config = SentimentNetConfig(vocab_size=123, pooling="last")
    assert SentimentNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        SentimentNetConfig.from_dict({**config.to_dict(), "extra": 1})


def test_network_and_export_import_no_lightning():
    """The serving side loads the network without the training stack."""
    code = "import sys, model.network, model.export; print(any(m.split('.')[0] in ('lightning', 'pytorch_lightning') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(ROOT))
    assert out.stdout.strip() == "False"
