"""Text for language-model pretraining of the encoder: the training rows plus an unlabelled split.

    dm = LanguageModelDataModule(dataset="../shared/imdb", lm_unlabelled_split="unsupervised", vocab_size=30000)
    dm.prepare_data(); dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))   # {"input_ids", "lengths", "labels"}; labels unused

Everything else is the classifier's data module: the same sources, the same tokenizer (trained on
the labelled training rows, so the pretrained embedding rows mean the same words in the classifier),
the same encoding, cache and length-bucketed batches of whole reviews. Validation is the labelled
validation rows' text; the test split is never read. The unlabelled reviews need no teacher here:
the language model's targets are the reviews' own next (and previous) words.
"""

from __future__ import annotations

from typing import Optional

from data.datamodule import EncodedReviews, ReviewDataModule
from data.text_encoding import ConfigError


class LanguageModelDataModule(ReviewDataModule):
    def __init__(self, *args, lm_unlabelled_split: Optional[str] = None, **kwargs) -> None:
        """Takes every argument of ReviewDataModule (teachers excepted), and:

        Args:
            lm_unlabelled_split: a split without labels (IMDB's `unsupervised`) whose reviews join the
                training rows' text; null = the training rows alone.
        """
        if kwargs.get("teacher_targets"):
            raise ConfigError("data.teacher_targets is for the classifier; the language model reads data.lm_unlabelled_split")
        if lm_unlabelled_split in ("train", "test", "validation"):
            raise ConfigError(f"data.lm_unlabelled_split must be a split without labels, not {lm_unlabelled_split!r}")
        kwargs["short_texts"] = False  # the classifier's short-text validation means nothing to a language model
        super().__init__(*args, **kwargs)
        self.lm_unlabelled_split = lm_unlabelled_split

    def prepare_data(self) -> None:
        super().prepare_data()
        if self.lm_unlabelled_split is not None:
            labelled = self._labelled_splits()
            self._encode_unlabelled(self.lm_unlabelled_split, self._tokenizer(labelled.train))

    def setup(self, stage: Optional[str] = None) -> None:
        if stage in ("test", "predict"):
            raise ConfigError("the language model is pretrained with `fit` only; the test split is the classifier's")
        extend = stage in ("fit", None) and "train" not in self.splits and self.lm_unlabelled_split is not None
        super().setup(stage)
        if extend:
            import datasets

            _, extra = self._encode_unlabelled(self.lm_unlabelled_split, self.tokenizer_path)
            train = self.splits["train"].encoded
            self.splits["train"] = EncodedReviews(datasets.concatenate_datasets([train, extra]))

