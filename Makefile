# `make help` lists the targets. CI runs `make install` then `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= $(shell $(PY) -c 'from paths import DEFAULT_DATASET; print(DEFAULT_DATASET)')
ARTIFACTS ?= model_store/artifacts
MAR ?= model_store/sentiment.mar
TOKEN_AUTH ?= on
WEB_PORT ?= 8090

.DEFAULT_GOAL := help
.PHONY: help install test test-fast train bench-train bench-own-data bench-tta bench-model clean archive serve stop kserve bench-servers bench-int8 bench-serve bench-sub-batches load-test evaluate web screenshot bench-explain

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed ## .venv with everything (CPU torch 2.13.0) and this project, editable

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: install ## the whole suite (what CI runs): the fast tier in two workers, then the slow tier in one process
	$(PY) -m pytest --durations=15
	$(PY) -m pytest -m slow --durations=15

test-fast: install ## the fast tier only (plain `pytest` does the same)
	$(PY) -m pytest

train: install ## the default recipe on the full data (docs/training.md)
	$(PY) train.py fit --config config/default.yaml --data.dataset $(DATASET)

bench-train: install ## training throughput: padded vs packed batches (JSON)
	$(PY) benchmarks/train_throughput.py --dataset $(DATASET) --out docs/figures/train_throughput.json

SCALE_ROWS ?= 1000000
bench-own-data: install ## 1,000,000 IMDB rows (SCALE_ROWS) in one CSV: peak memory and rows/s of train.py and predict.py (JSON)
	$(PY) benchmarks/own_data_scale.py --rows $(SCALE_ROWS) --work runs/own-data-scale --train-steps 50 --threads 1 --out docs/figures/own_data_scale.json

clean: ## remove runs, logs and test caches
	rm -rf runs lightning_logs .pytest_cache

archive: install ## model_store/sentiment.mar from $(ARTIFACTS) when a source changed, digest recorded
	$(PY) scripts/build_archive.py --artifacts $(ARTIFACTS)

serve: install ## TorchServe on 127.0.0.1:8080 with a READY worker: archive refreshed and digest checked first (token on; TOKEN_AUTH=off to disable)
	$(PY) scripts/serve.py start --artifacts $(ARTIFACTS) $(if $(filter off,$(TOKEN_AUTH)),--no-token)

stop: install ## stop the server `make serve` started
	$(PY) scripts/serve.py stop

kserve: install ## KServe's model server on $(ARTIFACTS), loopback only, in the foreground (Ctrl-C stops it)
	$(PY) -m serving.kserve_model --model_dir $(ARTIFACTS)

bench-servers: archive ## KServe's model server, TorchServe and the in-process Predictor side by side (JSON, docs/figures/)
	$(PY) benchmarks/server_comparison.py --out docs/figures/server_comparison.json

bench-int8: install ## network.int8.onnx vs network.onnx: accuracy, agreement, short texts, speed, graph optimization (JSON)
	$(PY) benchmarks/int8_network.py --export $(ARTIFACTS) --out docs/figures/int8_network.json

bench-serve: archive ## own servers over batch size x delay, 1/8/32 clients, vs the in-process limit (JSON, docs/figures/)
	$(PY) benchmarks/serving_latency.py --mar $(MAR) --artifacts $(ARTIFACTS) --out docs/figures/serving_sweep.json

bench-sub-batches: install ## in-process cost per cell and sub-batch rules on real batches (JSON)
	$(PY) benchmarks/sub_batch_rule.py --artifacts $(ARTIFACTS) --out docs/figures/sub_batch_rule.json

load-test: archive ## mixed good and bad requests from 32 clients against an own loopback server (JSON; LOAD_REQUESTS=N for another count)
	$(PY) benchmarks/load_test.py $(if $(LOAD_REQUESTS),--requests $(LOAD_REQUESTS)) --mar $(MAR) --out docs/figures/load_test.json

evaluate: install ## accuracy of handler.py on the full IMDB test split, in-process (JSON)
	$(PY) scripts/evaluate_handler.py --artifacts $(ARTIFACTS) --dataset $(DATASET) --out docs/figures/handler_accuracy.json

web: install ## the review page on 127.0.0.1:$(WEB_PORT) (needs `make serve` running)
	$(PY) web/server.py --port $(WEB_PORT)

screenshot: install ## docs/web_page.png, taken by the browser test with the committed model
	WEB_SCREENSHOT=docs/web_page.png $(PY) -m pytest -m slow tests/test_web_browser.py -k page_shows -q

bench-explain: install ## explanation time and convergence per integrated-gradient steps (JSON)
	$(PY) benchmarks/explain_latency.py --artifacts $(ARTIFACTS) --out docs/figures/explain_latency.json

bench-tta: install ## time until val acc first reaches 85.1% with config/fast.yaml, and that checkpoint's test acc (JSON)
	$(PY) scripts/bench_tta.py --dataset $(DATASET)

BASELINE ?= runs/baseline_artifacts
bench-model: install ## in-process reviews/s at batch 64, tokenization included: ARTIFACTS against BASELINE, an older export (JSON)
	$(PY) benchmarks/model_throughput.py --baseline $(BASELINE) --export $(ARTIFACTS) --out docs/figures/model_throughput.json
