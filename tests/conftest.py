"""Shared fixtures: a tiny IMDB-like dataset in the Hub layout, and a model trained on it; the real-data marker.

    @pytest.mark.requires_imdb            # the test reads the IMDB copy at paths.DEFAULT_DATASET
    def test_on_real_reviews(): ...

Without that copy such a test is skipped, and the reason names the folder; under CI=true it fails
instead, so a CI run without the data cannot pass by skipping what it was meant to check.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from paths import CONFIG_DIR, DEFAULT_DATASET, ROOT  # noqa: F401  (ROOT: other test modules import it from here)

# Workers of the fast tier: one OpenMP thread each, set before torch is imported. Two workers with two
# busy threads each on two cores ran the tier 5x slower than one thread each.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_IMDB = DEFAULT_DATASET  # the name tests/test_distillation.py imports

POSITIVE = ["wonderful", "great", "moving", "brilliant", "superb", "loved", "excellent", "beautiful"]
NEGATIVE = ["awful", "dull", "boring", "terrible", "waste", "worst", "bad", "poor"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "was", "and", "a", "story", "it", "<br />", "."]


def make_review(rng: random.Random, label: int) -> str:
    cues = POSITIVE if label else NEGATIVE
    words = [rng.choice(FILLER) for _ in range(rng.randint(5, 60))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cues))
    return " ".join(words).capitalize()


def write_hub_dataset(folder: Path, n_train: int, n_test: int, seed: int = 0, columns=("text", "label")) -> Path:
    """Parquet shards named like the Hub's (plain_text/<split>-00000-of-00001.parquet)."""
    import datasets

    rng = random.Random(seed)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    for split, n in (("train", n_train), ("test", n_test)):
        labels = [i % 2 for i in range(n)]
        table = datasets.Dataset.from_dict({"text": [make_review(rng, y) for y in labels], "label": labels}, features=features)
        if tuple(columns) != ("text", "label"):
            table = table.rename_columns(dict(zip(("text", "label"), columns)))
        (folder / "plain_text").mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(folder / "plain_text" / f"{split}-00000-of-00001.parquet"))
    return folder


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject.toml): two workers for the fast tier alone. A run that selects slow tests stays in
    one process: real servers, training runs and the measured figures want the cores to themselves, and
    tests/figures.py merges figures into one file."""
    return 2 if config.getoption("markexpr") == "not slow" else 0


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "requires_imdb: reads the IMDB copy at paths.DEFAULT_DATASET "
                            "(skipped without it; a failure under CI=true)")


def pytest_runtest_setup(item) -> None:
    if item.get_closest_marker("requires_imdb") is None or DEFAULT_DATASET.is_dir():
        return
    missing = f"the IMDB copy is missing: no folder {DEFAULT_DATASET} (paths.DEFAULT_DATASET)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing}; CI runs the real-data tests, so it must be there", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="session")
def tiny_imdb(tmp_path_factory) -> Path:
    return write_hub_dataset(tmp_path_factory.mktemp("tiny_imdb"), n_train=240, n_test=80)


@pytest.fixture()
def tiny_imdb_with_unlabelled(tiny_imdb, tmp_path):
    """The tiny dataset plus an `unsupervised` split of 90 reviews (label -1, as on the Hub)."""
    import shutil

    import datasets

    folder = tmp_path / "with_unlabelled"
    shutil.copytree(tiny_imdb, folder)
    rng = random.Random(7)
    texts = [make_review(rng, i % 2) for i in range(90)]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    datasets.Dataset.from_dict({"text": texts, "label": [-1] * 90}, features=features).to_parquet(
        str(folder / "plain_text" / "unsupervised-00000-of-00001.parquet"))
    # As on the Hub: the card names the splits (file names alone only say train/test/validation).
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: plain_text\n  data_files:\n"
        + "".join(f"  - split: {name}\n    path: plain_text/{name}-*\n" for name in ("train", "test", "unsupervised"))
        + "  default: true\n---\n"
    )
    return folder


@pytest.fixture(scope="session", autouse=True)
def isolated_caches(tmp_path_factory):
    """Keep Hugging Face and our encoding caches out of the home folder and the read-only dataset."""
    cache = tmp_path_factory.mktemp("caches")
    os.environ.setdefault("HF_DATASETS_CACHE", str(cache / "hf"))
    os.environ.setdefault("XDG_CACHE_HOME", str(cache / "xdg"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield


def tiny_fit_args(dataset: Path, run_dir: Path, *extra: str) -> list[str]:
    """train.py arguments for a seconds-long fit on the tiny dataset."""
    return [
        "fit", "--config", str(CONFIG_DIR / "default.yaml"),
        "--data.dataset", str(dataset), "--data.vocab_size", "200", "--data.max_length", "48",
        "--data.batch_size", "16", "--model.embedding_dim", "16", "--model.gru_hidden", "8", "--model.lstm_hidden", "8",
        "--model.lr", "0.02", "--model.dropout", "0.0",
        "--trainer.max_epochs", "2", "--trainer.logger.init_args.save_dir", str(run_dir),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        *extra,
    ]


def accuracy_on_test_split(checkpoint: Path, export: Path, dataset: Path) -> float:
    """The checkpoint's accuracy on the dataset's test split, computed here (the export lends its tokenizer)."""
    import pyarrow.parquet as pq
    import torch

    from model.export import load_export
    from model.lit_module import SentimentClassifier

    test = pq.read_table(dataset / "plain_text" / "test-00000-of-00001.parquet").to_pydict()
    module = SentimentClassifier.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    _, encoder, _ = load_export(export)
    with torch.no_grad():
        scores = module.net.predict_proba(*encoder.batch(test["text"]))
    return sum(int(s >= 0.5) == y for s, y in zip(scores.tolist(), test["label"])) / len(test["label"])


@pytest.fixture(scope="session")
def tiny_run(tiny_imdb, tmp_path_factory) -> Path:
    """A finished fit on the tiny data: its run folder (checkpoints, metrics.json, export/)."""
    from train import cli_main

    run_dir = tmp_path_factory.mktemp("tiny_run")
    cli = cli_main(tiny_fit_args(tiny_imdb, run_dir, "--trainer.max_epochs", "4"))
    return Path(cli.trainer.log_dir)


@pytest.fixture(scope="session")
def tiny_export(tiny_run) -> Path:
    return tiny_run / "export"
