"""ReviewDataModule: splits, caching, length-aware batching from Arrow, bad data."""

from collections import Counter

import pytest
import torch

from paths import DEFAULT_DATASET
from tests.conftest import write_hub_dataset
from data.datamodule import ReviewDataModule
from data.sampling import BucketBatchSampler
from data.text_encoding import ConfigError, PAD_ID


def make_dm(dataset, tmp_path, **overrides):
    args = dict(dataset=str(dataset), vocab_size=200, max_length=32, batch_size=8, cache_dir=str(tmp_path / "cache"))
    return ReviewDataModule(**{**args, **overrides})


def all_ids(split) -> list[list[int]]:
    return [ids.tolist() for ids, _ in split.__getitems__(list(range(len(split))))]


def test_validation_split_is_stratified_and_seeded(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path, val_fraction=0.25)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.splits["train"]) == 180 and len(dm.splits["val"]) == 60
    assert Counter(dm.splits["val"].labels.tolist()) == {0: 30, 1: 30}
    again = make_dm(tiny_imdb, tmp_path, val_fraction=0.25)
    again.prepare_data()
    again.setup("fit")
    assert all_ids(again.splits["val"]) == all_ids(dm.splits["val"])


def test_fit_never_reads_the_test_split(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    assert set(dm.splits) == {"train", "val", "val_short"}  # val_short: sentences cut from the validation rows
    dm.setup("test")
    assert len(dm.splits["test"]) == 80


def test_tokenizer_and_encodings_are_cached(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert any(name.startswith("tokenizer-") for name in cached)
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    make_dm(tiny_imdb, tmp_path).prepare_data()  # a second run reuses every file untouched
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_batches_are_padded_to_their_own_longest_review(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path, max_length=1000)
    dm.prepare_data()
    dm.setup("fit")
    seen = 0
    for batch in dm.train_dataloader():
        lengths = batch["lengths"]
        assert batch["input_ids"].shape[1] == int(lengths.max())
        mask = torch.arange(batch["input_ids"].shape[1])[None, :] >= lengths[:, None]
        assert (batch["input_ids"][mask] == PAD_ID).all()
        seen += len(lengths)
    assert seen == len(dm.splits["train"])


def test_max_length_truncates(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path, max_length=6)
    dm.prepare_data()
    dm.setup("fit")
    assert max(dm.splits["train"].lengths) == 6


def test_max_samples_keeps_both_classes(tiny_imdb, tmp_path):
    dm = make_dm(tiny_imdb, tmp_path, max_samples=40, val_fraction=0.25)
    dm.prepare_data()
    dm.setup(None)
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 40 and len(dm.splits["test"]) == 40
    assert set(dm.splits["val"].labels.tolist()) == {0, 1}


def test_bucket_sampler_groups_lengths_and_covers_every_row_once():
    lengths = [int(x) for x in torch.randint(1, 500, (1000,), generator=torch.Generator().manual_seed(0))]
    sampler = BucketBatchSampler(range(1000), batch_size=10, lengths=lengths, bucket_batches=20, shuffle=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 100
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 25  # random batches of 10 would spread over ~400


def test_bucket_sampler_drop_last_counts_exactly():
    sampler = BucketBatchSampler(range(95), batch_size=10, drop_last=True, lengths=[1] * 95, bucket_batches=3)
    assert len(list(sampler)) == len(sampler) == 9


def test_dataset_without_text_or_label_is_refused(tmp_path):
    folder = write_hub_dataset(tmp_path / "wrong", n_train=20, n_test=10, columns=("review", "sentiment"))
    dm = make_dm(folder, tmp_path)
    with pytest.raises(ConfigError, match=r"data.text_column 'text' is not a column of .*'review', 'sentiment'"):
        dm.prepare_data()


def test_missing_dataset_folder_is_refused_at_construction(tmp_path):
    with pytest.raises(ConfigError, match="data.dataset"):
        make_dm(tmp_path / "no-such-folder", tmp_path)


@pytest.mark.slow
@pytest.mark.requires_imdb
def test_real_imdb_sample_loads(tmp_path):
    dm = make_dm(DEFAULT_DATASET, tmp_path, max_samples=300, vocab_size=5000, max_length=200)
    dm.prepare_data()
    dm.setup(None)
    assert len(dm.splits["test"]) == 300
    assert set(dm.splits["train"].labels.tolist()) == {0, 1}
    assert max(max(ids) for ids in all_ids(dm.splits["train"])) < 5000
