"""Soft targets for distillation: a teacher's class probabilities for every training row, cached.

    targets = teacher_targets(splits.train, cache_dir, folds=4, seed=42)   # (rows, classes) float32
    extra = unlabelled_targets(splits.train, unlabelled_texts, cache_dir, exports=["runs/semi/stage1/export"])

Used by ReviewDataModule when `data.teacher` is set; the LightningModule mixes them into the
loss with `model.distillation_weight`. Each training row is scored by a teacher fitted on the
other folds (model/ngram_teacher.py), never on itself, and the validation and test rows are never
seen by any teacher. Rows without labels (`data.unlabelled_split`) are scored by the n-gram teacher
fitted on all training rows, averaged with any trained networks' exports (`data.teacher_exports`).
Results are cached under `cache_dir/teacher/`, keyed by the rows, their labels, the exports and
the teacher's settings, so reruns, resumed runs and DDP ranks read the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from data.sources import LabelledSplit
from data.text_encoding import ConfigError

Teacher = Literal["ngram"]
TEACHERS: tuple[str, ...] = ("ngram",)
EXPORT_BATCH_ROWS = 256  # reviews per call when an export scores the unlabelled rows


def teacher_targets(train: LabelledSplit, cache_dir: Path, folds: int = 4, seed: int = 42) -> np.ndarray:
    """(training rows, classes): each row's probabilities from an n-gram teacher fitted on the other folds."""
    from model.ngram_teacher import out_of_fold_probabilities

    path = _cache_path(cache_dir, "ngram", _split_key(train), folds, seed)
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    targets = out_of_fold_probabilities(train.texts["text"], train.labels, folds=folds, seed=seed)
    agreement = float((targets.argmax(axis=1) == train.labels).mean())
    print(f"data: n-gram teacher, {folds} folds, {time.perf_counter() - started:.0f} s; "
          f"its out-of-fold accuracy on the training rows: {agreement:.4f}", flush=True)
    return _save(path, targets)


def unlabelled_targets(train: LabelledSplit, texts, cache_dir: Path, exports: Sequence[str] = ()) -> np.ndarray:
    """(rows of `texts`, classes): the n-gram teacher fitted on every training row, averaged with the
    class probabilities of each export in `exports` (trained networks, e.g. an earlier stage's)."""
    from model.ngram_teacher import NgramTeacher

    export_keys = [_export_key(export) for export in exports]
    path = _cache_path(cache_dir, "unlabelled", _split_key(train), texts._fingerprint, export_keys)
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    members = [NgramTeacher().fit(train.texts["text"], train.labels).predict_proba(texts["text"])]
    for export in exports:
        members.append(_export_probabilities(export, texts))
    targets = np.mean(members, axis=0).astype(np.float32)
    print(f"data: teacher of {len(texts):,} unlabelled rows (n-gram + {len(exports)} export(s)), "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return _save(path, targets)


def _export_probabilities(export: str, texts) -> np.ndarray:
    from serving.runtime import Predictor

    predictor = Predictor(export)
    out = [predictor.predict_proba(batch["text"]) for batch in texts.iter(batch_size=EXPORT_BATCH_ROWS)]
    return np.concatenate(out).astype(np.float32)


def _split_key(train: LabelledSplit) -> list:
    return [train.texts._fingerprint, hashlib.sha256(train.labels.tobytes()).hexdigest()]


def _export_key(export: str) -> str:
    """An export by its weights and tokenizer, so a retrained stage invalidates the cache."""
    folder = Path(export)
    files = [folder / name for name in ("network.pt", "tokenizer.json", "model_config.json")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(f"data.teacher_exports: {export!r} is not an export folder (missing {missing})")
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def _cache_path(cache_dir: Path, kind: str, *parts) -> Path:
    from model.ngram_teacher import NgramTeacher

    settings = {k: v for k, v in vars(NgramTeacher()).items() if isinstance(v, (int, float))}
    key = hashlib.sha256(json.dumps([*parts, settings], default=str).encode()).hexdigest()[:16]
    return Path(cache_dir) / "teacher" / f"{kind}-{key}.npy"


def _save(path: Path, targets: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(partial, targets)
    os.replace(partial, path)  # atomic: a killed run never leaves half a file
    return targets
