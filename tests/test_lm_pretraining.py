"""Language-model pretraining as a stage: its data (training text + unlabelled reviews, the
classifier's tokenizer), the encoder file, and pretrain_lm.py -> train.py --model.pretrained_encoder."""

import json
from pathlib import Path

import pytest
import torch

from paths import DEFAULT_DATASET, ROOT
from tests.conftest import tiny_fit_args
from data.datamodule import ReviewDataModule
from data.lm_datamodule import LanguageModelDataModule
from data.text_encoding import ConfigError
from model.export import load_export
from model.lm_module import EncoderLanguageModel, load_encoder, save_encoder
from model.network import SentimentNet, SentimentNetConfig

DATA = dict(vocab_size=200, max_length=32, batch_size=8)
SIZES = dict(vocab_size=200, embedding_dim=12, gru_hidden=10, lstm_hidden=8)


def _encoder_state(net: SentimentNet) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("head")}


def test_lm_data_is_the_training_text_plus_the_unlabelled_reviews_under_the_classifiers_tokenizer(
    tiny_imdb_with_unlabelled, tmp_path
):
    cache = str(tmp_path / "cache")
    lm = LanguageModelDataModule(str(tiny_imdb_with_unlabelled), cache_dir=cache, lm_unlabelled_split="unsupervised", **DATA)
    classifier = ReviewDataModule(str(tiny_imdb_with_unlabelled), cache_dir=cache, **DATA)
    for dm in (lm, classifier):
        dm.prepare_data()
        dm.setup("fit")
    assert lm.tokenizer_path == classifier.tokenizer_path
    assert len(lm.splits["train"]) == len(classifier.splits["train"]) + 90
    assert (lm.splits["train"].labels == -1).sum() == 90
    assert len(lm.splits["val"]) == len(classifier.splits["val"])
    batch = next(iter(lm.train_dataloader()))
    assert batch["input_ids"].shape[0] == 8 and "teacher_probs" not in batch
    with pytest.raises(ConfigError, match="with `fit` only"):
        lm.setup("test")


def test_lm_data_refuses_classifier_teachers_and_labelled_splits(tiny_imdb_with_unlabelled, tmp_path):
    with pytest.raises(ConfigError, match="data.teacher_targets is for the classifier"):
        LanguageModelDataModule(str(tiny_imdb_with_unlabelled), teacher_targets="runs/teach", **DATA)
    with pytest.raises(ConfigError, match="lm_unlabelled_split must be a split without labels"):
        LanguageModelDataModule(str(tiny_imdb_with_unlabelled), lm_unlabelled_split="test", **DATA)


def test_a_saved_encoder_loads_into_a_classifier_and_checks_tokenizer_and_sizes(tmp_path):
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text('{"vocab": "a"}')
    torch.manual_seed(0)
    lm = EncoderLanguageModel(**SIZES, cutoffs=(50, 100))
    save_encoder(lm.net, tmp_path / "encoder.pt", tokenizer)
    config = SentimentNetConfig(**SIZES, bidirectional=True)
    classifier = SentimentNet(config)
    head_before = classifier.head.weight.clone()
    copied = load_encoder(tmp_path / "encoder.pt", classifier, tokenizer)
    assert copied and all(not name.startswith("head") for name in copied)
    for name, tensor in _encoder_state(lm.net).items():
        assert torch.equal(classifier.state_dict()[name], tensor), name
    assert torch.equal(classifier.head.weight, head_before)

    other = tmp_path / "other.json"
    other.write_text('{"vocab": "b"}')
    with pytest.raises(ConfigError, match="another tokenizer"):
        load_encoder(tmp_path / "encoder.pt", SentimentNet(config), other)
    with pytest.raises(ConfigError, match="no such file"):
        load_encoder(tmp_path / "missing.pt", SentimentNet(config), tokenizer)
    wider = SentimentNetConfig(**{**SIZES, "gru_hidden": 12}, bidirectional=True)
    with pytest.raises(ConfigError, match="does not fit"):
        load_encoder(tmp_path / "encoder.pt", SentimentNet(wider), tokenizer)


def _pretrain_args(dataset: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "fit", "--config", str(ROOT / "config" / "semi_supervised" / "pretrain_lm.yaml"),
        "--data.dataset", str(dataset), "--data.vocab_size", "200", "--data.max_length", "48", "--data.batch_size", "16",
        "--model.embedding_dim", "16", "--model.gru_hidden", "8", "--model.lstm_hidden", "8",
        "--trainer.logger.init_args.save_dir", str(run_dir), "--trainer.val_check_interval", "1.0",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", *extra,
    ]


def test_pretrain_lm_writes_an_encoder_that_starts_the_classifier_and_a_resume_keeps_its_checkpoint(
    tiny_imdb_with_unlabelled, tmp_path
):
    from pretrain_lm import cli_main as pretrain
    from train import cli_main as train

    pretrain(_pretrain_args(tiny_imdb_with_unlabelled, tmp_path, "--trainer.max_epochs", "2"))
    encoder_file = tmp_path / "semi" / "pretrain_lm" / "encoder.pt"
    assert encoder_file.exists()
    pretrained = torch.load(encoder_file, weights_only=True)["state_dict"]
    events = list((tmp_path / "semi" / "pretrain_lm").glob("events.out.tfevents.*"))
    assert events  # TensorBoard: train/lm_loss, val/lm_loss, val/perplexity

    # A learning rate too small to move the weights: the fitted encoder is the pretrained one.
    args = tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path / "fine", "--trainer.max_epochs", "1",
                         "--model.pretrained_encoder", str(encoder_file), "--model.lr", "1e-9")
    fitted = train(args).model.net.state_dict()
    for name, tensor in pretrained.items():
        assert torch.allclose(fitted[name], tensor, atol=1e-6), name

    # Resuming restores the checkpoint's weights after the encoder file was read.
    first = train(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path / "resume", "--trainer.max_epochs", "1",
                                "--model.pretrained_encoder", str(encoder_file))).model.net.state_dict()
    assert not torch.allclose(first["embedding.weight"], pretrained["embedding.weight"], atol=1e-4)
    resumed = train(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path / "resume", "--trainer.max_epochs", "1",
                                  "--model.pretrained_encoder", str(encoder_file), "--ckpt_path", "last")).model.net.state_dict()
    assert torch.equal(resumed["embedding.weight"], first["embedding.weight"])


def test_an_encoder_from_another_tokenizer_stops_train_py_with_one_line(tiny_imdb_with_unlabelled, tmp_path, capsys):
    from train import cli_main as train

    torch.manual_seed(0)
    lm = EncoderLanguageModel(**{**SIZES, "embedding_dim": 16, "gru_hidden": 8, "lstm_hidden": 8}, cutoffs=(50, 100))
    other = tmp_path / "other_tokenizer.json"
    other.write_text("{}")
    save_encoder(lm.net, tmp_path / "encoder.pt", other)
    with pytest.raises(SystemExit) as stop:
        train(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path, "--model.pretrained_encoder", str(tmp_path / "encoder.pt")))
    assert stop.value.code == 2
    assert "train.py: error: model.pretrained_encoder" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.requires_imdb
def test_lm_stage_pretrains_on_real_and_unlabelled_reviews(tmp_path):
    """pretrain_lm.yaml on a few hundred rows of each split (unsupervised included), small network:
    the LM loss falls and its encoder starts a classifier that trains and tests."""
    from pretrain_lm import cli_main as pretrain
    from train import cli_main as train

    small = ["--data.dataset", str(DEFAULT_DATASET), "--data.max_samples", "300", "--data.vocab_size", "2000",
             "--data.max_length", "64", "--trainer.logger.init_args.save_dir", str(tmp_path),
             "--trainer.enable_progress_bar", "false", "--data.cache_dir", str(tmp_path / "cache")]
    sizes = ["--model.embedding_dim", "16", "--model.gru_hidden", "8", "--model.lstm_hidden", "8"]
    lm = pretrain(["fit", "--config", str(ROOT / "config" / "semi_supervised" / "pretrain_lm.yaml"), *small, *sizes,
                   "--trainer.max_epochs", "2"])
    assert len(lm.datamodule.splits["train"]) == 270 + 300  # training rows (val held out) + unlabelled
    losses = [float(v) for k, v in lm.trainer.callback_metrics.items() if k == "val/lm_loss"]
    assert losses and losses[0] < 7.6  # below uniform over 2,000 words (ln 2000 = 7.6)
    encoder = tmp_path / "semi" / "pretrain_lm" / "encoder.pt"
    pretrained = torch.load(encoder, map_location="cpu", weights_only=True)["state_dict"]

    def classifier_export(epochs: int) -> dict:
        cli = train(["fit", "--config", str(ROOT / "config" / "default.yaml"), *small, *sizes,
                     "--trainer.max_epochs", str(epochs), "--model.pretrained_encoder", str(encoder)])
        run = Path(cli.trainer.log_dir)
        assert json.loads((run / "metrics.json").read_text())["test/acc"] == pytest.approx(
            float(cli.trainer.callback_metrics["test/acc"]))  # tested, and the export is the tested model
        return load_export(run / "export")[0].state_dict()

    # Before any step the classifier's encoder is encoder.pt's, tensor for tensor (the LM and the
    # classifier start from the same seed, so only exact equality tells a loaded encoder from a fresh one) ...
    start = classifier_export(0)
    assert set(pretrained) < set(start)
    for name, value in pretrained.items():
        assert torch.equal(start[name], value), name
    # ... and an epoch of training moves it.
    trained = classifier_export(1)
    assert not torch.equal(trained["embedding.weight"], pretrained["embedding.weight"])
