"""Latency and throughput of a running TorchServe (`make serve`) for one typical review, as JSON.

    python benchmarks/serving_latency.py [--url http://127.0.0.1:8080] [--key-file model_store/key_file.json]
                                         [--concurrency 1 8 32] [--requests 200]

For each concurrency level, that many client threads send `--requests` POSTs in total of a
~230-word review (text/plain) over loopback; p50/p99 latency and requests/s come back. The
floor is the in-process time (tokenize + forward, one review) of the same export. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import torch


from model.export import load_export

ROOT = Path(__file__).resolve().parents[1]

# A typical IMDB review: ~230 words, close to the test split's median length.
REVIEW = (
    "I went into this film with modest expectations, having heard mixed things from friends, and I came out "
    "pleasantly surprised. The story follows a retired schoolteacher who returns to the small coastal town where "
    "she grew up, hoping to sell her late brother's house and leave as quickly as possible. Of course, things do "
    "not go according to plan. The town is full of eccentric characters, old grudges and a few secrets that the "
    "script reveals at a patient, well judged pace. The lead performance is the heart of the movie: subtle, dry, "
    "often funny and occasionally heartbreaking without ever begging for tears. The supporting cast is uneven; the "
    "local mayor is played far too broadly, and a subplot about a missing fishing boat goes nowhere. The "
    "photography, on the other hand, is gorgeous, with grey skies and long shots of the harbour that say more "
    "about loneliness than any of the dialogue. The music is sparse and used well. At nearly two hours the film is "
    "perhaps twenty minutes too long, and the final act leans on a coincidence that I found hard to swallow. Still, "
    "these are small complaints about a warm, intelligent and beautifully acted drama that trusts its audience. It "
    "is the kind of quiet movie that rarely gets made any more, and I would happily watch it again. Recommended, "
    "especially if you enjoy character studies more than plot."
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run_level(url: str, token: str, clients: int, total: int) -> dict:
    local = threading.local()
    headers = {"Content-Type": "text/plain", **({"Authorization": f"Bearer {token}"} if token else {})}

    def one(_):
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False  # loopback only: never through a proxy
        started = time.perf_counter()
        answer = local.session.post(url, data=REVIEW.encode(), headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        return elapsed, answer.status_code

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients)))  # warm-up: connections and the worker
        started = time.perf_counter()
        results = list(pool.map(one, range(total)))
        wall = time.perf_counter() - started
    latencies = [r[0] * 1000 for r in results]
    return {
        "clients": clients, "requests": total, "errors": sum(r[1] != 200 for r in results),
        "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
        "requests_per_s": round(total / wall, 1),
    }


def in_process_floor(artifacts: Path, repeats: int = 50) -> dict:
    net, encoder, _ = load_export(artifacts)
    times = []
    with torch.no_grad():
        for _ in range(repeats + 5):
            started = time.perf_counter()
            net(*encoder.batch([REVIEW]))
            times.append((time.perf_counter() - started) * 1000)
    times = times[5:]
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 99), 2),
            "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--key-file", type=Path, default=ROOT / "model_store" / "key_file.json")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "model_store" / "artifacts")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level (bounded)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise SystemExit("loopback URLs only")
    token = json.loads(args.key_file.read_text())["inference"]["key"] if args.key_file.is_file() else ""
    url = f"{args.url}/predictions/sentiment"
    levels = [run_level(url, token, c, max(args.requests, c)) for c in args.concurrency]
    print(json.dumps({
        "review_words": len(REVIEW.split()),
        "in_process_floor": in_process_floor(args.artifacts),
        "server": levels,
    }, indent=2))


if __name__ == "__main__":
    main()
