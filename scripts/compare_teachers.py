"""Accuracy of candidate teachers, alone and averaged, on the validation and test splits (JSON).

    python scripts/compare_teachers.py --dataset ../shared/imdb \
        --member ngram --member s2=runs/semi/stage2/export --member r8=runs/imdb/r8/export \
        --average ngram+s2 --average ngram+r8
    python scripts/compare_teachers.py --dataset ../shared/imdb --unlabelled-split unsupervised \
        --member ngram --member docvec --docvec-model runs/semi/teach/members/docvec-<key>/doc2vec.model --average ngram+docvec
    python scripts/compare_teachers.py --dataset ../shared/imdb --teach-run runs/semi/teach \
        --member e2=model_store/artifacts --average ngram_docvec+e2

A member is `ngram` (the n-gram teacher, fitted on the training rows), `docvec` (doc vectors over
n-grams trained on the training and `--unlabelled-split` text, teach.py's settings unless
`--docvec-model` names a trained one; the test reviews' vectors are inferred) or NAME=EXPORT_FOLDER
(a trained network). `--teach-run` adds the members a teach.py run scored with `--report_test true`
(ngram_docvec among them), read from its members/ folder, not refitted. An average gives its members' probabilities equal weight (teach.py averages
log-odds, with weights chosen on validation). The splits are train.py's (same dataset, val_fraction and seed), so validation chooses a
teacher and test only reports. teach.py is the stage that writes targets; this scores candidates.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

SCORE_ROWS = 256  # reviews per call to an export


def member_probabilities(spec: str, splits, texts: dict[str, list[str]], unlabelled: list[str] = (),
                         docvec_model: str | None = None) -> dict[str, np.ndarray]:
    """{"val": (N, classes), "test": (N, classes)} for one member; `texts` holds those splits' reviews."""
    if spec == "docvec":
        from model.docvec_teacher import DocVecTeacher

        train = list(splits.train.texts["text"])
        docvec = DocVecTeacher()
        if docvec_model:
            docvec.load(docvec_model)
        else:
            docvec.fit_vectors(train + texts["val"] + list(unlabelled), log=print)
        vectors = docvec.vectors
        docvec.fit(vectors[: len(train)], splits.train.labels)
        val = vectors[len(train) : len(train) + len(texts["val"])]
        return {"val": docvec.predict_proba(val), "test": docvec.predict_proba(docvec.infer_vectors(texts["test"]))}
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


def taught_members(run_dir: str) -> dict[str, dict[str, np.ndarray]]:
    """{member: {"val", "test"}} of the members a teach.py run cached with test scores ("ngram", "docvec",
    "ngram_docvec"; an export by its cache name, "export-<digest>")."""
    from pathlib import Path

    found = {}
    for cache in sorted(Path(run_dir, "members").glob("*.npz")):
        with np.load(cache) as saved:
            if {"val", "test"} <= set(saved.files):
                found[cache.stem.rsplit("-", 1)[0]] = {"val": saved["val"], "test": saved["test"]}
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--member", action="append", default=[], help="ngram, docvec or NAME=EXPORT_FOLDER")
    parser.add_argument("--teach-run", default=None,
                        help="a teach.py run folder: its members with test scores (--report_test true) join, by member name")
    parser.add_argument("--unlabelled-split", default=None, help="its text trains the doc vectors too (IMDB: unsupervised)")
    parser.add_argument("--docvec-model", default=None,
                        help="a trained doc2vec.model (teach.py's run folder) over training, validation and unlabelled text in that order")
    parser.add_argument("--average", action="append", default=[], help="member names joined by +, e.g. ngram+s2")
    args = parser.parse_args(argv)

    from data.sources import SourceSpec, load_labelled_splits, load_unlabelled_texts

    fitted = [spec.split("=", 1)[0] for spec in args.member]
    taught = taught_members(args.teach_run) if args.teach_run else {}
    if set(taught) & set(fitted):
        parser.error(f"--teach-run has members named as --member ones: {sorted(set(taught) & set(fitted))}")
    names = fitted + list(taught)
    unknown = {name for combo in args.average for name in combo.split("+")} - set(names)
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be in (0, 1): teachers are chosen on the validation split, got {args.val_fraction}")
    if unknown or any(spec not in ("ngram", "docvec") and "=" not in spec for spec in args.member):
        parser.error(f"--member must be ngram, docvec or NAME=FOLDER, and --average may only name members (unknown: {sorted(unknown)})")
    spec = SourceSpec(args.dataset, val_fraction=args.val_fraction, seed=args.seed)
    splits = load_labelled_splits(spec)
    texts = {name: list(getattr(splits, name).texts["text"]) for name in ("val", "test")}  # read once, for every member
    unlabelled = list(load_unlabelled_texts(spec, args.unlabelled_split)["text"]) if args.unlabelled_split else []
    probabilities = {name: member_probabilities(member, splits, texts, unlabelled, args.docvec_model)
                     for name, member in zip(fitted, args.member)}
    for name, scores in taught.items():
        if any(len(scores[split]) != len(texts[split]) for split in ("val", "test")):
            parser.error(f"--teach-run: {name}'s scores are for other rows than these splits (dataset, --val-fraction, --seed)")
        probabilities[name] = scores
    if not probabilities:
        parser.error("no members: give --member or --teach-run")
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
