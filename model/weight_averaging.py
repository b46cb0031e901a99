"""An exponential moving average of the weights that validation, testing and export all use.

    trainer.callbacks: [{class_path: model.weight_averaging.EMAWeights, init_args: {decay: 0.998}}]
    python train.py fit --config config/default.yaml --trainer.callbacks+=model.weight_averaging.EMAWeights

Lightning's EMAWeightAveraging validates with the averaged weights and saves them as the
checkpoint's `state_dict`, but when a checkpoint is loaded for `test` after `fit` it puts the
raw (non-averaged) weights back, so the test and the export would score other weights than
the ones validation chose. Here only `fit` (resuming) restores the raw weights.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class EMAWeights(EMAWeightAveraging):
    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
        # Otherwise the checkpoint's state_dict, already loaded, holds the averaged weights.
