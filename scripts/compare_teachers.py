"""Accuracy of candidate teachers, alone and averaged, on the validation and test splits (JSON).

    python scripts/compare_teachers.py --dataset ../shared/imdb \
        --member ngram --member s2=runs/semi/stage2/export --member r8=runs/imdb/r8/export \
        --average ngram+s2 --average ngram+r8

A member is `ngram` (the n-gram teacher of data.teacher, fitted on the training rows) or
NAME=EXPORT_FOLDER (a trained network). An average gives its members equal weight, as
`data.teacher_exports` does when the unlabelled reviews are scored. The splits are train.py's
(same dataset, val_fraction and seed), so validation chooses a teacher and test only reports.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

SCORE_ROWS = 256  # reviews per call to an export


def member_probabilities(spec: str, splits, texts: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """{"val": (N, classes), "test": (N, classes)} for one member; `texts` holds those splits' reviews."""
    if spec == "ngram":
        from model.ngram_teacher import NgramTeacher

        teacher = NgramTeacher().fit(list(splits.train.texts["text"]), splits.train.labels)
        return {name: teacher.predict_proba(rows) for name, rows in texts.items()}
    from serving.runtime import Predictor

    predictor = Predictor(spec.split("=", 1)[1])
    return {
        name: np.concatenate([predictor.predict_proba(rows[i : i + SCORE_ROWS]) for i in range(0, len(rows), SCORE_ROWS)])
        for name, rows in texts.items()
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--member", action="append", required=True, help="ngram or NAME=EXPORT_FOLDER")
    parser.add_argument("--average", action="append", default=[], help="member names joined by +, e.g. ngram+s2")
    args = parser.parse_args(argv)

    from data.sources import SourceSpec, load_labelled_splits

    names = [spec.split("=", 1)[0] for spec in args.member]
    unknown = {name for combo in args.average for name in combo.split("+")} - set(names)
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be in (0, 1): teachers are chosen on the validation split, got {args.val_fraction}")
    if unknown or any(spec != "ngram" and "=" not in spec for spec in args.member):
        parser.error(f"--member must be ngram or NAME=FOLDER, and --average may only name members (unknown: {sorted(unknown)})")
    splits = load_labelled_splits(SourceSpec(args.dataset, val_fraction=args.val_fraction, seed=args.seed))
    texts = {name: list(getattr(splits, name).texts["text"]) for name in ("val", "test")}  # read once, for every member
    probabilities = {name: member_probabilities(spec, splits, texts) for name, spec in zip(names, args.member)}
    report = {}
    for combo in names + args.average:
        members = combo.split("+")
        report[combo] = {
            split: round(float((np.mean([probabilities[m][split] for m in members], axis=0).argmax(1)
                                == getattr(splits, split).labels).mean()), 5)
            for split in ("val", "test")
        }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
