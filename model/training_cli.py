"""What train.py and pretrain_lm.py share: the checkpoint callback and its CLI arguments, resuming, one-line errors.

    from model.training_cli import add_checkpoint_arguments, continue_last_run, run_cli
    add_checkpoint_arguments(parser, monitor="val/acc", mode="max")     # in add_arguments_to_parser
    continue_last_run(config)                                           # in before_instantiate_classes, for --ckpt_path last
    return run_cli(MyCLI, MyModule, MyDataModule, "train.py", args)     # the entry point's cli_main
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.trainer.states import TrainerFn

from data.text_encoding import ConfigError


class BestAndLastCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose last.ckpt follows every epoch, whose best checkpoint holds the weights its
    score was measured on, and that keeps the newest epoch when nothing validates.

    Lightning 2.6 rewrites last.ckpt only when it also saved a top-k checkpoint, so after an
    epoch that did not improve, `--ckpt_path last` would silently go back to the best epoch.
    With `every_n_train_steps`, Lightning ranks and saves top-k checkpoints at those steps only,
    scored by the last validation: the "best" file would hold weights trained some steps past the
    ones validated, and an improvement in the final epoch would never be saved. Here the step
    saves write last.ckpt alone (from the first epoch on, so it resumes too), and checkpoints are
    ranked right after each validation, as without step saves.
    With no validation rows (`--data.val_fraction 0`) there is no metric to rank epochs by:
    the "best" checkpoint is then the newest, so fit tests and exports the last epoch.
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit" and self.monitor is not None and not getattr(trainer.datamodule, "has_validation", True):
            self.monitor = None
            self.filename = "epoch{epoch:02d}"
        super().setup(trainer, pl_module, stage)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._every_n_train_steps < 1:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        elif trainer.global_step % self._every_n_train_steps == 0 and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._rank_after_validation(trainer)
        self._save_last_if_missed(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._rank_after_validation(trainer)
            self._save_last_if_missed(trainer)

    def _rank_after_validation(self, trainer) -> None:
        """What Lightning does after every epoch without step saves: top-k, then last.ckpt with the new ranking."""
        # _should_skip_saving_checkpoint, less its "this step was saved already": a step save may have.
        if self._every_n_train_steps < 1 or trainer.fast_dev_run or trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def _save_last_if_missed(self, trainer) -> None:
        # _should_skip_saving_checkpoint is also true when this step was saved already.
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def add_checkpoint_arguments(parser, monitor: str, mode: str) -> None:
    """`checkpoint.*`: BestAndLastCheckpoint keeping the best epoch by `monitor` and the last one."""
    parser.add_lightning_class_args(BestAndLastCheckpoint, "checkpoint")
    parser.set_defaults(
        {
            "checkpoint.monitor": monitor,
            "checkpoint.mode": mode,
            "checkpoint.save_last": True,
            "checkpoint.filename": "epoch{epoch:02d}-" + monitor.replace("/", "_") + "{" + monitor + ":.4f}",
            "checkpoint.auto_insert_metric_name": False,
        }
    )


def continue_last_run(config) -> None:
    """`fit --ckpt_path last` continues the newest run that has a last.ckpt, in its own log folder."""
    logger = config.trainer.logger
    init_args = getattr(logger, "init_args", None)
    if init_args is None or init_args.get("version") is not None or "save_dir" not in init_args:
        return
    run_root = Path(init_args.save_dir) / (init_args.get("name") or "")
    candidates = sorted(run_root.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    if candidates:
        init_args.version = candidates[-1].parent.parent.name


def run_cli(cli_class: type[LightningCLI], model_class, datamodule_class, program: str, args: list[str] | None = None):
    """Build and run a LightningCLI; a bad config or data file ends in one `<program>: error: ...` line, exit 2."""
    try:
        return cli_class(
            model_class,
            datamodule_class,
            args=args,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"num_sanity_val_steps": 0},
        )
    except ConfigError as error:
        # Bad config or data: one clear line naming the field, not a traceback.
        print(f"{program}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
