"""LightningDataModule for IMDB reviews (or any Hub-layout dataset with `text` and `label`).

    dm = IMDBDataModule(dataset="../shared/imdb", vocab_size=20000, max_length=400)
    dm.prepare_data(); dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))   # {"input_ids", "lengths", "labels"}

`dataset` is a Hub id (default `stanfordnlp/imdb`) or a local folder in the Hub's
layout. A seeded, stratified validation split is carved from `train`; `test` is
only read by `test`. The tokenizer is trained on the training rows alone and,
like the encoded splits, cached under `cache_dir` keyed by everything that
shapes it, so reruns and DDP ranks reuse the work.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

from data.sampling import BucketBatchSampler
from data.text_encoding import ConfigError, Truncation, TextEncoder, check_encoding_args, load_tokenizer, pad_batch, train_tokenizer


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "imdb-sentiment")


def _looks_local(name: str) -> bool:
    # A Hub id is "name" or "owner/name"; anything else is meant as a folder.
    return os.path.exists(name) or name.startswith((".", "/", "~")) or name.count("/") > 1


class EncodedReviews(Dataset):
    def __init__(self, ids: list[np.ndarray], labels: np.ndarray) -> None:
        self.ids = ids
        self.labels = labels
        self.lengths = [len(x) for x in ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.ids[index], int(self.labels[index])


def collate(rows: list[tuple[np.ndarray, int]]) -> dict[str, torch.Tensor]:
    input_ids, lengths = pad_batch([ids for ids, _ in rows])
    return {"input_ids": input_ids, "lengths": lengths, "labels": torch.tensor([y for _, y in rows], dtype=torch.float32)}


class IMDBDataModule(L.LightningDataModule):
    def __init__(
        self,
        dataset: str = "stanfordnlp/imdb",
        vocab_size: int = 20000,
        max_length: int = 400,
        truncation: Truncation = "head+tail",
        batch_size: int = 64,
        val_fraction: float = 0.1,
        max_samples: Optional[int] = None,
        seed: int = 42,
        num_workers: int = 0,
        bucket_batches: int = 50,
        cache_dir: Optional[str] = None,
    ) -> None:
        """
        Args:
            dataset: Hub id or local folder in the Hub layout (e.g. ../shared/imdb).
            vocab_size: tokenizer vocabulary, two special tokens included.
            max_length: tokens kept per review.
            truncation: which tokens of a longer review to keep: head, tail or head+tail.
            batch_size: reviews per batch (per device under DDP).
            val_fraction: share of `train` held out, stratified by label, for validation.
            max_samples: use N rows of each split, drawn with `seed`, for quick runs
                (IMDB is sorted by label, so the literal first N rows would hold one class).
            seed: seeds the validation split and `max_samples`.
            num_workers: DataLoader worker processes.
            bucket_batches: batches per length bucket; larger buckets pad less, shuffle less.
            cache_dir: where the tokenizer and encoded splits are cached (default ~/.cache/imdb-sentiment).
        """
        super().__init__()
        check_encoding_args(vocab_size, max_length, truncation)
        if _looks_local(dataset) and not os.path.isdir(os.path.expanduser(dataset)):
            raise ConfigError(f"data.dataset: no such dataset folder: {dataset!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in (0, 1), got {val_fraction!r}")
        if batch_size <= 0:
            raise ConfigError(f"data.batch_size must be a positive integer, got {batch_size!r}")
        if max_samples is not None and max_samples < 4:
            raise ConfigError(f"data.max_samples must be >= 4 or null, got {max_samples!r}")
        if bucket_batches <= 0:
            raise ConfigError(f"data.bucket_batches must be a positive integer, got {bucket_batches!r}")
        self.save_hyperparameters()
        self.dataset = os.path.expanduser(dataset) if _looks_local(dataset) else dataset
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.truncation = truncation
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.max_samples = max_samples
        self.seed = seed
        self.num_workers = num_workers
        self.bucket_batches = bucket_batches
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.splits: dict[str, EncodedReviews] = {}

    # -- one-time work (rank 0) ------------------------------------------------------------

    def prepare_data(self) -> None:
        """Train the tokenizer on the training rows and encode every split into the cache.
        Encoding the test split here is caching only: fit never reads it."""
        raw = self._load_splits()
        tokenizer_path = self._tokenizer_cache_path(raw["train"])
        if not tokenizer_path.exists():
            tokenizer = train_tokenizer(raw["train"]["text"], self.vocab_size)
            tokenizer_path.parent.mkdir(parents=True, exist_ok=True)
            partial = tokenizer_path.with_suffix(f".{os.getpid()}.tmp")
            tokenizer.save(str(partial))
            os.replace(partial, tokenizer_path)  # atomic: a killed run never leaves half a tokenizer
        for name, split in raw.items():
            self._encode(name, split, tokenizer_path)

    def setup(self, stage: Optional[str] = None) -> None:
        # fit/validate read train and val only; the test split is read by test (and predict) alone.
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}.get(
            stage or "", ("train", "val", "test")
        )
        wanted = [name for name in wanted if name not in self.splits]
        if not wanted:
            return
        raw = self._load_splits()
        self.tokenizer_path = self._tokenizer_cache_path(raw["train"])
        for name in wanted:
            encoded = self._encode(name, raw[name], self.tokenizer_path)
            ids = [np.asarray(x, dtype=np.int64) for x in encoded["input_ids"]]
            self.splits[name] = EncodedReviews(ids, np.asarray(encoded["label"], dtype=np.int64))

    # -- loaders -------------------------------------------------------------------------

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        data = self.splits[name]
        sampler = RandomSampler(data) if shuffle else SequentialSampler(data)
        batches = BucketBatchSampler(
            sampler, self.batch_size, drop_last=False, lengths=data.lengths,
            bucket_batches=self.bucket_batches, shuffle=shuffle,
        )
        return DataLoader(
            data, batch_sampler=batches, collate_fn=collate, num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    # -- helpers -------------------------------------------------------------------------

    def preprocessing_config(self) -> dict:
        """What serving needs to encode text exactly as training did."""
        return {"max_length": self.max_length, "truncation": self.truncation}

    def _load_splits(self):
        import datasets  # heavy; only the data module needs it

        datasets.disable_progress_bars()
        try:
            loaded = datasets.load_dataset(self.dataset)
        except (FileNotFoundError, ConnectionError, OSError, ValueError) as error:
            raise ConfigError(f"data.dataset: cannot load {self.dataset!r}: {error}") from error
        missing_splits = {"train", "test"} - set(loaded)
        if missing_splits:
            raise ConfigError(f"data.dataset {self.dataset!r} lacks split(s) {sorted(missing_splits)}; found {sorted(loaded)}")
        for split in ("train", "test"):
            columns = set(loaded[split].column_names)
            if not {"text", "label"} <= columns:
                raise ConfigError(
                    f"data.dataset {self.dataset!r}: split {split!r} needs columns 'text' and 'label', has {sorted(columns)}"
                )
        train, test = loaded["train"], loaded["test"]
        if not isinstance(train.features["label"], datasets.ClassLabel):
            names = datasets.ClassLabel(names=["neg", "pos"])
            train, test = train.cast_column("label", names), test.cast_column("label", names)
        if self.max_samples:
            train = self._sample(train, self.max_samples)
            test = self._sample(test, self.max_samples)
        try:
            parts = train.train_test_split(test_size=self.val_fraction, seed=self.seed, stratify_by_column="label")
        except ValueError as error:
            raise ConfigError(f"data.val_fraction={self.val_fraction} cannot split {len(train)} rows: {error}") from error
        return {"train": parts["train"], "val": parts["test"], "test": test}

    def _sample(self, split, n: int):
        return split.shuffle(seed=self.seed).select(range(min(n, len(split)))).flatten_indices()

    def _tokenizer_cache_path(self, train_split) -> Path:
        key = _digest(train_split._fingerprint, self.vocab_size)
        return self.cache_dir / "tokenizers" / f"tokenizer-{key}.json"

    def _encode(self, name: str, split, tokenizer_path: Path):
        encoder = TextEncoder(load_tokenizer(str(tokenizer_path)), self.max_length, self.truncation)
        key = _digest(split._fingerprint, tokenizer_path.read_text(), self.max_length, self.truncation)
        cache_file = self.cache_dir / "encoded" / f"{name}-{key}.arrow"
        cache_file.parent.mkdir(parents=True, exist_ok=True)

        def encode(batch):
            return {"input_ids": encoder.encode_ids(batch["text"])}

        return split.map(
            encode, batched=True, batch_size=1000, remove_columns=["text"],
            cache_file_name=str(cache_file), load_from_cache_file=True, desc=f"encoding {name}",
        )


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]
