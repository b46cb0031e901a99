"""TorchServe's archive: sentiment.mar from an export folder and the code the handler imports.

`make archive` (scripts/build_archive.py) calls these; tests and benchmarks build archives of other
exports or handler settings with them:

    from serving.archive import build, model_config_with
    mar = build(export_dir, out_dir)                                         # out_dir/sentiment.mar
    mar = build(export_dir, out_dir, model_config=model_config_with({"runtime": "torch"}, tmp))

What it runs (the staging folder mirrors the repo, so `from model.export import ...` resolves inside
the worker exactly as here; torch-model-archiver copies the *contents* of --extra-files into the
archive root):

    torch-model-archiver --model-name sentiment --version 1.0 --handler handler.py \
        --extra-files <staging: model/ data/ serving/ + export files> \
        --config-file config/model-config.yaml --requirements-file serving/archive-requirements.txt \
        --export-path model_store --force
"""


from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from model.export import EXPORT_FILES, ONNX_FILE, ONNX_INT8_FILE, OPTIONAL_EXPORT_FILES, WEIGHTS_FILE
from paths import IMDB_TEST_PARQUET, ROOT
from serving.torchserve import MAR_NAME, MODEL_NAME, executable

HANDLER = "handler.py"
MODEL_CONFIG = "config/model-config.yaml"
REQUIREMENTS = "serving/archive-requirements.txt"
# What the handler imports, with the repo paths kept: the one list of the archive's code.
PACKAGE_FILES = [
    "model/__init__.py", "model/network.py", "model/network_config.py", "model/export.py",
    "data/__init__.py", "data/text_encoding.py",
    "serving/__init__.py", "serving/request_parsing.py", "serving/settings.py", "serving/explain.py",
    "serving/runtime.py", "serving/answers.py",
]


def sources(artifacts: Path) -> list[Path]:
    """Every file the archive is built from; `make archive` rebuilds when one is newer than the .mar."""
    code = [ROOT / rel for rel in [HANDLER, MODEL_CONFIG, REQUIREMENTS, *PACKAGE_FILES, "serving/archive.py"]]
    return code + [artifacts / name for name in EXPORT_FILES + OPTIONAL_EXPORT_FILES if (artifacts / name).is_file()]


def stage(artifacts: Path, staging: Path) -> None:
    missing = [name for name in EXPORT_FILES if not (artifacts / name).is_file()]
    if missing:
        raise SystemExit(f"build_archive.py: error: {artifacts} lacks {missing}: train an export first (docs/training.md)")
    for rel in PACKAGE_FILES:
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, staging / rel)
    for name in EXPORT_FILES + OPTIONAL_EXPORT_FILES:
        if (artifacts / name).is_file():
            shutil.copy2(artifacts / name, staging / name)


def build(artifacts: Path, out: Path, version: str = "1.0", model_config: Path = ROOT / MODEL_CONFIG) -> Path:
    """sentiment.mar in `out`; `model_config` replaces config/model-config.yaml (see model_config_with)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mar-stage-") as tmp:
        staging = Path(tmp) / "stage"
        stage(artifacts, staging)
        subprocess.run(
            [
                executable("torch-model-archiver"), "--model-name", MODEL_NAME, "--version", version,
                "--handler", str(ROOT / HANDLER), "--extra-files", str(staging),
                "--config-file", str(model_config), "--requirements-file", str(ROOT / REQUIREMENTS),
                "--export-path", str(out), "--force",
            ],
            check=True,
        )
    return out / MAR_NAME


def model_config_with(handler_settings: dict, folder: Path) -> Path:
    """config/model-config.yaml with some handler settings replaced (e.g. {"runtime": "torch"}),
    written into `folder`: archives for tests and benchmarks that compare settings."""
    import yaml

    config = yaml.safe_load((ROOT / MODEL_CONFIG).read_text())
    config["handler"] = {**config.get("handler", {}), **handler_settings}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(MODEL_CONFIG).name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def ensure_onnx(artifacts: Path) -> None:
    """Write network.onnx and network.int8.onnx into an export folder that lacks them (older exports)."""
    from model.export_writer import write_for_export

    if not (artifacts / WEIGHTS_FILE).is_file() or (artifacts / ONNX_INT8_FILE).is_file():
        return
    reviews = IMDB_TEST_PARQUET if IMDB_TEST_PARQUET.is_file() else None
    print(write_for_export(artifacts, reviews, int8_only=(artifacts / ONNX_FILE).is_file()))


def is_stale(mar: Path, artifacts: Path) -> bool:
    return not mar.is_file() or any(p.stat().st_mtime > mar.stat().st_mtime for p in sources(artifacts))
