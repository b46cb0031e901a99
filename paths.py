"""Where things are: the repository root, the model store, the shipped export and archive, the default dataset.

One place for each of these paths; every product module, script and benchmark imports them from here:

    from paths import ROOT, MODEL_STORE, SHIPPED_EXPORT, ARCHIVE, DEFAULT_DATASET
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
CONFIG_DIR = ROOT / "config"
MODEL_STORE = ROOT / "model_store"
SHIPPED_EXPORT = MODEL_STORE / "artifacts"  # the trained export that serving ships (network, tokenizer, config)
ARCHIVE = MODEL_STORE / "sentiment.mar"  # TorchServe's archive of SHIPPED_EXPORT (`make archive`)
# IMDB in the Hugging Face Hub's layout, beside the repository (never copied into it); a Hub id works too.
DEFAULT_DATASET = ROOT.parent / "shared" / "imdb"
IMDB_TEST_PARQUET = DEFAULT_DATASET / "plain_text" / "test-00000-of-00001.parquet"
