"""Accuracy of the TorchServe handler (no server) on the IMDB test split, as JSON.

    python scripts/evaluate_handler.py [--artifacts model_store/artifacts] [--dataset PATH] [--limit N]
                                       [--runtime onnx|torch] [--precision auto|float32|int8]
    # --dataset default: paths.DEFAULT_DATASET

Feeds the reviews to handler.py in TorchServe-sized batches of JSON requests, loaded and called by
TorchServe's own worker code (serving/torchserve_service.py: ts.model_loader, ts.service.Service,
the worker's frame reader) with config/model-config.yaml's settings (--runtime and --precision replace its own),
and compares the labels with the dataset's (neg=0, pos=1). Every answer must be a 200 whose label
follows from its score and the threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from model.export import read_config
from paths import DEFAULT_DATASET, ROOT, SHIPPED_EXPORT
from reporting import add_out_argument, emit
from serving.runtime import resolve_precision
from serving.settings import PRECISIONS, RUNTIMES, HandlerSettings, load_model_yaml
from serving.torchserve_service import Request, handler_service


def model_yaml(runtime: str | None = None, precision: str | None = None) -> dict:
    """config/model-config.yaml as the archive packs it, with another runtime or precision if given."""
    config = load_model_yaml()
    given = {k: v for k, v in {"runtime": runtime, "precision": precision}.items() if v is not None}
    if given:
        config["handler"] = {**(config.get("handler") or {}), **given}
    return config


def handler_scores(artifacts: Path, texts: list[str], batch_size: int = 8, runtime: str | None = None,
                   precision: str | None = None) -> list[float]:
    config = model_yaml(runtime, precision)
    settings = HandlerSettings.from_model_yaml(config)
    labels = read_config(artifacts)["labels"]
    scores = []
    with handler_service(artifacts, config, batch_size) as service:
        for start in range(0, len(texts), batch_size):
            answers = service.predict([Request(json.dumps({"text": t}).encode(), "application/json")
                                       for t in texts[start : start + batch_size]])
            bad = [(a.status, a.body[:200]) for a in answers if a.status != 200]
            if bad:
                raise RuntimeError(f"handler refused test reviews: {bad[:3]}")
            answers = [a.json() for a in answers]
            inconsistent = [a for a in answers if a["label"] != labels[int(a["score"] >= settings.threshold)]]
            if inconsistent:
                raise RuntimeError(f"labels that do not follow from their scores: {inconsistent[:3]}")
            scores.extend(a["score"] for a in answers)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--limit", type=int, default=None, help="first N reviews only (quick checks)")
    parser.add_argument("--runtime", choices=list(RUNTIMES), help="instead of config/model-config.yaml's")
    parser.add_argument("--precision", choices=list(PRECISIONS), help="instead of config/model-config.yaml's")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    import datasets

    test = datasets.load_dataset(args.dataset)["test"]
    if args.limit:
        test = test.shuffle(seed=0).select(range(args.limit))
    started = time.perf_counter()
    scores = handler_scores(args.artifacts, list(test["text"]), runtime=args.runtime, precision=args.precision)
    labels = list(test["label"])
    settings = HandlerSettings.from_model_yaml(model_yaml(args.runtime, args.precision))
    correct = sum(int(s >= settings.threshold) == y for s, y in zip(scores, labels))
    emit({
        "artifacts": os.path.relpath(args.artifacts, ROOT), "runtime": settings.runtime,
        "precision": resolve_precision(Path(args.artifacts), settings),
        "reviews": len(labels), "accuracy": round(correct / len(labels), 5),
        "seconds": round(time.perf_counter() - started, 1),
    }, args.out)


if __name__ == "__main__":
    main()
