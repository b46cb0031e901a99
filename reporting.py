"""What every measuring command shares: the --out flag, the JSON report with where it was measured, timers, server RSS.

    from reporting import add_out_argument, emit, median_ms, memory
    add_out_argument(parser)            # --out PATH
    emit(report, args.out)              # prints the JSON (with "machine"), and keeps it at --out (docs/figures/NAME.json)

Imported by scripts/ and benchmarks/ alike, which import no module of each other.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
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
