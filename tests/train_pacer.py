"""Lightning callbacks that make training tests able to fail: pace and report steps, freeze, record rows.

Not a test. train.py loads them by class path (run from the repo root, or with the project installed):

    --trainer.callbacks+=tests.train_pacer.PaceSteps --trainer.callbacks.progress_file=step.txt --trainer.callbacks.seconds=0.5

After each training step PaceSteps writes the global step, epoch and batches per epoch to `progress_file`, then sleeps, so a test
can SIGKILL the process at a chosen step while it sleeps (never while a checkpoint is written;
ModelCheckpoint runs after user callbacks). It also records the first step it sees, which tells
a resumed run from a restarted one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class PaceSteps(Callback):
    def __init__(self, progress_file: str, seconds: float = 0.0) -> None:
        self.progress_file = Path(progress_file)
        self.seconds = seconds
        self._first_seen = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self._first_seen:
            self._first_seen = True
            _write(self.progress_file.with_suffix(".first"), f"{trainer.global_step} {batch_idx} {time.time()}")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _write(self.progress_file, f"{trainer.global_step} {trainer.current_epoch} {trainer.num_training_batches}")
        time.sleep(self.seconds)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    os.replace(partial, path)  # the test never reads a half-written number


class FreezeAfterFirstEpoch(Callback):
    """Sets every learning rate to 0 after epoch 0, so no later epoch can improve val/acc: the
    situation in which Lightning 2.6 alone would leave last.ckpt behind."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = 0.0


class RecordRows(Callback):
    """Writes one line per training row of epoch 0 (its token ids) to `<folder>/rows-rank<R>.txt`,
    so a DDP test can check which rows each rank saw."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"rows-rank{trainer.global_rank}.txt", "a") as out:
            for ids, length in zip(batch["input_ids"].tolist(), batch["lengths"].tolist()):
                out.write(" ".join(map(str, ids[:length])) + "\n")
