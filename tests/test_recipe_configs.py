"""The recipe configs agree with what ships: the semi-supervised stages train the served network's shape.

    pytest tests/test_recipe_configs.py

config/default.yaml is the labelled-only recipe and may be wider than the served network; the
semi-supervised stage configs, layered on it, must train the network in model_store/artifacts/.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHAPE_KEYS = ("embedding_dim", "gru_hidden", "lstm_hidden", "bidirectional", "pooling")


def model_section(*configs: str) -> dict:
    """The `model` keys of configs layered in order, later files winning, as `--config a --config b` does."""
    merged: dict = {}
    for name in configs:
        merged.update(yaml.safe_load((ROOT / "config" / name).read_text()).get("model") or {})
    return merged


def test_stage_two_trains_the_shipped_network_shape():
    shipped = json.loads((ROOT / "model_store" / "artifacts" / "model_config.json").read_text())["network"]
    stage2 = model_section("default.yaml", "semi_supervised/stage2.yaml")
    assert {key: stage2[key] for key in SHAPE_KEYS} == {key: shipped[key] for key in SHAPE_KEYS}


def test_stage_one_teacher_has_the_width_its_results_were_measured_at():
    stage1 = model_section("default.yaml", "semi_supervised/stage1.yaml")
    stage2 = model_section("default.yaml", "semi_supervised/stage2.yaml")
    assert (stage1["gru_hidden"], stage1["lstm_hidden"]) == (stage2["gru_hidden"], stage2["lstm_hidden"])


def test_word_vectors_fit_the_stage_two_embedding_and_tokenizer():
    """pretrain_word_vectors.py's config is read by no CLI that links it to the classifier's, so the sizes
    and the settings that shape the tokenizer and the encoded reviews are checked here, before a stage
    is spent on them."""
    vectors = yaml.safe_load((ROOT / "config" / "semi_supervised" / "word_vectors.yaml").read_text())
    stage2 = model_section("default.yaml", "semi_supervised/stage2.yaml")
    assert vectors["word2vec"]["vector_size"] == stage2["embedding_dim"]
    classifier = yaml.safe_load((ROOT / "config" / "default.yaml").read_text())["data"]
    tokenizer_keys = ("dataset", "vocab_size", "max_length", "truncation", "val_fraction", "seed")
    assert {key: vectors["data"][key] for key in tokenizer_keys} == {key: classifier[key] for key in tokenizer_keys}
