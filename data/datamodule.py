"""LightningDataModule for labelled reviews: a Hub id, a Hub-layout folder, or CSV / JSON Lines / Parquet files.

    dm = ReviewDataModule(dataset="reviews.csv", text_column="review", label_column="sentiment")
    dm.prepare_data(); dm.setup("fit")
    dm.class_names                              # ["negative", "positive"]
    batch = next(iter(dm.train_dataloader()))   # {"input_ids", "lengths", "labels"}

data/sources.py finds the rows, labels and splits; this module trains the tokenizer on the
training rows alone and encodes every split into an Arrow file under `cache_dir`, keyed by
everything that shapes it, so reruns and DDP ranks reuse the work. Batches are read from those
memory-mapped files as they are drawn: no split is ever held as Python objects, and under DDP
every rank maps the same files rather than loading its own copy.
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
from data.sources import (
    EmptyTexts,
    LabelledSplit,
    LabelledSplits,
    NO_LABEL,
    LabelNames,
    SourceSpec,
    check_dataset_argument,
    check_fractions,
    load_labelled_splits,
    load_unlabelled_texts,
)
from data.short_texts import short_text_split
from data.teacher_targets import TeacherTargets, load_targets
from data.text_encoding import (
    ConfigError,
    TextEncoder,
    Truncation,
    check_encoding_args,
    load_tokenizer,
    pad_batch,
    train_tokenizer,
)

ENCODE_BATCH_ROWS = 1000  # rows per tokenizer call and per Arrow record batch while encoding


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "imdb-sentiment")


class EncodedReviews(Dataset):
    """One encoded split, read from its memory-mapped Arrow file; lengths and labels are numpy arrays.
    `targets`, when given, are a teacher's class probabilities per row (distillation)."""

    def __init__(self, encoded, targets: Optional[np.ndarray] = None) -> None:
        self.encoded = encoded.with_format("arrow")
        self.lengths = encoded.data.column("length").to_numpy()
        self.labels = encoded.data.column("label").to_numpy()
        if targets is not None and len(targets) != len(self.labels):
            raise ValueError(f"{len(targets)} teacher targets for {len(self.labels)} rows")
        self.targets = targets

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple]:
        # The DataLoader calls this instead of __getitem__ per row: one Arrow gather per batch.
        rows = [(ids, int(self.labels[j])) for ids, j in zip(self.token_ids(indices), indices)]
        if self.targets is None:
            return rows
        return [row + (self.targets[j],) for row, j in zip(rows, indices)]

    def token_ids(self, indices: list[int]) -> list[np.ndarray]:
        """The encoded (truncated) token ids of these rows."""
        ids = self.encoded[list(indices)]["input_ids"].combine_chunks()
        # A copy: Arrow's buffers are read-only, and torch wants writable arrays.
        values, offsets = ids.flatten().to_numpy().copy(), ids.offsets.to_numpy() - ids.offsets[0].as_py()
        return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def collate(rows: list[tuple]) -> dict[str, torch.Tensor]:
    """Rows of (ids, label) or (ids, label, teacher probabilities) -> a padded batch;
    "teacher_probs" (B, classes) only when the rows carry them."""
    input_ids, lengths = pad_batch([row[0] for row in rows])
    batch = {"input_ids": input_ids, "lengths": lengths, "labels": torch.tensor([row[1] for row in rows], dtype=torch.long)}
    if len(rows[0]) > 2:
        batch["teacher_probs"] = torch.from_numpy(np.stack([row[2] for row in rows]))
    return batch


class ReviewDataModule(L.LightningDataModule):
    def __init__(
        self,
        dataset: str = "stanfordnlp/imdb",
        text_column: str = "text",
        label_column: str = "label",
        label_names: LabelNames = None,
        vocab_size: int = 20000,
        max_length: int = 400,
        truncation: Truncation = "head+tail",
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        empty_texts: EmptyTexts = "refuse",
        encoding: Optional[str] = None,
        delimiter: Optional[str] = None,
        max_samples: Optional[int] = None,
        seed: int = 42,
        num_workers: int = 0,
        bucket_batches: int = 50,
        cache_dir: Optional[str] = None,
        teacher_targets: Optional[str] = None,
        short_texts: bool = True,
    ) -> None:
        """
        Args:
            dataset: a Hub id, a folder (Hub layout, or .csv/.jsonl/.json/.parquet files), or one such file.
            text_column: the column holding the review text.
            label_column: the column holding the label: integers, strings or a ClassLabel.
            label_names: display names: a list, one per class in class order, or a mapping that
                renames some classes, e.g. {neg: negative, pos: positive}; unnamed classes keep their own.
            vocab_size: tokenizer vocabulary, two special tokens included.
            max_length: tokens kept per review.
            truncation: which tokens of a longer review to keep: head, tail or head+tail.
            batch_size: reviews per batch (per device under DDP).
            val_fraction: share of the training rows held out, stratified by label, for validation
                (unless the dataset has a `validation` split). 0: every training row trains and
                nothing validates; fit keeps, tests and exports the last epoch.
            test_fraction: share of the rows held out, stratified by label, for testing when the
                dataset has no `test` split (a single file, say).
            empty_texts: a row whose text is empty, only whitespace or null: `refuse` stops with the
                row numbers, `drop` leaves those rows out.
            encoding: of .csv / .tsv files, e.g. cp1252 or latin-1; null: UTF-8, with or without a byte-order mark.
            delimiter: of .csv / .tsv files, one character (\\t: a tab); null: a comma (a .csv whose header
                is one column holding ';', a tab or '|' is sniffed), a tab for .tsv.
            max_samples: use N rows of each given split, drawn with `seed`, for quick runs
                (IMDB is sorted by label, so the literal first N rows would hold one class).
            seed: seeds the splits and `max_samples`.
            num_workers: DataLoader worker processes.
            bucket_batches: batches per length bucket; larger buckets pad less, shuffle less.
            cache_dir: where the tokenizer and encoded splits are cached (default ~/.cache/imdb-sentiment).
            teacher_targets: a targets file written by teach.py (or its run folder): every training
                batch carries the teacher's class probabilities ("teacher_probs") for distillation
                (model.distillation_weight), and the rows of the unlabelled split it scored (IMDB's
                `unsupervised`) join the training rows with those probabilities as their only target,
                as do the short texts it scored (teach.py's `short_texts`), if any. The file must
                score exactly this data's training rows (same dataset, val_fraction, seed,
                max_samples): it is checked. Nothing is fitted here.
            short_texts: validate on short texts too: the first and the last sentence of each
                validation review, labelled by their review (data/short_texts.py), as a second
                validation loader (`val_short/*` metrics). Needs validation rows.
        """
        super().__init__()
        check_encoding_args(vocab_size, max_length, truncation)
        check_fractions(test_fraction, val_fraction)
        if batch_size <= 0:
            raise ConfigError(f"data.batch_size must be a positive integer, got {batch_size!r}")
        if max_samples is not None and max_samples < 4:
            raise ConfigError(f"data.max_samples must be >= 4 or null, got {max_samples!r}")
        if bucket_batches <= 0:
            raise ConfigError(f"data.bucket_batches must be a positive integer, got {bucket_batches!r}")
        if empty_texts not in ("refuse", "drop"):
            raise ConfigError(f"data.empty_texts must be 'refuse' or 'drop', got {empty_texts!r}")
        self.save_hyperparameters()
        self.source = SourceSpec(
            dataset=check_dataset_argument(dataset), text_column=text_column, label_column=label_column,
            label_names=label_names, test_fraction=test_fraction, val_fraction=val_fraction,
            empty_texts=empty_texts, max_samples=max_samples, seed=seed, encoding=encoding, delimiter=delimiter,
        )
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.truncation = truncation
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.bucket_batches = bucket_batches
        self.teacher_targets = teacher_targets
        self.short_texts = short_texts
        self._targets: Optional[TeacherTargets] = None
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.splits: dict[str, EncodedReviews] = {}
        self._labelled: Optional[LabelledSplits] = None
        self._class_names: Optional[list[str]] = None

    # -- what the model needs to know before any training ------------------------------------

    @property
    def class_names(self) -> list[str]:
        """Display name of each class, in the order of the network's outputs (reads the labels on first use)."""
        if self._class_names is None:
            self._labelled_splits()
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_validation(self) -> bool:
        """Whether `setup("fit")` found validation rows (`data.val_fraction 0` leaves none)."""
        return len(self.splits.get("val", ())) > 0

    # -- one-time work (rank 0) ------------------------------------------------------------

    def prepare_data(self) -> None:
        """Train the tokenizer on the training rows and encode every split into the cache.
        Encoding the test split here is caching only: fit never reads it."""
        labelled = self._labelled_splits()
        tokenizer_path = self._tokenizer(labelled.train)
        for name, split in labelled.items():
            self._encode(name, split, tokenizer_path)
        if self.short_texts and len(labelled.val):
            self._encode("val_short", short_text_split(labelled.val), tokenizer_path)
        targets = self._read_targets()
        if targets is not None and targets.unlabelled_split:
            self._encode_unlabelled(targets.unlabelled_split, tokenizer_path)
        if targets is not None and targets.short_texts:
            self._encode_short_texts(targets, tokenizer_path)

    def setup(self, stage: Optional[str] = None) -> None:
        # fit/validate read train and val only; the test split is read by test (and predict) alone.
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}.get(
            stage or "", ("train", "val", "test")
        )
        wanted = [name for name in wanted if name not in self.splits]
        if not wanted:
            return
        labelled = self._labelled_splits()
        if stage == "validate" and not len(labelled.val):
            raise ConfigError("validate needs validation rows, but data.val_fraction is 0 and the dataset has no validation split")
        self.tokenizer_path = self._tokenizer(labelled.train)
        for name in wanted:
            split = getattr(labelled, name)
            encoded = self._encode(name, split, self.tokenizer_path)
            teacher = self._read_targets() if name == "train" else None
            targets = None
            if teacher is not None:
                import datasets

                targets = teacher.check_rows("train", split.texts, split.labels)
                if teacher.unlabelled_split:
                    texts, extra = self._encode_unlabelled(teacher.unlabelled_split, self.tokenizer_path)
                    encoded = datasets.concatenate_datasets([encoded, extra])
                    targets = np.concatenate([targets, teacher.check_rows("unlabelled", texts)])
                if teacher.short_texts:
                    encoded = datasets.concatenate_datasets([encoded, self._encode_short_texts(teacher, self.tokenizer_path)])
                    targets = np.concatenate([targets, teacher.short_text_targets])
            self.splits[name] = EncodedReviews(encoded, targets)
            if name == "val" and self.short_texts and len(split):
                self.splits["val_short"] = EncodedReviews(self._encode("val_short", short_text_split(split), self.tokenizer_path))
        # The raw text views are not needed once encoded: drop them so their file mapping goes too.
        self._labelled = None

    # -- loaders -------------------------------------------------------------------------

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        # No validation rows (data.val_fraction 0): an empty list tells Lightning to skip validation.
        if not self.has_validation:
            return []
        if "val_short" in self.splits:  # dataloader_idx 1: the short texts (model/lit_module.py logs val_short/*)
            return [self._loader("val", shuffle=False), self._loader("val_short", shuffle=False)]
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

    def _labelled_splits(self) -> LabelledSplits:
        if self._labelled is None:
            self._labelled = load_labelled_splits(self.source)
            if self._class_names is None:
                self._class_names = self._labelled.label_names
                counts = np.bincount(self._labelled.train.labels, minlength=len(self._class_names))
                print("data: classes (training rows): " + ", ".join(
                    f"{name} ({int(n):,})" for name, n in zip(self._class_names, counts)), flush=True)
        return self._labelled

    def _read_targets(self) -> Optional[TeacherTargets]:
        """The teacher's targets file (data.teacher_targets), read once; its class count must be this data's."""
        if self.teacher_targets is None:
            return None
        if self._targets is None:
            targets = load_targets(self.teacher_targets)
            if targets.train.shape[1] != self.num_classes:  # class ids; display names may be renamed (data.label_names)
                raise ConfigError(
                    f"data.teacher_targets: {targets.source} is for {targets.train.shape[1]} classes "
                    f"{targets.class_names}, this data has {self.num_classes} {self.class_names}"
                )
            self._targets = targets
        return self._targets

    def _encode_unlabelled(self, split_name: str, tokenizer_path: Path):
        """(texts, encoded rows) of a split without labels; each row's label is NO_LABEL (-1)."""
        texts = load_unlabelled_texts(self.source, split_name)
        split = LabelledSplit(texts, np.full(len(texts), NO_LABEL, dtype=np.int64))
        return texts, self._encode("unlabelled", split, tokenizer_path)

    def _encode_short_texts(self, targets: TeacherTargets, tokenizer_path: Path):
        """The teacher's short texts (sentences it scored as texts of their own), as rows without labels."""
        import datasets

        texts = datasets.Dataset.from_dict({"text": targets.short_texts})
        split = LabelledSplit(texts, np.full(len(texts), NO_LABEL, dtype=np.int64))
        return self._encode("short_train", split, tokenizer_path)

    def _tokenizer(self, train: LabelledSplit) -> Path:
        path = self.cache_dir / "tokenizers" / f"tokenizer-{_digest(train.texts._fingerprint, self.vocab_size)}.json"
        if not path.exists():
            tokenizer = train_tokenizer(_texts(train), self.vocab_size)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            tokenizer.save(str(partial))
            os.replace(partial, path)  # atomic: a killed run never leaves half a tokenizer
        return path

    def _encode(self, name: str, split: LabelledSplit, tokenizer_path: Path):
        import datasets

        encoder = TextEncoder(load_tokenizer(str(tokenizer_path)), self.max_length, self.truncation)
        key = _digest(
            split.texts._fingerprint, hashlib.sha256(split.labels.tobytes()).hexdigest(), tokenizer_path.read_text(),
            self.max_length, self.truncation,
        )
        cache_file = self.cache_dir / "encoded" / f"{name}-{key}.arrow"
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        labels = split.labels
        features = datasets.Features(
            {"input_ids": datasets.List(datasets.Value("int32")), "length": datasets.Value("int32"),
             "label": datasets.Value("int64")}
        )

        def encode(batch, indices):
            ids = encoder.encode_ids(batch["text"])
            return {"input_ids": ids, "length": [len(x) for x in ids], "label": labels[indices]}

        if not len(split):  # map() on no rows would drop the columns (data.val_fraction 0: no validation rows)
            return datasets.Dataset.from_dict({name: [] for name in features}, features=features)
        return split.texts.map(
            encode, batched=True, batch_size=ENCODE_BATCH_ROWS, with_indices=True, remove_columns=["text"],
            features=features, cache_file_name=str(cache_file), load_from_cache_file=True,
            writer_batch_size=ENCODE_BATCH_ROWS, desc=f"encoding {name}",
        )


def _texts(split: LabelledSplit):
    """The split's texts one at a time, read in Arrow batches (the tokenizer trainer only counts words)."""
    for batch in split.texts.iter(batch_size=ENCODE_BATCH_ROWS):
        yield from batch["text"]


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]
