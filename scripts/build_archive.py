"""Build model_store/sentiment.mar from an export folder and the current handler.py.

    python scripts/build_archive.py [--artifacts model_store/artifacts] [--out model_store]

The archive is self-contained: torch-model-archiver copies the *contents* of a directory given
to --extra-files into the archive root (files flat, sub-folders whole), so we stage one folder
that mirrors the repo (model/, data/, serving/ beside the export files) and pass that folder.
Inside the worker the archive root is on sys.path, so the handler's
`from model.export import load_export` resolves exactly as in the repo.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_NAME = "sentiment"
# What the handler imports, with the repo paths kept. serving/explain.py is optional: it joins when present.
PACKAGE_FILES = [
    "model/__init__.py", "model/network.py", "model/export.py",
    "data/__init__.py", "data/text_encoding.py",
    "serving/__init__.py", "serving/request_parsing.py",
]
OPTIONAL_FILES = ["serving/explain.py"]
EXPORT_FILES = ["network.pt", "tokenizer.json", "model_config.json"]
REQUIREMENTS = ROOT / "serving" / "archive-requirements.txt"


def stage(artifacts: Path, staging: Path) -> None:
    missing = [name for name in EXPORT_FILES if not (artifacts / name).is_file()]
    if missing:
        raise SystemExit(f"{artifacts} lacks {missing}: copy or train an export first (README, Training)")
    for rel in PACKAGE_FILES + [f for f in OPTIONAL_FILES if (ROOT / f).is_file()]:
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, staging / rel)
    for name in EXPORT_FILES + ["MODEL_CARD.md"]:
        if (artifacts / name).is_file():
            shutil.copy2(artifacts / name, staging / name)


def build(artifacts: Path, out: Path, version: str = "1.0") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    with tempfile.TemporaryDirectory(prefix="mar-stage-") as tmp:
        staging = Path(tmp) / "stage"
        stage(artifacts, staging)
        subprocess.run(
            [
                str(archiver), "--model-name", MODEL_NAME, "--version", version,
                "--handler", str(ROOT / "handler.py"), "--extra-files", str(staging),
                "--requirements-file", str(REQUIREMENTS), "--export-path", str(out), "--force",
            ],
            check=True,
        )
    return out / f"{MODEL_NAME}.mar"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / "model_store" / "artifacts")
    parser.add_argument("--out", type=Path, default=ROOT / "model_store")
    parser.add_argument("--version", default="1.0")
    args = parser.parse_args(argv)
    print(build(args.artifacts, args.out, args.version))


if __name__ == "__main__":
    main()
