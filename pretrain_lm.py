"""Pretrain the classifier's encoder as forward and backward language models (LightningCLI).

    python pretrain_lm.py fit --config config/semi_supervised/pretrain_lm.yaml --data.dataset ../shared/imdb
    python pretrain_lm.py fit --config config/semi_supervised/pretrain_lm.yaml --data.dataset ../shared/imdb --ckpt_path last

The model is model.lm_module.EncoderLanguageModel (the served network's embedding, GRU and LSTM
under two adaptive softmaxes), the data data.lm_datamodule.LanguageModelDataModule (the training
rows' text plus an unlabelled split, tokenized as the classifier's). TensorBoard gets the LM loss
and validation perplexity. After fit, the weights of the best epoch (lowest validation LM loss) go
to `<log_dir>/encoder.pt`, which `model.pretrained_encoder` loads into a classifier:

    python train.py fit --config config/default.yaml --model.pretrained_encoder runs/semi/pretrain_lm/encoder.pt ...
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.cli import LightningCLI

from data.lm_datamodule import LanguageModelDataModule
from data.text_encoding import ConfigError, check_encoding_args
from model.lm_module import ENCODER_FILE, EncoderLanguageModel, save_encoder
from model.training_cli import add_checkpoint_arguments, continue_last_run, run_cli


class LanguageModelCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.vocab_size", "model.vocab_size", apply_on="parse")
        add_checkpoint_arguments(parser, monitor="val/lm_loss", mode="min")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.config.subcommand]
        check_encoding_args(config.data.vocab_size, config.data.max_length, config.data.truncation)
        if self.config.subcommand != "fit":
            raise ConfigError("pretrain_lm.py runs `fit` only")
        if config.ckpt_path == "last":
            continue_last_run(config)

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.fast_dev_run or trainer.interrupted or not trainer.is_global_zero:
            return
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        model = type(self.model).load_from_checkpoint(best, map_location="cpu") if best else self.model
        path = Path(trainer.log_dir) / ENCODER_FILE
        save_encoder(model.net, path, self.datamodule.tokenizer_path)
        print(f"encoder written to {path} (from {best or 'the last step'})")


def cli_main(args: list[str] | None = None) -> LanguageModelCLI:
    return run_cli(LanguageModelCLI, EncoderLanguageModel, LanguageModelDataModule, "pretrain_lm.py", args)


if __name__ == "__main__":
    cli_main()
