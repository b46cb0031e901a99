"""The names benchmarks/serving_latency.py imports from here; they live in reporting.py, which everything else imports."""

from reporting import add_out_argument, emit, median_ms  # noqa: F401
