"""KServe's model server, TorchServe and the in-process Predictor side by side, one run, one client program; JSON.

    python benchmarks/server_comparison.py --out docs/figures/server_comparison.json     # `make bench-servers`
    python benchmarks/server_comparison.py --quick                                          # short: proves it works

For each of the three, the same fixed 233-word review (data/review_samples.py) and the same closed loop of
client threads (keep-alive sessions; for the in-process Predictor, the same threads call it directly):
- seconds from start to model ready: a new process until `/v2/models/sentiment/ready` answers (KServe),
  `torchserve --start` until a worker is READY (TorchServe, `make serve`'s config/config.properties on free
  loopback ports, token on), a new Python process until `Predictor(...)` returned (in-process);
- requests/s, p50 and p99 at each client count, medians of --repeats runs of --requests requests;
- RSS after --rss-requests more requests at 8 clients: the server's processes (TorchServe: the JVM and its
  worker); in-process, a new process's (torch-free: check_network=False) after scoring the review that many times;
- the in-process reference of issue-style ratios: one review alone (ms) and reviews/s in batches of 8.
Served ÷ in-process ratios are computed within the run; absolute figures move from machine to machine.
Run it on an otherwise idle machine: client, server and model share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

from data.review_samples import REVIEW
from paths import ARCHIVE, MODEL_NAME, ROOT, SHIPPED_EXPORT
from reporting import add_out_argument, closed_loop, emit, median_ms, memory
from serving.kserve_process import running_kserve
from serving.runtime import Predictor
from serving.settings import HandlerSettings, load_model_yaml
from serving.torchserve import running_torchserve

SETTINGS = HandlerSettings.from_model_yaml(load_model_yaml())


def levels(call, clients: list[int], total: int, repeats: int) -> list[dict]:
    out = []
    for n in clients:
        runs = [closed_loop(call, n, max(total, n)) for _ in range(repeats)]
        out.append({"clients": n, "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                    "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                    "requests_per_s": round(statistics.median(r["requests_per_s"] for r in runs), 1),
                    "non_200": sum(r["non_200"] for r in runs), "repeats": repeats})
        print(json.dumps(out[-1]), flush=True)
    return out


def kserve_call(url: str):
    body = json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [REVIEW]}]}).encode()
    headers = {"Content-Type": "application/json"}
    return lambda session: session.post(url, data=body, headers=headers, timeout=120).status_code


def torchserve_call(url: str, headers: dict):
    body, headers = REVIEW.encode(), {"Content-Type": "text/plain", **headers}
    return lambda session: session.post(url, data=body, headers=headers, timeout=120).status_code


def in_process_start_and_rss(requests_before_rss: int) -> tuple[float, float]:
    """A new interpreter: seconds until the Predictor is built (imports and loading, as a server's start pays
    them), then its RSS in MiB after scoring the review that many times."""
    script = (f"import sys, psutil\nfrom serving.runtime import Predictor\nfrom data.review_samples import REVIEW\n"
              f"p = Predictor({str(SHIPPED_EXPORT)!r}, check_network=False)\nprint('ready', flush=True)\nsys.stdin.readline()\n"
              f"for _ in range({requests_before_rss}): p.predict_proba([REVIEW])\n"
              f"print(psutil.Process().memory_info().rss / 2**20)")
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "ready"
    ready_s = time.monotonic() - started
    out, _ = child.communicate("go\n")
    return ready_s, round(float(out.strip()), 1)


def process_tree_rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20, 1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per level and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-requests", type=int, default=10_000, help="requests before the RSS is read")
    parser.add_argument("--quick", action="store_true", help="1 and 8 clients, 100 requests, 1 repeat, 500 for RSS")
    parser.add_argument("--only", nargs="+", choices=["kserve", "torchserve", "in_process"],
                        default=["kserve", "torchserve", "in_process"])
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.requests, args.repeats, args.rss_requests = [1, 8], 100, 1, 500
    predictor = Predictor(SHIPPED_EXPORT, SETTINGS)
    report = {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "review_chars": len(REVIEW),
        "requests_per_level": args.requests, "repeats": args.repeats, "rss_after_requests": args.rss_requests,
        "in_process_reference": {
            "one_review_ms": round(median_ms(lambda: predictor.predict_proba([REVIEW]), 200), 3),
            "batch_8_reviews_per_s": round(8000 / median_ms(lambda: predictor.predict_proba([REVIEW] * 8), 100), 1),
        },
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp:
        if "kserve" in args.only:
            with running_kserve(SHIPPED_EXPORT, tmp) as server:
                call = kserve_call(server.infer_url)
                entry = {"start_to_ready_s": round(server.ready_s, 2), "levels": levels(call, args.clients, args.requests,
                                                                                         args.repeats)}
                closed_loop(call, 8, args.rss_requests)
                entry["rss_mib"] = process_tree_rss_mib(server.pid)
                report["servers"]["kserve"] = entry
        if "torchserve" in args.only:
            started = time.monotonic()
            with running_torchserve(ARCHIVE, tmp) as server:
                ready_s = time.monotonic() - started
                call = torchserve_call(f"{server.inference_url}/predictions/{MODEL_NAME}", server.headers())
                entry = {"start_to_ready_s": round(ready_s, 2), "levels": levels(call, args.clients, args.requests,
                                                                                  args.repeats)}
                closed_loop(call, 8, args.rss_requests)
                entry["rss_mib"] = process_tree_rss_mib(server.pid)
                entry["rss_breakdown"] = memory(server.pid)
                report["servers"]["torchserve"] = entry
        if "in_process" in args.only:
            def call(_session):
                predictor.predict_proba([REVIEW])
                return 200

            ready_s, rss_mib = in_process_start_and_rss(args.rss_requests)
            entry = {"start_to_ready_s": round(ready_s, 2), "levels": levels(call, args.clients, args.requests,
                                                                              args.repeats), "rss_mib": rss_mib}
            report["servers"]["in_process"] = entry
    reference = report["in_process_reference"]
    for entry in report["servers"].values():
        for level in entry["levels"]:
            level["p50_vs_one_review_in_process"] = round(level["p50_ms"] / reference["one_review_ms"], 2)
            level["requests_per_s_vs_batch_8_in_process"] = round(level["requests_per_s"] / reference["batch_8_reviews_per_s"], 3)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
