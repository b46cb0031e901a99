"""The class count: two classes keep the IMDB head and answer, more get a softmax head and "scores".

    .venv/bin/python -m pytest tests/test_class_count.py
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from model.export import load_export
from model.network import SentimentNet, SentimentNetConfig, class_probabilities
from serving.answers import answers
from train import confusion_markdown

def make_net(num_classes: int) -> SentimentNet:
    torch.manual_seed(0)
    config = SentimentNetConfig(vocab_size=300, embedding_dim=8, gru_hidden=6, lstm_hidden=5, num_classes=num_classes)
    return SentimentNet(config).eval()


def test_export_written_before_num_classes_existed_loads_as_two_classes(tiny_export, tmp_path):
    old = tmp_path / "old_export"
    shutil.copytree(tiny_export, old)
    saved = json.loads((old / "model_config.json").read_text())
    del saved["network"]["num_classes"]  # as every export before the field existed
    (old / "model_config.json").write_text(json.dumps(saved))
    net, encoder, config = load_export(old)
    assert net.config.num_classes == 2 and net.head.out_features == 1
    texts = ["A wonderful, moving film.", "Dull, and far too long."]
    with torch.no_grad():
        logits = net(*encoder.batch(texts))
        served = answers(class_probabilities(logits), config["labels"])
    # Exactly what the handler computed before: sigmoid of the one logit, labelled at 0.5.
    before = torch.sigmoid(logits.float()).tolist()
    assert [a["score"] for a in served] == before
    assert served == [{"label": config["labels"][int(s >= 0.5)], "score": s} for s in before]


@pytest.mark.parametrize("num_classes", [3, 5])
def test_more_classes_get_a_logit_each_and_padding_still_never_matters(num_classes):
    net = make_net(num_classes)
    review = torch.randint(2, 300, (7,), generator=torch.Generator().manual_seed(1))
    batch = torch.randint(2, 300, (3, 20), generator=torch.Generator().manual_seed(2))
    batch[1, :7] = review
    with torch.no_grad():
        alone = net(review[None], torch.tensor([7]))
        in_batch = net(batch, torch.tensor([20, 7, 13]))
    assert alone.shape == (1, num_classes) and in_batch.shape == (3, num_classes)
    assert torch.allclose(alone[0], in_batch[1], atol=1e-5)
    probabilities = class_probabilities(in_batch)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(3))


def test_two_class_probabilities_are_one_minus_p_and_p():
    net = make_net(2)
    logits = torch.tensor([-2.0, 0.0, 3.0])
    probabilities = class_probabilities(logits)
    assert torch.equal(probabilities[:, 1], torch.sigmoid(logits))
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(3))


def test_confusion_matrix_names_rows_and_columns():
    table = confusion_markdown(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 2, 0]), ["bad", "okay", "good"])
    lines = table.splitlines()
    assert lines[0] == "| true \\ predicted | bad | okay | good |"
    assert lines[2:] == ["| bad | 1 | 1 | 0 |", "| okay | 0 | 1 | 0 |", "| good | 1 | 0 | 2 |"]
