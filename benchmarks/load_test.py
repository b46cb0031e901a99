"""Load test: many concurrent clients, mixed good and bad requests, against a loopback TorchServe; prints JSON.

    .venv/bin/python benchmarks/load_test.py                          # 10,000 requests, 32 clients, own server
    .venv/bin/python benchmarks/load_test.py --requests 500 --out load.json
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8080 --key-file model_store/key_file.json  # `make serve`'s

Without --url it starts its own TorchServe on free loopback ports with --mar (serving/torchserve.py)
and always stops it. Bounded: --requests in all, --max-seconds for the whole run (requests not sent
by then are counted as "not_sent"), --timeout per request. Only 127.0.0.1 / localhost URLs are accepted.

Mix (fixed by --seed): plain text, JSON {"text"}, JSON {"texts": [2..4]}, and --bad-share bad inputs,
each with the 4xx it must get (empty, malformed JSON, wrong keys, invalid UTF-8, too many texts,
too long a text, form-encoded, 20,000-deep JSON). Reviews come from --reviews (a Hub-layout IMDB
parquet) when present, cut to --max-review-chars (1,200 by default, ~250 tokens: the test is about
robustness on two shared cores, not latency; benchmarks/serving_latency.py measures that).
--warmup requests go first and are not counted, so the start RSS is that of a warm worker;
RSS is also sampled every few seconds during the run (memory_samples, worker_pids_seen: more than
one pid means a worker died and was replaced), and answers are counted per minute (timeline).
Report: requests/s, latency p50/p99/max, counts per status code, unexpected answers per kind,
5xx, timeouts, connection errors, and the RSS of the frontend and each worker at start and end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psutil
import requests

from paths import ARCHIVE, IMDB_TEST_PARQUET, MODEL_STORE
from reporting import add_out_argument, emit, memory
from serving.torchserve import KEY_FILE_NAME, read_key

LOOPBACK = {"127.0.0.1", "localhost"}


@dataclass
class Probe:
    kind: str
    body: bytes
    content_type: str
    expected: int  # the status a correct server answers
    n_texts: int = 1  # answers expected in a 200 list (1: a single object)


def load_reviews(path: Path, max_chars: int, limit: int = 2000, seed: int = 0) -> list[str]:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise SystemExit(f"load_test.py: error: no reviews file {path} (a parquet file with a text column; --reviews)")
    texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return [t[:max_chars] for t in random.Random(seed).sample(texts, min(limit, len(texts)))]


def make_probes(n: int, reviews: list[str], bad_share: float, seed: int) -> list[Probe]:
    rng = random.Random(seed)
    js = lambda value: json.dumps(value).encode()  # noqa: E731
    bad = [
        lambda: Probe("bad_empty", b"", "text/plain", 400),
        lambda: Probe("bad_whitespace", b"  \n\t ", "text/plain", 400),
        lambda: Probe("bad_json", b'{"text": "unterminated', "application/json", 400),
        lambda: Probe("bad_keys", js({"review": rng.choice(reviews)}), "application/json", 400),
        lambda: Probe("bad_texts_type", js({"texts": rng.choice(reviews)}), "application/json", 400),
        lambda: Probe("bad_utf8", b"\xff\xfe great \xc3\x28 film", "text/plain", 400),
        lambda: Probe("bad_too_many", js({"texts": ["ok"] * 65}), "application/json", 413),
        lambda: Probe("bad_too_long", js({"text": "word " * 5000}), "application/json", 413),
        lambda: Probe("bad_form", b"text=a+fine+film&x=1", "application/x-www-form-urlencoded", 415),
        lambda: Probe("bad_deep_json", b"[" * 20000 + b"]" * 20000, "application/json", 400),
    ]
    probes = []
    for _ in range(n):
        if rng.random() < bad_share:
            probes.append(rng.choice(bad)())
            continue
        kind = rng.choice(["plain", "json_text", "json_texts"])
        if kind == "plain":
            probes.append(Probe(kind, rng.choice(reviews).encode(), "text/plain", 200))
        elif kind == "json_text":
            probes.append(Probe(kind, js({"text": rng.choice(reviews)}), "application/json", 200))
        else:
            texts = rng.sample(reviews, rng.randint(2, 4))
            probes.append(Probe(kind, js({"texts": texts}), "application/json", 200, len(texts)))
    return probes


def answer_ok(probe: Probe, response: requests.Response) -> bool:
    """The right status, and a body of the right shape: predictions for 200, {"error"} for 4xx."""
    if response.status_code != probe.expected:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if probe.expected != 200:
        return isinstance(body, dict) and bool(body.get("error"))
    answers = body if probe.kind == "json_texts" else [body]
    return (
        isinstance(answers, list) and len(answers) == probe.n_texts
        and all(isinstance(a, dict) and a.get("label") in ("negative", "positive") for a in answers)
    )


class MemorySampler(threading.Thread):
    """Worker RSS every `every` seconds while the load runs."""

    def __init__(self, frontend_pid: int | None, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.frontend_pid, self.every, self.samples, self.done = frontend_pid, every, [], threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        self.pids_seen: set[str] = set()  # more than one: a worker died and TorchServe started another
        while not self.done.wait(self.every):
            workers = memory(self.frontend_pid).get("workers", {})
            self.pids_seen |= set(workers)
            self.samples.append([round(time.monotonic() - started), round(sum(workers.values()), 1)])


def frontend_listening_on(port: int) -> int | None:
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return connection.pid
    return None


def run_load(url: str, token: str, probes: list[Probe], clients: int, timeout: float, max_seconds: float,
             frontend_pid: int | None = None, warmup: list[Probe] = ()) -> dict:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"load_test: refusing {url}: only loopback (127.0.0.1) servers")
    endpoint = f"{url}/predictions/sentiment"
    local = threading.local()
    deadline = time.monotonic() + max_seconds

    def send(probe: Probe) -> tuple[str, float, str | int, bool, float]:
        if time.monotonic() > deadline:
            return probe.kind, 0.0, "not_sent", True, time.monotonic()
        if not hasattr(local, "session"):
            local.session = requests.Session()  # one keep-alive connection per client thread
        session = local.session
        headers = {"Content-Type": probe.content_type, "Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        try:
            response = session.post(endpoint, data=probe.body, headers=headers, timeout=timeout)
        except requests.Timeout:
            return probe.kind, time.perf_counter() - started, "timeout", False, time.monotonic()
        except requests.RequestException as error:
            return probe.kind, time.perf_counter() - started, f"error:{type(error).__name__}", False, time.monotonic()
        return probe.kind, time.perf_counter() - started, response.status_code, answer_ok(probe, response), time.monotonic()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        warm = list(pool.map(send, warmup))
        memory_start = memory(frontend_pid)
        sampler = MemorySampler(frontend_pid)
        sampler.start()
        started, started_monotonic = time.perf_counter(), time.monotonic()
        results = list(pool.map(send, probes))
        elapsed = time.perf_counter() - started
        sampler.done.set()
    memory_end = memory(frontend_pid)

    sent = [r for r in results if r[2] != "not_sent"]
    latencies = sorted(r[1] for r in sent if isinstance(r[2], int))
    statuses = Counter(str(r[2]) for r in results)
    unexpected = Counter(r[0] for r in sent if not r[3])
    quantile = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None  # noqa: E731
    return {
        "requests": len(probes),
        "sent": len(sent),
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(sent) / elapsed, 1),
        "latency_ms": {"p50": quantile(0.50), "p99": quantile(0.99), "max": quantile(1.0),
                       "mean": round(1000 * statistics.fmean(latencies), 1) if latencies else None},
        "status_counts": dict(sorted(statuses.items())),
        "kinds": dict(sorted(Counter(p.kind for p in probes).items())),
        "unexpected_answers": dict(sorted(unexpected.items())),
        "server_errors_5xx": sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500),
        "timeouts": statuses.get("timeout", 0),
        "connection_errors": sum(n for s, n in statuses.items() if s.startswith("error:")),
        "not_sent": statuses.get("not_sent", 0),
        "warmup": {"requests": len(warm), "unexpected": sum(1 for r in warm if not r[3]),
                   "status_counts": dict(sorted(Counter(str(r[2]) for r in warm).items()))},
        "memory_start": memory_start,
        "memory_end": memory_end,
        "memory_samples": {"every_s": sampler.every, "workers_rss_mib": sampler.samples},
        "worker_pids_seen": sorted(getattr(sampler, "pids_seen", set())),
        "timeline": timeline(results, started_monotonic),
    }


def timeline(results: list, started: float, window_s: int = 60) -> list[dict]:
    """Answers per minute by class (2xx, 4xx, 5xx, other): when a run degrades, and whether it recovers."""
    windows: dict[int, Counter] = {}
    for _, _, status, _, done in results:
        if status == "not_sent":
            continue
        group = f"{str(status)[0]}xx" if isinstance(status, int) else "other"
        windows.setdefault(int((done - started) // window_s), Counter())[group] += 1
    return [{"minute": m, **dict(sorted(c.items()))} for m, c in sorted(windows.items())]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="%(default)s (the README's figures)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--bad-share", type=float, default=0.15)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="bound on the whole run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=200, help="uncounted requests sent first")
    parser.add_argument("--max-review-chars", type=int, default=1200)
    parser.add_argument("--reviews", type=Path, default=IMDB_TEST_PARQUET)
    parser.add_argument("--mar", type=Path, default=ARCHIVE)
    parser.add_argument("--url", help="a running server (e.g. `make serve`'s http://127.0.0.1:8080); default: start one")
    parser.add_argument("--key-file", type=Path, default=MODEL_STORE / KEY_FILE_NAME)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if not 0 < args.requests <= 200_000 or not 0 < args.clients <= 256:
        parser.error("--requests must be in 1..200000 and --clients in 1..256")
    reviews = load_reviews(args.reviews, args.max_review_chars, seed=args.seed)
    probes = make_probes(args.requests, reviews, args.bad_share, args.seed)
    warmup = make_probes(args.warmup, reviews, args.bad_share, args.seed + 1)

    if args.url:
        token = read_key(args.key_file)
        report = run_load(args.url.rstrip("/"), token, probes, args.clients, args.timeout, args.max_seconds,
                          frontend_listening_on(urlparse(args.url).port or 80), warmup)
    else:
        import signal
        import tempfile

        from serving.torchserve import running_torchserve

        # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so the server we started is stopped, not orphaned.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

        with tempfile.TemporaryDirectory(prefix="load-test-") as tmp, running_torchserve(args.mar, tmp) as server:
            report = run_load(server.inference_url, server.token, probes, args.clients, args.timeout,
                              args.max_seconds, server.pid, warmup)
    return emit(report, args.out)


if __name__ == "__main__":
    main()
