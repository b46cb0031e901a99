"""Accuracy and calibration of an export on the short-text validation set and on the full validation reviews (JSON).

    python scripts/short_text_eval.py --export model_store/artifacts --dataset ../shared/imdb
    python scripts/short_text_eval.py --export runs/semi/stage2/export --dataset ../shared/imdb --show 50

The short texts are data/short_texts.py's: the first and the last sentence of each validation review
(train.py's split: same dataset, val_fraction and seed), labelled by their review. ECE is the expected
calibration error over 15 equal-width confidence bins, as training logs it (`val_short/ece`). Scores
go through serving.runtime.Predictor, the one door every server and script uses. `--show N` prints N
seeded sentences with their label and score, for reading the set's label noise by eye.
"""

from __future__ import annotations

import argparse
import json
import random

import numpy as np

from model.calibration import expected_calibration_error

SCORE_ROWS = 256  # texts per call to the Predictor


def score(predictor, texts: list[str]) -> np.ndarray:
    return np.concatenate([predictor.predict_proba(texts[i : i + SCORE_ROWS]) for i in range(0, len(texts), SCORE_ROWS)])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", required=True, help="an export folder (model_store/artifacts, runs/.../export)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--show", type=int, default=0, help="print N seeded short texts with label and score")
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be in (0, 1): the short texts come from the validation split, got {args.val_fraction}")

    from data.short_texts import short_text_split
    from data.sources import SourceSpec, load_labelled_splits
    from serving.runtime import Predictor

    val = load_labelled_splits(SourceSpec(args.dataset, val_fraction=args.val_fraction, seed=args.seed)).val
    short = short_text_split(val)
    predictor = Predictor(args.export)
    report = {}
    for name, split in (("val", val), ("val_short", short)):
        texts = list(split.texts["text"])
        probabilities = score(predictor, texts)
        report[name] = {
            "rows": len(texts),
            "acc": round(float((probabilities.argmax(axis=1) == split.labels).mean()), 5),
            "ece": round(expected_calibration_error(probabilities, split.labels), 5),
            "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
        }
        if name == "val_short" and args.show:
            for i in sorted(random.Random(0).sample(range(len(texts)), min(args.show, len(texts)))):
                print(f"{i}\tlabel={split.labels[i]}\tp1={probabilities[i, -1]:.3f}\t{texts[i][:300]}")
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
