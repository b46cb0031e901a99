"""Word vectors (gensim word2vec, skip-gram) that start the classifier's embedding.

    weight = fit_word_vectors(token_id_rows, vocab_size=30000, vector_size=128, seed=43)
    save_embedding(weight, "encoder.pt", tokenizer_path)   # what pretrain_word_vectors.py writes
    load_encoder("encoder.pt", classifier.net, tokenizer_path)  # model.pretrained_encoder does this

The rows are reviews as token ids of the classifier's own tokenizer, so row i of the result is the
vector of the classifier's token i and the file loads through the same digest check as a
language model's encoder (model/lm_module.py).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from data.text_encoding import ConfigError
from model.gensim_corpus import ShuffledPasses
from model.lm_module import save_encoder_state


def _stable_hash(text: str) -> int:
    # gensim seeds each word's starting vector with hashfxn(word + seed); Python's own hash differs per process.
    return zlib.crc32(text.encode())


class _Reviews(ShuffledPasses):
    """Reviews of token ids, read as lists of token strings (gensim's vocabulary keys)."""

    def read(self, index: int) -> list[str]:
        return [str(token) for token in self.items[index].tolist()]


def fit_word_vectors(
    rows: Sequence[np.ndarray],
    vocab_size: int,
    vector_size: int = 128,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-4,
    epochs: int = 5,
    workers: int = 1,
    seed: int = 43,
    pad_id: int = 0,
) -> torch.Tensor:
    """A (vocab_size, vector_size) embedding: word2vec's vector for every token seen in `rows`,
    N(0, 1) (nn.Embedding's own start) for the rest, zeros for padding; scaled so that the word
    vectors' elements have nn.Embedding's unit standard deviation and keep their geometry.

    Args:
        rows: reviews as token ids of the classifier's tokenizer.
        vocab_size: rows of the embedding (the tokenizer's vocabulary).
        vector_size: width of the vectors: the classifier's model.embedding_dim.
        window: words either side that a word predicts (skip-gram).
        negative: negative samples per prediction.
        sample: down-sampling threshold of frequent words (0 = none).
        epochs: passes over the reviews, each in a new seeded order.
        workers: gensim's threads (with one, a seed gives the same vectors in every process).
        seed: of word2vec, the pass order and the rows of unseen tokens.
        pad_id: the padding token, whose row stays zero.
    """
    from gensim.models import Word2Vec

    for name, value in (("vector_size", vector_size), ("window", window), ("negative", negative),
                        ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ConfigError(f"word2vec.{name} must be >= 1, got {value!r}")
    if sample < 0:
        raise ConfigError(f"word2vec.sample must be >= 0, got {sample!r}")
    if not rows:
        raise ConfigError("word vectors need reviews: the training rows and the unlabelled split are empty")

    model = Word2Vec(vector_size=vector_size, window=window, min_count=1, sg=1, negative=negative, sample=sample,
                     workers=workers, seed=seed, hashfxn=_stable_hash)
    reviews = _Reviews(rows, seed)
    model.build_vocab(reviews)
    model.train(reviews, total_examples=len(rows), epochs=epochs)
    weight = torch.randn(vocab_size, vector_size, generator=torch.Generator().manual_seed(seed))
    seen = torch.tensor([int(token) for token in model.wv.index_to_key], dtype=torch.long)
    vectors = torch.from_numpy(np.asarray(model.wv.vectors, dtype=np.float32))
    weight[seen] = vectors / vectors.std()
    weight[pad_id] = 0.0
    return weight


def save_embedding(weight: torch.Tensor, path: str | Path, tokenizer_path: str | Path) -> None:
    """An encoder file holding the embedding alone; the GRU and LSTM start as they would without it."""
    save_encoder_state({"embedding.weight": weight}, path, tokenizer_path)
