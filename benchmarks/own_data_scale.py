"""Own data at scale: peak memory and rows/s of train.py and predict.py on one large review file, as JSON.

    python benchmarks/own_data_scale.py --rows 1000000 --work runs/own-data-scale
    python benchmarks/own_data_scale.py --file reviews.csv --train-steps 50 --network small --threads 1
    python benchmarks/own_data_scale.py --rows 1000000 --tsv --work runs/own-data-scale   # the same rows tab-separated

Each phase is a fresh process, started exactly as a user would, with caches of its own under --work:
1. train: `python train.py fit --config config/default.yaml --data.dataset FILE --data.text_column review
   --data.label_column sentiment --trainer.max_steps N` (plus the chosen network size and a capped test):
   reading the file into Arrow, training the tokenizer, encoding every split, N steps, the export.
2. predict: `python predict.py --export <that export> --input FILE --output <work>/scored.csv`.

Memory: the kernel's peak RSS of each process (wait4's ru_maxrss), and /proc samples every 0.2 s
that split RSS into anonymous memory (heap, tensors, Python objects) and file-backed pages (the
memory-mapped Arrow files: shared between processes and dropped by the kernel under pressure).
Speed: rows/s of the data preparation (process start to the first training step, all rows),
training samples/s over the timed steps (a callback inside train.py), and predict.py's rows/s.
The file, when --rows is given, is made from IMDB's labelled rows (data/review_samples.py, as scripts/make_review_file.py).
--threads sets OMP_NUM_THREADS for both processes: on a shared machine two busy OpenMP threads
per process wait on each other, and one thread per process measured 2x faster there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import lightning as L
import psutil

from data.review_samples import write_review_file
from paths import ROOT
from reporting import add_out_argument, emit
NETWORKS = {
    # The served default, and a small one whose prediction pass over a million rows takes minutes on 2 cores.
    "default": [],
    "small": ["--model.embedding_dim", "32", "--model.gru_hidden", "16", "--model.lstm_hidden", "16",
              "--data.max_length", "64", "--data.vocab_size", "20000"],
}
WARMUP_STEPS = 3


class StepTimer(L.Callback):
    """Added to train.py by class path: when training starts, and samples/s after a warm-up."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.started = self.timed_from = None
        self.samples = self.steps = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.started is None:
            self.started = time.time()
        if self.steps == WARMUP_STEPS and self.timed_from is None:
            self.timed_from = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.timed_from is not None:
            self.samples += batch["labels"].numel()
        self.steps += 1

    def on_train_end(self, trainer, pl_module) -> None:
        elapsed = time.perf_counter() - self.timed_from if self.timed_from else float("nan")
        Path(self.out).write_text(json.dumps({
            "seconds_to_first_step": round(self.started - psutil.Process().create_time(), 1),
            "timed_steps": self.steps - WARMUP_STEPS,
            "train_samples_per_s": round(self.samples / elapsed, 1),
        }))


class PeakMemory:
    """Peak VmRSS / RssAnon / RssFile of one process, sampled from /proc/<pid>/status, and the time
    it spent stopped (SIGSTOP by someone else on a shared machine makes its seconds no speed figure)."""

    FIELDS = ("VmRSS", "RssAnon", "RssFile")

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak_kib = dict.fromkeys(self.FIELDS, 0)
        self.stopped_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
            except OSError:
                return
            for line in lines:
                key, _, value = line.partition(":")
                if key in self.peak_kib:
                    self.peak_kib[key] = max(self.peak_kib[key], int(value.split()[0]))
                elif key == "State" and value.split()[0] == "T":
                    self.stopped_s += self.every_s
            self._stop.wait(self.every_s)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        peaks = {f"peak_{key}_mib": round(kib / 1024, 1) for key, kib in self.peak_kib.items()}
        return {**peaks, "seconds_stopped": round(self.stopped_s, 1)}


def run_measured(command: list[str], env: dict, log: Path) -> dict:
    """Run to completion; seconds, exit status, kernel peak RSS and sampled peaks."""
    start = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = PeakMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    result = {"exit_status": process.returncode, "seconds": round(seconds, 1),
              "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), **sampler.stop(), "log": str(log)}
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{command[1]} failed ({process.returncode}); log {log}:\n{tail}")
    return result


def count_rows(path: Path) -> int:
    """Rows of a data file, streamed by pyarrow (no cache written, no rows held)."""
    import pyarrow.csv as pa_csv
    import pyarrow.dataset as ds

    tsv = ds.CsvFileFormat(parse_options=pa_csv.ParseOptions(delimiter="\t"))
    formats = {".csv": "csv", ".tsv": tsv, ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
    return ds.dataset(str(path), format=formats[path.suffix.lower()]).count_rows()


def as_tsv(csv_file: Path) -> Path:
    """The same rows tab-separated, beside it: pyarrow streams the CSV in and the TSV out."""
    import pyarrow.csv as pa_csv

    out = csv_file.with_suffix(".tsv")
    if not out.exists():
        partial = out.with_name(f".{out.name}.partial")
        reader = pa_csv.open_csv(csv_file, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
        with pa_csv.CSVWriter(str(partial), reader.schema, write_options=pa_csv.WriteOptions(delimiter="\t")) as writer:
            for batch in reader:
                writer.write_batch(batch)
        partial.replace(out)
    return out


def measure(file: Path, work: Path, train_steps: int, network: str, rows: int, threads: int | None) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "HF_DATASETS_CACHE": str(work / "hf"), "XDG_CACHE_HOME": str(work / "xdg"), "HF_HUB_OFFLINE": "1",
        **({"OMP_NUM_THREADS": str(threads)} if threads else {}),
    }
    timing = work / "train_timing.json"
    train = run_measured([
        sys.executable, "train.py", "fit", "--config", "config/default.yaml", "--data.dataset", str(file),
        "--data.text_column", "review", "--data.label_column", "sentiment", *NETWORKS[network],
        "--trainer.max_steps", str(train_steps), "--trainer.limit_test_batches", "20",
        "--trainer.logger.init_args.save_dir", str(work / "runs"), "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks+=benchmarks.own_data_scale.StepTimer", "--trainer.callbacks.out", str(timing),
    ], env, work / "train.log")
    train.update(json.loads(timing.read_text()))
    train["data_preparation_rows_per_s"] = round(rows / train["seconds_to_first_step"], 1)
    export = max((work / "runs").glob("*/version_*/export"), key=lambda p: p.stat().st_mtime)
    predict = run_measured([
        sys.executable, "predict.py", "--export", str(export), "--input", str(file),
        "--output", str(work / "scored.csv"), "--text-column", "review", "--no-progress",
    ], env, work / "predict.log")
    predict["rows_per_s"] = round(rows / predict["seconds"], 1)
    return {"file": str(file), "rows": rows, "file_mib": round(file.stat().st_size / 2**20, 1), "network": network,
            "train_steps": train_steps, "threads": threads, "train": train, "predict": predict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rows", type=int, help="make a file of this many IMDB rows under --work")
    source.add_argument("--file", type=Path, help="an existing file with columns review and sentiment")
    parser.add_argument("--work", type=Path, default=Path("runs/own-data-scale"), help="caches, runs and outputs")
    parser.add_argument("--train-steps", type=int, default=50)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="small")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS of train.py and predict.py (default: all cores)")
    parser.add_argument("--tsv", action="store_true", help="with --rows: measure the same rows as a .tsv file")
    add_out_argument(parser)
    args = parser.parse_args()
    load_at_start = round(psutil.getloadavg()[0], 2)  # emit() adds the load at the end
    if args.rows:
        file = args.work / f"reviews-{args.rows}.csv"
        if not file.exists():
            write_review_file(file, args.rows)
        file = as_tsv(file) if args.tsv else file
        rows = args.rows
    else:
        file, rows = args.file.resolve(), count_rows(args.file)
    report = measure(file, args.work, args.train_steps, args.network, rows, args.threads)
    emit({**report, "load_average_1m_at_start": load_at_start}, args.out)


if __name__ == "__main__":
    main()
