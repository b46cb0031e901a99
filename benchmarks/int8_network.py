"""network.int8.onnx against network.onnx: accuracy, agreement and in-process speed of ONNX Runtime's
dynamic int8 quantization, for several quantization choices and graph-optimization levels; JSON.

    python benchmarks/int8_network.py --out docs/figures/int8_network.json        # `make bench-int8`
    python benchmarks/int8_network.py --parts accuracy                            # no timings: any machine load
    python benchmarks/int8_network.py --parts speed optimization --out ...          # timings only (idle machine)

Parts may run apart (accuracy under any load, timings on an idle machine): with --out naming an existing
report of the same export files, the parts not run are kept from it, each with its own `runs` entry
(date and load average when it started).

Variants, each written from the export's network.onnx by model.export_writer.write_int8_onnx into a
temporary folder: the embedding table and the LSTM quantized (the default, INT8_OP_TYPES), per-channel
weights, the LSTM alone, the embedding alone. GRU has no integer kernel in ONNX Runtime.
- accuracy: the IMDB test split and the short-text validation set (first and last sentences of the
  validation reviews, data/short_texts.py), label agreement with float32 and the largest probability
  difference, through serving.runtime.Predictor with the archive's handler settings;
- speed: in-process reviews/s at batch 1, 8 and 64 over real test reviews, tokenization included,
  the variants taking turns in each of --repeats passes; medians, and each variant's ratio to float32;
- batching: each variant's answers to 1,024 real reviews alone and in batches of 64: the largest difference
  and the labels that change (int8 quantizes the LSTM's inputs with one scale per pass);
- optimization: ONNX Runtime's graph-optimization levels for float32 and the default int8, timed the same
  way, and the session's start-up with and without a saved, already optimized model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from data.review_samples import real_reviews
from data.short_texts import short_text_split
from data.sources import SourceSpec, load_labelled_splits
from model.export import CONFIG_FILE, ONNX_FILE, ONNX_INPUTS, ONNX_INT8_FILE, ONNX_OUTPUT, TOKENIZER_FILE, WEIGHTS_FILE
from model.export_writer import INT8_OP_TYPES, check_sequences_for, write_int8_onnx
from paths import DEFAULT_DATASET, IMDB_TEST_PARQUET, ROOT, SHIPPED_EXPORT
from reporting import add_out_argument, emit
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml

VARIANTS = {
    "embedding+lstm": {"op_types": INT8_OP_TYPES, "per_channel": False},
    "embedding+lstm, per-channel": {"op_types": INT8_OP_TYPES, "per_channel": True},
    "lstm only": {"op_types": ("LSTM",), "per_channel": False},
    "embedding only": {"op_types": ("Gather",), "per_channel": False},
}
BATCH_SIZES = (1, 8, 64)


def variant_exports(export: Path, folder: Path) -> dict[str, Path]:
    """An export folder per variant, its network.int8.onnx quantized that way (float32 first, as is)."""
    sequences, _ = check_sequences_for(export, IMDB_TEST_PARQUET)
    folders = {}
    for name, options in {"float32": None, **VARIANTS}.items():
        target = folder / name.replace(" ", "_").replace(",", "").replace("+", "_")
        target.mkdir(parents=True)
        for file in (WEIGHTS_FILE, ONNX_FILE, TOKENIZER_FILE, CONFIG_FILE):
            shutil.copy2(export / file, target / file)
        if options is not None:
            write_int8_onnx(export / ONNX_FILE, target / ONNX_INT8_FILE, sequences, min_agreement=0.0, **options)
        folders[name] = target
    return folders


def predictor(folder: Path, name: str, settings: HandlerSettings) -> Predictor:
    precision = "float32" if name == "float32" else "int8"
    return Predictor(folder, dataclasses.replace(settings, precision=precision), check_network=False)


def accuracy(folders: dict[str, Path], settings: HandlerSettings, dataset: str, limit: int | None) -> dict:
    splits = load_labelled_splits(SourceSpec(dataset, val_fraction=0.1, seed=42))
    sets = {"test": splits.test, "short_texts": short_text_split(splits.val)}
    texts = {k: list(s.texts["text"])[:limit] for k, s in sets.items()}
    labels = {k: np.asarray(s.labels)[:limit] for k, s in sets.items()}
    probabilities = {name: {k: predictor(folder, name, settings).predict_proba(texts[k]) for k in sets}
                     for name, folder in folders.items()}
    report = {}
    for name in folders:
        report[name] = {}
        for k in sets:
            p, base = probabilities[name][k], probabilities["float32"][k]
            report[name][k] = {
                "rows": len(texts[k]), "accuracy": round(float((p.argmax(1) == labels[k]).mean()), 5),
                "label_agreement_with_float32": round(float((p.argmax(1) == base.argmax(1)).mean()), 5),
                "labels_flipped": int((p.argmax(1) != base.argmax(1)).sum()),
                "max_probability_difference": round(float(np.abs(p - base).max()), 5),
            }
    return report


def reviews_per_s(score, reviews: list[str], batch_size: int, repeats: int) -> float:
    batches = [reviews[i : i + batch_size] for i in range(0, len(reviews), batch_size)]
    score(batches[0])  # warm-up
    passes = []
    for _ in range(repeats):
        started = time.perf_counter()
        for batch in batches:
            score(batch)
        passes.append(len(reviews) / (time.perf_counter() - started))
    return round(statistics.median(passes), 1)


def speed(folders: dict[str, Path], settings: HandlerSettings, reviews: list[str], repeats: int) -> dict:
    """Reviews/s per variant and batch size, and each variant's speed / float32's. The variants take turns
    within every repeat (in a rotated order), so drift in the machine's speed reaches all of them alike;
    the ratio is the median of the per-repeat ratios."""
    scorers = {name: predictor(folder, name, settings).predict_proba for name, folder in folders.items()}
    names = list(scorers)
    report = {name: {} for name in names}
    for b in BATCH_SIZES:
        passes = {name: [] for name in names}
        for repeat in range(repeats):
            for name in names[repeat % len(names):] + names[: repeat % len(names)]:
                passes[name].append(reviews_per_s(scorers[name], reviews, b, 1))
        for name in names:
            report[name][f"batch_{b}"] = round(statistics.median(passes[name]), 1)
            report[name][f"batch_{b}_vs_float32"] = round(statistics.median(
                [mine / base for mine, base in zip(passes[name], passes["float32"])]), 3)
    return report


def optimization(folders: dict[str, Path], settings: HandlerSettings, reviews: list[str], repeats: int) -> dict:
    """Graph-optimization levels, and start-up from a saved optimized model (float32 and the default int8)."""
    import onnxruntime as ort

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all (the default)": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    report = {}
    for name in ("float32", "embedding+lstm"):
        folder = folders[name]
        path = folder / (ONNX_FILE if name == "float32" else ONNX_INT8_FILE)
        encoder = predictor(folder, name, settings).encoder
        report[name] = {}
        for level_name, level in levels.items():
            session, start_ms = timed_session(path, settings, level)
            run = batch_runner(session, encoder)
            report[name][level_name] = {"session_start_ms": start_ms, **{
                f"batch_{b}": reviews_per_s(run, reviews, b, repeats) for b in BATCH_SIZES}}
        optimized = folder / f"optimized_{path.name}"
        timed_session(path, settings, levels["all (the default)"], save_to=optimized)
        _, reload_ms = timed_session(optimized, settings, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        report[name]["saved optimized model"] = {"session_start_ms": reload_ms}
    return report


def timed_session(path: Path, settings: HandlerSettings, level, save_to: Path | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = settings.intra_op_threads, settings.inter_op_threads
    options.graph_optimization_level = level
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        times.append((time.perf_counter() - started) * 1000)
    return session, round(statistics.median(times), 1)


def batch_runner(session, encoder):
    from data.text_encoding import pad_ids

    def run(texts):
        session.run([ONNX_OUTPUT], dict(zip(ONNX_INPUTS, pad_ids(encoder.encode_ids(texts)))))
    return run


PART_KEYS = {"accuracy": "accuracy", "speed": "reviews_per_s", "batching": "alone_vs_batch_64",
             "optimization": "graph_optimization"}
BATCHING_REVIEWS, BATCHING_BATCH = 1024, 64


def batching(folders: dict[str, Path], settings: HandlerSettings) -> dict:
    """Per variant: answers to the same reviews scored alone and in batches, how far apart."""
    texts = real_reviews(BATCHING_REVIEWS, seed=5)
    report = {}
    for name, folder in folders.items():
        scorer = predictor(folder, name, settings)
        ids = scorer.encoder.encode_ids(texts)
        alone = np.stack([scorer.predict_ids([s])[0] for s in ids])
        batched = np.concatenate([scorer.predict_ids(ids[i : i + BATCHING_BATCH]) for i in range(0, len(ids), BATCHING_BATCH)])
        report[name] = {"reviews": len(ids), "max_probability_difference": float(np.abs(alone - batched).max()),
                        "labels_changed": int((alone.argmax(1) != batched.argmax(1)).sum())}
    return report


def kept_parts(out: Path | None, report: dict, parts: list[str]) -> dict:
    """The parts not run now, from an earlier report at `out` of the same export files (else nothing)."""
    if out is None or not out.is_file():
        return {}
    earlier = json.loads(out.read_text())
    if earlier.get("export") != report["export"] or earlier.get("file_mib") != report["file_mib"]:
        return {}
    kept = {PART_KEYS[p]: earlier[PART_KEYS[p]] for p in PART_KEYS if p not in parts and PART_KEYS[p] in earlier}
    runs = {p: r for p, r in earlier.get("runs", {}).items() if p not in parts and PART_KEYS[p] in kept}
    return {**kept, "runs": runs} if kept else {}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--parts", nargs="+", choices=list(PART_KEYS), default=list(PART_KEYS))
    parser.add_argument("--limit", type=int, help="rows of each accuracy set (default: all)")
    parser.add_argument("--reviews", type=int, default=512, help="real test reviews per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    settings = HandlerSettings.from_model_yaml(load_model_yaml())
    export = args.export.resolve()
    # Inside the repository the report names the export relative to it: the JSON is committed.
    shown = export.relative_to(ROOT) if export.is_relative_to(ROOT) else export
    report = {"export": str(shown), "handler_settings": dataclasses.asdict(settings), "variants": {
              k: {"op_types": list(v["op_types"]), "per_channel": v["per_channel"]} for k, v in VARIANTS.items()}}
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        folders = variant_exports(args.export, Path(tmp))
        report["file_mib"] = {name: round((folder / (ONNX_FILE if name == "float32" else ONNX_INT8_FILE)).stat().st_size
                                          / 2**20, 2) for name, folder in folders.items()}
        report.update(kept_parts(args.out, report, args.parts))
        reviews = real_reviews(args.reviews, seed=3)
        measure = {"accuracy": lambda: accuracy(folders, settings, args.dataset, args.limit),
                   "speed": lambda: speed(folders, settings, reviews, args.repeats),
                   "batching": lambda: batching(folders, settings),
                   "optimization": lambda: optimization(folders, settings, reviews, args.repeats)}
        for part in args.parts:
            started = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
            report[PART_KEYS[part]] = measure[part]()
            timed = part in ("speed", "optimization")
            report.setdefault("runs", {})[part] = {**started, "repeats": args.repeats} if timed else started
    return emit(report, args.out)


if __name__ == "__main__":
    main()
