"""LightningModule that trains SentimentNet with Adam: BCE-with-logits for two classes, cross-entropy for more.

Used through train.py (LightningCLI); the constructor arguments are the `model:`
section of the config (num_classes comes from the data). Logs `train/loss`, `train/acc`,
`{val,test}/{loss,acc,f1,auroc,ece}`; with more than two classes acc is over all reviews and
f1 / auroc are macro averages over the classes. ece is the expected calibration error over 15
equal-width confidence bins. When the data module gives a second validation loader (the short
texts of data/short_texts.py), its reviews are scored apart as `val_short/{acc,ece}`.
"""

from __future__ import annotations

from typing import Literal, Optional

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassF1Score,
)

from data.sources import NO_LABEL
from data.text_encoding import ConfigError
from model.calibration import ECE_BINS
from model.lm_module import load_encoder
from model.network import Pooling, SentimentNet, SentimentNetConfig, class_probabilities
from model.regularization import adversarial_perturbation, drop_words

Scheduler = Literal["none", "onecycle", "cosine"]


class SentimentClassifier(L.LightningModule):
    def __init__(
        self,
        vocab_size: int = 20000,
        embedding_dim: int = 128,
        gru_hidden: int = 64,
        lstm_hidden: int = 64,
        bidirectional: bool = True,
        dropout: float = 0.3,
        pooling: Pooling = "meanmax",
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        scheduler: Scheduler = "none",
        num_classes: int = 2,
        word_dropout: float = 0.0,
        rnn_dropout: float = 0.0,
        adversarial_eps: float = 0.0,
        distillation_weight: float = 0.0,
        pretrained_encoder: Optional[str] = None,
    ) -> None:
        """
        Args:
            vocab_size: embedding rows; linked from data.vocab_size by train.py.
            embedding_dim: width of the word vectors.
            gru_hidden: GRU units per direction.
            lstm_hidden: LSTM units per direction.
            bidirectional: run both recurrent layers in both directions.
            dropout: on the embeddings and before the head.
            pooling: `last` (final states) or `meanmax` (mean and max over time).
            lr: Adam learning rate (the peak rate with a scheduler).
            weight_decay: AdamW-style decoupled weight decay (0 = plain Adam).
            scheduler: none, onecycle (warm-up then anneal) or cosine, stepped per batch.
            num_classes: classes of the labels; linked from the data module by train.py.
            word_dropout: share of tokens whose whole embedding is zeroed in training.
            rnn_dropout: locked dropout (one mask per review) between the GRU and the LSTM.
            adversarial_eps: L2 norm, per review, of an adversarial perturbation of the embeddings
                whose loss is added to the clean one (Miyato et al. 2017); 0 = off. About doubles step time.
            distillation_weight: share of the training loss that follows a teacher's class probabilities
                (data.teacher_targets) instead of the labels: (1 - w) * loss(labels) + w * loss(teacher); 0 = labels only.
            pretrained_encoder: an encoder.pt from pretrain_lm.py (embedding, GRU and LSTM weights) or from
                pretrain_word_vectors.py (the embedding alone): they start a new fit (a resumed fit keeps
                its checkpoint's); the rest starts fresh.
        """
        super().__init__()
        if lr <= 0:
            raise ConfigError(f"model.lr must be positive, got {lr!r}")
        if weight_decay < 0:
            raise ConfigError(f"model.weight_decay must be >= 0, got {weight_decay!r}")
        if not 0.0 <= word_dropout < 1.0:
            raise ConfigError(f"model.word_dropout must be in [0, 1), got {word_dropout!r}")
        if adversarial_eps < 0:
            raise ConfigError(f"model.adversarial_eps must be >= 0, got {adversarial_eps!r}")
        if not 0.0 <= distillation_weight <= 1.0:
            raise ConfigError(f"model.distillation_weight must be in [0, 1], got {distillation_weight!r}")
        self.save_hyperparameters()
        try:
            self.net_config = SentimentNetConfig(
                vocab_size=vocab_size, embedding_dim=embedding_dim, gru_hidden=gru_hidden, lstm_hidden=lstm_hidden,
                bidirectional=bidirectional, dropout=dropout, pooling=pooling, num_classes=num_classes,
                rnn_dropout=rnn_dropout,
            )
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self.net = SentimentNet(self.net_config)
        metrics = MetricCollection(classification_metrics(num_classes))
        self.train_acc = classification_metrics(num_classes)["acc"]
        self.val_metrics = metrics.clone(prefix="val/")
        short = classification_metrics(num_classes)
        self.val_short_metrics = MetricCollection({"acc": short["acc"], "ece": short["ece"]}, prefix="val_short/")
        self.test_metrics = metrics.clone(prefix="test/")
        # Class probabilities (B, C), kept for the PR curves and confusion matrix train.py logs after testing.
        self.test_scores: list[torch.Tensor] = []
        self.test_labels: list[torch.Tensor] = []

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(input_ids, lengths)

    def setup(self, stage: str) -> None:
        # Lightning restores a resumed fit's checkpoint after this hook, so resuming keeps the trained weights.
        if stage == "fit" and self.hparams.pretrained_encoder:
            copied = load_encoder(self.hparams.pretrained_encoder, self.net, self.trainer.datamodule.tokenizer_path)
            print(f"model: {len(copied)} encoder tensors from {self.hparams.pretrained_encoder}", flush=True)

    def on_fit_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.hparams.distillation_weight > 0 and getattr(datamodule, "teacher_targets", None) is None:
            raise ConfigError("model.distillation_weight > 0 needs a teacher: set data.teacher_targets (teach.py writes them)")

    def _step(self, batch: dict, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, class probabilities (B, C))."""
        if stage == "train" and (self.hparams.word_dropout > 0 or self.hparams.adversarial_eps > 0):
            return self._regularized_train_step(batch)
        logits = self(batch["input_ids"], batch["lengths"]).float()
        labels = batch["labels"]
        loss = self._training_loss(logits, batch) if stage == "train" else self._loss(logits, labels)
        self.log(f"{stage}/loss", loss, prog_bar=stage != "test", batch_size=labels.numel(), sync_dist=stage != "train",
                 add_dataloader_idx=False)  # val/loss, not val/loss/dataloader_idx_0, beside the short texts' loader
        return loss, class_probabilities(logits.detach())

    def _metric_input(self, probabilities: torch.Tensor) -> torch.Tensor:
        # The binary metrics read P(second class) alone.
        return probabilities[:, 1] if self.net_config.num_classes == 2 else probabilities

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.net_config.num_classes == 2:
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels)

    def _training_loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """The loss on the labels, mixed with the loss on the teacher's probabilities when distilling.
        Rows without a label (NO_LABEL, the teacher's unlabelled split) learn from the teacher alone."""
        labels = batch["labels"]
        labelled = labels != NO_LABEL
        weight = self.hparams.distillation_weight
        if weight == 0 or "teacher_probs" not in batch:
            return self._loss(logits[labelled], labels[labelled])
        teacher_loss = distillation_loss(logits, batch["teacher_probs"])
        if not labelled.any():
            return weight * teacher_loss
        return (1.0 - weight) * self._loss(logits[labelled], labels[labelled]) + weight * teacher_loss

    def _regularized_train_step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss with word dropout and/or the adversarial term, both on the embedded review."""
        net, labels, lengths = self.net, batch["labels"], batch["lengths"]
        embedded = drop_words(net.embedding_dropout(net.embedding(batch["input_ids"])), self.hparams.word_dropout)
        logits = net.forward_embedded(embedded, lengths).float()
        loss = self._training_loss(logits, batch)
        if self.hparams.adversarial_eps > 0:
            self.log("train/clean_loss", loss, batch_size=labels.numel())
            (grad,) = torch.autograd.grad(loss, embedded, retain_graph=True)
            perturbed = embedded + adversarial_perturbation(grad, self.hparams.adversarial_eps)
            adversarial_loss = self._training_loss(net.forward_embedded(perturbed, lengths).float(), batch)
            self.log("train/adversarial_loss", adversarial_loss, batch_size=labels.numel())
            loss = loss + adversarial_loss
        self.log("train/loss", loss, prog_bar=True, batch_size=labels.numel())
        return loss, class_probabilities(logits.detach())

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, probabilities = self._step(batch, "train")
        labelled = batch["labels"] != NO_LABEL
        if labelled.any():
            self.train_acc(self._metric_input(probabilities[labelled]), batch["labels"][labelled])
            self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=int(labelled.sum()))
        return loss

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        if dataloader_idx == 1:  # the short texts: accuracy and calibration only, no val/loss
            with torch.no_grad():
                probabilities = class_probabilities(self(batch["input_ids"], batch["lengths"]).float())
            self.val_short_metrics.update(self._metric_input(probabilities), batch["labels"])
            self.log_dict(self.val_short_metrics, batch_size=batch["labels"].numel(), add_dataloader_idx=False)
            return
        _, probabilities = self._step(batch, "val")
        self.val_metrics.update(self._metric_input(probabilities), batch["labels"])
        self.log_dict(self.val_metrics, batch_size=batch["labels"].numel(), prog_bar=True, add_dataloader_idx=False)

    def on_test_epoch_start(self) -> None:
        self.test_scores, self.test_labels = [], []

    def test_step(self, batch: dict, batch_idx: int) -> None:
        _, probabilities = self._step(batch, "test")
        labels = batch["labels"]
        self.test_metrics.update(self._metric_input(probabilities), labels)
        self.log_dict(self.test_metrics, batch_size=labels.numel())
        self.test_scores.append(probabilities.cpu())
        self.test_labels.append(labels.cpu())

    def configure_optimizers(self):
        hp = self.hparams
        optimizer_cls = torch.optim.AdamW if hp.weight_decay > 0 else torch.optim.Adam
        optimizer = optimizer_cls(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return optimizer
        total = self.trainer.estimated_stepping_batches
        if hp.scheduler == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=hp.lr, total_steps=total, pct_start=0.1)
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the network's output against a teacher's class probabilities (B, C).

    Two classes: the one logit against P(second class), binary cross-entropy; more: softmax
    cross-entropy with probability targets. Its gradient vanishes where the network matches the teacher.
    """
    teacher_probs = teacher_probs.to(logits.dtype)
    if logits.dim() == 1:
        return F.binary_cross_entropy_with_logits(logits, teacher_probs[:, 1])
    return F.cross_entropy(logits, teacher_probs)


class BinaryTopLabelCalibrationError(MulticlassCalibrationError):
    """ECE of the predicted class's confidence, max(p, 1 - p) (Guo et al. 2017), fed P(second class) like the
    other binary metrics. (torchmetrics' BinaryCalibrationError bins P(second class) itself: another figure.)"""

    def __init__(self) -> None:
        super().__init__(num_classes=2, n_bins=ECE_BINS, norm="l1")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update(torch.stack([1.0 - preds, preds], dim=1), target)


def classification_metrics(num_classes: int) -> dict:
    """acc, f1 and auroc for the class count: the binary forms for two classes, as always logged."""
    if num_classes == 2:
        return {"acc": BinaryAccuracy(), "f1": BinaryF1Score(), "auroc": BinaryAUROC(),
                "ece": BinaryTopLabelCalibrationError()}
    return {
        "acc": MulticlassAccuracy(num_classes, average="micro"),
        "f1": MulticlassF1Score(num_classes, average="macro"),
        "auroc": MulticlassAUROC(num_classes, average="macro"),
        "ece": MulticlassCalibrationError(num_classes, n_bins=ECE_BINS, norm="l1"),
    }
