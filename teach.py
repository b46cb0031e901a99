"""The teaching stage: fit the teacher(s), write soft targets for the training and unlabelled rows.

    python teach.py --config config/semi_supervised/teach.yaml --data.dataset ../shared/imdb
    python teach.py --config config/semi_supervised/teach.yaml --data.dataset ../shared/imdb --report_test true

Stage 1 (train.py) -> teach (this) -> stage 2 (train.py with `--data.teacher_targets <run_dir>`).
Members (model/teachers.py): `ngram`, NB-weighted logistic regression over word 1-3-grams; `docvec`,
doc vectors over n-grams (DBOW) with logistic regression on top; `ngram_docvec`, one logistic
regression over both (the n-gram and doc-vector settings, plus its own `ngram_docvec.*`); and any
`exports` (trained networks, e.g. stage 1's export/). Each member's probabilities are cached in `<run_dir>/members/`, so a
rerun (or a run resumed after a stop) refits only what is missing; the weights of the combination
are chosen on the validation rows (lowest log loss) unless given. Writes into `<run_dir>`:

- `targets.npz`: the combined probabilities of the training rows (out-of-fold) and of the
  unlabelled split's rows, with digests of those rows (data/teacher_targets.py), which stage 2 reads;
  with `--short_texts N`, also N sentences drawn from the unlabelled reviews (one per review,
  data/short_texts.py), each scored by every member as a text of its own;
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

from data.short_texts import drawn_sentences
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
    export_scorer,
    log_loss,
    ngram_docvec_member,
    ngram_member,
)

MEMBERS = ("ngram", "docvec", "ngram_docvec")


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
    parser.add_argument("--short_texts", type=int, default=0,
                        help="sentences drawn from as many unlabelled reviews, scored as texts of their own (0: none)")
    parser.add_argument("--folds", type=int, default=4, help="folds of the out-of-fold targets of the training rows")
    parser.add_argument("--report_test", type=bool, default=False, help="also score the test split (report once)")
    parser.add_class_arguments(NgramTeacher, "ngram")
    parser.add_class_arguments(DocVecTeacher, "docvec", skip={"seed"})
    parser.add_argument("--ngram_docvec.C", type=float, default=0.1, help="inverse L2 strength of the joint regression")
    parser.add_argument("--ngram_docvec.docvec_scale", type=float, default=0.3,
                        help="the standardized doc vectors' scale beside the NB-weighted n-grams")
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
    if config.short_texts < 0 or (config.short_texts and not config.data.unlabelled_split):
        raise ConfigError(f"short_texts must be >= 0 and needs data.unlabelled_split (they are cut from its reviews), "
                          f"got {config.short_texts}")
    if config.ngram_docvec.C <= 0 or config.ngram_docvec.docvec_scale <= 0:
        raise ConfigError(f"ngram_docvec.C and ngram_docvec.docvec_scale must be > 0, got {dict(vars(config.ngram_docvec))}")
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

    unlabelled_texts = list(unlabelled["text"]) if unlabelled is not None else []
    rows = TeachingRows(
        train_texts=list(splits.train.texts["text"]), train_labels=splits.train.labels,
        val_texts=list(splits.val.texts["text"]), val_labels=splits.val.labels,
        unlabelled_texts=unlabelled_texts, class_names=splits.label_names, test_loader=test_rows,
        short_texts=drawn_sentences(unlabelled_texts, config.short_texts, data.seed) if config.short_texts else [],
    )
    digests = {"train": rows_digest(splits.train.texts, splits.train.labels),
               "unlabelled": rows_digest(unlabelled) if unlabelled is not None else ""}
    return rows, digests


def _settings_key(config, name: str, digests: dict) -> str:
    """What a member's cached scores depend on: the rows and the member's own settings. Test and
    short-text scores are added to a cache when asked for (short ones with the digest of their texts)."""
    parts = {"rows": digests, "folds": config.folds, "seed": config.data.seed, "val_fraction": config.data.val_fraction}
    if name == "ngram_docvec":
        parts["settings"] = {group: dict(vars(getattr(config, group))) for group in ("ngram", "docvec", "ngram_docvec")}
    elif name in MEMBERS:
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
    short_digest = rows_digest(rows.short_texts) if rows.short_texts else None
    if cache.exists():
        with np.load(cache) as saved:
            scores = {k: saved[k] for k in saved.files}
        missing = wanted - set(scores)
        if short_digest and str(scores.get("short_digest", "")) != short_digest:
            missing.add("short")
        if not missing:
            log(f"teach: {name}: read from {cache}")
            return scores, json.loads(timing_file.read_text())
        if missing <= {"test", "short"}:  # report_test, or other short texts, after a run without them
            scores.update(_added_scores(config, name, rows, digests, run_dir, missing, log))
            if "short" in missing:
                scores["short_digest"] = np.array(short_digest)
            _save_scores(cache, scores)
            return scores, json.loads(timing_file.read_text())
    wall, cpu = time.perf_counter(), time.process_time()
    log(f"teach: fitting {name} ...")
    test = config.report_test
    if name == "ngram":
        scores = ngram_member(rows, config.folds, config.data.seed, dict(vars(config.ngram)), test=test)
    elif name == "docvec":
        scores = docvec_member(rows, config.folds, config.data.seed, dict(vars(config.docvec)),
                               _doc_vectors_folder(config, digests, run_dir), test=test, log=log)
    elif name == "ngram_docvec":
        scores = _ngram_docvec(config, rows, digests, run_dir, test, log)
    else:
        scores = export_member(name, rows, test=test)
    # CPU time of this process's threads (gensim trains on several); children are not counted.
    timing = {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1)}
    if short_digest:
        scores["short_digest"] = np.array(short_digest)
    _save_scores(cache, scores)
    timing_file.write_text(json.dumps(timing) + "\n")
    log(f"teach: {name}: validation accuracy {accuracy(scores['val'], rows.val_labels):.4f} "
        f"({timing['wall_s']:.0f} s wall, {timing['cpu_s']:.0f} s CPU)")
    return scores, timing


def _doc_vectors_folder(config, digests: dict, run_dir: Path) -> Path:
    """Where the docvec member keeps its gensim model; ngram_docvec reads the same vectors."""
    return run_dir / "members" / f"docvec-{_settings_key(config, 'docvec', digests)}"


def _ngram_docvec(config, rows: TeachingRows, digests: dict, run_dir: Path, test: bool, log) -> dict:
    return ngram_docvec_member(
        rows, config.folds, config.data.seed, dict(vars(config.ngram)), dict(vars(config.docvec)),
        _doc_vectors_folder(config, digests, run_dir), C=config.ngram_docvec.C,
        docvec_scale=config.ngram_docvec.docvec_scale, test=test, log=log,
    )


def _added_scores(config, name: str, rows: TeachingRows, digests: dict, run_dir: Path, parts: set, log) -> dict:
    """`parts` ("test", "short") of a member whose other scores are cached (the doc vectors' model is on disk)."""
    log(f"teach: {name}: scoring {' and '.join(sorted(parts))}")
    if name == "ngram_docvec":  # refits its regression (minutes); the doc vectors are read
        scores = _ngram_docvec(config, rows, digests, run_dir, "test" in parts, log)
        return {part: scores[part] for part in parts}
    if name == "ngram":
        teacher = NgramTeacher(**dict(vars(config.ngram))).fit(rows.train_texts, rows.train_labels)
        score = teacher.predict_proba
    elif name == "docvec":
        model_file = _doc_vectors_folder(config, digests, run_dir) / "doc2vec.model"
        docvec = DocVecTeacher(**{"seed": config.data.seed, **dict(vars(config.docvec))}).load(model_file)
        docvec.fit(docvec.vectors[: len(rows.train_texts)], rows.train_labels)

        def score(texts):
            return docvec.predict_proba(docvec.infer_vectors(texts))
    else:
        score = export_scorer(name, len(rows.class_names))
    texts = {"test": lambda: rows.test()[0], "short": lambda: rows.short_texts}
    return {part: score(texts[part]()) for part in parts}


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
    none = np.zeros((0, len(rows.class_names)), np.float32)
    unlabelled = combine([scores[n]["unlabelled"] for n in names], [weights[n] for n in names], how) \
        if rows.unlabelled_texts else none
    short = combine([scores[n]["short"] for n in names], [weights[n] for n in names], how) if rows.short_texts else none
    save_targets(run_dir / TARGETS_FILE, TeacherTargets(
        train=train_targets, train_digest=digests["train"], class_names=rows.class_names, unlabelled=unlabelled,
        unlabelled_split=config.data.unlabelled_split or "", unlabelled_digest=digests["unlabelled"],
        short_texts=rows.short_texts, short_text_targets=short,
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
        "rows": {"train": len(rows.train_texts), "val": len(rows.val_texts), "unlabelled": len(rows.unlabelled_texts),
                 "short_texts": len(rows.short_texts)},
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
