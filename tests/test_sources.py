"""data/sources.py: files, folders and Hub layouts -> stratified splits, class ids, label names, bad data.

    .venv/bin/python -m pytest tests/test_sources.py
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from data.sources import SourceSpec, load_labelled_splits
from data.text_encoding import ConfigError
from tests.conftest import write_hub_dataset
from tests.own_data_files import (
    BAD_CASES,
    CLASSES_2,
    CLASSES_3,
    bad_source,
    cue_rows,
    write_csv,
    write_jsonl,
    write_parquet,
)


def texts(split) -> list[str]:
    return list(split.texts["text"])


def test_csv_with_string_labels_splits_stratified_and_seeded(tmp_path):
    rows = cue_rows(200, CLASSES_2)
    path = write_csv(tmp_path / "reviews.csv", rows, text="review", label="sentiment")
    spec = SourceSpec(str(path), text_column="review", label_column="sentiment", test_fraction=0.2, val_fraction=0.25)
    splits = load_labelled_splits(spec)
    assert splits.label_names == ["negative", "positive"]  # sorted distinct values
    assert [len(s) for _, s in splits.items()] == [120, 40, 40]
    for _, split in splits.items():
        assert Counter(split.labels.tolist()) == {0: len(split) // 2, 1: len(split) // 2}
    # Every row lands in exactly one split, with its own label.
    by_text = {r["text"]: CLASSES_2.index(r["label"]) for r in rows}
    seen = [t for _, s in splits.items() for t in texts(s)]
    assert sorted(seen) == sorted(by_text)
    for _, split in splits.items():
        assert [by_text[t] for t in texts(split)] == split.labels.tolist()
    again = load_labelled_splits(spec)
    assert texts(again.test) == texts(splits.test)
    other_seed = load_labelled_splits(SourceSpec(**{**spec.__dict__, "seed": 7}))
    assert texts(other_seed.test) != texts(splits.test)


def test_jsonl_with_three_string_classes(tmp_path):
    path = write_jsonl(tmp_path / "reviews.jsonl", cue_rows(90, CLASSES_3))
    splits = load_labelled_splits(SourceSpec(str(path)))
    assert splits.label_names == CLASSES_3
    assert set(splits.test.labels.tolist()) == {0, 1, 2}


def test_integer_labels_sort_as_numbers_and_take_display_names(tmp_path):
    rows = [{"text": f"review number {i}", "label": [2, 10, 1][i % 3]} for i in range(60)]
    path = write_jsonl(tmp_path / "stars.jsonl", rows)
    assert load_labelled_splits(SourceSpec(str(path))).label_names == ["1", "2", "10"]
    named = load_labelled_splits(SourceSpec(str(path), label_names=["one", "two", "ten"]))
    assert named.label_names == ["one", "two", "ten"]
    renamed = load_labelled_splits(SourceSpec(str(path), label_names={"10": "ten", "99": "unused"}))
    assert renamed.label_names == ["1", "2", "ten"]


def test_parquet_folder_keeps_its_own_test_split(tmp_path):
    folder = tmp_path / "parquet_folder"
    write_parquet(folder / "train.parquet", cue_rows(80, CLASSES_3, seed=1))
    test_rows = cue_rows(21, CLASSES_3, seed=2)
    write_parquet(folder / "test.parquet", test_rows)
    splits = load_labelled_splits(SourceSpec(str(folder), val_fraction=0.25))
    assert texts(splits.test) == [r["text"] for r in test_rows]
    assert splits.test.labels.tolist() == [CLASSES_3.index(r["label"]) for r in test_rows]
    assert len(splits.train) + len(splits.val) == 80
    assert len(splits.val) == pytest.approx(0.25 * 80, abs=1.5)  # a quarter of each class, rounded


def test_hub_layout_folder_uses_its_class_label_names(tmp_path):
    folder = write_hub_dataset(tmp_path / "hub", n_train=40, n_test=10)
    splits = load_labelled_splits(SourceSpec(str(folder)))
    assert splits.label_names == ["neg", "pos"]
    shown = load_labelled_splits(SourceSpec(str(folder), label_names={"neg": "negative", "pos": "positive"}))
    assert shown.label_names == ["negative", "positive"] and len(shown.test) == 10


def test_empty_texts_dropped_on_request(tmp_path):
    rows = cue_rows(40, CLASSES_2)
    rows[3]["text"], rows[17]["text"] = "   ", ""
    path = write_csv(tmp_path / "r.csv", rows)
    splits = load_labelled_splits(SourceSpec(str(path), empty_texts="drop"))
    assert sum(len(s) for _, s in splits.items()) == 38
    assert all(t.strip() for _, s in splits.items() for t in texts(s))


# -- bad data: one ConfigError naming the field, and the rows or columns -----------------------------


MESSAGES = {  # one per case of BAD_CASES
    "missing file": r"data.dataset: no such file or folder: '.*nowhere.csv'",
    "unknown extension": r"data.dataset: cannot read .xlsx files .*use one of \['.csv', '.json', '.jsonl', '.parquet', '.tsv'\]",
    "missing text column": r"data.text_column 'text' is not a column of .*; its columns are \['body', 'label'\]",
    "missing label column": r"data.label_column 'stars' is not a column of .*; its columns are \['text', 'label'\]",
    "empty texts": r"2 row\(s\) of .* have an empty or null 'text' \(rows 5, 12; .*--data.empty_texts drop",
    "null labels": r"data.label_column 'label': 1 row\(s\) of .* have no label \(rows 7;",
    "single class": r"holds a single class \('positive'\): a classifier needs at least two",
    "label unseen in training": r"split 'test' .* has label\(s\) \['neutral'\] in 3 row\(s\) \(rows 1, 4, 7; .*training has \['negative', 'positive'\]",
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_data_is_one_clear_error(tmp_path, case):
    with pytest.raises(ConfigError, match=MESSAGES[case]) as error:
        load_labelled_splits(SourceSpec(**bad_source(tmp_path, case)))
    assert "\n" not in str(error.value)


def test_label_names_of_the_wrong_length_are_refused(tmp_path):
    path = write_csv(tmp_path / "r.csv", cue_rows(30, CLASSES_3))
    with pytest.raises(ConfigError, match=r"data.label_names lists 2 names but the data has 3 classes"):
        load_labelled_splits(SourceSpec(str(path), label_names=["a", "b"]))


def test_no_python_list_of_texts_is_kept(tmp_path):
    """The splits are Arrow views: texts are read from the cache file, not held as Python strings."""
    path = write_csv(tmp_path / "r.csv", cue_rows(50, CLASSES_2))
    splits = load_labelled_splits(SourceSpec(str(path)))
    for _, split in splits.items():
        assert split.texts.cache_files and isinstance(split.labels, np.ndarray)


def test_class_label_rows_without_a_class_are_refused(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    rows = {"text": [r["text"] for r in cue_rows(20, CLASSES_2)], "label": [0, 1, -1, 1] * 5}
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(tmp_path / "r.parquet"))
    with pytest.raises(ConfigError, match=r"5 row\(s\) of .* have no class of \['neg', 'pos'\] \(rows 2, 6, 10, 14, 18;"):
        load_labelled_splits(SourceSpec(str(tmp_path / "r.parquet")))
