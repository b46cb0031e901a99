"""Build model_store/sentiment.mar from an export folder and the current code, and record its digest.

    python scripts/build_archive.py                     # `make archive`: rebuild only when a source changed
    python scripts/build_archive.py --force [--artifacts DIR] [--out DIR]

What it runs (the staging folder mirrors the repo, so `from model.export import ...` resolves inside
the worker exactly as here; torch-model-archiver copies the *contents* of --extra-files into the
archive root):

    torch-model-archiver --model-name sentiment --version 1.0 --handler handler.py \
        --extra-files <staging: model/ data/ serving/ + export files> \
        --config-file config/model-config.yaml --requirements-file serving/archive-requirements.txt \
        --export-path model_store --force

Then model_store/sentiment.digest.json gets the archive's content digest (scripts/archive_digest.py),
which `make serve` checks.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.archive_digest import record
from serving.torchserve import MAR_NAME, MODEL_NAME, MODEL_STORE, ROOT, executable

HANDLER = "handler.py"
MODEL_CONFIG = "config/model-config.yaml"
REQUIREMENTS = "serving/archive-requirements.txt"
# What the handler imports, with the repo paths kept: the one list of the archive's code.
PACKAGE_FILES = [
    "model/__init__.py", "model/network.py", "model/export.py",
    "data/__init__.py", "data/text_encoding.py",
    "serving/__init__.py", "serving/request_parsing.py", "serving/settings.py", "serving/explain.py",
    "serving/open_inference.py", "serving/envelopes.py",
]
EXPORT_FILES = ["network.pt", "tokenizer.json", "model_config.json"]
OPTIONAL_EXPORT_FILES = ["MODEL_CARD.md"]
DEFAULT_ARTIFACTS = MODEL_STORE / "artifacts"


def sources(artifacts: Path) -> list[Path]:
    """Every file the archive is built from; `make archive` rebuilds when one is newer than the .mar."""
    code = [ROOT / rel for rel in [HANDLER, MODEL_CONFIG, REQUIREMENTS, *PACKAGE_FILES, "scripts/build_archive.py"]]
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


def build(artifacts: Path, out: Path, version: str = "1.0") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mar-stage-") as tmp:
        staging = Path(tmp) / "stage"
        stage(artifacts, staging)
        subprocess.run(
            [
                executable("torch-model-archiver"), "--model-name", MODEL_NAME, "--version", version,
                "--handler", str(ROOT / HANDLER), "--extra-files", str(staging),
                "--config-file", str(ROOT / MODEL_CONFIG), "--requirements-file", str(ROOT / REQUIREMENTS),
                "--export-path", str(out), "--force",
            ],
            check=True,
        )
    return out / MAR_NAME


def is_stale(mar: Path, artifacts: Path) -> bool:
    return not mar.is_file() or any(p.stat().st_mtime > mar.stat().st_mtime for p in sources(artifacts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--out", type=Path, default=MODEL_STORE)
    parser.add_argument("--version", default="1.0")
    parser.add_argument("--force", action="store_true", help="rebuild even if the archive is newer than its sources")
    args = parser.parse_args(argv)
    mar = args.out / MAR_NAME
    if not args.force and not is_stale(mar, args.artifacts):
        print(f"{mar} is up to date")
        return
    mar = build(args.artifacts, args.out, args.version)
    entry = record(mar)
    print(f"{mar}: content sha256 {entry['content_sha256']}")


if __name__ == "__main__":
    main()
