"""Handler settings: every one, its default and why, and the checks; config/model-config.yaml changes some.

torch-model-archiver packs config/model-config.yaml into the archive (`--config-file`); TorchServe
hands it to the handler as `context.model_yaml_config`, whose `handler:` section lists only the
settings an archive sets otherwise than the defaults below. Pure Python, so request parsing can use it:

    settings = HandlerSettings.from_model_yaml(context.model_yaml_config)
    settings.max_texts, settings.max_body_bytes, settings.runtime
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from paths import CONFIG_DIR

MODEL_CONFIG_YAML = CONFIG_DIR / "model-config.yaml"
RUNTIMES = ("onnx", "torch")  # serving/runtime.py: ONNX Runtime on network.onnx, PyTorch on network.pt
# runtime "onnx": "auto" runs network.int8.onnx where the export has it (written only when it passed its
# check, model/export_writer.py) and network.onnx otherwise; "float32" / "int8" insist on one file.
PRECISIONS = ("auto", "float32", "int8")


@dataclass(frozen=True)
class HandlerSettings:
    max_texts: int = 64  # reviews in one {"texts": [...]} request; more answers 413
    max_text_chars: int = 20_000  # ~8x the longest IMDB review; longer texts answer 413 (refused, not truncated)
    threshold: float = 0.5  # two classes: the second label when P(second) >= threshold
    explain_steps: int = 12  # integrated-gradient steps per baseline (`make bench-explain`)
    # Compiled RNN kernels oneDNN keeps (one per batch shape): bounds a PyTorch worker's memory.
    onednn_cache_capacity: int = 16
    # What predicts: one of RUNTIMES; explanations always use PyTorch, built on the first explanation.
    runtime: str = "onnx"
    # Threads inside one operator (the ONNX Runtime session; torch.set_num_threads for "torch"): one per
    # worker leaves the second core to the frontend (`make bench-serve`).
    intra_op_threads: int = 1
    inter_op_threads: int = 1  # operators run side by side (ONNX Runtime only); the graph is a chain
    # A batch's texts are sorted by length and run in sub-batches of at most sub_batch_tokens cells
    # (rows x padded length: bounds one pass's memory) with at most sub_batch_padding of them padding
    # (serving/runtime.py says why; benchmarks/sub_batch_rule.py measured candidate pairs).
    sub_batch_tokens: int = 2048
    sub_batch_padding: float = 0.25
    # Which ONNX file runtime "onnx" runs (PRECISIONS): int8 weights for the embedding and the LSTM where the
    # export has them. docs/serving.md, "An int8 network", has the measurements behind the default.
    precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("max_texts", "max_text_chars", "explain_steps", "onednn_cache_capacity", "intra_op_threads",
                     "inter_op_threads", "sub_batch_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"handler.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.threshold, (int, float)) or not 0.0 < self.threshold < 1.0:
            raise ValueError(f"handler.threshold must be in (0, 1), got {self.threshold!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"handler.runtime must be one of {list(RUNTIMES)}, got {self.runtime!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"handler.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "int8" and self.runtime != "onnx":
            raise ValueError("handler.precision int8 needs handler.runtime onnx (PyTorch runs network.pt in float32)")
        if isinstance(self.sub_batch_padding, bool) or not isinstance(self.sub_batch_padding, (int, float)) \
                or not 0.0 <= self.sub_batch_padding < 1.0:
            raise ValueError(f"handler.sub_batch_padding must be in [0, 1), got {self.sub_batch_padding!r}")

    @property
    def max_body_bytes(self) -> int:
        """What the largest valid request can weigh: every text at the cap, 4 UTF-8 bytes a character."""
        return self.max_texts * self.max_text_chars * 4 + 1024

    @classmethod
    def from_model_yaml(cls, model_yaml_config: dict | None) -> "HandlerSettings":
        section = (model_yaml_config or {}).get("handler") or {}
        if not isinstance(section, dict):
            raise ValueError(f"model-config.yaml: handler must be a mapping, got {type(section).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"model-config.yaml: unknown handler setting(s) {unknown}; known: {sorted(known)}")
        return cls(**section)


def load_model_yaml(path: str | Path = MODEL_CONFIG_YAML) -> dict:
    """The model-config.yaml as TorchServe parses it (for running the handler outside TorchServe)."""
    import yaml

    return yaml.safe_load(Path(path).read_text()) or {}
