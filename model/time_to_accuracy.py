"""Stop training the first time validation accuracy reaches a target, and note when (for `make bench-tta`).

    python train.py fit --config config/fast.yaml \
        --trainer.callbacks+=model.time_to_accuracy.StopAtAccuracy \
        --trainer.callbacks.target 0.851 --trainer.callbacks.report_path runs/tta.json

The report holds the wall-clock time (Unix seconds) of the validation that reached the
target, so a caller that noted its own start time gets the time to accuracy; the best
checkpoint is that validation's, and `fit` tests it as usual.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

from lightning.pytorch.callbacks import Callback


class StopAtAccuracy(Callback):
    def __init__(self, target: float = 0.851, monitor: str = "val/acc", report_path: Optional[str] = None) -> None:
        self.target = target
        self.monitor = monitor
        self.report_path = report_path
        self.report: Optional[dict] = None

    def on_validation_end(self, trainer, pl_module) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if self.report is not None or trainer.sanity_checking or value is None or float(value) < self.target:
            return
        self.report = {
            "reached_at_unix": time.time(),
            "monitor": self.monitor,
            "target": self.target,
            "value": round(float(value), 4),
            "epoch_fraction": round(trainer.global_step / max(1, trainer.num_training_batches), 3),
            "global_step": trainer.global_step,
            "run_dir": trainer.log_dir,
        }
        trainer.should_stop = True
        if self.report_path and trainer.is_global_zero:
            Path(self.report_path).parent.mkdir(parents=True, exist_ok=True)
            Path(self.report_path).write_text(json.dumps(self.report, indent=2) + "\n")
