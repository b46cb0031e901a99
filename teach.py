"""The teaching stage: fit the teacher(s), write soft targets for the training and unlabelled rows.

    python teach.py --config config/semi_supervised/teach.yaml --data.dataset ../shared/imdb
    python teach.py --config config/semi_supervised/teach.yaml --data.dataset ../shared/imdb --report_test true

Stage 1 (train.py) -> teach (this) -> stage 2 (train.py with `--data.teacher_targets <run_dir>`).
Members (model/teachers.py): `ngram`, NB-weighted logistic regression over word 1-3-grams; `docvec`,
doc vectors over n-grams (DBOW) with logistic regression on top; and any `exports` (trained networks,
e.g. stage 1's export/). Each member's probabilities are cached in `<run_dir>/members/`, so a
rerun (or a run resumed after a stop) refits only what is missing; the weights of the combination
are chosen on the validation rows (lowest log loss) unless given. Writes into `<run_dir>`:

- `targets.npz`: the combined probabilities of the training rows (out-of-fold) and of the
  unlabelled split's rows, with digests of those rows (data/teacher_targets.py), which stage 2 reads;
- `metrics.json`: validation accuracy and log loss of each member and of the combination, the
  weights, and each member's wall and CPU time; with `--report_test true`, test accuracy too
  (validation chooses, test reports: ask for it once, for the chosen teacher);
- `config.yaml`: the settings, to rerun it.

The test split's text trains nothing: it is read only by --report_test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from jsonargparse import ActionConfigFile, ArgumentParser

from data.sources import SourceSpec, check_dataset_argument, load_labelled_splits, load_unlabelled_texts
from data.teacher_targets import TARGETS_FILE, TeacherTargets, rows_digest, save_targets
from data.text_encoding import ConfigError
from model.docvec_teacher import DocVecTeacher
from model.export import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from model.ngram_teacher import NgramTeacher
from model.teachers import (
    TeachingRows,
    accuracy,
    choose_weights,
    combine,
    docvec_member,
    export_member,
    log_loss,
    ngram_member,
)

MEMBERS = ("ngram", "docvec")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="teach.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--run_dir", type=str, default="runs/semi/teach", help="where members, targets and metrics go")
    parser.add_argument("--data.dataset", type=str, default="stanfordnlp/imdb", help="as train.py's data.dataset")
    parser.add_argument("--data.text_column", type=str, default="text")
    parser.add_argument("--data.label_column", type=str, default="label")
    parser.add_argument("--data.val_fraction", type=float, default=0.1, help="as stage 2's: the split must be identical")
    parser.add_argument("--data.test_fraction", type=float, default=0.2)
    parser.add_argument("--data.empty_texts", type=str, default="refuse")
    parser.add_argument("--data.max_samples", type=Optional[int], default=None)
    parser.add_argument("--data.seed", type=int, default=42)
    parser.add_argument("--data.unlabelled_split", type=Optional[str], default=None,
                        help="a split without labels whose rows get targets (IMDB: unsupervised)")
    parser.add_argument("--members", type=list[str], default=["ngram"], help=f"any of {list(MEMBERS)}")
    parser.add_argument("--exports", type=list[str], default=[], help="export folders of trained networks (e.g. stage 1's)")
    parser.add_argument("--weights", type=Optional[dict[str, float]], default=None,
                        help="member -> weight (an export by its folder); null: chosen on validation")
    parser.add_argument("--combination", type=Literal["logodds", "mean"], default="logodds",
                        help="weighted average of the members' log-odds, or of their probabilities")
    parser.add_argument("--folds", type=int, default=4, help="folds of the out-of-fold targets of the training rows")
    parser.add_argument("--report_test", type=bool, default=False, help="also score the test split (report once)")
    parser.add_class_arguments(NgramTeacher, "ngram")
    parser.add_class_arguments(DocVecTeacher, "docvec", skip={"seed"})
    return parser


def check(config) -> None:
    unknown = set(config.members) - set(MEMBERS)
    if unknown or not (config.members or config.exports):
        raise ConfigError(f"members must be some of {list(MEMBERS)} (or exports given), got {config.members}")
    if not [m for m in config.members if m in MEMBERS]:
        raise ConfigError("the training rows' targets need a member fitted on labels: members must include ngram or docvec")
    if not 0 < config.data.val_fraction < 1:
        raise ConfigError(f"data.val_fraction must be in (0, 1): validation chooses the teacher, got {config.data.val_fraction}")
    if config.folds < 2:
        raise ConfigError(f"folds must be >= 2, got {config.folds}")
    if config.data.unlabelled_split in ("train", "test", "validation"):
        raise ConfigError(f"data.unlabelled_split must be a split without labels, not {config.data.unlabelled_split!r}")
    for export in config.exports:
        if not (Path(export) / CONFIG_FILE).is_file():
            raise ConfigError(f"exports: {export!r} is not an export folder (no {CONFIG_FILE})")
    if config.weights is not None and set(config.weights) != set(config.members) | set(config.exports):
        raise ConfigError(f"weights must name every member and export once, got {sorted(config.weights)}")


def load_rows(config) -> tuple[TeachingRows, SourceSpec]:
    data = config.data
    spec = SourceSpec(
        dataset=check_dataset_argument(data.dataset), text_column=data.text_column, label_column=data.label_column,
        test_fraction=data.test_fraction, val_fraction=data.val_fraction, empty_texts=data.empty_texts,
        max_samples=data.max_samples, seed=data.seed,
    )
    splits = load_labelled_splits(spec)
    unlabelled = load_unlabelled_texts(spec, data.unlabelled_split) if data.unlabelled_split else None

    def test_rows():
        return list(splits.test.texts["text"]), splits.test.labels

    rows = TeachingRows(
        train_texts=list(splits.train.texts["text"]), train_labels=splits.train.labels,
        val_texts=list(splits.val.texts["text"]), val_labels=splits.val.labels,
        unlabelled_texts=list(unlabelled["text"]) if unlabelled is not None else [],
        class_names=splits.label_names, test_loader=test_rows,
    )
    digests = {"train": rows_digest(splits.train.texts, splits.train.labels),
               "unlabelled": rows_digest(unlabelled) if unlabelled is not None else ""}
    return rows, digests


def _settings_key(config, name: str, digests: dict) -> str:
    """What a member's cached scores depend on: the rows and the member's own settings."""
    parts = {"rows": digests, "folds": config.folds, "seed": config.data.seed, "val_fraction": config.data.val_fraction}
    if name in MEMBERS:
        parts["settings"] = dict(vars(getattr(config, name)))
    else:
        parts["export"] = _export_digest(name)
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _export_digest(export: str) -> str:
    import hashlib

    files = [Path(export) / name for name in (WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE)]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files if f.is_file())).hexdigest()


def run_member(config, name: str, rows: TeachingRows, digests: dict, run_dir: Path, log) -> tuple[dict, dict]:
    """(scores, timing) of one member, from its cache in run_dir/members/ when it has what is asked."""
    key = _settings_key(config, name, digests)
    label = name if name in MEMBERS else f"export-{_export_digest(name)[:8]}"
    cache = run_dir / "members" / f"{label}-{key}.npz"
    timing_file = cache.with_suffix(".json")
    wanted = {"val", "unlabelled"} | ({"train"} if name in MEMBERS else set()) | ({"test"} if config.report_test else set())
    if cache.exists():
        with np.load(cache) as saved:
            scores = {k: saved[k] for k in saved.files}
        if wanted <= set(scores):
            log(f"teach: {name}: read from {cache}")
            return scores, json.loads(timing_file.read_text())
        if "test" in wanted and wanted - {"test"} <= set(scores):
            scores.update(_test_only(config, name, rows, run_dir, log))  # report_test after a run without it
            _save_scores(cache, scores)
            return scores, json.loads(timing_file.read_text())
    wall, cpu = time.perf_counter(), time.process_time()
    log(f"teach: fitting {name} ...")
    test = config.report_test
    if name == "ngram":
        scores = ngram_member(rows, config.folds, config.data.seed, dict(vars(config.ngram)), test=test)
    elif name == "docvec":
        folder = run_dir / "members" / f"docvec-{key}"
        scores = docvec_member(rows, config.folds, config.data.seed, dict(vars(config.docvec)), folder, test=test, log=log)
    else:
        scores = export_member(name, rows, test=test)
    # CPU time of this process's threads (gensim trains on several); children are not counted.
    timing = {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1)}
    _save_scores(cache, scores)
    timing_file.write_text(json.dumps(timing) + "\n")
    log(f"teach: {name}: validation accuracy {accuracy(scores['val'], rows.val_labels):.4f} "
        f"({timing['wall_s']:.0f} s wall, {timing['cpu_s']:.0f} s CPU)")
    return scores, timing


def _test_only(config, name: str, rows: TeachingRows, run_dir: Path, log) -> dict:
    """Test scores of a member whose other scores are cached (the doc vectors' model is on disk)."""
    log(f"teach: {name}: scoring the test split")
    if name == "ngram":
        teacher = NgramTeacher(**dict(vars(config.ngram))).fit(rows.train_texts, rows.train_labels)
        return {"test": teacher.predict_proba(rows.test()[0])}
    if name == "docvec":
        from model.docvec_teacher import DocVecTeacher as DV

        key_folder = next((run_dir / "members").glob("docvec-*/doc2vec.model"))
        docvec = DV(**{"seed": config.data.seed, **dict(vars(config.docvec))}).load(key_folder)
        n_train = len(rows.train_texts)
        docvec.fit(docvec.vectors[:n_train], rows.train_labels)
        return {"test": docvec.predict_proba(docvec.infer_vectors(rows.test()[0]))}
    return {"test": export_member(name, rows, test=True)["test"]}


def _save_scores(path: Path, scores: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(partial, **scores)
    os.replace(partial, path)


def teach(config, log=print) -> dict:
    """Fit (or read) every member, combine, write targets.npz and metrics.json; returns the metrics."""
    check(config)
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    rows, digests = load_rows(config)
    log(f"teach: {len(rows.train_texts):,} training rows, {len(rows.val_texts):,} validation rows, "
        f"{len(rows.unlabelled_texts):,} unlabelled rows ({config.data.unlabelled_split or 'none'})")
    names = list(config.members) + list(config.exports)
    scores, timings = {}, {}
    for name in names:
        scores[name], timings[name] = run_member(config, name, rows, digests, run_dir, log)
    how = config.combination
    weights = dict(config.weights) if config.weights else choose_weights(
        {n: scores[n]["val"] for n in names}, rows.val_labels, how=how)
    fitted = [n for n in names if "train" in scores[n]]  # members with out-of-fold scores of the training rows
    combined_val = combine([scores[n]["val"] for n in names], [weights[n] for n in names], how)
    fitted_weights = [weights[n] for n in fitted] if sum(weights[n] for n in fitted) > 0 else [1.0] * len(fitted)
    train_targets = combine([scores[n]["train"] for n in fitted], fitted_weights, how)
    unlabelled = combine([scores[n]["unlabelled"] for n in names], [weights[n] for n in names], how) \
        if rows.unlabelled_texts else np.zeros((0, len(rows.class_names)), np.float32)
    save_targets(run_dir / TARGETS_FILE, TeacherTargets(
        train=train_targets, train_digest=digests["train"], class_names=rows.class_names, unlabelled=unlabelled,
        unlabelled_split=config.data.unlabelled_split or "", unlabelled_digest=digests["unlabelled"],
    ))
    metrics = {
        "members": {
            n: {"val_acc": round(accuracy(scores[n]["val"], rows.val_labels), 5),
                "val_log_loss": round(log_loss(scores[n]["val"], rows.val_labels), 5), **timings[n]}
            for n in names
        },
        "weights": weights,
        "val_acc": round(accuracy(combined_val, rows.val_labels), 5),
        "val_log_loss": round(log_loss(combined_val, rows.val_labels), 5),
        "train_out_of_fold_acc": round(accuracy(train_targets, rows.train_labels), 5),
        "rows": {"train": len(rows.train_texts), "val": len(rows.val_texts), "unlabelled": len(rows.unlabelled_texts)},
        "wall_s": round(time.perf_counter() - started_wall, 1),
        "members_cpu_s": round(sum(t["cpu_s"] for t in timings.values()), 1),
    }
    for n in names:
        if "val_inferred" in scores[n]:
            metrics["members"][n]["val_acc_inferred_vectors"] = round(accuracy(scores[n]["val_inferred"], rows.val_labels), 5)
    if config.report_test:
        test_labels = rows.test()[1]
        combined_test = combine([scores[n]["test"] for n in names], [weights[n] for n in names], how)
        metrics["test_acc"] = round(accuracy(combined_test, test_labels), 5)
        for n in names:
            metrics["members"][n]["test_acc"] = round(accuracy(scores[n]["test"], test_labels), 5)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    log(f"teach: validation accuracy {metrics['val_acc']:.4f} (weights {weights}); targets in {run_dir / TARGETS_FILE}")
    return metrics


def main(args: Optional[list[str]] = None) -> dict:
    import logging

    # gensim reports each epoch's progress and speed at INFO: what a long doc-vector fit is doing.
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("gensim").setLevel(logging.INFO)
    parser = build_parser()
    config = parser.parse_args(args)
    try:
        Path(config.run_dir).mkdir(parents=True, exist_ok=True)
        parser.save(config, str(Path(config.run_dir) / "config.yaml"), overwrite=True, skip_validation=True)
        return teach(config)
    except ConfigError as error:
        print(f"teach.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
