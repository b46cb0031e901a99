"""Accuracy of the TorchServe handler (no server) on the IMDB test split, as JSON.

    python scripts/evaluate_handler.py [--artifacts model_store/artifacts] [--dataset ../shared/imdb] [--limit N]

Feeds the reviews through SentimentHandler.handle in TorchServe-sized batches of JSON requests,
exactly the worker's path, and compares the labels with the dataset's (neg=0, pos=1).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from handler import SentimentHandler
from serving.local_context import LocalContext
from benchmarks.report import add_out_argument, emit

ROOT = Path(__file__).resolve().parents[1]


def handler_scores(artifacts: Path, texts: list[str], batch_size: int = 8) -> list[float]:
    handler = SentimentHandler()
    handler.initialize(LocalContext(artifacts, [{}]))
    scores = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        context = LocalContext(artifacts, [{"body": {"content-type": "application/json"}}] * len(chunk))
        answers = handler.handle([{"body": {"text": t}} for t in chunk], context)
        bad = [a for i, a in enumerate(answers) if context.status(i) != 200]
        if bad:
            raise RuntimeError(f"handler refused test reviews: {bad[:3]}")
        scores.extend(a["score"] for a in answers)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / "model_store" / "artifacts")
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "imdb"))
    parser.add_argument("--limit", type=int, default=None, help="first N reviews only (quick checks)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    import datasets

    test = datasets.load_dataset(args.dataset)["test"]
    if args.limit:
        test = test.shuffle(seed=0).select(range(args.limit))
    started = time.perf_counter()
    scores = handler_scores(args.artifacts, list(test["text"]))
    labels = list(test["label"])
    correct = sum(int(s >= 0.5) == y for s, y in zip(scores, labels))
    emit({
        "artifacts": str(args.artifacts), "reviews": len(labels), "accuracy": round(correct / len(labels), 5),
        "seconds": round(time.perf_counter() - started, 1),
    }, args.out)


if __name__ == "__main__":
    main()
