"""Teacher targets on disk: what `teach.py` writes into its run folder and stage 2 reads (`data.teacher_targets`).

    targets = load_targets("runs/semi/teach/targets.npz")     # or the run folder itself
    targets.check_rows("train", splits.train.texts, splits.train.labels)   # ConfigError if they are other rows
    targets.train                                            # (training rows, classes) float32
    targets.unlabelled, targets.unlabelled_split             # (rows of that split, classes), its name ("" = none)
    targets.short_texts, targets.short_text_targets          # sentences scored as texts of their own (may be none)

One file, `targets.npz`, holds each row's class probabilities for the labelled training rows (each
from teachers that did not fit that row: out-of-fold) and for the rows of an unlabelled split, with
a digest of the rows each array belongs to (their texts and labels, in order) and the class names,
so a data module with other rows, another split or another seed refuses the file in one line
instead of training on misaligned targets. Short texts (sentences cut from unlabelled reviews) travel
with their own text, so they need no digest; they are stored as UTF-8 bytes and offsets. Nothing here fits or runs a model: that is teach.py's.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from data.text_encoding import ConfigError

TARGETS_FILE = "targets.npz"
DIGEST_ROWS = 2000  # texts per Arrow read while digesting


def rows_digest(texts, labels: Optional[np.ndarray] = None) -> str:
    """sha256 over the rows' texts (a one-column "text" datasets.Dataset or a list) and labels, in order."""
    digest = hashlib.sha256()
    if isinstance(texts, (list, tuple)):
        batches = [list(texts)]
    else:
        batches = (batch["text"] for batch in texts.iter(batch_size=DIGEST_ROWS))
    count = 0
    for batch in batches:
        for text in batch:
            encoded = text.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
            count += 1
    digest.update(count.to_bytes(8, "little"))
    if labels is not None:
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


@dataclass
class TeacherTargets:
    train: np.ndarray  # (training rows, classes) float32
    train_digest: str
    class_names: list[str]
    unlabelled: np.ndarray  # (unlabelled rows, classes) float32; 0 rows when no split was scored
    unlabelled_split: str = ""  # the split whose rows `unlabelled` scores ("" = none)
    unlabelled_digest: str = ""
    short_texts: list[str] = field(default_factory=list)  # texts of their own, not rows of a split
    short_text_targets: Optional[np.ndarray] = None  # (len(short_texts), classes) float32
    source: str = ""  # where it was read from, for messages

    def __post_init__(self) -> None:
        if self.short_text_targets is None:
            self.short_text_targets = np.zeros((0, self.train.shape[1]), dtype=np.float32)
        if len(self.short_text_targets) != len(self.short_texts):
            raise ValueError(f"{len(self.short_text_targets):,} short-text targets for {len(self.short_texts):,} short texts")

    def check_rows(self, part: str, texts, labels: Optional[np.ndarray] = None) -> np.ndarray:
        """The targets of `part` ("train" or "unlabelled") after checking they score exactly these rows."""
        targets, expected = (self.train, self.train_digest) if part == "train" else (self.unlabelled, self.unlabelled_digest)
        if len(targets) != len(texts) or rows_digest(texts, labels) != expected:
            raise ConfigError(
                f"data.teacher_targets: {self.source} scores other {part} rows ({len(targets):,}) than this data's "
                f"({len(texts):,}): rerun teach.py with the same data settings (dataset, val_fraction, seed, max_samples)"
            )
        return targets


def save_targets(path: Path, targets: TeacherTargets) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(
        partial, train=targets.train.astype(np.float32), train_digest=targets.train_digest,
        class_names=np.array(targets.class_names), unlabelled=targets.unlabelled.astype(np.float32),
        unlabelled_split=targets.unlabelled_split, unlabelled_digest=targets.unlabelled_digest,
        short_text_targets=targets.short_text_targets.astype(np.float32), **_packed(targets.short_texts),
    )
    os.replace(partial, path)  # atomic: a killed run never leaves half a file
    return path


def load_targets(path: str | Path) -> TeacherTargets:
    """Read a targets file, or the `targets.npz` inside a teach.py run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / TARGETS_FILE
    if not path.is_file():
        raise ConfigError(f"data.teacher_targets: no targets file at {str(path)!r}; teach.py writes one (docs/training.md)")
    with np.load(path, allow_pickle=False) as saved:
        missing = {"train", "train_digest", "class_names", "unlabelled", "unlabelled_split", "unlabelled_digest"} - set(saved.files)
        if missing:
            raise ConfigError(f"data.teacher_targets: {str(path)!r} is not a teach.py targets file (missing {sorted(missing)})")
        short = {}
        if "short_text_targets" in saved.files:  # files written before short texts have none
            short = {"short_texts": _unpacked(saved["short_text_bytes"], saved["short_text_offsets"]),
                     "short_text_targets": saved["short_text_targets"]}
        return TeacherTargets(
            train=saved["train"], train_digest=str(saved["train_digest"]), class_names=[str(n) for n in saved["class_names"]],
            unlabelled=saved["unlabelled"], unlabelled_split=str(saved["unlabelled_split"]),
            unlabelled_digest=str(saved["unlabelled_digest"]), source=repr(str(path)), **short,
        )


def _packed(texts: list[str]) -> dict:
    """Texts as one UTF-8 byte array and their end offsets: no padding to the longest, no pickle."""
    encoded = [text.encode("utf-8") for text in texts]
    return {"short_text_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "short_text_offsets": np.cumsum([len(e) for e in encoded], dtype=np.int64)}


def _unpacked(data: np.ndarray, ends: np.ndarray) -> list[str]:
    raw = data.tobytes()
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    return [raw[a:b].decode("utf-8") for a, b in zip(starts.tolist(), ends.tolist())]
