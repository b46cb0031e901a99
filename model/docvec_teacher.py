"""A document-vector teacher: DBOW paragraph vectors over word 1-3-gram tokens, then logistic regression.

    docvec = DocVecTeacher(vector_size=100, epochs=10).fit_vectors(texts)     # train + unlabelled text, no labels
    docvec.fit(docvec.vectors[labelled_rows], labels)                          # a classifier on the labelled rows' vectors
    probabilities = docvec.predict_proba(docvec.vectors[other_rows])           # rows that trained vectors: no inference
    probabilities = docvec.predict_proba(docvec.infer_vectors(new_texts))      # new text (the test split): inferred vectors

Each review gets a vector trained to predict the review's own uni-, bi- and trigrams with negative
sampling (Le & Mikolov 2014's PV-DBOW; n-gram tokens as in Li et al. 2016's DV-ngram), through
gensim's Doc2Vec. The vectors are learnt from text alone, so every review of the training and
unlabelled splits trains one; labels enter only in the logistic regression on top. New text
(the test split, never trained on) gets a vector by `infer_vectors`: the same objective with the
n-gram weights frozen. Like model/ngram_teacher.py it is never served: its probabilities become
soft targets (teach.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from model.gensim_corpus import ShuffledPasses
from model.ngram_teacher import TOKEN_PATTERN, _clean, fold_of_rows

_TOKEN = re.compile(TOKEN_PATTERN)


def ngram_tokens(text: str, ngram_max: int = 3) -> list[str]:
    """The review's words followed by its 2..ngram_max-grams, each n-gram one token ("a_b_c")."""
    words = _TOKEN.findall(_clean(text))
    tokens = list(words)
    for n in range(2, ngram_max + 1):
        tokens += ["_".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return tokens


class _Documents(ShuffledPasses):
    """Each review's tokens, kept as one space-joined string (a few kB a review instead of a list of
    Python strings) and split as it is read, tagged with its row."""

    def __init__(self, joined: Sequence[str], seed: int = 0) -> None:
        super().__init__(joined, seed)
        self.joined = joined

    def read(self, index: int):
        from gensim.models.doc2vec import TaggedDocument

        return TaggedDocument(self.joined[index].split(" "), [index])


class DocVecTeacher:
    def __init__(self, vector_size: int = 100, ngram_max: int = 3, min_count: int = 2, negative: int = 5,
                 sample: float = 1e-4, epochs: int = 10, alpha: float = 0.025, C: float = 1.0,
                 workers: int = 2, seed: int = 42) -> None:
        """
        Args:
            vector_size: dimensions of a review's vector.
            ngram_max: longest n-gram a vector predicts (1 = words only).
            min_count: n-grams seen fewer times in the corpus are dropped.
            negative: negative samples per predicted n-gram.
            sample: down-sampling threshold of frequent n-grams.
            epochs: passes over the corpus (also the inference passes of a new review).
            alpha: initial learning rate, decaying linearly to alpha / 250.
            C: inverse L2 strength of the logistic regression on the (standardized) vectors.
            workers: training threads.
            seed: gensim's seed (with several workers, thread scheduling still varies the result).
        """
        if vector_size < 1 or ngram_max < 1 or min_count < 1 or negative < 1 or epochs < 1 or C <= 0:
            raise ValueError(
                f"bad doc-vector settings: vector_size={vector_size}, ngram_max={ngram_max}, min_count={min_count}, "
                f"negative={negative}, epochs={epochs}, C={C}"
            )
        self.vector_size, self.ngram_max, self.min_count, self.negative = vector_size, ngram_max, min_count, negative
        self.sample, self.epochs, self.alpha, self.C, self.workers, self.seed = sample, epochs, alpha, C, workers, seed
        self.model = None  # gensim Doc2Vec
        self.classifier = None  # sklearn pipeline: standardize, then logistic regression

    def settings(self) -> dict:
        """What shapes the vectors and the classifier (for cache keys and reports)."""
        keys = ("vector_size", "ngram_max", "min_count", "negative", "sample", "epochs", "alpha", "C", "seed")
        return {key: getattr(self, key) for key in keys}

    # -- vectors: text only --------------------------------------------------------------------

    def joined_tokens(self, texts: Iterable[str]) -> list[str]:
        return [" ".join(ngram_tokens(text, self.ngram_max)) for text in texts]

    def fit_vectors(self, texts: Iterable[str], log=None) -> "DocVecTeacher":
        """Train the n-gram weights and one vector per text (in `self.vectors`, in the order of `texts`)."""
        from gensim.models.doc2vec import Doc2Vec

        corpus = _Documents(self.joined_tokens(texts), seed=self.seed)
        if log:
            log(f"doc vectors: {len(corpus):,} texts tokenized into 1-{self.ngram_max}-grams")
        self.model = Doc2Vec(
            dm=0, vector_size=self.vector_size, negative=self.negative, hs=0, min_count=self.min_count,
            sample=self.sample, alpha=self.alpha, min_alpha=self.alpha / 250, epochs=self.epochs,
            workers=self.workers, seed=self.seed,
        )
        self.model.build_vocab(corpus)
        if log:
            log(f"doc vectors: {len(self.model.wv):,} n-grams kept (min_count {self.min_count})")
        self.model.train(corpus, total_examples=len(corpus), epochs=self.epochs)
        return self

    @property
    def vectors(self) -> np.ndarray:
        """(texts of fit_vectors, vector_size) float32."""
        return np.asarray(self.model.dv.vectors[: len(self.model.dv)], dtype=np.float32)

    def infer_vectors(self, texts: Iterable[str], epochs: Optional[int] = None) -> np.ndarray:
        """Vectors for texts that did not train: the same objective, the n-gram weights frozen."""
        epochs = epochs or self.epochs
        return np.stack([
            self.model.infer_vector(ngram_tokens(text, self.ngram_max), epochs=epochs) for text in texts
        ]).astype(np.float32)

    # -- the classifier: labels ----------------------------------------------------------------

    def fit(self, vectors: np.ndarray, labels: np.ndarray) -> "DocVecTeacher":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.classifier = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        self.classifier.fit(vectors, np.asarray(labels))
        return self

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """(N, classes) class probabilities of these vectors (classes 0..K-1 all seen in fit)."""
        return self.classifier.predict_proba(vectors).astype(np.float32)

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """The gensim model (vectors and n-gram weights) under `path` (a file name; gensim may add .npy files beside it)."""
        self.model.save(str(path))

    def load(self, path: Path) -> "DocVecTeacher":
        from gensim.models.doc2vec import Doc2Vec

        self.model = Doc2Vec.load(str(path))
        return self


def out_of_fold_probabilities(vectors: np.ndarray, labels: np.ndarray, folds: int = 4, seed: int = 42,
                              C: float = 1.0) -> np.ndarray:
    """(N, classes): each labelled row's probabilities from a classifier fitted on the other folds' vectors
    (the vectors themselves saw no labels)."""
    labels = np.asarray(labels)
    fold_of = fold_of_rows(len(labels), folds, seed)
    out = np.zeros((len(labels), int(labels.max()) + 1), dtype=np.float32)
    for fold in range(folds):
        held_out = fold_of == fold
        head = DocVecTeacher(C=C).fit(vectors[~held_out], labels[~held_out])
        out[held_out] = head.predict_proba(vectors[held_out])
    return out
