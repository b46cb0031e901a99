"""A bag-of-n-grams teacher: NB-weighted logistic regression (Wang & Manning 2012), for distillation.

    teacher = NgramTeacher(ngram_max=3).fit(texts, labels)
    probabilities = teacher.predict_proba(more_texts)             # (N, classes), rows sum to 1
    soft = out_of_fold_probabilities(texts, labels, folds=4)      # each row scored by a teacher that never saw it
    teacher.fit_features(features, labels, dense=doc_vectors)     # extra dense columns beside the n-grams, one model

It is never served: its class probabilities become soft targets that the recurrent network
learns from beside the labels (`model.distillation_weight`), so the served network stays
Embedding -> GRU -> LSTM -> head. It sees the same words differently (every uni-, bi- and
trigram at once, no order beyond three), so its errors differ from the network's.

Soft targets for the *training* rows must come from teachers that did not fit those rows,
or the targets only repeat the labels: `out_of_fold_probabilities` fits one teacher per fold.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

# Words and runs of punctuation ("!!!", ":)"), as the network's tokenizer splits them.
TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]+"


def _clean(text: str) -> str:
    return text.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ").lower()


class NgramTeacher:
    def __init__(self, ngram_max: int = 3, min_df: int = 2, C: float = 1.0, nb_alpha: float = 1.0,
                 max_iter: int = 1000) -> None:
        """
        Args:
            ngram_max: longest n-gram counted (1 = words only).
            min_df: n-grams seen in fewer training reviews are dropped (they carry no reusable evidence).
            C: inverse L2 strength of the logistic regression.
            nb_alpha: smoothing of the naive-Bayes log-count ratios.
            max_iter: solver iterations.
        """
        if ngram_max < 1 or min_df < 1 or C <= 0 or nb_alpha <= 0:
            raise ValueError(f"bad teacher settings: ngram_max={ngram_max}, min_df={min_df}, C={C}, nb_alpha={nb_alpha}")
        self.ngram_max, self.min_df, self.C, self.nb_alpha, self.max_iter = ngram_max, min_df, C, nb_alpha, max_iter
        self.vectorizer = None
        self.ratios: list[np.ndarray] = []
        self.models: list = []
        self.num_classes = 0

    def vectorize(self, texts: Sequence[str], fit: bool = False):
        """Binary n-gram presence, (N, features) sparse; `fit` learns the n-gram list from these texts."""
        from sklearn.feature_extraction.text import CountVectorizer

        if fit:
            self.vectorizer = CountVectorizer(
                preprocessor=_clean, token_pattern=TOKEN_PATTERN, ngram_range=(1, self.ngram_max),
                min_df=self.min_df, binary=True, dtype=np.float32,
            )
            return self.vectorizer.fit_transform(texts)
        return self.vectorizer.transform(texts)

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> "NgramTeacher":
        features = self.vectorize(texts, fit=True)
        return self.fit_features(features, np.asarray(labels))

    def fit_features(self, features, labels: np.ndarray, dense: Optional[np.ndarray] = None) -> "NgramTeacher":
        """One-vs-rest over the classes (one model for two): NB ratios scale the features, LR weighs them.

        `dense` (N, d): more columns (e.g. doc vectors, already scaled) that the same regression weighs
        beside the NB-scaled n-grams; they get no NB ratio. Prediction must then pass the same columns."""
        from sklearn.linear_model import LogisticRegression

        self.num_classes = int(labels.max()) + 1
        if self.num_classes < 2:
            raise ValueError("the teacher needs at least two classes")
        positives = [1] if self.num_classes == 2 else range(self.num_classes)
        self.ratios, self.models = [], []
        for cls in positives:
            target = (labels == cls).astype(np.int64)
            p = self.nb_alpha + np.asarray(features[target == 1].sum(axis=0)).ravel()
            q = self.nb_alpha + np.asarray(features[target == 0].sum(axis=0)).ravel()
            ratio = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
            model = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="liblinear", dual=True, random_state=0)
            model.fit(_with_dense(features.multiply(ratio), dense), target)
            self.ratios.append(ratio)
            self.models.append(model)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_features(self.vectorize(texts))

    def predict_proba_features(self, features, dense: Optional[np.ndarray] = None) -> np.ndarray:
        scores = np.stack(
            [m.predict_proba(_with_dense(features.multiply(r), dense))[:, 1] for m, r in zip(self.models, self.ratios)],
            axis=1,
        )
        if self.num_classes == 2:
            return np.concatenate([1.0 - scores, scores], axis=1).astype(np.float32)
        return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def _with_dense(scaled, dense: Optional[np.ndarray]):
    import scipy.sparse as sparse

    if dense is None:
        return scaled.tocsr()
    if dense.shape[0] != scaled.shape[0]:
        raise ValueError(f"{dense.shape[0]:,} rows of dense columns for {scaled.shape[0]:,} rows of n-grams")
    return sparse.hstack([scaled, sparse.csr_matrix(dense.astype(np.float32))], format="csr")


def fold_of_rows(rows: int, folds: int, seed: int) -> np.ndarray:
    """Each row's fold, 0..folds-1: a seeded shuffle dealt round-robin, so folds differ in size by one at most."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    fold_of = np.empty(rows, dtype=np.int64)
    fold_of[np.random.default_rng(seed).permutation(rows)] = np.arange(rows) % folds
    return fold_of


def out_of_fold_probabilities(texts: Sequence[str], labels: np.ndarray, folds: int = 4, seed: int = 42,
                              dense: Optional[np.ndarray] = None, **teacher_args) -> np.ndarray:
    """(N, classes) teacher probabilities for every row, each from a teacher fitted on the other folds.

    The n-gram list is learnt once from all the texts (no labels involved); the NB ratios and
    the regression of each fold see that fold's training rows only. `dense`: as in fit_features.
    """
    teacher = NgramTeacher(**teacher_args)
    return out_of_fold_features(teacher, teacher.vectorize(texts, fit=True), labels, folds, seed, dense)


def out_of_fold_features(teacher: NgramTeacher, features, labels: np.ndarray, folds: int, seed: int,
                         dense: Optional[np.ndarray] = None) -> np.ndarray:
    """out_of_fold_probabilities on features already vectorized by `teacher` (refitted once per fold;
    fit it on all the rows afterwards to reuse it)."""
    labels = np.asarray(labels)
    features = features.tocsr()
    fold_of = fold_of_rows(len(labels), folds, seed)
    out = np.zeros((len(labels), int(labels.max()) + 1), dtype=np.float32)
    for fold in range(folds):
        held_out = fold_of == fold
        fit_dense, held_out_dense = (None, None) if dense is None else (dense[~held_out], dense[held_out])
        teacher.fit_features(features[~held_out], labels[~held_out], dense=fit_dense)
        out[held_out] = teacher.predict_proba_features(features[held_out], dense=held_out_dense)
    return out
