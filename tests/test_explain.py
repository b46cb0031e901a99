"""serving/explain.py: attributions that point at the sentiment words, in the shape the handler returns.

    .venv/bin/python -m pytest tests/test_explain.py

The sign/ranking test runs on a small network trained here until it has learnt conftest's
cue words (POSITIVE/NEGATIVE), and on the real model_store/artifacts once the lead has
committed them.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import torch

from tests.conftest import make_review
from data.text_encoding import TextEncoder, train_tokenizer
from model.export import load_export
from model.network import SentimentNet, SentimentNetConfig
from serving.explain import attribute, explain_texts

LABELS = ["negative", "positive"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "model_store" / "artifacts"
POSITIVE_REVIEW, POSITIVE_CUES = "A wonderful, moving film", {"wonderful", "moving"}
NEGATIVE_REVIEW, NEGATIVE_CUES = "A dull, awful waste of time", {"dull", "awful", "waste"}


def artifacts_committed() -> bool:
    """The lead's trained export, once in git (a copy of a dev export lying there would fail the ranking test)."""
    listed = subprocess.run(["git", "ls-files", str(ARTIFACTS / "network.pt")], cwd=ARTIFACTS.parents[1], capture_output=True, text=True)
    return listed.returncode == 0 and bool(listed.stdout.strip())


models = [pytest.param("cue_model", id="cue_model")]
if artifacts_committed():
    models.append(pytest.param("artifacts", id="artifacts"))


@pytest.fixture(scope="module")
def cue_model() -> tuple[SentimentNet, TextEncoder]:
    """A few seconds of plain-torch training on synthetic reviews, until it is sure of them all.

    conftest's tiny_export stops after 4 short epochs at chance level, which is right for
    testing training plumbing but cannot show that attributions find the right words.
    """
    rng, labels = random.Random(0), [i % 2 for i in range(256)]
    torch.manual_seed(0)
    texts = [make_review(rng, label) for label in labels]
    tokenizer = train_tokenizer(texts, vocab_size=100)
    encoder = TextEncoder(tokenizer, max_length=40, truncation="head+tail")
    net = SentimentNet(SentimentNetConfig(tokenizer.get_vocab_size(), embedding_dim=16, gru_hidden=8, lstm_hidden=8, dropout=0.0))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    targets = torch.tensor(labels, dtype=torch.float)
    input_ids, lengths = encoder.batch(texts)
    for _ in range(12):
        for batch in torch.randperm(len(texts)).split(32):
            # Words the synthetic data lacks ("of", ",") read as [UNK]: teach it to mean nothing.
            ids = input_ids[batch].masked_fill(torch.rand(input_ids[batch].shape) < 0.1, encoder.unk_id)
            logits = net(ids, lengths[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        probability = net.predict_proba(input_ids, lengths)
        accuracy = ((probability > 0.5).float() == targets).float().mean()
        # Stop on a clear margin, not mere accuracy: a barely-separating net spreads attribution noise.
        if (probability - targets).abs().max() < 0.1:
            break
    assert accuracy > 0.98, f"the cue model did not learn its synthetic reviews: accuracy {float(accuracy):.3f}"
    return net.eval(), encoder


@pytest.fixture(params=models)
def loaded(request):
    if request.param == "cue_model":
        return request.getfixturevalue("cue_model")
    net, encoder, _ = load_export(ARTIFACTS)
    return net, encoder


def ranked(result: dict) -> list[tuple[str, float]]:
    return sorted(((t["token"], t["attribution"]) for t in result["tokens"]), key=lambda pair: pair[1])


def test_sentiment_words_carry_the_largest_attributions_of_the_right_sign(loaded):
    net, encoder = loaded
    positive, negative = explain_texts(net, encoder, [POSITIVE_REVIEW, NEGATIVE_REVIEW], LABELS)

    assert positive["label"] == "positive" and positive["score"] > 0.5
    assert negative["label"] == "negative" and negative["score"] < 0.5
    top_token, top_value = ranked(positive)[-1]
    assert top_token in POSITIVE_CUES and top_value > 0, ranked(positive)
    bottom_token, bottom_value = ranked(negative)[0]
    assert bottom_token in NEGATIVE_CUES and bottom_value < 0, ranked(negative)
    for token, value in ranked(positive):
        if token in POSITIVE_CUES:
            assert value > 0, ranked(positive)
    strongest_negative = [token for token, _ in ranked(negative)[:2]]
    assert set(strongest_negative) <= NEGATIVE_CUES, ranked(negative)


def test_tokens_point_back_into_the_original_text(cue_model):
    net, encoder = cue_model
    text = "The film was<br />WONDERFUL and  moving!"
    (result,) = explain_texts(net, encoder, [text], LABELS)
    assert set(result) == {"label", "score", "tokens"}
    assert [t["token"] for t in result["tokens"]] == encoder.encode_tokens(text)[1]
    for token in result["tokens"]:
        assert isinstance(token["attribution"], float)
        if token["token"] != "[UNK]":
            assert text[token["start"] : token["end"]].lower() == token["token"]


def test_attributions_add_up_to_the_logit_change(loaded):
    net, encoder = loaded
    texts = [POSITIVE_REVIEW, NEGATIVE_REVIEW, "The plot was boring but the actor was brilliant."]
    # More steps than serving uses: this checks the method converges; the toy cue model's weights
    # are far sharper than the real model's, on which N_STEPS already keeps deltas near 1e-2.
    attributions, logits, deltas = attribute(net, encoder, texts, n_steps=48)
    assert attributions.shape[0] == len(texts)
    assert (deltas.abs() < 0.05 * logits.abs().clamp(min=1.0)).all(), (logits, deltas)


def test_a_review_explains_the_same_alone_or_in_a_batch(cue_model):
    net, encoder = cue_model
    long_review = " ".join(["a boring plot and a brilliant actor"] * 12)
    alone = explain_texts(net, encoder, [POSITIVE_REVIEW], LABELS)[0]
    batched = explain_texts(net, encoder, [long_review, POSITIVE_REVIEW], LABELS)[1]
    assert batched["score"] == pytest.approx(alone["score"], abs=1e-5)
    for a, b in zip(alone["tokens"], batched["tokens"], strict=True):
        assert a["token"] == b["token"] and b["attribution"] == pytest.approx(a["attribution"], abs=1e-4)


def test_truncated_reviews_list_only_the_tokens_the_model_saw(cue_model):
    net, encoder = cue_model
    text = " ".join(f"great{i % 7}" for i in range(encoder.max_length * 3))
    (result,) = explain_texts(net, encoder, [text], LABELS)
    assert len(result["tokens"]) == encoder.max_length


def test_works_inside_inference_mode_and_leaves_the_network_as_it_was(cue_model):
    net, encoder = cue_model
    net.zero_grad(set_to_none=True)
    net.train()
    try:
        with torch.inference_mode():
            (result,) = explain_texts(net, encoder, [POSITIVE_REVIEW], LABELS)
        assert net.training and result["label"] == "positive"
    finally:
        net.eval()
    assert all(p.grad is None for p in net.parameters())
    assert explain_texts(net, encoder, [], LABELS) == []
