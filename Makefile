# make install   -> .venv with everything (CPU torch 2.13.0)
# make test      -> the whole test suite, slow tiers included (what CI runs)
# make test-fast -> the fast tier only (plain `pytest` does the same)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= ../shared/imdb

.PHONY: install test test-fast train bench-train clean archive serve stop bench-serve load-test web bench-explain

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

test: install
	$(PY) -m pytest -m "slow or not slow"

test-fast: install
	$(PY) -m pytest

# The default recipe on the full data (~35 min on 2 CPU cores); see README "Training".
train: install
	$(PY) train.py fit --config config/default.yaml --data.dataset $(DATASET)

bench-train: install
	$(PY) benchmarks/train_throughput.py --dataset $(DATASET)

clean:
	rm -rf runs lightning_logs .pytest_cache

# --- serving (README "Serving") ---
ARTIFACTS ?= model_store/artifacts
MAR := model_store/sentiment.mar
SERVE_SOURCES := handler.py scripts/build_archive.py serving/archive-requirements.txt serving/request_parsing.py \
	$(wildcard serving/explain.py) model/network.py model/export.py data/text_encoding.py
TOKEN_AUTH ?= on

archive: $(MAR)

$(MAR): $(SERVE_SOURCES) $(wildcard $(ARTIFACTS)/*) | install
	$(PY) scripts/build_archive.py --artifacts $(ARTIFACTS) --out model_store
	$(PY) scripts/archive_digest.py record --mar $(MAR)

serve: $(MAR)
	$(PY) scripts/archive_digest.py check --mar $(MAR)
	$(PY) scripts/serve.py start $(if $(filter off,$(TOKEN_AUTH)),--no-token)

stop: install
	$(PY) scripts/serve.py stop

bench-serve: install
	$(PY) benchmarks/serving_latency.py

# 20,000 mixed requests from 32 clients against an own loopback server (README "Reliability and security").
LOAD_REQUESTS ?= 20000
load-test: $(MAR)
	mkdir -p runs
	$(PY) benchmarks/load_test.py --requests $(LOAD_REQUESTS) --mar $(MAR) --out runs/load_test.json

# --- web page (README "Web page"); needs `make serve` running in another terminal ---
WEB_PORT ?= 8090

web: install
	$(PY) web/server.py --port $(WEB_PORT)

bench-explain: install
	$(PY) benchmarks/explain_latency.py --artifacts $(ARTIFACTS)
