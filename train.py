"""Train, test and export the sentiment model (LightningCLI).

    python train.py fit --config config/default.yaml --data.dataset ../shared/imdb
    python train.py fit --config config/default.yaml --data.dataset reviews.csv --data.text_column review --data.label_column sentiment
    python train.py fit --config config/default.yaml --trainer.max_epochs 3 --model.pooling last
    python train.py fit --config config/default.yaml --ckpt_path last          # resume
    python train.py test --config config/default.yaml --ckpt_path runs/imdb/version_0/checkpoints/last.ckpt
    python train.py fit --config config/default.yaml --trainer.accelerator cpu --trainer.devices 2 --trainer.strategy ddp
    python train.py fit --print_config > my.yaml

After `fit`, the best checkpoint (by val/acc; the last one with `--data.val_fraction 0`) is tested; after `fit` or `test`
the run folder (`<log_dir>`) receives `metrics.json` and `export/`: what
serving needs (network.pt, network.onnx, tokenizer.json, model_config.json with the label
names); network.onnx is checked against PyTorch on 1,000 test reviews when it is written.
The number of classes comes from the data (data.num_classes -> model.num_classes).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch.cli import LightningCLI

from data.datamodule import ReviewDataModule
from data.text_encoding import check_encoding_args
from model.export_writer import save_export
from model.lit_module import SentimentClassifier
from model.training_cli import add_checkpoint_arguments, continue_last_run, run_cli
from model.export_writer import CHECK_REVIEWS
from serving.answers import chosen_classes


class SentimentCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # The tokenizer's vocabulary size is the embedding's row count: typed once, under data.
        parser.link_arguments("data.vocab_size", "model.vocab_size", apply_on="parse")
        # The class count is a fact of the data: the data module reads the labels, the head follows.
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        add_checkpoint_arguments(parser, monitor="val/acc", mode="max")
        parser.add_argument("--export_dtype", type=Literal["float32", "float16"], default="float32", help="dtype of the weights in export/")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.config.subcommand]
        # The model is built before the data module; check the data fields the user typed first,
        # so an error names data.vocab_size rather than the linked model.vocab_size.
        check_encoding_args(config.data.vocab_size, config.data.max_length, config.data.truncation)
        if self.config.subcommand == "fit" and config.ckpt_path == "last":
            continue_last_run(config)

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.fast_dev_run or trainer.interrupted:
            return
        ckpt = "best" if trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path else None
        trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt)
        self._write_run_outputs()

    def after_test(self) -> None:
        self._write_run_outputs()

    def _write_run_outputs(self) -> None:
        """metrics.json, TensorBoard test figures and export/ of the model just tested."""
        trainer = self.trainer
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        log_dir = Path(trainer.log_dir)  # a collective under DDP: every rank must ask
        if not trainer.is_global_zero or not metrics:
            return
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        print(f"test metrics written to {log_dir / 'metrics.json'}: {json.dumps(metrics)}")
        log_test_figures(trainer.logger, self.model, metrics, self.datamodule.class_names)
        test = self.datamodule.splits["test"]  # the reviews just tested, encoded
        chosen = random.Random(0).sample(range(len(test)), min(CHECK_REVIEWS, len(test)))
        save_export(
            log_dir / "export", self.model.net, self.datamodule.tokenizer_path,
            self.datamodule.preprocessing_config(), weights_dtype=self.config[self.config.subcommand].export_dtype,
            labels=self.datamodule.class_names, check_sequences=test.token_ids(chosen),
        )
        print(f"export written to {log_dir / 'export'}")


def log_test_figures(logger, model: SentimentClassifier, metrics: dict, class_names: list[str]) -> None:
    """PR curves, the confusion matrix (with the label names) and the hparams/metrics pairing, for TensorBoard."""
    experiment = getattr(logger, "experiment", None)
    if experiment is None or not hasattr(experiment, "add_pr_curve") or not model.test_scores:
        return
    probabilities = torch.cat(model.test_scores)
    labels = torch.cat(model.test_labels)
    if len(class_names) == 2:
        experiment.add_pr_curve("test/pr_curve", labels, probabilities[:, 1], global_step=0)
    else:
        for k, name in enumerate(class_names):  # one versus the rest
            experiment.add_pr_curve(f"test/pr_curve/{name}", labels == k, probabilities[:, k], global_step=0)
    predicted = torch.from_numpy(chosen_classes(probabilities.numpy()))
    experiment.add_text("test/confusion_matrix", confusion_markdown(labels, predicted, class_names))
    logger.log_hyperparams(model.hparams, {f"hp/{k.split('/')[1]}": v for k, v in metrics.items()})


def confusion_markdown(labels: torch.Tensor, predicted: torch.Tensor, class_names: list[str]) -> str:
    """Rows: true label; columns: predicted label; as a Markdown table."""
    n = len(class_names)
    counts = torch.bincount(labels * n + predicted, minlength=n * n).view(n, n).tolist()
    lines = ["| true \\ predicted | " + " | ".join(class_names) + " |", "|---" * (n + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(str(c) for c in row) + " |" for name, row in zip(class_names, counts)]
    return "\n".join(lines)


def cli_main(args: list[str] | None = None) -> SentimentCLI:
    return run_cli(SentimentCLI, SentimentClassifier, ReviewDataModule, "train.py", args)


if __name__ == "__main__":
    cli_main()
