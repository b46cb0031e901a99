"""A short-text validation set: single sentences cut from the validation reviews, labelled by their review.

    short = short_text_split(splits.val)      # LabelledSplit: the first and the last sentence of each review
    first_and_last_sentences("Great cast. Dull plot. I loved it!")   # ["Great cast.", "I loved it!"]
    drawn = drawn_sentences(unlabelled_texts, count=50_000, seed=42)  # one sentence each from 50,000 reviews

Served requests are often a sentence, not a 230-word review; this measures that. A review's first
and last sentences are where reviewers tend to state their verdict, but not always: a sentence
can be neutral ("I saw this at a festival.") or contrary to its review ("The first half is
dreadful." in a positive one), so the labels are noisy by construction (docs/experiments.md,
"Short texts", states how noisy). Sentences end at `.`, `!` or `?` followed by a space; `<br />`
breaks are spaces. A review of one sentence gives one row. Only validation rows are cut: the test
split stays read by `test` alone.

`drawn_sentences` is the training side (teach.py's `short_texts`): one sentence drawn from each of
some unlabelled reviews, which the teacher scores as a text of its own, so the student learns
what a sentence alone says rather than its review's label.
"""

from __future__ import annotations

import re

import numpy as np

from data.sources import LabelledSplit

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"\w")


def sentences_of(text: str) -> list[str]:
    """The text's sentences, those without a word skipped."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(_BREAK.sub(" ", text))) if _WORD.search(s)]


def first_and_last_sentences(text: str) -> list[str]:
    """The review's first sentence and, if it has more than one, its last."""
    sentences = sentences_of(text)
    return sentences[:1] if len(sentences) <= 1 else [sentences[0], sentences[-1]]


def drawn_sentences(texts: list[str], count: int, seed: int) -> list[str]:
    """One sentence drawn at random from each of `count` reviews drawn from `texts` (seeded; reviews
    without a sentence are skipped, so a few fewer may come back)."""
    if count < 0:
        raise ValueError(f"short_texts must be >= 0, got {count}")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(texts))[: min(count, len(texts))]
    drawn = []
    for index in sorted(chosen):
        sentences = sentences_of(texts[index])
        if sentences:
            drawn.append(sentences[int(rng.integers(len(sentences)))])
    return drawn


def _cut(batch, indices):
    texts, rows = [], []
    for text, index in zip(batch["text"], indices):
        sentences = first_and_last_sentences(text)
        texts += sentences
        rows += [index] * len(sentences)
    return {"text": texts, "review": rows}


def short_text_split(val: LabelledSplit) -> LabelledSplit:
    """(sentences, their reviews' labels). The sentences are a `datasets` map of the validation rows, so
    they are cached and fingerprinted like the rows they come from."""
    cut = val.texts.map(_cut, batched=True, with_indices=True, remove_columns=val.texts.column_names,
                        desc="cutting short texts")
    review = np.asarray(cut["review"], dtype=np.int64)
    return LabelledSplit(cut.select_columns(["text"]), np.asarray(val.labels)[review])
