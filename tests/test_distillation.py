"""Distillation: the n-gram teacher, its out-of-fold targets, the loss, and stage 2's data path (a targets file)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT, SHARED_IMDB, make_review, tiny_fit_args
from data.datamodule import ReviewDataModule
from data.text_encoding import ConfigError
from model.lit_module import SentimentClassifier, distillation_loss
from model.ngram_teacher import NgramTeacher, out_of_fold_probabilities


def _reviews(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    labels = np.array([i % 2 for i in range(n)])
    return [make_review(rng, int(y)) for y in labels], labels


def test_teacher_learns_cue_words_and_scores_unseen_reviews():
    texts, labels = _reviews(300, seed=0)
    held_out, held_labels = _reviews(100, seed=1)
    probabilities = NgramTeacher().fit(texts, labels).predict_proba(held_out)
    assert probabilities.shape == (100, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert (probabilities.argmax(axis=1) == held_labels).mean() >= 0.95


def test_teacher_handles_three_classes():
    rng = random.Random(0)
    words = {0: "awful", 1: "fine", 2: "superb"}
    labels = np.array([i % 3 for i in range(300)])
    texts = [f"the film was {words[int(y)]} {rng.choice(['and', 'so', 'indeed'])}" for y in labels]
    probabilities = NgramTeacher().fit(texts, labels).predict_proba(["it was superb", "awful awful", "fine"])
    assert probabilities.shape == (3, 3)
    assert probabilities.argmax(axis=1).tolist() == [2, 0, 1]


def test_out_of_fold_targets_come_from_teachers_that_never_saw_the_row():
    """Each review is one unique word and its label a coin flip: a teacher that fitted a row
    recalls its label; one that did not can only guess."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    texts = [f"word{i}" for i in range(400)]
    in_sample = NgramTeacher(min_df=1, C=100.0).fit(texts, labels).predict_proba(texts)
    assert (in_sample.argmax(axis=1) == labels).mean() > 0.95
    out_of_fold = out_of_fold_probabilities(texts, labels, folds=4, min_df=1, C=100.0)
    assert 0.35 < (out_of_fold.argmax(axis=1) == labels).mean() < 0.65


def test_distillation_loss_is_cross_entropy_against_the_teacher_and_flat_where_they_agree():
    teacher = torch.tensor([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    logits = torch.logit(teacher[:, 1]).requires_grad_()
    loss = distillation_loss(logits, teacher)
    loss.backward()
    assert torch.allclose(logits.grad, torch.zeros(3), atol=1e-6)
    other = torch.tensor([2.0, -1.0, 0.3])
    expected = -(teacher[:, 1] * F.logsigmoid(other) + teacher[:, 0] * F.logsigmoid(-other)).mean()
    assert distillation_loss(other, teacher).item() == pytest.approx(expected.item(), rel=1e-6)
    three = torch.tensor([[0.1, 0.2, 0.7]])
    assert distillation_loss(torch.log(three), three).item() == pytest.approx(-(three * three.log()).sum().item(), rel=1e-5)


def test_weight_one_follows_the_teacher_and_ignores_the_labels():
    torch.manual_seed(0)
    module = SentimentClassifier(vocab_size=60, embedding_dim=8, gru_hidden=6, lstm_hidden=5, dropout=0.0,
                                 distillation_weight=1.0)
    module.log = lambda *args, **kwargs: None
    batch = {"input_ids": torch.randint(2, 60, (4, 9)), "lengths": torch.tensor([9, 7, 3, 1]),
             "labels": torch.tensor([1, 0, 1, 0]), "teacher_probs": torch.tensor([[0.3, 0.7]] * 4)}
    flipped = {**batch, "labels": 1 - batch["labels"]}
    assert module._step(batch, "train")[0].item() == pytest.approx(module._step(flipped, "train")[0].item())
    half = SentimentClassifier(vocab_size=60, embedding_dim=8, gru_hidden=6, lstm_hidden=5, dropout=0.0,
                               distillation_weight=0.5)
    half.net.load_state_dict(module.net.state_dict())
    half.log = module.log
    assert half._step(batch, "train")[0].item() != pytest.approx(half._step(flipped, "train")[0].item())
    # Validation scores against the labels alone, whatever the weight.
    assert module._step(batch, "val")[0].item() != pytest.approx(module._step(flipped, "val")[0].item())


def _teach(dataset, run_dir, *extra) -> Path:
    """teach.py with the n-gram member (seconds on the tiny data); returns its run folder."""
    from teach import main

    main(["--data.dataset", str(dataset), "--run_dir", str(run_dir), "--members", "[ngram]", *extra])
    return run_dir


def _dm(dataset, tmp_path, **overrides):
    args = dict(dataset=str(dataset), vocab_size=200, max_length=32, batch_size=8, cache_dir=str(tmp_path / "cache"))
    return ReviewDataModule(**{**args, **overrides})


def test_training_batches_carry_the_targets_file(tiny_imdb, tmp_path):
    from data.teacher_targets import load_targets

    run = _teach(tiny_imdb, tmp_path / "teach")
    dm = _dm(tiny_imdb, tmp_path, teacher_targets=str(run))
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["teacher_probs"].shape == (batch["labels"].numel(), 2)
    assert torch.allclose(batch["teacher_probs"].sum(dim=1), torch.ones(batch["labels"].numel()))
    assert np.array_equal(dm.splits["train"].targets, load_targets(run).train)
    agreement = (dm.splits["train"].targets.argmax(axis=1) == dm.splits["train"].labels).mean()
    assert agreement >= 0.9  # cue words: even a teacher that never saw the row is right
    assert "teacher_probs" not in next(iter(dm.val_dataloader()[0]))


def test_targets_of_other_rows_are_refused(tiny_imdb, tmp_path):
    run = _teach(tiny_imdb, tmp_path / "teach")
    other_seed = _dm(tiny_imdb, tmp_path, teacher_targets=str(run), seed=43)
    other_seed.prepare_data()
    with pytest.raises(ConfigError, match="scores other train rows"):
        other_seed.setup("fit")
    missing = _dm(tiny_imdb, tmp_path, teacher_targets=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="no targets file"):
        missing.prepare_data()


def test_bad_distillation_settings_are_config_errors():
    with pytest.raises(ConfigError, match="distillation_weight"):
        SentimentClassifier(vocab_size=60, distillation_weight=1.5)


def test_weight_without_a_teacher_stops_train_py_with_one_line(tiny_imdb, tmp_path, capsys):
    from train import cli_main

    with pytest.raises(SystemExit) as stopped:
        cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--model.distillation_weight", "0.5"))
    assert stopped.value.code == 2
    assert "data.teacher" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))


def test_fit_with_the_teacher_trains_and_exports(tiny_imdb, tmp_path):
    from train import cli_main

    run = _teach(tiny_imdb, tmp_path / "teach")
    cli_main(tiny_fit_args(tiny_imdb, tmp_path, "--trainer.max_epochs", "3", "--data.teacher_targets", str(run),
                           "--model.distillation_weight", "0.5"))
    metrics = json.loads((tmp_path / "imdb" / "version_0" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.8
    assert (tmp_path / "imdb" / "version_0" / "export" / "network.onnx").exists()


# -- unlabelled reviews (the semi-supervised path) -------------------------------------------


def test_unlabelled_rows_join_training_with_teacher_targets_only(tiny_imdb_with_unlabelled, tmp_path):
    labelled_only = _teach(tiny_imdb_with_unlabelled, tmp_path / "teach_labelled")
    plain = _dm(tiny_imdb_with_unlabelled, tmp_path, teacher_targets=str(labelled_only))
    plain.prepare_data()
    plain.setup("fit")
    run = _teach(tiny_imdb_with_unlabelled, tmp_path / "teach", "--data.unlabelled_split", "unsupervised")
    dm = _dm(tiny_imdb_with_unlabelled, tmp_path, teacher_targets=str(run))
    dm.prepare_data()
    dm.setup("fit")
    train = dm.splits["train"]
    n_labelled = len(plain.splits["train"])
    assert len(train) == n_labelled + 90
    assert (train.labels[n_labelled:] == -1).all() and (train.labels[:n_labelled] >= 0).all()
    assert np.array_equal(train.targets[:n_labelled], plain.splits["train"].targets)
    _, labels = _reviews(90, seed=7)
    assert (train.targets[n_labelled:].argmax(axis=1) == labels).mean() >= 0.9  # cue words: the teacher knows
    assert len(dm.splits["val"]) == len(plain.splits["val"])  # validation never grows


def test_rows_without_labels_train_on_the_teacher_alone():
    torch.manual_seed(0)
    module = SentimentClassifier(vocab_size=60, embedding_dim=8, gru_hidden=6, lstm_hidden=5, dropout=0.0,
                                 distillation_weight=0.3)
    module.log = lambda *args, **kwargs: None
    ids, lengths = torch.randint(2, 60, (4, 9)), torch.tensor([9, 7, 3, 1])
    teacher = torch.tensor([[0.3, 0.7], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    unlabelled = {"input_ids": ids, "lengths": lengths, "labels": torch.full((4,), -1), "teacher_probs": teacher}
    logits = module(ids, lengths)
    assert module._training_loss(logits, unlabelled).item() == pytest.approx(0.3 * distillation_loss(logits, teacher).item())
    mixed = {**unlabelled, "labels": torch.tensor([1, -1, 0, -1])}
    hard = F.binary_cross_entropy_with_logits(logits[[0, 2]], torch.tensor([1.0, 0.0]))
    expected = 0.7 * hard + 0.3 * distillation_loss(logits, teacher)
    assert module._training_loss(logits, mixed).item() == pytest.approx(expected.item(), rel=1e-6)
    module.training_step(mixed, 0)
    counted = sum(int(getattr(module.train_acc, state).sum()) for state in ("tp", "fp", "tn", "fn"))
    assert counted == 2  # accuracy counts the labelled rows only


def test_fit_with_unlabelled_reviews_trains_and_exports(tiny_imdb_with_unlabelled, tmp_path):
    from train import cli_main

    run = _teach(tiny_imdb_with_unlabelled, tmp_path / "teach", "--data.unlabelled_split", "unsupervised")
    cli_main(tiny_fit_args(tiny_imdb_with_unlabelled, tmp_path, "--trainer.max_epochs", "3",
                           "--data.teacher_targets", str(run), "--model.distillation_weight", "0.5"))
    metrics = json.loads((tmp_path / "imdb" / "version_0" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.8


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_IMDB.exists(), reason="needs ../shared/imdb")
def test_semi_supervised_stages_run_end_to_end_on_real_reviews(tmp_path):
    """Stage 1, the teaching stage and stage 2 with their configs on a few hundred real rows
    (unsupervised split included), small network: teach.py reads stage 1's export as a member,
    stage 2 reads the teaching stage's targets and trains on the unlabelled reviews and the
    short texts drawn from them too."""
    from teach import main as teach
    from train import cli_main

    data = ["--data.dataset", str(SHARED_IMDB), "--data.max_samples", "300"]
    small = [*data, "--data.vocab_size", "2000",
             "--data.max_length", "64", "--model.embedding_dim", "16", "--model.gru_hidden", "8", "--model.lstm_hidden", "8",
             "--trainer.max_epochs", "1", "--trainer.logger.init_args.save_dir", str(tmp_path),
             "--trainer.enable_progress_bar", "false", "--data.cache_dir", str(tmp_path / "cache")]
    stage = lambda n: ["fit", "--config", str(ROOT / "config" / "default.yaml"),
                       "--config", str(ROOT / "config" / "semi_supervised" / f"stage{n}.yaml")]
    first = cli_main([*stage(1), *small])
    export = Path(first.trainer.log_dir) / "export"
    assert export == tmp_path / "semi" / "stage1" / "export" and (export / "network.onnx").exists()
    metrics = teach(["--config", str(ROOT / "config" / "semi_supervised" / "teach.yaml"), *data,
                     "--run_dir", str(tmp_path / "semi" / "teach"), "--exports", json.dumps([str(export)]),
                     "--docvec.epochs", "2", "--docvec.vector_size", "16", "--short_texts", "50"])
    assert set(metrics["members"]) == {"ngram_docvec", str(export)} and metrics["rows"]["short_texts"] == 50
    second = cli_main([*stage(2), *small, "--data.teacher_targets", str(tmp_path / "semi" / "teach")])
    train = second.datamodule.splits["train"]
    assert (train.labels == -1).sum() == 300 + 50  # the unlabelled rows and the short texts trained too
    assert "test/acc" in json.loads((tmp_path / "semi" / "stage2" / "metrics.json").read_text())


def test_short_texts_join_training_after_the_unlabelled_rows_with_their_own_teacher_scores(tiny_imdb_with_unlabelled, tmp_path):
    from data.sources import SourceSpec, load_labelled_splits
    from data.teacher_targets import load_targets

    run = _teach(tiny_imdb_with_unlabelled, tmp_path / "teach", "--data.unlabelled_split", "unsupervised",
                 "--short_texts", "40")
    targets = load_targets(run)
    assert len(targets.short_texts) == 40 and targets.short_text_targets.shape == (40, 2)
    train = load_labelled_splits(SourceSpec(str(tiny_imdb_with_unlabelled))).train
    scored_alone = NgramTeacher().fit(list(train.texts["text"]), train.labels).predict_proba(targets.short_texts)
    assert np.allclose(targets.short_text_targets, scored_alone, atol=1e-5)  # each text scored as itself
    dm = _dm(tiny_imdb_with_unlabelled, tmp_path, teacher_targets=str(run))
    dm.prepare_data()
    dm.setup("fit")
    rows = dm.splits["train"]
    assert len(rows) == len(train) + 90 + 40
    assert np.array_equal(rows.targets[-40:], targets.short_text_targets) and (rows.labels[-40:] == -1).all()


def test_drawn_sentences_are_one_per_review_seeded_and_cut_at_sentence_ends():
    from data.short_texts import drawn_sentences

    reviews = [f"Review {i} opens here. It has a middle!<br />And it ends? Yes." for i in range(50)] + ["...", ""]
    drawn = drawn_sentences(reviews, count=52, seed=3)
    assert len(drawn) == 50  # the two reviews without a word give none
    assert set(drawn) <= {f"Review {i} opens here." for i in range(50)} | {"It has a middle!", "And it ends?", "Yes."}
    assert len(set(drawn) - {f"Review {i} opens here." for i in range(50)}) > 0  # not always the first
    assert drawn == drawn_sentences(reviews, count=52, seed=3) and drawn != drawn_sentences(reviews, count=52, seed=4)
    assert len(drawn_sentences(reviews, count=10, seed=3)) == 10


def test_a_targets_file_keeps_its_short_texts_exactly_and_older_files_have_none(tmp_path):
    from data.teacher_targets import TeacherTargets, load_targets, save_targets

    texts = ["Très bien ☺", "Dull.", "a\nb"]
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]], dtype=np.float32)
    common = dict(train=np.full((2, 2), 0.5, np.float32), train_digest="d", class_names=["neg", "pos"],
                  unlabelled=np.zeros((0, 2), np.float32))
    save_targets(tmp_path / "targets.npz", TeacherTargets(**common, short_texts=texts, short_text_targets=probs))
    read = load_targets(tmp_path)
    assert read.short_texts == texts and np.array_equal(read.short_text_targets, probs)
    save_targets(tmp_path / "plain.npz", TeacherTargets(**common))
    assert load_targets(tmp_path / "plain.npz").short_texts == []
    with pytest.raises(ValueError, match="short-text targets for"):
        TeacherTargets(**common, short_texts=texts, short_text_targets=probs[:2])
