"""Build model_store/sentiment.mar from an export folder and the current code, and record its digest.

    python scripts/build_archive.py                     # `make archive`: rebuild only when a source changed
    python scripts/build_archive.py --force [--artifacts DIR] [--out DIR]

An export folder without network.onnx gets one first, checked against PyTorch on 1,000 IMDB test reviews
when ../shared/imdb is here, else on random token ids. What the archive holds: serving/archive.py.
Then model_store/sentiment.digest.json gets the archive's content digest (scripts/archive_digest.py),
which `make serve` checks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from paths import MODEL_STORE, SHIPPED_EXPORT
from scripts.archive_digest import record
from serving.archive import build, ensure_onnx, is_stale
from serving.torchserve import MAR_NAME


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--out", type=Path, default=MODEL_STORE)
    parser.add_argument("--version", default="1.0")
    parser.add_argument("--force", action="store_true", help="rebuild even if the archive is newer than its sources")
    args = parser.parse_args(argv)
    ensure_onnx(args.artifacts)
    mar = args.out / MAR_NAME
    if not args.force and not is_stale(mar, args.artifacts):
        print(f"{mar} is up to date")
        return
    mar = build(args.artifacts, args.out, args.version)
    entry = record(mar)
    print(f"{mar}: content sha256 {entry['content_sha256']}")


if __name__ == "__main__":
    main()
