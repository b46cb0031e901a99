"""Fit a temperature on the validation split and fold it into an export (network.pt, both ONNX files).

    python scripts/calibrate_export.py --export runs/semi/stage2/export --dataset ../shared/imdb            # report only
    python scripts/calibrate_export.py --export runs/semi/stage2/export --dataset ../shared/imdb --write    # fold it in

The validation rows are train.py's (the same dataset, --val-fraction and --seed as the run's); the short
texts are their first and last sentences (data/short_texts.py). Prints JSON: the temperature, and
accuracy and ECE (15 bins) on both sets before and after; labels never change (model/calibration.py).
With --write the export's network.pt gets the head divided by the temperature, model_config.json records
it (multiplied into any earlier one), and network.onnx and network.int8.onnx are written again from
network.pt and checked, as scripts/write_onnx.py does. The test split is not read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from data.short_texts import short_text_split
from data.sources import SourceSpec, load_labelled_splits
from model.calibration import expected_calibration_error, fit_temperature, fold_temperature
from model.export import CONFIG_FILE, ONNX_FILE, ONNX_INT8_FILE, WEIGHTS_FILE, load_export
from model.export_writer import write_config, write_for_export, write_weights
from model.network_config import probabilities_from_logits
from paths import DEFAULT_DATASET, IMDB_TEST_PARQUET
from reporting import add_out_argument, emit
from serving.runtime import Predictor
from serving.settings import HandlerSettings


def network_logits(export: Path, texts: list[str]) -> np.ndarray:
    """The float32 network's logits, through ONNX Runtime (network.onnx equals network.pt within 1e-5)."""
    predictor = Predictor(export, HandlerSettings(precision="float32"), check_network=False)
    return predictor.logits_ids(predictor.encoder.encode_ids(texts))


def summary(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    probabilities = probabilities_from_logits(logits / temperature)
    return {"acc": round(float((probabilities.argmax(axis=1) == labels).mean()), 5),
            "ece": round(expected_calibration_error(probabilities, labels), 5)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--val-fraction", type=float, default=0.1, help="as the run's data.val_fraction")
    parser.add_argument("--seed", type=int, default=42, help="as the run's data.seed")
    parser.add_argument("--write", action="store_true", help="fold the temperature into the export")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be in (0, 1): the temperature is fitted on validation, got {args.val_fraction}")
    splits = load_labelled_splits(SourceSpec(args.dataset, val_fraction=args.val_fraction, seed=args.seed))
    sets = {"val": splits.val, "val_short": short_text_split(splits.val)}
    logits = {k: network_logits(args.export, list(s.texts["text"])) for k, s in sets.items()}
    labels = {k: np.asarray(s.labels) for k, s in sets.items()}
    temperature = fit_temperature(logits["val"], labels["val"])
    report = {"export": str(args.export), "temperature": round(temperature, 4),
              "before": {k: summary(logits[k], labels[k], 1.0) for k in sets},
              "after": {k: summary(logits[k], labels[k], temperature) for k in sets}}
    if args.write:
        net, _, config = load_export(args.export)
        fold_temperature(net, temperature)
        write_weights(args.export, net, config.get("weights_dtype", "float32"))
        write_config(args.export, {**config, "temperature": round(float(config.get("temperature", 1.0)) * temperature, 6)})
        print(write_for_export(args.export, IMDB_TEST_PARQUET if IMDB_TEST_PARQUET.is_file() else None), file=sys.stderr)
        report["written"] = [WEIGHTS_FILE, CONFIG_FILE, ONNX_FILE, ONNX_INT8_FILE]
    return emit(report, args.out)


if __name__ == "__main__":
    main()
