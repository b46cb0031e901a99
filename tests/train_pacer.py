"""A Lightning callback for the kill-and-resume test: it slows training and says where it is.

Not a test. train.py loads it by class path (tests/ on PYTHONPATH):

    --trainer.callbacks+=train_pacer.PaceSteps --trainer.callbacks.progress_file=step.txt --trainer.callbacks.seconds=0.5

After each training step it writes the global step, epoch and batches per epoch to `progress_file`, then sleeps, so a test
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
