"""Handler settings: the `handler:` section of config/model-config.yaml, with defaults and checks.

torch-model-archiver packs config/model-config.yaml into the archive (`--config-file`); TorchServe
hands it to the handler as `context.model_yaml_config`. Pure Python, so request parsing can use it:

    settings = HandlerSettings.from_model_yaml(context.model_yaml_config)
    settings.max_texts, settings.max_body_bytes, settings.runtime
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

MODEL_CONFIG_YAML = Path(__file__).resolve().parents[1] / "config" / "model-config.yaml"
RUNTIMES = ("onnx", "torch")  # serving/runtime.py: ONNX Runtime on network.onnx, PyTorch on network.pt


@dataclass(frozen=True)
class HandlerSettings:
    max_texts: int = 64  # reviews in one {"texts": [...]} request
    max_text_chars: int = 20_000  # ~8x the longest IMDB review; longer texts are refused, not truncated
    threshold: float = 0.5  # two classes: the second label when P(second) >= threshold
    explain_steps: int = 12  # integrated-gradient steps per baseline (benchmarks/explain_latency.py)
    onednn_cache_capacity: int = 16  # compiled RNN kernels oneDNN keeps (one per batch shape)
    runtime: str = "onnx"  # what predicts: one of RUNTIMES; explanations always use PyTorch
    intra_op_threads: int = 1  # threads inside one operator (ONNX Runtime session; torch.set_num_threads for "torch")
    inter_op_threads: int = 1  # operators run in parallel (ONNX Runtime only)
    sub_batch_tokens: int = 2048  # most rows x padded length in one forward pass (serving/runtime.py)
    sub_batch_padding: float = 0.25  # most share of a sub-batch's cells that is padding

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
