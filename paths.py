"""Where things are: the repository root, the model store, the shipped export and archive, the default dataset,
and the name the model is served under.

One place for each of these paths; every product module, script and benchmark imports them from here:

    from paths import ROOT, MODEL_STORE, SHIPPED_EXPORT, ARCHIVE, DEFAULT_DATASET, MODEL_NAME
"""

from __future__ import annotations

from pathlib import Path

# The name clients call the model by: TorchServe's /predictions/sentiment and its archive sentiment.mar,
# KServe's /v2/models/sentiment and /v1/models/sentiment:predict.
MODEL_NAME = "sentiment"

ROOT = Path(__file__).resolve().parent
CONFIG_DIR = ROOT / "config"
MODEL_STORE = ROOT / "model_store"
SHIPPED_EXPORT = MODEL_STORE / "artifacts"  # the trained export that serving ships (network, tokenizer, config)
ARCHIVE = MODEL_STORE / f"{MODEL_NAME}.mar"  # TorchServe's archive of SHIPPED_EXPORT (`make archive`)
# IMDB in the Hugging Face Hub's layout, beside the repository (never copied into it); a Hub id works too.
DEFAULT_DATASET = ROOT.parent / "shared" / "imdb"
IMDB_TEST_PARQUET = DEFAULT_DATASET / "plain_text" / "test-00000-of-00001.parquet"
