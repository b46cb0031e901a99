"""Labelled reviews from wherever they live: one loader, three splits, class ids and label names.

    from data.sources import SourceSpec, load_labelled_splits
    splits = load_labelled_splits(SourceSpec("reviews.csv", text_column="review", label_column="sentiment"))
    splits.train.texts        # datasets.Dataset, one column "text", memory-mapped Arrow
    splits.train.labels       # numpy int64 class id per row
    splits.label_names        # ["negative", "positive"]

`SourceSpec.dataset` is one of
- a data file, `.csv`, `.tsv`, `.jsonl`/`.json` or `.parquet`, read by `datasets`' own builders and
  split into train / val / test, stratified by label and seeded;
- a folder of such files or in the Hub layout, loaded as `datasets.load_dataset(folder)`: its
  `test` split (and `validation`, if any) is kept, otherwise `test` is carved from `train` as above;
- a Hub id such as `stanfordnlp/imdb`, handled like a folder.

Texts are never copied into Python lists: the splits are index views on the Arrow cache
`datasets` keeps, and only the label column and a per-row "blank text" flag are held as
numpy arrays (a few bytes per row), so a million-row file costs megabytes here.

CSV and TSV files are UTF-8 (with or without a byte-order mark) unless `encoding` names another,
comma- or (.tsv) tab-separated unless `delimiter` names another; a .csv whose header reads as one
column holding ';', a tab or '|' is sniffed (data/delimited_files.py). A file that does not decode,
or has a header and no rows, is refused naming the file (and, for the former, the encoding it
looks like and the flag that reads it).

Label names come from a `ClassLabel` feature, else from the sorted distinct values of the
training labels (numbers sorted as numbers). `label_names` renames them for display: a list
gives every name in class order, a mapping renames the classes it names and leaves the rest.
Every problem with the data raises ConfigError with one line naming the field and the rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Optional, Sequence, Union

import numpy as np

from data.delimited_files import (
    check_delimiter, check_encoding, decoding_error, delimiter_hint, delimiter_of, header_hint,
)
from data.text_encoding import ConfigError

# File extension -> the `datasets` builder that reads it.
BUILDERS = {".csv": "csv", ".tsv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
DELIMITED = (".csv", ".tsv")  # read with an encoding and a delimiter
EmptyTexts = Literal["refuse", "drop"]
LabelNames = Optional[Union[list[str], dict[str, str]]]
ROWS_NAMED = 10  # rows quoted in an error message; the count is always complete
NO_LABEL = -1  # the class id of an unlabelled training row: only a teacher's targets train on it


@dataclass(frozen=True)
class SourceSpec:
    dataset: str
    text_column: str = "text"
    label_column: str = "label"
    label_names: LabelNames = None
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    empty_texts: EmptyTexts = "refuse"
    max_samples: Optional[int] = None
    seed: int = 42
    encoding: Optional[str] = None  # of CSV / TSV files; None: UTF-8, with or without a byte-order mark
    delimiter: Optional[str] = None  # of CSV / TSV files; None: ',' (sniffed, see above), a tab for .tsv


@dataclass(frozen=True)
class LabelledSplit:
    texts: "datasets.Dataset"  # noqa: F821 - one column, "text"
    labels: np.ndarray  # int64 class ids, one per row of `texts`

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class LabelledSplits:
    train: LabelledSplit
    val: LabelledSplit
    test: LabelledSplit
    label_names: list[str]

    def items(self):
        return (("train", self.train), ("val", self.val), ("test", self.test))


# -- the dataset argument, checked without reading anything ---------------------------------------


def looks_local(name: str) -> bool:
    """A Hub id is "name" or "owner/name"; anything on disk, or shaped like a path or a file name, is local."""
    if os.path.exists(os.path.expanduser(name)) or name.startswith((".", "/", "~")) or name.count("/") > 1:
        return True
    return "/" not in name and bool(Path(name).suffix)  # "reviews.csv", not "imdb"


def check_dataset_argument(dataset: str) -> str:
    """The dataset argument, `~` expanded; ConfigError for a missing path or an unreadable extension."""
    if not looks_local(dataset):
        return dataset
    path = Path(os.path.expanduser(dataset))
    if not path.exists():
        raise ConfigError(f"data.dataset: no such file or folder: {dataset!r}")
    if path.is_file() and path.suffix.lower() not in BUILDERS:
        raise ConfigError(
            f"data.dataset: cannot read {path.suffix or 'extension-less'!s} files ({dataset!r}); "
            f"use one of {sorted(BUILDERS)} or a folder of them"
        )
    return str(path)


# -- loading ------------------------------------------------------------------------------------


def load_labelled_splits(spec: SourceSpec) -> LabelledSplits:
    """Load, check, label and split; every data problem is a ConfigError naming the field and rows."""
    check_fractions(spec.test_fraction, spec.val_fraction)
    dataset = check_dataset_argument(spec.dataset)
    loaded = _load(dataset, spec)
    if "train" not in loaded:
        raise ConfigError(f"data.dataset {spec.dataset!r} has no 'train' split; it has {sorted(loaded)}")
    given = {"train": loaded["train"]}
    if "test" in loaded:
        given["test"] = loaded["test"]
        if "validation" in loaded:
            given["val"] = loaded["validation"]
    where = {name: _describe(spec.dataset, name, len(given) == 1) for name in given}
    columns = {name: _checked_columns(split, spec, where[name]) for name, split in given.items()}
    label_info = _label_values(given["train"], spec.label_column, where["train"])
    rng = np.random.default_rng(spec.seed)

    keep = {}  # split name -> (row indices into the loaded split, label values at those rows)
    for name, split in given.items():
        rows = np.arange(len(split))
        rows = _without_blank_texts(split, columns[name][0], rows, spec, where[name])
        if not len(rows):
            raise ConfigError(f"data.dataset: {where[name]} has no rows with text")
        values = _label_column(split, spec.label_column, where[name], label_info)
        if spec.max_samples and len(rows) > spec.max_samples:
            rows = np.sort(rng.choice(rows, spec.max_samples, replace=False))
        keep[name] = (rows, values)

    names, values_of_class = _class_names(keep["train"][1][keep["train"][0]], label_info)
    labels = {name: _class_ids(values[rows], values_of_class) for name, (rows, values) in keep.items()}
    rows = {name: r for name, (r, _) in keep.items()}
    outside = labels["train"] < 0  # only a ClassLabel's -1 ("no label") can be outside its names
    if outside.any():
        raise ConfigError(
            f"data.label_column {spec.label_column!r}: {int(outside.sum())} row(s) of {where['train']} have no class "
            f"of {names} ({_rows(rows['train'][outside])})"
        )
    trained = np.unique(labels["train"])
    if len(trained) < 2:
        present = names[int(trained[0])] if len(trained) else None
        raise ConfigError(
            f"data.label_column {spec.label_column!r} of {where['train']} holds a single class ({present!r}): "
            "a classifier needs at least two"
        )
    for name in given.keys() - {"train"}:
        _check_seen(labels[name], rows[name], keep[name][1], trained, names, where[name], spec.label_column)

    if "test" not in given:
        rows["train"], rows["test"], labels["train"], labels["test"] = _stratified_split(
            rows["train"], labels["train"], spec.test_fraction, rng, "data.test_fraction"
        )
    if "val" not in given and spec.val_fraction == 0:
        rows["val"], labels["val"] = rows["train"][:0], labels["train"][:0]
    elif "val" not in given:
        rows["train"], rows["val"], labels["train"], labels["val"] = _stratified_split(
            rows["train"], labels["train"], spec.val_fraction, rng, "data.val_fraction"
        )
    sources = {name: given["train" if name not in given else name] for name in ("train", "val", "test")}
    parts = {
        name: LabelledSplit(_text_view(sources[name], columns.get(name, columns["train"])[0], rows[name]), labels[name])
        for name in ("train", "val", "test")
    }
    return LabelledSplits(**parts, label_names=display_names(names, spec.label_names))


def load_unlabelled_texts(spec: SourceSpec, split_name: str):
    """The texts of a split without labels (IMDB's `unsupervised`), as a one-column "text" dataset.

    Blank texts are left out; `max_samples` applies as to the labelled splits.
    """
    dataset = check_dataset_argument(spec.dataset)
    loaded = _load(dataset, spec)
    if split_name not in loaded:
        raise ConfigError(f"data.unlabelled_split {split_name!r} is not a split of {spec.dataset!r}; it has {sorted(loaded)}")
    split = loaded[split_name]
    where = _describe(spec.dataset, split_name, False)
    if spec.text_column not in split.column_names:
        raise ConfigError(f"data.text_column {spec.text_column!r} is not a column of {where}; it has {split.column_names}")
    rows = np.setdiff1d(np.arange(len(split)), _blank_rows(split, spec.text_column), assume_unique=True)
    if not len(rows):
        raise ConfigError(f"data.unlabelled_split: {where} has no rows with text")
    if spec.max_samples and len(rows) > spec.max_samples:
        rows = np.sort(np.random.default_rng(spec.seed).choice(rows, spec.max_samples, replace=False))
    return _text_view(split, spec.text_column, rows)


def check_fractions(test_fraction: float, val_fraction: float) -> None:
    """test_fraction in (0, 1); val_fraction in [0, 1): 0 trains on every training row, without validation."""
    if not isinstance(test_fraction, (int, float)) or not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"data.test_fraction must be in (0, 1), got {test_fraction!r}")
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ConfigError(
            f"data.val_fraction must be in [0, 1) (0: no validation, every training row trains), got {val_fraction!r}"
        )


def display_names(names: Sequence[str], label_names: LabelNames) -> list[str]:
    """Apply --data.label_names: a list names every class in order, a mapping renames some."""
    if label_names is None:
        shown = list(names)
    elif isinstance(label_names, Mapping):
        shown = [str(label_names.get(name, name)) for name in names]
    else:
        if len(label_names) != len(names):
            raise ConfigError(
                f"data.label_names lists {len(label_names)} names but the data has {len(names)} classes {list(names)}"
            )
        shown = [str(name) for name in label_names]
    if len(set(shown)) != len(shown) or not all(name.strip() for name in shown):
        raise ConfigError(f"data.label_names must give distinct, non-empty names; got {shown}")
    return shown


def _load(dataset: str, spec: SourceSpec) -> dict:
    import datasets  # heavy; only loading needs it

    datasets.disable_progress_bars()
    path = Path(dataset)
    options = _read_options(path, spec)
    try:
        if path.is_file():
            loaded = datasets.load_dataset(BUILDERS[path.suffix.lower()], data_files={"train": str(path)}, **options)
        else:
            loaded = datasets.load_dataset(dataset, **options)
    except ConfigError:
        raise
    except Exception as error:  # parsers and the Hub raise many types; the message is what matters
        if path.is_file() and _caused_by(error, UnicodeDecodeError):
            raise decoding_error(path, spec.encoding, "data.dataset", "--data.") from None
        first_line = _first_line(error)
        raise ConfigError(f"data.dataset: cannot read {dataset!r}: {first_line}{_files_hint(path, spec)}") from None
    return dict(loaded)


def _first_line(error: BaseException) -> str:
    """The parser's own words: `datasets` wraps them in "An error occurred while generating the dataset"."""
    for _ in range(10):  # a chain is short; the bound guards against a cycle
        inner = error.__cause__ or error.__context__
        if inner is None or not str(inner).strip():
            break
        error = inner
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _files_hint(path: Path, spec: SourceSpec) -> str:
    """For a file (or the first of a folder's files) that reads as one column holding ';', a tab or '|'."""
    if not path.exists():  # a Hub id
        return ""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in DELIMITED)
    delimiter = check_delimiter(spec.delimiter, "data.delimiter")
    for file in files[:20]:
        sep = delimiter or ("\t" if file.suffix.lower() == ".tsv" else ",")
        hint = header_hint(file, spec.encoding, sep, "--data.") if file.suffix.lower() in DELIMITED else ""
        if hint:
            return hint
    return ""


def _read_options(path: Path, spec: SourceSpec) -> dict:
    """The CSV builder's `encoding` and `sep` for this dataset; only what differs from its defaults,
    so a UTF-8 comma-separated file keeps the cache (and fingerprints) it always had."""
    encoding = check_encoding(spec.encoding, "data.encoding")
    delimiter = check_delimiter(spec.delimiter, "data.delimiter")
    named = {key: value for key, value in (("encoding", encoding), ("sep", delimiter)) if value is not None}
    if not path.is_file():  # a folder or a Hub id: its CSV / TSV files are read with what was named
        return named
    if path.suffix.lower() not in DELIMITED:
        if named:
            raise ConfigError(f"data.encoding and data.delimiter apply to .csv and .tsv files, not to {str(path)!r}")
        return {}
    sep, sniffed = delimiter_of(path, encoding, delimiter, "data.dataset", "--data.")
    if sniffed:
        print(f"data: {str(path)!r} is {sep!r}-separated (sniffed from its header; --data.delimiter {sep!r} says so)", flush=True)
    _check_has_rows(path, encoding, sep)
    return {**named, **({"sep": sep} if sep != "," else {})}


def _check_has_rows(path: Path, encoding: Optional[str], sep: str) -> None:
    """An empty or header-only file is refused by name before `datasets` reads it (which says "no data")."""
    import pandas as pd

    try:
        head = pd.read_csv(path, sep=sep, encoding=encoding or "utf-8", nrows=1)
    except pd.errors.EmptyDataError:
        raise ConfigError(f"data.dataset: {str(path)!r} is empty: no header, no rows") from None
    except UnicodeDecodeError:
        raise decoding_error(path, encoding, "data.dataset", "--data.") from None
    except (ValueError, OSError):
        return  # `datasets` reads it next and reports the parser's own message
    if not len(head):
        raise ConfigError(f"data.dataset: {str(path)!r} has a header and no rows: there is nothing to train on")


def _caused_by(error: Optional[BaseException], kind: type) -> bool:
    """Whether `kind` is in the chain: `datasets` wraps the parser's error in its own."""
    for _ in range(10):  # a chain is short; the bound guards against a cycle
        if error is None or isinstance(error, kind):
            return error is not None
        error = error.__cause__ or error.__context__
    return False


def _describe(dataset: str, split: str, single: bool) -> str:
    return repr(dataset) if single else f"split {split!r} of {dataset!r}"


def _checked_columns(split, spec: SourceSpec, where: str) -> tuple[str, str]:
    have = list(split.column_names)
    for field, column in (("data.text_column", spec.text_column), ("data.label_column", spec.label_column)):
        if column not in have:
            raise ConfigError(
                f"{field} {column!r} is not a column of {where}; its columns are {have}{delimiter_hint(have, '--data.')}"
            )
    text_type = str(split.features[spec.text_column])
    if "string" not in text_type:
        raise ConfigError(f"data.text_column {spec.text_column!r} of {where} holds {text_type}, not text")
    return spec.text_column, spec.label_column


def _without_blank_texts(split, column: str, rows: np.ndarray, spec: SourceSpec, where: str) -> np.ndarray:
    blank = _blank_rows(split, column)
    if not len(blank):
        return rows
    if spec.empty_texts == "drop":
        print(f"data: dropped {len(blank)} row(s) of {where} with an empty or null {column!r}", flush=True)
        return np.setdiff1d(rows, blank, assume_unique=True)
    raise ConfigError(
        f"data.dataset: {len(blank)} row(s) of {where} have an empty or null {column!r} "
        f"({_rows(blank)}); fix them, or pass --data.empty_texts drop to leave them out"
    )


def _blank_rows(split, column: str) -> np.ndarray:
    """Row numbers whose text is null or only whitespace, one Arrow chunk at a time (no row copies)."""
    import pyarrow.compute as pc

    found, offset = [], 0
    for chunk in split.data.column(column).chunks:
        has_text = pc.fill_null(pc.match_substring_regex(chunk, r"\S"), False)
        found.append(np.flatnonzero(~has_text.to_numpy(zero_copy_only=False)) + offset)
        offset += len(chunk)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class _LabelKind:
    class_names: Optional[list[str]]  # a ClassLabel's names, else None
    numeric: bool  # integer labels: names sort as numbers


def _label_values(split, column: str, where: str) -> _LabelKind:
    import datasets
    import pyarrow as pa

    feature = split.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return _LabelKind(list(feature.names), numeric=False)
    arrow_type = split.data.schema.field(column).type
    if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
        return _LabelKind(None, numeric=True)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _LabelKind(None, numeric=False)
    raise ConfigError(f"data.label_column {column!r} of {where} holds {arrow_type}; labels must be integers or strings")


def _label_column(split, column: str, where: str, kind: _LabelKind) -> np.ndarray:
    """The label of every row as numpy (ints, or an object array of strings: labels are short)."""
    values = split.data.column(column)
    if values.null_count:
        import pyarrow.compute as pc

        missing = np.flatnonzero(pc.is_null(values).to_numpy(zero_copy_only=False))
        raise ConfigError(f"data.label_column {column!r}: {len(missing)} row(s) of {where} have no label ({_rows(missing)})")
    array = values.to_numpy()
    if kind.class_names is None and not kind.numeric:
        return array.astype(object)
    return array.astype(np.int64)


def _class_names(train_values: np.ndarray, kind: _LabelKind) -> tuple[list[str], np.ndarray]:
    """(class names, the sorted label value of each class)."""
    if kind.class_names is not None:
        return kind.class_names, np.arange(len(kind.class_names))
    values = np.unique(train_values)  # sorted; numbers as numbers
    return [str(v) for v in values.tolist()], values


def _class_ids(split_values: np.ndarray, values_of_class: np.ndarray) -> np.ndarray:
    """Class id per row; -1 for a value that is no class."""
    position = np.clip(np.searchsorted(values_of_class, split_values), 0, len(values_of_class) - 1)
    found = values_of_class[position] == split_values
    return np.where(found, position, -1).astype(np.int64)


def _check_seen(ids, rows, values, trained, names, where: str, column: str) -> None:
    """A label the training split never has cannot be learnt, and evaluating on it would mislead."""
    unseen = ~np.isin(ids, trained)
    if not unseen.any():
        return
    strange = sorted({str(v) for v in values[rows[unseen]].tolist()})
    raise ConfigError(
        f"data.label_column {column!r}: {where} has label(s) {strange[:ROWS_NAMED]} in {int(unseen.sum())} row(s) "
        f"({_rows(rows[unseen])}) that the training split never has; training has "
        f"{[names[i] for i in trained.tolist()]}"
    )


def _stratified_split(rows: np.ndarray, labels: np.ndarray, fraction: float, rng, field: str):
    """Hold out `fraction` of each class, at least one row of each class staying behind; seeded.
    `rows` is sorted, so both parts come back sorted (Arrow reads them in file order)."""
    keep, held = [], []
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        positions = positions[rng.permutation(len(positions))]
        n_held = min(int(round(len(positions) * fraction)), len(positions) - 1)
        held.append(positions[:n_held])
        keep.append(positions[n_held:])
    keep, held = np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))
    if not len(held):
        raise ConfigError(f"{field}={fraction} of {len(rows)} rows leaves that split empty: add rows or raise it")
    return rows[keep], rows[held], labels[keep], labels[held]


def _text_view(split, column: str, rows: np.ndarray):
    """The chosen rows' text as a one-column dataset: an index view, no copy."""
    texts = split.select_columns([column])
    if column != "text":
        texts = texts.rename_column(column, "text")
    if len(rows) == len(texts) and (not len(rows) or rows[-1] == len(rows) - 1):
        return texts  # every row, in order
    return texts.select(rows)


def _rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:ROWS_NAMED])
    more = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
    return f"rows {shown}{more}; 0-based, header not counted"
