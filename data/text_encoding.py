"""Text -> token ids: the one preprocessing used by training and by serving.

Imports only `tokenizers` and numpy (torch only inside `pad_batch`, for training and the PyTorch
network), so a server that predicts with ONNX Runtime runs it without torch.
Normalization (HTML line breaks removed, NFKC, lowercase) lives inside
tokenizer.json itself; truncation and padding live here.

    encoder = TextEncoder(Tokenizer.from_file("tokenizer.json"), max_length=400, truncation="head+tail")
    input_ids, lengths = encoder.batch(["A wonderful film.", "Dull."])      # torch tensors
    input_ids, lengths = pad_ids(encoder.encode_ids(["A wonderful film."]))  # numpy arrays
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Literal, Sequence

import numpy as np
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

if TYPE_CHECKING:
    import torch

Truncation = Literal["head", "tail", "head+tail"]
TRUNCATION_MODES: tuple[str, ...] = ("head", "tail", "head+tail")
PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
PAD_ID = 0  # [PAD] is the first special token, so training and serving agree on it


class ConfigError(ValueError):
    """A bad configuration value or input file; the message names the field."""


def check_encoding_args(vocab_size: int, max_length: int, truncation: str, prefix: str = "data") -> None:
    """Raise ConfigError naming the offending field; called before any heavy work."""
    if not isinstance(vocab_size, int) or vocab_size < 3:
        raise ConfigError(f"{prefix}.vocab_size must be an integer >= 3 (2 special tokens + words), got {vocab_size!r}")
    if not isinstance(max_length, int) or max_length <= 0:
        raise ConfigError(f"{prefix}.max_length must be a positive integer, got {max_length!r}")
    if truncation not in TRUNCATION_MODES:
        raise ConfigError(f"{prefix}.truncation must be one of {list(TRUNCATION_MODES)}, got {truncation!r}")


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """A word-level tokenizer whose normalizer does all text cleaning."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(r"<br\s*/?>"), " "), normalizers.NFKC(), normalizers.Lowercase()]
    )
    # Words and runs of punctuation ("!!!", ":)") are separate tokens: both carry sentiment.
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=[PAD_TOKEN, UNK_TOKEN], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID:
        raise RuntimeError("tokenizer training did not put [PAD] at id 0")
    return tokenizer


def load_tokenizer(path: str) -> Tokenizer:
    """Load tokenizer.json, failing with the path in the message if it is missing or corrupt."""
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception on bad JSON
        raise ValueError(f"cannot load tokenizer from {path}: {error}") from error
    if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID or tokenizer.token_to_id(UNK_TOKEN) is None:
        raise ValueError(f"tokenizer {path} lacks {PAD_TOKEN} at id {PAD_ID} or {UNK_TOKEN}")
    return tokenizer


def truncate(ids: Sequence[int], max_length: int, truncation: str) -> list[int]:
    """Keep the first, the last, or the first and last max_length/2 tokens (reviews tend to conclude)."""
    if len(ids) <= max_length:
        return list(ids)
    if truncation == "head":
        return list(ids[:max_length])
    if truncation == "tail":
        return list(ids[-max_length:])
    head = (max_length + 1) // 2
    return list(ids[:head]) + list(ids[len(ids) - (max_length - head) :])


def pad_ids(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the batch's own longest sequence: (input_ids (B, T), lengths (B,)), int64 arrays."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    input_ids = np.full((len(sequences), int(lengths.max()) if len(sequences) else 0), PAD_ID, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = sequence
    return input_ids, lengths


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """pad_ids as torch tensors (training batches, the PyTorch network)."""
    import torch

    input_ids, lengths = pad_ids(sequences)
    return torch.from_numpy(input_ids), torch.from_numpy(lengths)


class TextEncoder:
    """Tokenizes, truncates and pads exactly as the model was trained."""

    def __init__(self, tokenizer: Tokenizer, max_length: int, truncation: str) -> None:
        check_encoding_args(tokenizer.get_vocab_size(), max_length, truncation)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.truncation = truncation
        self.unk_id = tokenizer.token_to_id(UNK_TOKEN)

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated; an empty text encodes to one [UNK] so every length is >= 1."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [truncate(e.ids, self.max_length, self.truncation) or [self.unk_id] for e in encodings]

    def encode_tokens(self, text: str) -> tuple[list[int], list[str], list[tuple[int, int]]]:
        """Ids, tokens and (start, end) character offsets into `text`, as the model sees them
        after truncation; for explanations. Unknown words come back as the [UNK] token."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        kept = truncate(range(len(encoding.ids)), self.max_length, self.truncation)
        if not kept:
            return [self.unk_id], [UNK_TOKEN], [(0, 0)]
        return (
            [encoding.ids[i] for i in kept],
            [encoding.tokens[i] for i in kept],
            [tuple(encoding.offsets[i]) for i in kept],
        )

    def batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_batch(self.encode_ids(texts))
