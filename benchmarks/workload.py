"""The names benchmarks/serving_latency.py imports from here; they live in data/review_samples.py, which everything else imports."""

from data.review_samples import REVIEW, real_reviews  # noqa: F401
