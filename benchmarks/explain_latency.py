"""Time serving/explain.py on one ~230-word review, and how close integrated gradients converge.

    .venv/bin/python benchmarks/explain_latency.py [--artifacts model_store/artifacts] [--steps 8,16,24,32,50] [--threads 1]
    make bench-explain

Prints JSON: per n_steps the median wall time of explain_texts on one review (after a warm-up
call) and the convergence delta |sum(attributions) - (logit(review) - logit(baseline))|.
The row for serving.explain.N_STEPS is repeated at the top level: that is what the handler does.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch


from model.export import load_export
from serving.explain import N_STEPS, attribute, explain_texts
from paths import SHIPPED_EXPORT
from reporting import add_out_argument, emit

SENTENCES = [
    "I went in expecting very little from this film and came out genuinely moved.",
    "The lead actor gives a restrained, intelligent performance that carries the slower middle section.",
    "Some of the dialogue is clumsy and a subplot about the brother goes nowhere, which is a pity.",
    "The photography is beautiful, especially the long shots of the coast at night.",
    "The score is sometimes too loud, but it never drowns the story.",
    "By the final scene I cared about every one of these people, and that is rare.",
    "It is not a perfect movie, yet it is an honest and warm one that I will remember.",
]


def review_of(words: int) -> str:
    pool = " ".join(SENTENCES * 10).split()
    return " ".join(pool[:words])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT)
    parser.add_argument("--words", type=int, default=230)
    parser.add_argument("--steps", default=f"8,16,{N_STEPS},32,50")
    parser.add_argument("--repeats", type=int, default=5)
    # On cores shared with other work, one intra-op thread was 3-5x faster than two (no spin-waiting).
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads; default: torch's choice")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    net, encoder, config = load_export(args.artifacts)
    labels = config["labels"]
    text = review_of(args.words)
    explain_texts(net, encoder, [text], labels)  # warm-up: first-call allocations and kernel selection
    rows = []
    for n_steps in sorted({int(s) for s in args.steps.split(",")}):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            explain_texts(net, encoder, [text], labels, n_steps=n_steps)
            times.append(time.perf_counter() - start)
        _, logits, deltas = attribute(net, encoder, [text], n_steps=n_steps)
        rows.append({"n_steps": n_steps, "median_ms": round(1000 * statistics.median(times), 1),
                     "min_ms": round(1000 * min(times), 1), "abs_convergence_delta": round(float(deltas.abs()[0]), 5)})
    chosen = next(row for row in rows if row["n_steps"] == N_STEPS) if N_STEPS in {r["n_steps"] for r in rows} else None
    emit({
        "artifacts": str(args.artifacts), "review_words": args.words, "tokens": len(encoder.encode_tokens(text)[0]),
        "logit": round(float(logits[0]), 4), "torch_threads": torch.get_num_threads(),
        "n_steps": N_STEPS, "median_ms": chosen and chosen["median_ms"],
        "abs_convergence_delta": chosen and chosen["abs_convergence_delta"], "by_n_steps": rows,
    }, args.out)


if __name__ == "__main__":
    main()
