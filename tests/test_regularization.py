"""Training-only regularizers: word dropout, locked dropout, the adversarial perturbation and loss."""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_fit_args
from model.lit_module import SentimentClassifier
from model.network import LockedDropout, SentimentNet, SentimentNetConfig
from model.regularization import adversarial_perturbation, drop_words


def test_drop_words_zeroes_whole_tokens_at_the_configured_rate():
    embedded = torch.rand(64, 200, 8) + 0.5  # no entry is zero before dropping
    dropped = drop_words(embedded, 0.25, generator=torch.Generator().manual_seed(0))
    zero_tokens = (dropped == 0).all(dim=-1)
    partly_zero = (dropped == 0).any(dim=-1) & ~zero_tokens
    assert not partly_zero.any()  # a token is dropped whole or not at all
    assert abs(zero_tokens.float().mean().item() - 0.25) < 0.01
    kept = ~zero_tokens
    assert torch.allclose(dropped[kept], embedded[kept] / 0.75)


def test_drop_words_with_zero_rate_is_the_identity():
    embedded = torch.rand(3, 5, 4)
    assert drop_words(embedded, 0.0) is embedded
    with pytest.raises(ValueError):
        drop_words(embedded, 1.0)


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_adversarial_perturbation_has_the_configured_norm_along_the_gradient(eps):
    grad = torch.randn(4, 7, 3)
    grad[2] *= 1e3  # norms differ by orders of magnitude across reviews
    r = adversarial_perturbation(grad, eps)
    assert torch.allclose(r.flatten(1).norm(dim=1), torch.full((4,), eps), rtol=1e-5)
    cosine = torch.nn.functional.cosine_similarity(r.flatten(1), grad.flatten(1), dim=1)
    assert torch.allclose(cosine, torch.ones(4), atol=1e-5)


def test_locked_dropout_shares_one_mask_over_time_and_is_off_in_eval():
    layer = LockedDropout(0.5)
    x = torch.ones(6, 30, 10)
    y = layer.train()(x)
    assert torch.equal(y, y[:, :1, :].expand_as(y))  # the same features dropped at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0} and (y == 0).any()
    assert torch.equal(layer.eval()(x), x)


def test_network_with_rnn_dropout_is_deterministic_in_eval_and_loads_old_configs():
    config = SentimentNetConfig(vocab_size=50, embedding_dim=8, gru_hidden=6, lstm_hidden=5, rnn_dropout=0.5)
    net = SentimentNet(config).eval()
    ids, lengths = torch.randint(1, 50, (3, 9)), torch.tensor([9, 4, 1])
    assert torch.equal(net(ids, lengths), net(ids, lengths))
    old = {k: v for k, v in config.to_dict().items() if k != "rnn_dropout"}  # exports written before the option
    assert SentimentNetConfig.from_dict(old).rnn_dropout == 0.0


def _tiny_module(**options) -> SentimentClassifier:
    torch.manual_seed(0)
    return SentimentClassifier(vocab_size=60, embedding_dim=8, gru_hidden=6, lstm_hidden=5, dropout=0.0, **options)


def _batch() -> dict:
    generator = torch.Generator().manual_seed(3)
    return {
        "input_ids": torch.randint(2, 60, (8, 12), generator=generator),
        "lengths": torch.tensor([12, 12, 10, 9, 7, 5, 3, 1]),
        "labels": torch.tensor([1.0, 0.0] * 4),
    }


def test_adversarial_loss_exceeds_the_clean_loss_and_adds_to_it():
    module = _tiny_module(adversarial_eps=1.0)
    logged = {}
    module.log = lambda name, value, **kwargs: logged.__setitem__(name, value.item())
    loss, _ = module._regularized_train_step(_batch())
    assert logged["train/adversarial_loss"] > logged["train/clean_loss"]
    assert loss.item() == pytest.approx(logged["train/adversarial_loss"] + logged["train/clean_loss"], rel=1e-5)
    loss.backward()
    assert module.net.embedding.weight.grad.abs().sum() > 0


def test_word_dropout_acts_in_training_steps_only():
    module = _tiny_module(word_dropout=0.5)
    module.log = lambda *args, **kwargs: None
    batch = _batch()
    train_losses = {round(module._step(batch, "train")[0].item(), 6) for _ in range(5)}
    val_losses = {round(module._step(batch, "val")[0].item(), 6) for _ in range(5)}
    assert len(train_losses) > 1 and len(val_losses) == 1


def test_bad_options_are_config_errors():
    from data.text_encoding import ConfigError

    with pytest.raises(ConfigError, match="word_dropout"):
        _tiny_module(word_dropout=1.0)
    with pytest.raises(ConfigError, match="adversarial_eps"):
        _tiny_module(adversarial_eps=-0.1)
    with pytest.raises(ConfigError, match="rnn_dropout"):
        _tiny_module(rnn_dropout=1.5)


def test_fit_with_every_regularizer_and_weight_averaging_trains_and_exports(tiny_imdb, tmp_path):
    """The tested checkpoint, and so the export, holds the averaged weights that validation saw."""
    from model.export import load_export
    from train import cli_main

    cli = cli_main(tiny_fit_args(
        tiny_imdb, tmp_path, "--trainer.max_epochs", "3",
        "--model.word_dropout", "0.1", "--model.rnn_dropout", "0.2", "--model.adversarial_eps", "0.5",
        # config/default.yaml's EMAWeights, here from the first step on.
        "--trainer.callbacks.decay", "0.9", "--trainer.callbacks.update_starting_at_step", "0",
    ))
    run = cli.trainer.log_dir
    metrics = json.loads((tmp_path / "imdb" / "version_0" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.8
    best = torch.load(cli.trainer.checkpoint_callback.best_model_path, map_location="cpu", weights_only=False)
    # The averaging callback saved the average as the checkpoint's weights, the trained ones beside them.
    raw = best["current_model_state"]
    assert any(not torch.equal(value, raw[name]) for name, value in best["state_dict"].items() if name.startswith("net."))
    net, _, _ = load_export(f"{run}/export")
    averaged = {k.removeprefix("net."): v for k, v in best["state_dict"].items() if k.startswith("net.")}
    for name, value in net.state_dict().items():
        assert torch.allclose(value, averaged[name]), name


@pytest.mark.slow  # two 4-epoch fits
def test_weight_averaging_that_has_not_started_leaves_the_trained_weights(tiny_imdb, tmp_path):
    """An average whose first update lies beyond the run is not used: validation, the tested
    checkpoint and the export are exactly those of the same run without the callback."""
    from model.export import load_export
    from train import cli_main

    plain = cli_main(tiny_fit_args(tiny_imdb, tmp_path / "plain", "--trainer.max_epochs", "4", "--trainer.callbacks=[]"))
    averaged = cli_main(tiny_fit_args(
        tiny_imdb, tmp_path / "averaged", "--trainer.max_epochs", "4", "--trainer.callbacks.update_starting_at_step", "100000",
    ))
    assert any(type(c).__name__ == "EMAWeights" for c in averaged.trainer.callbacks)
    assert not any(type(c).__name__ == "EMAWeights" for c in plain.trainer.callbacks)
    runs = [Path(cli.trainer.log_dir) for cli in (plain, averaged)]
    metrics = [json.loads((run / "metrics.json").read_text()) for run in runs]
    assert metrics[0] == metrics[1]
    assert metrics[0]["test/acc"] >= 0.8  # trained weights, not the initial ones
    nets = [load_export(run / "export")[0].state_dict() for run in runs]
    for name, value in nets[0].items():
        assert torch.equal(value, nets[1][name]), name
