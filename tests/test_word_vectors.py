"""Word vectors as a stage: model/word_vectors.py, the embedding-only encoder file, and
pretrain_word_vectors.py -> train.py --model.pretrained_encoder."""

import json

import numpy as np
import pytest
import torch

from data.text_encoding import ConfigError
from model.lm_module import load_encoder, save_encoder_state
from model.network import SentimentNet, SentimentNetConfig
from model.word_vectors import fit_word_vectors, save_embedding
from tests.conftest import tiny_fit_args

SIZES = dict(vocab_size=40, embedding_dim=12, gru_hidden=10, lstm_hidden=8)


def _two_topics(reviews: int = 400, seed: int = 0) -> list[np.ndarray]:
    """Reviews drawn from one of two disjoint word sets (ids 2-9 or 10-17): words of a set share contexts."""
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 10, 30) if i % 2 else rng.integers(10, 18, 30) for i in range(reviews)]


def test_word_vectors_place_words_of_shared_contexts_together_and_repeat_with_a_seed():
    rows = _two_topics()
    weight = fit_word_vectors(rows, vocab_size=40, vector_size=12, window=3, epochs=10, sample=0, seed=5)
    assert weight.shape == (40, 12)
    assert torch.equal(weight[0], torch.zeros(12))  # padding
    unit = torch.nn.functional.normalize(weight, dim=1)
    similarity = unit @ unit.T
    same = similarity[2:10, 3:10].mean().item(), similarity[10:18, 11:18].mean().item()
    across = similarity[2:10, 10:18].mean().item()
    assert min(same) > across + 0.3, (same, across)
    assert weight[2:18].std().item() == pytest.approx(1.0, abs=0.05)  # nn.Embedding's own scale
    # ids never seen keep nn.Embedding's N(0, 1) start, drawn with the seed
    expected = torch.randn(40, 12, generator=torch.Generator().manual_seed(5))
    assert torch.equal(weight[18:], expected[18:])
    again = fit_word_vectors(rows, vocab_size=40, vector_size=12, window=3, epochs=10, sample=0, seed=5)
    assert torch.equal(weight, again)


@pytest.mark.parametrize(
    ("setting", "message"), [({"window": 0}, "word2vec.window"), ({"sample": -1.0}, "word2vec.sample")]
)
def test_bad_word2vec_settings_are_named(setting, message):
    with pytest.raises(ConfigError, match=message):
        fit_word_vectors(_two_topics(10), vocab_size=40, **setting)


def test_an_embedding_alone_loads_and_leaves_the_recurrent_layers_as_they_were(tmp_path):
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text('{"vocab": "a"}')
    weight = torch.randn(40, 12)
    save_embedding(weight, tmp_path / "encoder.pt", tokenizer)
    net = SentimentNet(SentimentNetConfig(**SIZES))
    gru_before = net.gru.state_dict()
    assert load_encoder(tmp_path / "encoder.pt", net, tokenizer) == ["embedding.weight"]
    assert torch.equal(net.embedding.weight, weight)
    assert all(torch.equal(net.gru.state_dict()[name], tensor) for name, tensor in gru_before.items())

    # A module is loaded whole or not at all; the embedding is never left out.
    full = {name: tensor for name, tensor in SentimentNet(SentimentNetConfig(**SIZES)).state_dict().items()
            if name.startswith(("embedding.", "gru."))}
    half_gru = {name: tensor for name, tensor in full.items() if "backward_rnn" not in name}
    save_encoder_state(half_gru, tmp_path / "half.pt", tokenizer)
    with pytest.raises(ConfigError, match="lacks .*backward_rnn"):
        load_encoder(tmp_path / "half.pt", SentimentNet(SentimentNetConfig(**SIZES)), tokenizer)
    gru_alone = {name: tensor for name, tensor in full.items() if name.startswith("gru.")}
    save_encoder_state(gru_alone, tmp_path / "no_embedding.pt", tokenizer)
    with pytest.raises(ConfigError, match="lacks the embedding"):
        load_encoder(tmp_path / "no_embedding.pt", SentimentNet(SentimentNetConfig(**SIZES)), tokenizer)


def test_pretrain_word_vectors_writes_vectors_that_start_the_classifier(tiny_imdb_with_unlabelled, tmp_path):
    from pretrain_word_vectors import main as pretrain
    from train import cli_main as train

    run_dir = tmp_path / "word_vectors"
    metrics = pretrain(["--run_dir", str(run_dir), "--data.dataset", str(tiny_imdb_with_unlabelled),
                        "--data.vocab_size", "200", "--data.max_length", "48", "--word2vec.vector_size", "16",
                        "--word2vec.epochs", "2", "--word2vec.sample", "0"])
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert metrics["reviews"] > 90  # the training rows and the 90 unlabelled reviews
    vectors = torch.load(run_dir / "encoder.pt", weights_only=True)["state_dict"]
    assert list(vectors) == ["embedding.weight"] and vectors["embedding.weight"].shape == (200, 16)

    # A learning rate too small to move the weights: the fitted embedding is the word vectors.
    fitted = train(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path / "fit", "--trainer.max_epochs", "1",
                                 "--model.pretrained_encoder", str(run_dir / "encoder.pt"), "--model.lr", "1e-9"))
    assert torch.allclose(fitted.model.net.embedding.weight, vectors["embedding.weight"], atol=1e-6)


def test_word_vectors_of_another_size_stop_with_the_setting_named(tiny_imdb_with_unlabelled, tmp_path, capsys):
    from pretrain_word_vectors import main as pretrain
    from train import cli_main as train

    run_dir = tmp_path / "word_vectors"
    pretrain(["--run_dir", str(run_dir), "--data.dataset", str(tiny_imdb_with_unlabelled), "--data.vocab_size", "200",
              "--data.max_length", "48", "--word2vec.vector_size", "8", "--word2vec.epochs", "1"])
    with pytest.raises(SystemExit) as stop:
        train(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path / "fit",
                            "--model.pretrained_encoder", str(run_dir / "encoder.pt")))
    assert stop.value.code == 2
    assert "does not fit model.*" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        pretrain(["--run_dir", str(run_dir), "--data.dataset", str(tmp_path / "missing")])
    assert stop.value.code == 2
    assert "pretrain_word_vectors.py: error:" in capsys.readouterr().err
