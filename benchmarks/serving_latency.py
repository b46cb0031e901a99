"""Serving sweep: batch size x max delay on its own TorchServe servers, for 1, 8 and 32 clients; JSON.

    python benchmarks/serving_latency.py                  # `make bench-serve`: the full sweep, medians of 3
    python benchmarks/serving_latency.py --quick          # one setting, short runs: proves it works
    python benchmarks/serving_latency.py --batch-sizes 8 16 --delays 0 5 --clients 1 32 --requests 300 --repeats 3
    python benchmarks/serving_latency.py --handler runtime=torch intra_op_threads=2   # other handler settings

For each (batchSize, maxBatchDelay, workers) it starts TorchServe with --mar on free loopback ports
(serving.torchserve.running_torchserve, the models= entry of config/config.properties overridden),
then for each client count and each workload -- the fixed 233-word review (data/review_samples.py)
and a stream of real IMDB test reviews of mixed length -- sends --requests text/plain POSTs from
that many client threads (keep-alive sessions), --repeats times, and reports the median over the
repeats of p50 / p99 latency (ms) and requests/s, with any non-200 answers counted. Also per server:
seconds to a READY worker and the RSS of the frontend (JVM) and of each worker after the runs.

The in-process limit: before any server starts, the runtime's own throughput for the fixed review
at each swept batch size (serving.runtime.Predictor in this process, the archive's handler
settings), and each fixed-review level's requests/s as a fraction of it at the served batch size.

--handler KEY=VALUE replaces handler settings of config/model-config.yaml in a temporary archive
built from --artifacts; without it the archive is --mar (`make archive`'s). Loopback only.
Prints the JSON (with the machine and its load, reporting.py) and with --out keeps it
(`make bench-serve`: docs/figures/serving_sweep.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import yaml

from data.review_samples import REVIEW, real_reviews
from paths import ARCHIVE, MODEL_NAME, SHIPPED_EXPORT
from reporting import add_out_argument, closed_loop, emit, median_ms, memory
from serving.archive import build, model_config_with
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml
from serving.torchserve import running_torchserve, served_model_settings


def models_override(batch_size: int, delay_ms: int, workers: int) -> str:
    """config.properties' models= JSON with this batching: the shipped entry, three fields replaced."""
    entry = {**served_model_settings(), "batchSize": batch_size, "maxBatchDelay": delay_ms,
             "minWorkers": workers, "maxWorkers": workers}
    return json.dumps({MODEL_NAME: {"1.0": entry}})


def run_level(url: str, headers: dict, clients: int, total: int, texts: list[str]) -> dict:
    """`total` POSTs from `clients` threads, each the next text of `texts` (cycled)."""
    stream = itertools.cycle([t.encode() for t in texts])
    lock = threading.Lock()

    def call(session) -> int:
        with lock:
            body = next(stream)
        return session.post(url, data=body, headers=headers, timeout=120).status_code

    return closed_loop(call, clients, total)


def median_of(runs: list[dict]) -> dict:
    return {
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "requests_per_s": round(statistics.median(r["requests_per_s"] for r in runs), 1),
        "non_200": sum(r["non_200"] for r in runs),
        "repeats": len(runs),
    }


def in_process_limit(artifacts: Path, settings: HandlerSettings, batch_sizes: list[int], passes: int) -> dict:
    """batch size -> the runtime's requests/s for the fixed review, tokenization included (median pass)."""
    predictor = Predictor(artifacts, settings)
    limits = {}
    for batch_size in batch_sizes:
        batch = [REVIEW] * batch_size
        ms = median_ms(lambda: predictor.predict_proba(batch), passes)
        limits[batch_size] = {"ms_per_batch": round(ms, 2), "requests_per_s": round(batch_size * 1000 / ms, 1)}
    return limits


def parse_handler_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--handler wants KEY=VALUE, got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mar", type=Path, default=ARCHIVE)
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--handler", nargs="*", default=[], metavar="KEY=VALUE", help="handler settings to replace")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config.properties keys to replace, e.g. number_of_netty_threads=2 job_queue_size=200")
    parser.add_argument("--workloads", nargs="+", choices=["fixed_review", "real_reviews"],
                        default=["fixed_review", "real_reviews"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--delays", type=int, nargs="+", default=[0, 2, 5, 10], help="maxBatchDelay values, ms")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per level and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reviews", type=int, default=2000, help="real test reviews in the mixed stream")
    parser.add_argument("--quick", action="store_true", help="batch 16 / 5 ms, 1 and 8 clients, 40 requests, 1 repeat")
    parser.add_argument("--note", default="", help="free text stored with the figures (machine, load)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.delays, args.workers, args.clients = [16], [5], [1], [1, 8]
        args.requests, args.repeats, args.reviews = 40, 1, 200
    overrides = parse_handler_overrides(args.handler)
    config = load_model_yaml()
    config["handler"] = {**(config.get("handler") or {}), **overrides}
    settings = HandlerSettings.from_model_yaml(config)  # refuses unknown or bad settings before any server starts

    workloads = {"fixed_review": lambda: [REVIEW], "real_reviews": lambda: real_reviews(args.reviews, seed=2)}
    workloads = {name: texts() for name, texts in workloads.items() if name in args.workloads}
    config_overrides = dict(pair.split("=", 1) for pair in args.config if "=" in pair)
    if len(config_overrides) != len(args.config):
        raise SystemExit(f"--config wants KEY=VALUE, got {args.config}")
    report = {
        "note": args.note, "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "handler_settings": dataclasses.asdict(settings), "config_overrides": config_overrides,
        "requests_per_level": args.requests, "repeats": args.repeats,
        "in_process_limit": in_process_limit(args.artifacts, settings, sorted({1, 8, *args.batch_sizes}),
                                             passes=max(20, args.repeats * 10)),
        "servers": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        mar = args.mar
        if overrides:
            mar = build(args.artifacts, Path(tmp) / "mar", model_config=model_config_with(overrides, Path(tmp) / "config"))
        for batch_size, delay, workers in itertools.product(args.batch_sizes, args.delays, args.workers):
            started = time.monotonic()
            overrides = {**config_overrides, "models": models_override(batch_size, delay, workers)}
            with running_torchserve(mar, tmp, overrides) as server:
                ready_s = time.monotonic() - started
                url = f"{server.inference_url}/predictions/{MODEL_NAME}"
                headers = {"Content-Type": "text/plain", **server.headers()}
                levels = []
                for workload, texts in workloads.items():
                    for clients in args.clients:
                        runs = [run_level(url, headers, clients, max(args.requests, clients), texts) for _ in range(args.repeats)]
                        level = {"workload": workload, "clients": clients, **median_of(runs)}
                        if workload == "fixed_review":
                            limits = report["in_process_limit"]
                            level["fraction_of_in_process"] = round(level["requests_per_s"] / limits[batch_size]["requests_per_s"], 3)
                            # Issue-style ratios: against one review alone, and against batches of 8, in-process.
                            level["p50_vs_one_review_in_process"] = round(level["p50_ms"] / limits[1]["ms_per_batch"], 2)
                            level["requests_per_s_vs_batch_8_in_process"] = round(
                                level["requests_per_s"] / limits[8]["requests_per_s"], 3)
                        levels.append(level)
                        print(json.dumps({"batch_size": batch_size, "max_delay_ms": delay, "workers": workers, **level}),
                              flush=True)
                report["servers"].append({
                    "batch_size": batch_size, "max_delay_ms": delay, "workers": workers,
                    "start_to_ready_s": round(ready_s, 1), "memory_after": memory(server.pid), "levels": levels,
                })
    return emit(report, args.out)


if __name__ == "__main__":
    main()
