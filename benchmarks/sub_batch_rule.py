"""How to cut a batch into sub-batches: in-process cost per cell, and candidate rules on real batches (JSON).

    python benchmarks/sub_batch_rule.py [--runtime onnx|torch] [--threads 1] [--batches 40] [--quick]

Part 1, cost per cell: one forward pass (Predictor.predict_ids, so tokenization is left out) of
`rows` random reviews all `length` tokens long; median ms and microseconds per cell (row x step).
Flat per-cell cost means padding is pure waste; a cost per cell that rises with the cells of a
pass says big passes should be cut.

Part 2, rules: TorchServe-sized batches (--batch-size texts each) of real IMDB test reviews of
mixed length, and of the fixed 233-word review, scored through Predictor.predict_proba under each
(sub_batch_tokens, sub_batch_padding) pair; the median ms per batch, all rules interleaved batch
by batch so background load hits them alike. "whole" is one padded pass per batch (no cutting).
The defaults in serving/settings.py are the pair that did best here (README, Serving).
Prints the JSON (with the machine and its load, reporting.py); --out keeps it.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from data.review_samples import REVIEW, real_reviews
from paths import SHIPPED_EXPORT
from reporting import add_out_argument, emit, median_ms
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml

NO_LIMIT = (10**9, 0.999)  # one pass per batch


def cost_per_cell(predictor: Predictor, rows_list: list[int], lengths: list[int], repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    vocab = predictor.encoder.tokenizer.get_vocab_size()
    results = []
    for length in lengths:
        for rows in rows_list:
            ids = rng.integers(2, vocab, size=(rows, length)).tolist()
            ms = median_ms(lambda: predictor.predict_ids(ids), repeats)
            results.append({"rows": rows, "length": length, "cells": rows * length, "ms": round(ms, 3),
                            "us_per_cell": round(ms * 1000 / (rows * length), 3)})
    return results


def compare_rules(base: HandlerSettings, export: Path, workloads: dict, rules: list[tuple[int, float]]) -> dict:
    predictors = {rule: Predictor(export, dataclasses.replace(base, sub_batch_tokens=rule[0], sub_batch_padding=rule[1]))
                  for rule in rules}
    report = {}
    for name, batches in workloads.items():
        times = {rule: [] for rule in rules}
        for batch in batches:
            for rule, predictor in predictors.items():
                started = time.perf_counter()
                predictor.predict_proba(batch)
                times[rule].append(time.perf_counter() - started)
        report[name] = [
            {"sub_batch_tokens": "whole" if rule == NO_LIMIT else rule[0],
             "sub_batch_padding": "whole" if rule == NO_LIMIT else rule[1],
             "median_ms_per_batch": round(statistics.median(t[1:]) * 1000, 2)}  # the first batch warms up
            for rule, t in times.items()
        ]
        report[name].sort(key=lambda r: r["median_ms_per_batch"])
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--runtime", choices=["onnx", "torch"], default=None, help="default: config/model-config.yaml's")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads; default: the config's")
    parser.add_argument("--batch-size", type=int, default=16, help="texts per batch (TorchServe's batchSize)")
    parser.add_argument("--batches", type=int, default=40, help="batches per workload")
    parser.add_argument("--repeats", type=int, default=9, help="timed passes per shape in part 1")
    parser.add_argument("--quick", action="store_true", help="a small grid and few batches: proves it runs")
    add_out_argument(parser)
    args = parser.parse_args(argv)

    base = HandlerSettings.from_model_yaml(load_model_yaml())
    base = dataclasses.replace(base, **{k: v for k, v in (("runtime", args.runtime), ("intra_op_threads", args.threads))
                                       if v is not None})
    if args.quick:
        rows_list, lengths, batches, repeats = [1, 4, 16], [64, 266], 6, 3
        rules = [NO_LIMIT, (1024, 0.25), (2048, 0.5)]
    else:
        rows_list, lengths, batches, repeats = [1, 2, 4, 8, 16, 32], [32, 64, 128, 266, 400], args.batches, args.repeats
        rules = [NO_LIMIT] + [(t, p) for t in (512, 1024, 2048, 4096, 10**9) for p in (0.1, 0.25, 0.5, 0.999)
                              if (t, p) != NO_LIMIT]
    reviews = real_reviews(args.batch_size * (batches + 1), seed=1)
    workloads = {
        "real_reviews": [reviews[i : i + args.batch_size] for i in range(0, len(reviews), args.batch_size)],
        "fixed_review": [[REVIEW] * args.batch_size] * (batches + 1),
    }
    predictor = Predictor(args.artifacts, base)
    emit({
        "runtime": base.runtime, "intra_op_threads": base.intra_op_threads, "batch_size": args.batch_size,
        "cost_per_cell": cost_per_cell(predictor, rows_list, lengths, repeats),
        "rules": compare_rules(base, args.artifacts, workloads, rules),
    }, args.out)


if __name__ == "__main__":
    main()
