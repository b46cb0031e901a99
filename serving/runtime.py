"""Predictor: an export folder in, class probabilities out, through ONNX Runtime or PyTorch.

The one door for inference: the handler, scripts/evaluate_handler.py and the serving
benchmarks score through it, so a runtime or batching change lands everywhere at once.

    from serving.runtime import Predictor
    from serving.settings import HandlerSettings
    predictor = Predictor("model_store/artifacts", HandlerSettings(runtime="onnx"))
    predictor.predict_proba(["A wonderful film.", "Dull."])     # np.ndarray (2, classes), in label order
    predictor.labels                                            # ["negative", "positive"]
    predictor.network                                           # SentimentNet, built on first use (explanations)

The runtime comes from the `runtime:` setting (config/model-config.yaml): "onnx" runs network.int8.onnx
where the export has it and network.onnx otherwise (`precision`; `predictor.precision` says which ran),
in one ONNX Runtime session per process, with the thread counts of the settings; "torch" runs
network.pt in PyTorch. With "onnx" nothing imports torch: tokenization is `tokenizers`, padding and
probabilities are numpy, so the lean serving install (requirements-serve.txt, no torch) suffices.
The PyTorch network is built only when an explanation asks for it. By default network.pt is still
checked at start (names and shapes, not read; this imports torch), and so is network.onnx when the int8
file serves (loaded once), so a broken one fails loudly; the KServe model server passes
check_network=False and stays torch-free.

Length-aware sub-batches: the texts are sorted by token count and cut into sub-batches, each
run on its own and padded only to its own longest text; probabilities come back in the order of
the texts. A sub-batch closes before a text that would make it more than `sub_batch_padding`
padding, or more than `sub_batch_tokens` cells (rows x padded length). Why, measured in-process
with benchmarks/sub_batch_rule.py (ONNX Runtime, one thread; figures in the README, Serving):
a pass costs about the same per cell, padding or not, once it has 4 rows or more (3.5-4.5 us per
cell from 4 to 32 rows and 32 to 400 tokens; 5-8 us with 1 or 2 rows), so padding is pure waste,
and one 1,000-word review would make fifteen short ones pay for 400 steps. On batches of 16 real
test reviews, sorted sub-batches took ~40 ms against ~65 ms for one padded pass. The cell budget
bounds the activations of a pass (ONNX Runtime's arena keeps its peak) while leaving 5 rows or
more even for 400-token reviews, where the cost per cell is flat.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from data.text_encoding import TextEncoder, pad_ids
from model.export import ONNX_FILE, ONNX_INPUTS, ONNX_INT8_FILE, ONNX_OUTPUT, check_weights, load_encoder, load_network
from model.network_config import probabilities_from_logits
from serving.settings import HandlerSettings

if TYPE_CHECKING:
    from model.network import SentimentNet


def plan_sub_batches(lengths: Sequence[int], max_tokens: int, max_padding: float) -> list[list[int]]:
    """Indices into `lengths`, grouped: sorted by length, a group closes before the text that would
    make its padded cells exceed `max_tokens` or its padding exceed `max_padding` of those cells.
    A text longer than `max_tokens` runs alone."""
    groups: list[list[int]] = []
    current: list[int] = []
    real = 0  # tokens of the current group
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        length = lengths[index]
        cells = (len(current) + 1) * length  # ascending order: the newcomer is the group's longest
        if current and (cells > max_tokens or cells - (real + length) > max_padding * cells):
            groups.append(current)
            current, real = [], 0
        current.append(index)
        real += length
    if current:
        groups.append(current)
    return groups


# int8 quantizes the LSTM's inputs with one scale per pass, so a review's answer moves slightly with its
# batch-mates: up to 5e-4 for the shipped model (1,024 test reviews alone and in batches of 64); tests hold
# every int8 answer to this bound against the same review scored alone.
INT8_BATCH_TOLERANCE = 2e-3


def resolve_precision(directory: Path, settings: HandlerSettings) -> str:
    """"float32" or "int8": what the settings run for the export in `directory`. The export writer keeps
    network.int8.onnx only when it passed its check against network.onnx, so "auto" serves int8 exactly
    where that check passed; runtime "torch" runs network.pt in float32."""
    if settings.runtime != "onnx":
        return "float32"
    if settings.precision == "auto":
        return "int8" if (directory / ONNX_INT8_FILE).is_file() else "float32"
    return settings.precision


class OnnxRuntimeSession:
    """network.onnx in one ONNX Runtime session with explicit thread counts."""

    def __init__(self, path: Path, settings: HandlerSettings) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.intra_op_threads
        options.inter_op_num_threads = settings.inter_op_threads
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Every batch has a new (rows, length) shape; a memory pattern is planned and kept per shape.
        options.enable_mem_pattern = False
        # The worker shares its cores with the frontend and the clients: idle pool threads sleep, not spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if not path.is_file():
            raise ValueError(
                f"no {path.name} in {path.parent}: write it with `python scripts/write_onnx.py {path.parent}` "
                "(`make archive` does), or set handler.runtime: torch"
            )
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types for corrupt files
            raise ValueError(f"cannot load ONNX model {path}: {error}") from error
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if names != (list(ONNX_INPUTS), [ONNX_OUTPUT]):
            raise ValueError(f"cannot load ONNX model {path}: inputs/outputs {names}, "
                             f"expected {list(ONNX_INPUTS)} -> {ONNX_OUTPUT}")

    def logits(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        (out,) = self.session.run([ONNX_OUTPUT], dict(zip(ONNX_INPUTS, (input_ids, lengths))))
        return out


class TorchSession:
    """network.pt in PyTorch."""

    def __init__(self, predictor: Predictor, settings: HandlerSettings) -> None:
        import torch

        torch.set_num_threads(settings.intra_op_threads)
        self.torch = torch
        self.net = predictor.network

    def logits(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.net(self.torch.from_numpy(input_ids), self.torch.from_numpy(lengths)).float().numpy()


class Predictor:
    """Texts -> class probabilities with the export in `directory` and the runtime of `settings`."""

    def __init__(self, directory: str | os.PathLike, settings: HandlerSettings | None = None,
                 check_network: bool = True) -> None:
        self.directory = Path(directory)
        self.settings = settings or HandlerSettings()
        self.encoder: TextEncoder
        self.encoder, self.config = load_encoder(self.directory)
        self.labels: list[str] = list(self.config["labels"])
        self._network: SentimentNet | None = None
        self.precision = resolve_precision(self.directory, self.settings)
        if self.settings.runtime == "onnx":
            if check_network:
                check_weights(self.directory, self.config)
            if check_network and self.precision == "int8":
                # network.onnx is loaded once and dropped: a broken one fails at start, not on the day
                # someone sets precision float32 (as network.pt is checked for explanations).
                OnnxRuntimeSession(self.directory / ONNX_FILE, self.settings)
            onnx_file = ONNX_INT8_FILE if self.precision == "int8" else ONNX_FILE
            self.session = OnnxRuntimeSession(self.directory / onnx_file, self.settings)
        else:
            self.session = TorchSession(self, self.settings)

    @property
    def runtime(self) -> str:
        return self.settings.runtime

    @property
    def network(self) -> SentimentNet:
        """The PyTorch network (network.pt), loaded on first use: explanations, or runtime "torch"."""
        if self._network is None:
            self._network = load_network(self.directory, self.config)
        return self._network

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), classes) probabilities in label order, rows in the order of `texts`."""
        return self.predict_ids(self.encoder.encode_ids(texts))

    def predict_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """As predict_proba, for already encoded (and truncated) token-id lists."""
        if not sequences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return probabilities_from_logits(self.logits_ids(sequences))

    def logits_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """The head's outputs for token-id lists, in their order: (N,) for a sigmoid head, (N, classes) otherwise."""
        groups = plan_sub_batches([len(s) for s in sequences], self.settings.sub_batch_tokens,
                                  self.settings.sub_batch_padding)
        rows: list[np.ndarray | None] = [None] * len(sequences)
        for group in groups:
            for index, row in zip(group, self.session.logits(*pad_ids([sequences[i] for i in group]))):
                rows[index] = row
        return np.stack(rows)

