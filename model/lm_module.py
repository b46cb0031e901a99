"""Language-model pretraining of SentimentNet's encoder as a stage of its own (ULMFiT-style).

    lm = EncoderLanguageModel(vocab_size=20000)            # same sizes as the classifier
    loss = lm.training_step({"input_ids": ids, "lengths": lengths}, 0)
    copy_encoder_weights(lm.net, classifier.net)            # embedding, GRU and LSTM weights
    save_encoder(lm.net, "encoder.pt", tokenizer_path)       # what pretrain_lm.py writes after fit
    load_encoder("encoder.pt", classifier.net, tokenizer_path)  # model.pretrained_encoder does this

It trains the very modules of a SentimentNet (`lm.net`) under model.lm_heads' forward and
backward heads, so its weights load into the classifier one to one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import torch

from data.text_encoding import ConfigError
from model.lm_heads import LanguageModelHeads, direction_states
from model.network import SentimentNet, SentimentNetConfig

ENCODER_PREFIXES = ("embedding.", "gru.", "lstm.")
ENCODER_FILE = "encoder.pt"  # what pretrain_lm.py and pretrain_word_vectors.py write into their run folder


class EncoderLanguageModel(L.LightningModule):
    def __init__(
        self,
        vocab_size: int = 20000,
        embedding_dim: int = 128,
        gru_hidden: int = 64,
        lstm_hidden: int = 64,
        dropout: float = 0.1,
        lr: float = 2e-3,
        cutoffs: tuple[int, ...] = (2000, 10000),
    ) -> None:
        """
        Args:
            vocab_size, embedding_dim, gru_hidden, lstm_hidden: as the classifier's (model.*), so weights transfer.
            dropout: on the embeddings and on the states fed to the softmax.
            lr: Adam learning rate.
            cutoffs: word-frequency bands of the adaptive softmax (model.lm_heads).
        """
        super().__init__()
        self.save_hyperparameters()
        self.net = SentimentNet(SentimentNetConfig(
            vocab_size=vocab_size, embedding_dim=embedding_dim, gru_hidden=gru_hidden, lstm_hidden=lstm_hidden,
            bidirectional=True, dropout=dropout,
        ))
        self.heads = LanguageModelHeads(vocab_size, lstm_hidden, dropout, cutoffs)

    def direction_states(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return direction_states(self.net, input_ids, lengths)

    def lm_loss(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.heads.loss(self.net, input_ids, lengths)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.lm_loss(batch["input_ids"], batch["lengths"])
        self.log("train/lm_loss", loss, prog_bar=True, batch_size=batch["input_ids"].size(0))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss = self.lm_loss(batch["input_ids"], batch["lengths"])
        self.log("val/lm_loss", loss, prog_bar=True, batch_size=batch["input_ids"].size(0))
        self.log("val/perplexity", torch.exp(loss), batch_size=batch["input_ids"].size(0))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def copy_encoder_weights(
    source: SentimentNet, target: SentimentNet, prefixes: tuple[str, ...] = ENCODER_PREFIXES
) -> list[str]:
    """Copy the embedding, GRU and LSTM weights (or those of `prefixes`) from a pretrained net into a
    classifier's net; the head stays as it is. Returns the copied names; raises if the sizes differ."""
    source_state = source.state_dict()
    copied = [name for name in target.state_dict() if name.startswith(prefixes)]
    missing = [name for name in copied if name not in source_state]
    if missing:
        raise ValueError(f"pretrained encoder lacks {missing}")
    target.load_state_dict({name: source_state[name] for name in copied}, strict=False)
    return copied


def tokenizer_digest(tokenizer_path: str | Path) -> str:
    return hashlib.sha256(Path(tokenizer_path).read_bytes()).hexdigest()


def save_encoder(net: SentimentNet, path: str | Path, tokenizer_path: str | Path) -> None:
    """The encoder's weights, with the digest of the tokenizer whose ids its embedding rows follow."""
    save_encoder_state({name: tensor for name, tensor in net.state_dict().items() if name.startswith(ENCODER_PREFIXES)},
                       path, tokenizer_path)


def save_encoder_state(state: dict[str, torch.Tensor], path: str | Path, tokenizer_path: str | Path) -> None:
    """Encoder tensors by their SentimentNet names: all of them, or whole modules of them (word vectors:
    the embedding alone)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "tokenizer_sha256": tokenizer_digest(tokenizer_path)}, path)


def load_encoder(path: str | Path, target: SentimentNet, tokenizer_path: str | Path) -> list[str]:
    """Load a saved encoder into a classifier's net; ConfigError when the file is missing, was
    pretrained with another tokenizer (its embedding rows would mean other words) or has other sizes."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model.pretrained_encoder: no such file {str(path)!r} "
                          "(pretrain_lm.py and pretrain_word_vectors.py write <run>/encoder.pt)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("tokenizer_sha256") != tokenizer_digest(tokenizer_path):
        raise ConfigError(
            f"model.pretrained_encoder {str(path)!r} was pretrained with another tokenizer: give its pretraining "
            "stage the classifier's data settings (dataset, vocab_size, val_fraction, seed)"
        )
    state = saved["state_dict"]
    # Whole modules only: a file may leave out the GRU and LSTM (word vectors) but not half of one.
    modules = [prefix for prefix in ENCODER_PREFIXES if any(name.startswith(prefix) for name in state)]
    if "embedding." not in modules:
        raise ConfigError(f"model.pretrained_encoder {str(path)!r} lacks the embedding")
    source = SentimentNet(target.config)
    try:
        missing = source.load_state_dict(state, strict=False).missing_keys
    except RuntimeError as error:
        raise ConfigError(f"model.pretrained_encoder {str(path)!r} does not fit model.*: {error}") from None
    missing = [name for name in missing if name.startswith(tuple(modules))]
    if missing:
        raise ConfigError(f"model.pretrained_encoder {str(path)!r} lacks {missing}")
    return copy_encoder_weights(source, target, tuple(modules))
