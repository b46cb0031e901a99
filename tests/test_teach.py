"""teach.py, the teaching stage, on the tiny data: members, their combination, the targets file, resuming;
and the layering it makes possible: data/ imports neither model/ nor serving/."""

import ast
import json

import numpy as np
import pytest

from data.teacher_targets import load_targets
from model.teachers import choose_weights, combine
from paths import ROOT
from teach import main


def _teach(dataset, run_dir, *extra) -> dict:
    return main(["--data.dataset", str(dataset), "--run_dir", str(run_dir), *extra])


def test_combination_averages_log_odds_and_validation_picks_the_better_member():
    a = np.array([[0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    b = np.array([[0.5, 0.5], [0.1, 0.9]], dtype=np.float32)
    pooled = combine([a, b], [0.5, 0.5])
    logit = lambda p: np.log(p[:, 1] / p[:, 0])
    assert np.allclose(logit(pooled), (logit(a) + logit(b)) / 2, atol=1e-5)
    assert np.allclose(combine([a], [1.0]), a, atol=1e-6)
    assert np.allclose(combine([a, b], [1.0, 3.0], "mean"), (a + 3 * b) / 4)  # the pre-teach.py average
    labels = np.array([1, 0, 1, 0] * 25)
    good = np.where(labels[:, None] == 1, [0.1, 0.9], [0.9, 0.1]).astype(np.float32)
    noise = np.random.default_rng(0).dirichlet([1, 1], size=100).astype(np.float32)
    weights = choose_weights({"good": good, "noise": noise}, labels)
    assert weights["good"] > weights["noise"] and sum(weights.values()) == pytest.approx(1.0)


def test_teach_writes_targets_and_metrics_and_resumes_from_its_members(tiny_imdb_with_unlabelled, tmp_path, monkeypatch):
    run = tmp_path / "teach"
    metrics = _teach(tiny_imdb_with_unlabelled, run, "--members", "[ngram]", "--data.unlabelled_split", "unsupervised")
    targets = load_targets(run)
    assert targets.train.shape == (metrics["rows"]["train"], 2) and targets.unlabelled.shape == (90, 2)
    assert targets.unlabelled_split == "unsupervised"
    assert metrics["val_acc"] >= 0.9 and metrics["train_out_of_fold_acc"] >= 0.9  # cue words
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert (run / "config.yaml").exists()
    assert "test_acc" not in metrics  # the test split is read only when asked

    def refit(*args, **kwargs):
        raise AssertionError("a finished member should have been read from the run folder")

    monkeypatch.setattr("teach.ngram_member", refit)
    again = _teach(tiny_imdb_with_unlabelled, run, "--members", "[ngram]", "--data.unlabelled_split", "unsupervised")
    assert again["val_acc"] == metrics["val_acc"]
    assert np.array_equal(load_targets(run).train, targets.train)


def test_short_texts_are_added_to_finished_members_without_refitting_them(tiny_imdb_with_unlabelled, tmp_path, monkeypatch):
    common = ["--members", "[ngram]", "--data.unlabelled_split", "unsupervised"]
    fresh = tmp_path / "fresh"
    _teach(tiny_imdb_with_unlabelled, fresh, *common, "--short_texts", "30")
    run = tmp_path / "teach"
    _teach(tiny_imdb_with_unlabelled, run, *common)

    def refit(*args, **kwargs):
        raise AssertionError("a finished member should only have scored the short texts")

    monkeypatch.setattr("teach.ngram_member", refit)
    _teach(tiny_imdb_with_unlabelled, run, *common, "--short_texts", "30")
    added, expected = load_targets(run), load_targets(fresh)
    assert added.short_texts == expected.short_texts and len(added.short_texts) == 30
    assert np.allclose(added.short_text_targets, expected.short_text_targets, atol=1e-6)
    _teach(tiny_imdb_with_unlabelled, run, *common, "--short_texts", "20")  # other texts: scored again
    assert len(load_targets(run).short_texts) == 20


def test_export_members_join_the_unlabelled_rows_and_test_is_reported_on_request(
        tiny_imdb_with_unlabelled, tiny_export, tmp_path):
    from data.sources import SourceSpec, load_labelled_splits, load_unlabelled_texts
    from model.ngram_teacher import NgramTeacher
    from serving.runtime import Predictor

    run = tmp_path / "teach"
    weights = json.dumps({"ngram": 0.5, str(tiny_export): 0.5})
    metrics = _teach(tiny_imdb_with_unlabelled, run, "--members", "[ngram]", "--exports", json.dumps([str(tiny_export)]),
                     "--weights", weights, "--data.unlabelled_split", "unsupervised", "--report_test", "true")
    spec = SourceSpec(str(tiny_imdb_with_unlabelled))
    train = load_labelled_splits(spec).train
    texts = load_unlabelled_texts(spec, "unsupervised")["text"]
    ngram = NgramTeacher().fit(train.texts["text"], train.labels).predict_proba(texts)
    expected = combine([ngram, Predictor(tiny_export).predict_proba(texts)], [0.5, 0.5])
    assert np.allclose(load_targets(run).unlabelled, expected, atol=1e-4)
    assert metrics["test_acc"] >= 0.8 and set(metrics["members"]) == {"ngram", str(tiny_export)}


def test_docvec_member_learns_from_text_and_labels(tiny_imdb_with_unlabelled, tmp_path):
    """Doc vectors of the tiny reviews: enough epochs, and the cue words show in the vectors."""
    metrics = _teach(tiny_imdb_with_unlabelled, tmp_path / "teach", "--members", "[docvec]",
                     "--data.unlabelled_split", "unsupervised", "--docvec.epochs", "40", "--docvec.vector_size", "16",
                     "--docvec.min_count", "1", "--docvec.alpha", "0.05", "--docvec.workers", "1")
    assert metrics["train_out_of_fold_acc"] >= 0.6  # 216 rows (chance 0.5, sd 0.034), each scored by a classifier that never saw its label
    docvec = metrics["members"]["docvec"]
    assert docvec["val_acc"] >= 0.55 and docvec["val_acc_inferred_vectors"] >= 0.55  # 24 rows: a loose bound
    assert docvec["cpu_s"] > 0 and load_targets(tmp_path / "teach").unlabelled.shape == (90, 2)
    assert list((tmp_path / "teach" / "members").glob("docvec-*/doc2vec.model"))


def test_ngram_docvec_member_shares_the_doc_vectors_and_weighs_them_beside_the_ngrams(tiny_imdb_with_unlabelled, tmp_path):
    run = tmp_path / "teach"
    metrics = _teach(tiny_imdb_with_unlabelled, run, "--members", "[docvec, ngram_docvec]",
                     "--data.unlabelled_split", "unsupervised", "--docvec.epochs", "40", "--docvec.vector_size", "16",
                     "--docvec.min_count", "1", "--docvec.alpha", "0.05", "--docvec.workers", "1", "--report_test", "true")
    assert len(list((run / "members").glob("docvec-*/doc2vec.model"))) == 1  # trained once, read by both members
    joint = metrics["members"]["ngram_docvec"]
    assert joint["val_acc"] >= 0.9 and joint["val_acc_inferred_vectors"] >= 0.9 and joint["test_acc"] >= 0.8  # cue words
    assert load_targets(run).unlabelled.shape == (90, 2)


def test_dense_columns_join_the_ngram_regression():
    from model.ngram_teacher import NgramTeacher

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    texts = [" ".join(rng.choice(["plot", "actor", "scene", "music", "film"], 8)) for _ in labels]  # no cue words
    signal = (labels[:, None] * 2.0 - 1.0) + rng.normal(0, 0.3, (400, 1))  # one column that carries the label
    teacher = NgramTeacher(ngram_max=1)
    features = teacher.vectorize(texts, fit=True)
    teacher.fit_features(features[:300], labels[:300], dense=signal[:300])
    held_out = teacher.predict_proba_features(features[300:], dense=signal[300:])
    assert (held_out.argmax(axis=1) == labels[300:]).mean() >= 0.95
    teacher.fit_features(features[:300], labels[:300])
    assert (teacher.predict_proba_features(features[300:]).argmax(axis=1) == labels[300:]).mean() < 0.7
    with pytest.raises(ValueError, match="rows of dense columns"):
        teacher.predict_proba_features(features[300:], dense=signal[:10])


def test_docvec_tokens_are_words_then_ngrams():
    from model.docvec_teacher import ngram_tokens

    assert ngram_tokens("Great film!<br />Loved it", 3) == [
        "great", "film", "!", "loved", "it", "great_film", "film_!", "!_loved", "loved_it",
        "great_film_!", "film_!_loved", "!_loved_it"]


def test_bad_teach_settings_are_one_line_errors(tiny_imdb_with_unlabelled, tmp_path, capsys):
    cases = [
        (["--members", "[bert]"], "members must be some of"),
        (["--data.unlabelled_split", "test"], "must be a split without labels"),
        (["--data.unlabelled_split", "unlabeled"], "'unlabeled' is not a split"),
        (["--exports", json.dumps([str(tmp_path)])], "is not an export folder"),
        (["--data.val_fraction", "0"], "validation chooses the teacher"),
        (["--ngram_docvec.C", "0"], "ngram_docvec.C and ngram_docvec.docvec_scale must be > 0"),
        (["--short_texts", "10"], "needs data.unlabelled_split"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as stopped:
            _teach(tiny_imdb_with_unlabelled, tmp_path / "teach", *extra)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err


def test_data_imports_neither_model_nor_serving():
    """Stages as folders: the data layer reads what the teaching stage wrote and fits nothing."""
    for path in sorted((ROOT / "data").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = [n for n in names if n.split(".")[0] in ("model", "serving")]
            assert not bad, f"{path.name} imports {bad}"


def test_short_texts_are_first_and_last_sentences_labelled_by_their_review(tiny_imdb, tmp_path):
    from data.datamodule import ReviewDataModule
    from data.short_texts import first_and_last_sentences

    assert first_and_last_sentences("Great cast. Dull plot!<br /><br />I loved it?") == ["Great cast.", "I loved it?"]
    assert first_and_last_sentences("One sentence only") == ["One sentence only"]
    assert first_and_last_sentences(" ... ") == []
    dm = ReviewDataModule(dataset=str(tiny_imdb), vocab_size=200, max_length=32, batch_size=8, cache_dir=str(tmp_path))
    dm.prepare_data()
    dm.setup("fit")
    short, val = dm.splits["val_short"], dm.splits["val"]
    assert len(val) <= len(short) <= 2 * len(val)
    assert set(np.unique(short.labels)) <= set(np.unique(val.labels))
    assert short.lengths.mean() < val.lengths.mean()
    assert len(dm.val_dataloader()) == 2
    off = ReviewDataModule(dataset=str(tiny_imdb), vocab_size=200, max_length=32, batch_size=8, cache_dir=str(tmp_path),
                           short_texts=False)
    off.setup("fit")
    assert "val_short" not in off.splits and not isinstance(off.val_dataloader(), list)


def test_a_fit_logs_short_text_accuracy_and_calibration(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = {}
    for events in tiny_run.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        scalars.update({tag: accumulator.Scalars(tag) for tag in accumulator.Tags()["scalars"]})
    assert {"val/loss", "val/acc", "val/ece", "val_short/acc", "val_short/ece"} <= set(scalars)
    assert not [tag for tag in scalars if "dataloader_idx" in tag]
    assert all(0.0 <= event.value <= 1.0 for event in scalars["val_short/ece"])
    assert "test/ece" in json.loads((tiny_run / "metrics.json").read_text())


def test_short_text_report_of_an_export_matches_the_training_metric(tiny_imdb, tiny_export):
    import torch

    from model.lit_module import BinaryTopLabelCalibrationError
    from model.calibration import expected_calibration_error
    from scripts.short_text_eval import main as short_text_eval

    report = short_text_eval(["--export", str(tiny_export), "--dataset", str(tiny_imdb)])
    assert set(report) == {"val", "val_short"} and report["val_short"]["rows"] >= report["val"]["rows"]
    assert report["val_short"]["mean_words"] < report["val"]["mean_words"]
    p = np.random.default_rng(0).uniform(size=500).astype(np.float32)
    y = (np.random.default_rng(1).uniform(size=500) < p).astype(np.int64)
    metric = BinaryTopLabelCalibrationError()
    metric.update(torch.from_numpy(p), torch.from_numpy(y))
    assert expected_calibration_error(np.stack([1 - p, p], axis=1), y) == pytest.approx(float(metric.compute()), abs=1e-5)


def test_doc_vectors_read_the_corpus_in_a_new_order_each_pass():
    """In a fixed order, a vector's scale tells its position in the corpus (the learning rate decays
    within a pass), and IMDB is sorted by label: the order must change, every review read once."""
    from model.docvec_teacher import _Documents

    corpus = _Documents([f"review {i}" for i in range(50)], seed=3)
    first, second = [d.tags[0] for d in corpus], [d.tags[0] for d in corpus]
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second and first != list(range(50))
    assert all(corpus.joined[d.tags[0]].split(" ") == d.words for d in corpus)
