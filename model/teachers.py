"""The teaching stage's members and how they are combined (used by teach.py).

    rows = TeachingRows.load(spec, unlabelled_split="unsupervised")
    ngram = ngram_member(rows, folds=4, seed=42, settings={})          # {"train", "val", "unlabelled"}: (rows, classes)
    docvec = docvec_member(rows, folds=4, seed=42, settings={...}, folder=run / "members" / "docvec")
    joint = ngram_docvec_member(rows, 4, 42, {}, {...}, run / "members" / "docvec", C=0.1, docvec_scale=0.3)
    weights = choose_weights({"ngram": ngram["val"], "docvec": docvec["val"]}, rows.val_labels)
    targets = combine([ngram["train"], docvec["train"]], weights)

Every member gives class probabilities for the rows the teaching stage scores:
- `train`: the labelled training rows, each from a model that did not fit that row's label
  (out-of-fold), so a student's soft targets do not merely repeat its labels;
- `val`: the validation rows, from the model fitted on every training row: validation chooses
  the members and weights and never trains anything;
- `unlabelled`: the unlabelled split's rows, from the same model;
- `short` (when the rows have short texts: sentences drawn from unlabelled reviews): each sentence
  scored as a text of its own, by the same model (the doc-vector members infer its vector);
- `test` (only when asked, once, to report): the test split, whose text trains nothing
  (the doc-vector member infers its vectors).
An export member (a trained network, e.g. stage 1's) has no out-of-fold scores of its own training
rows: it scores `val`, `unlabelled` and `test` only, and the training rows' targets combine the
members that have `train`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

SCORE_ROWS = 256  # reviews per call to an export
EPS = 1e-6


@dataclass
class TeachingRows:
    """The texts and labels the teaching stage reads, as plain lists (the teachers want Python strings)."""

    train_texts: list[str]
    train_labels: np.ndarray
    val_texts: list[str]
    val_labels: np.ndarray
    unlabelled_texts: list[str]
    class_names: list[str]
    short_texts: list[str] = field(default_factory=list)
    test_loader: Optional[Callable[[], tuple[list[str], np.ndarray]]] = field(default=None, repr=False)
    _test: Optional[tuple[list[str], np.ndarray]] = field(default=None, repr=False)

    def test(self) -> tuple[list[str], np.ndarray]:
        """(texts, labels) of the test split, read on first use (reporting only)."""
        if self._test is None:
            self._test = self.test_loader()
        return self._test


def ngram_member(rows: TeachingRows, folds: int, seed: int, settings: dict, test: bool = False) -> dict:
    """NB-weighted logistic regression over word 1-3-grams (model/ngram_teacher.py)."""
    from model.ngram_teacher import NgramTeacher, out_of_fold_features

    teacher = NgramTeacher(**settings)
    features = teacher.vectorize(rows.train_texts, fit=True)  # once, for the folds and the full fit
    out = {"train": out_of_fold_features(teacher, features, rows.train_labels, folds, seed)}
    teacher.fit_features(features, rows.train_labels)
    out["val"] = teacher.predict_proba(rows.val_texts)
    out["unlabelled"] = teacher.predict_proba(rows.unlabelled_texts) if rows.unlabelled_texts else _empty(out["val"])
    if rows.short_texts:
        out["short"] = teacher.predict_proba(rows.short_texts)
    if test:
        out["test"] = teacher.predict_proba(rows.test()[0])
    return out


def trained_doc_vectors(rows: TeachingRows, seed: int, settings: dict, folder: Path, log=print):
    """(teacher, train, val, unlabelled vectors): doc vectors trained on the training, validation and
    unlabelled rows' text (no labels), or read from `folder`, where they are kept, so a run stopped
    after the vectors does not retrain them."""
    from model.docvec_teacher import DocVecTeacher

    docvec = DocVecTeacher(**{"seed": seed, **settings})
    model_file = Path(folder) / "doc2vec.model"
    texts = rows.train_texts + rows.val_texts + rows.unlabelled_texts
    if model_file.exists():
        docvec.load(model_file)
        log(f"teach: doc vectors read from {model_file}")
    else:
        docvec.fit_vectors(texts, log=log)
        model_file.parent.mkdir(parents=True, exist_ok=True)
        docvec.save(model_file)
    vectors = docvec.vectors
    if len(vectors) != len(texts):
        raise ValueError(f"{model_file} holds {len(vectors):,} vectors for {len(texts):,} texts: delete it to retrain")
    n_train, n_val = len(rows.train_texts), len(rows.val_texts)
    return docvec, vectors[:n_train], vectors[n_train : n_train + n_val], vectors[n_train + n_val :]


def docvec_member(rows: TeachingRows, folds: int, seed: int, settings: dict, folder: Path, test: bool = False,
                  log=print) -> dict:
    """Doc vectors over n-grams (model/docvec_teacher.py), then logistic regression on the training rows' vectors."""
    from model.docvec_teacher import out_of_fold_probabilities

    docvec, train, val, unlabelled = trained_doc_vectors(rows, seed, settings, folder, log)
    out = {"train": out_of_fold_probabilities(train, rows.train_labels, folds=folds, seed=seed, C=docvec.C)}
    docvec.fit(train, rows.train_labels)
    out["val"] = docvec.predict_proba(val)
    out["unlabelled"] = docvec.predict_proba(unlabelled) if len(unlabelled) else _empty(out["val"])
    # The validation rows' vectors trained with the corpus; test vectors are inferred. The same
    # inference on the validation rows tells how much that costs, without reading the test split.
    out["val_inferred"] = docvec.predict_proba(docvec.infer_vectors(rows.val_texts))
    if rows.short_texts:
        out["short"] = docvec.predict_proba(docvec.infer_vectors(rows.short_texts))
    if test:
        out["test"] = docvec.predict_proba(docvec.infer_vectors(rows.test()[0]))
    return out


def ngram_docvec_member(rows: TeachingRows, folds: int, seed: int, ngram_settings: dict, docvec_settings: dict,
                        folder: Path, C: float, docvec_scale: float, test: bool = False, log=print) -> dict:
    """One logistic regression over the NB-weighted n-grams and the doc vectors side by side
    (the doc vectors standardized, times `docvec_scale`; `C` its inverse L2 strength), as
    Thongtan & Phienthrakul 2019 join dv-cosine and NB-weighted n-grams: one model weighs both
    kinds of evidence per review, where averaging two models' log-odds weighs them alike for all.
    The doc vectors are the docvec member's (the same `folder`), trained once for both."""
    from model.ngram_teacher import NgramTeacher, out_of_fold_features

    docvec, train, val, unlabelled = trained_doc_vectors(rows, seed, docvec_settings, folder, log)
    mean, std = train.mean(axis=0), train.std(axis=0) + EPS  # the vectors' own statistics: no labels

    def columns(vectors: np.ndarray) -> np.ndarray:
        return (vectors - mean) / std * docvec_scale

    teacher = NgramTeacher(**{**ngram_settings, "C": C})
    features = teacher.vectorize(rows.train_texts, fit=True)  # the n-gram list: from the training text, once
    out = {"train": out_of_fold_features(teacher, features, rows.train_labels, folds, seed, dense=columns(train))}
    teacher.fit_features(features, rows.train_labels, dense=columns(train))

    def score(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        return teacher.predict_proba_features(teacher.vectorize(texts), dense=columns(vectors))

    val_features = teacher.vectorize(rows.val_texts)
    out["val"] = teacher.predict_proba_features(val_features, dense=columns(val))
    out["unlabelled"] = score(rows.unlabelled_texts, unlabelled) if rows.unlabelled_texts else _empty(out["val"])
    out["val_inferred"] = teacher.predict_proba_features(  # as the test rows get theirs
        val_features, dense=columns(docvec.infer_vectors(rows.val_texts)))
    if rows.short_texts:
        out["short"] = score(rows.short_texts, docvec.infer_vectors(rows.short_texts))
    if test:
        test_texts = rows.test()[0]
        out["test"] = score(test_texts, docvec.infer_vectors(test_texts))
    return out


def export_scorer(export: str, classes: int) -> Callable[[Sequence[str]], np.ndarray]:
    """texts -> (N, classes) probabilities of a trained network's export folder, through the serving Predictor."""
    from serving.runtime import Predictor

    predictor = Predictor(export)

    def score(texts: Sequence[str]) -> np.ndarray:
        parts = [predictor.predict_proba(list(texts[i : i + SCORE_ROWS])) for i in range(0, len(texts), SCORE_ROWS)]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, classes), np.float32)

    return score


def export_member(export: str, rows: TeachingRows, test: bool = False) -> dict:
    """A trained network's export folder: val, unlabelled, short (and test) only."""
    score = export_scorer(export, len(rows.class_names))
    out = {"val": score(rows.val_texts), "unlabelled": score(rows.unlabelled_texts)}
    if rows.short_texts:
        out["short"] = score(rows.short_texts)
    if test:
        out["test"] = score(rows.test()[0])
    return out


def combine(probabilities: Sequence[np.ndarray], weights: Sequence[float], how: str = "logodds") -> np.ndarray:
    """`logodds`: weighted log-linear pooling, softmax(sum_i w_i log p_i), which for two classes is the
    weighted average of the members' log-odds; `mean`: the weighted average of the probabilities
    (how the unlabelled rows' teacher was averaged before the teaching stage existed). Weights are
    renormalized to sum to 1."""
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    if how == "mean":
        return sum(w * p for w, p in zip(weights, probabilities)).astype(np.float32)
    if how != "logodds":
        raise ValueError(f"combination must be logodds or mean, got {how!r}")
    logits = sum(w * np.log(np.clip(p, EPS, 1.0)) for w, p in zip(weights, probabilities))
    logits = logits - logits.max(axis=1, keepdims=True)
    pooled = np.exp(logits)
    return (pooled / pooled.sum(axis=1, keepdims=True)).astype(np.float32)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], EPS, 1.0)).mean())


def choose_weights(val: dict[str, np.ndarray], labels: np.ndarray, step: float = 0.1, how: str = "logodds") -> dict[str, float]:
    """The members' weights (a grid of `step` over the simplex) with the lowest validation log loss.

    Log loss rather than accuracy: on a few thousand validation rows accuracy moves in steps of
    single reviews, and the weight that happens to win it is the noisier choice."""
    names = list(val)
    if len(names) == 1:
        return {names[0]: 1.0}
    ticks = int(round(1 / step))
    best, best_loss = None, np.inf
    for combo in itertools.product(range(ticks + 1), repeat=len(names) - 1):
        last = ticks - sum(combo)
        if last < 0:
            continue
        weights = [c / ticks for c in combo] + [last / ticks]
        loss = log_loss(combine([val[n] for n in names], weights, how), labels)
        if loss < best_loss - 1e-12:
            best, best_loss = weights, loss
    return {name: round(w, 6) for name, w in zip(names, best)}


def _empty(like: np.ndarray) -> np.ndarray:
    return np.zeros((0, like.shape[1]), dtype=np.float32)
