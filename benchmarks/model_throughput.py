"""In-process throughput of exports, tokenization included: reviews/s at batch 64, against a baseline (JSON).

    python benchmarks/model_throughput.py --baseline runs/baseline_export --export model_store/artifacts
    python benchmarks/model_throughput.py --baseline A --export B --batches 40 --batch-size 64 --threads 1 [--reviews FILE]

Each export is loaded into the serving door (serving.runtime.Predictor, with the handler's settings
from config/model-config.yaml: ONNX Runtime, its thread count, its sub-batch rule) and scores the
same batches of real reviews of mixed length (--reviews: a parquet file with a text column, by default
the IMDB test split, paths.IMDB_TEST_PARQUET; data/review_samples.py draws them). The exports take
turns batch by batch, so background load hits them alike; each figure is the median over batches
(the first, a warm-up, left out), and `ratio` is the export's throughput over the baseline's in
this same run. Also reports each export's size on disk and its longest review (max_length).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

from data.review_samples import sample_reviews
from model.export import EXPORT_FILES, ONNX_FILE, WEIGHTS_FILE, read_config
from paths import IMDB_TEST_PARQUET
from reporting import add_out_argument, emit
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml

def describe(export: Path) -> dict:
    config = read_config(export)
    sizes = {name: (export / name).stat().st_size for name in EXPORT_FILES if (export / name).exists()}
    return {
        "path": str(export),
        "max_length": config.get("preprocessing", {}).get("max_length"),
        "network": config.get("network"),
        "onnx_mib": round(sizes.get(ONNX_FILE, 0) / 2**20, 2),
        "served_files_mib": round(sum(sizes[n] for n in sizes if n != WEIGHTS_FILE) / 2**20, 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="export folder the ratio is taken against")
    parser.add_argument("--export", type=Path, required=True, help="export folder measured")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads; default: the handler's")
    parser.add_argument("--reviews", type=Path, default=IMDB_TEST_PARQUET, help="parquet file with a text column (%(default)s)")
    add_out_argument(parser)
    args = parser.parse_args(argv)

    settings = HandlerSettings.from_model_yaml(load_model_yaml())
    if args.threads is not None:
        settings = dataclasses.replace(settings, intra_op_threads=args.threads)
    texts = sample_reviews(args.reviews, args.batch_size * (args.batches + 1))
    batches = [texts[i : i + args.batch_size] for i in range(0, len(texts), args.batch_size)]
    predictors = {"baseline": Predictor(args.baseline, settings), "export": Predictor(args.export, settings)}
    times: dict[str, list[float]] = {name: [] for name in predictors}
    for batch in batches:
        for name, predictor in predictors.items():
            started = time.perf_counter()
            predictor.predict_proba(batch)
            times[name].append(time.perf_counter() - started)
    report: dict = {"reviews": str(args.reviews), "batch_size": args.batch_size, "batches": args.batches,
                    "runtime": settings.runtime, "intra_op_threads": settings.intra_op_threads}
    for name, path in (("baseline", args.baseline), ("export", args.export)):
        median_s = statistics.median(times[name][1:])
        report[name] = {**describe(path), "median_ms_per_batch": round(median_s * 1000, 2),
                        "reviews_per_s": round(args.batch_size / median_s, 1)}
    report["ratio"] = round(report["export"]["reviews_per_s"] / report["baseline"]["reviews_per_s"], 3)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
