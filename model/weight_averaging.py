"""An exponential moving average of the weights that validation, testing and export all use.

    trainer.callbacks: [{class_path: model.weight_averaging.EMAWeights, init_args: {decay: 0.995, update_starting_at_step: 350}}]
    python train.py fit --config config/default.yaml --trainer.callbacks+=model.weight_averaging.EMAWeights

Two differences from Lightning's EMAWeightAveraging, both about trusting the average only once
it exists:
- Until its first update (`update_starting_at_step`), Lightning validates, checkpoints and
  finally keeps the *initial* weights, the average's starting copy. Here the trained weights
  are used until the average has been updated once, so a short run, or a run on small data that
  ends before the average starts, still validates and exports what it trained.
- When a checkpoint is loaded for `test` after `fit`, Lightning puts the raw (non-averaged)
  weights back, so the test and the export would score other weights than the ones validation
  chose. Here only `fit` (resuming) restores the raw weights.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class EMAWeights(EMAWeightAveraging):
    _swapped = False

    def _has_average(self) -> bool:
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._swapped = self._has_average()
        if self._swapped:
            self._swap_models(pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._swapped:
            self._swap_models(pl_module)
            self._swapped = False

    def on_train_end(self, trainer, pl_module) -> None:
        if self._has_average():
            self._copy_average_to_current(pl_module)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if self._has_average():
            super().on_save_checkpoint(trainer, pl_module, checkpoint)
        # Otherwise a plain checkpoint of the trained weights; resuming from it starts the average afresh.

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
        # Otherwise the checkpoint's state_dict, already loaded, holds the averaged weights.
