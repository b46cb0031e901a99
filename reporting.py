"""What every measuring command shares: the --out flag, the JSON report with where it was measured, timers, server RSS.

    from reporting import add_out_argument, closed_loop, emit, median_ms, memory
    add_out_argument(parser)            # --out PATH
    emit(report, args.out)              # prints the JSON (with "machine"), and keeps it at --out (docs/figures/NAME.json)

Imported by scripts/ and benchmarks/ alike, which import no module of each other.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import psutil


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="also write the JSON report here (e.g. docs/figures/NAME.json)")


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """One untimed warm-up call, then the median of `repeats` timed calls, in milliseconds."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def machine() -> dict:
    """Where and when a figure was measured, stored beside it."""
    return {"date": time.strftime("%Y-%m-%d"), "cpus": psutil.cpu_count(), "processor": platform.processor() or platform.machine(),
            "load_average_1m": round(psutil.getloadavg()[0], 2)}


def emit(report: dict, out: Path | None) -> dict:
    report = {**report, "machine": machine()}
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return report


def memory(frontend_pid: int | None) -> dict:
    """RSS in MiB of a TorchServe frontend and of each of its workers (the frontend's Python descendants)."""
    if frontend_pid is None:
        return {}
    try:
        frontend = psutil.Process(frontend_pid)
        workers = [p for p in frontend.children(recursive=True) if "model_service_worker" in " ".join(p.cmdline())]
        return {
            "frontend_rss_mib": round(frontend.memory_info().rss / 2**20, 1),
            "workers": {str(p.pid): round(p.memory_info().rss / 2**20, 1) for p in workers},
        }
    except psutil.Error as error:
        return {"error": str(error)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def closed_loop(call: Callable, clients: int, total: int) -> dict:
    """`total` calls of `call(session)` (a requests.Session per client thread; it returns the HTTP status)
    from `clients` threads, each starting the next when its last one returned: p50, p99, requests/s."""
    import requests

    local = threading.local()

    def one(_):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False  # loopback only: never through a proxy
        started = time.perf_counter()
        status = call(local.session)
        return time.perf_counter() - started, status

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(2 * clients)))  # warm-up: connections, code paths, batches of this size
        started = time.perf_counter()
        results = list(pool.map(one, range(total)))
        wall = time.perf_counter() - started
    latencies = [r[0] * 1000 for r in results]
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "requests_per_s": total / wall, "non_200": sum(r[1] != 200 for r in results)}
