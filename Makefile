# The harness's commands. Every target bootstraps what it needs on first use
# (the Python environment, espeak-ng), idempotently: nothing is installed by hand.
#
#   make build SUB=<name> [TRACK=mini] [LANG=de|zh] [NPROC=N] [FSDP=1]
#                 reproduce a submission into build/<track>/<name>/ (NPROC: fine-tunes as N processes,
#                 DDP; FSDP=1: full fine-tunes sharded with FSDP)
#   make eval [SUB=] [TESTSET=] [TRACK=] [SEGMENTATION=dac|vad|fixed|gold] [NPROC=N]
#                 size check + decode + score built systems -> leaderboard/results/ (long-form sets:
#                 segment -> decode -> resegment to the references -> score)
#   make leaderboard  render leaderboard/ (README.md, index.html, results.csv, results.json) from leaderboard/results/
#   make check SUB=<name> [TRACK=]        storage-constraint compliance of build/<track>/<name>/ (runs no code)
#   make data     generate the mini-track test and training sets under testsets/mini/
#   make mini-base   retrain the mini track's base model into models/mini-base/ (~70 min, 1 core)
#   make test     the test suite, offline, on the CPU
#   make test-gpu the CUDA path of the tests (marker gpu; skipped without a CUDA device)
#   make bench    the benchmarks (pytest-benchmark); BENCH_DEVICE=cuda runs them on a GPU
#   make clean    remove the environments and caches (generated data is kept; see clean-data)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
COMET_VENV := .venv-comet
COMET_STAMP := $(COMET_VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MINI := testsets/mini
JOBS ?= 2
PYTEST_ARGS ?=
BENCH_DEVICE ?= cpu
TRACK ?= mini
SUB ?=
TESTSET ?=
SEGMENTATION ?=
# `make build SUB=modelA LANG=de` builds one direction. LANG is also the locale variable
# (e.g. C.UTF-8), so only de, zh or both count as a direction.
BUILD_LANG := $(filter de zh both,$(LANG))
BATCH ?= 16
# The mini track's test sets come from make data; the 7B tracks read theirs from the hub.
TRACK_DATA := $(if $(filter mini,$(TRACK)),data)

# Nothing the tests or the mini track do may reach a model or dataset hub. The 7B
# tracks fetch the base model and ACL 60/60 once (loading a built system is always
# offline: harness.models passes local_files_only).
OFFLINE := $(if $(filter mini,$(TRACK)),1,0)
export HF_HUB_OFFLINE := $(OFFLINE)
export HF_DATASETS_OFFLINE := $(OFFLINE)
export TRANSFORMERS_OFFLINE := $(OFFLINE)
export TOKENIZERS_PARALLELISM := false
TEST_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1


.PHONY: build eval leaderboard check data mini-base test test-gpu bench clean clean-data lock comet-env

# ---- environments ---------------------------------------------------------
# The stamp depends on the files that define the environment, so editing
# pyproject.toml or the lock reinstalls; otherwise this is a no-op.
$(VENV_STAMP): pyproject.toml requirements/main.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/main.txt -e '.[test]'
	$(PY) -m pip check
	@touch $@

# COMET (unbabel-comet 2.2.7) pins transformers<5, numpy<2 and protobuf<5 and
# needs setuptools<81 and pyarrow<26 that it does not declare, so it lives in
# its own environment and is fed per-segment files (see README, "COMET").
$(COMET_STAMP): requirements/comet.txt
	@test -x $(COMET_VENV)/bin/python || $(PYTHON) -m venv $(COMET_VENV)
	$(COMET_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMET_VENV)/bin/python -m pip install --quiet -r requirements/comet.txt
	$(COMET_VENV)/bin/python -m pip check
	@touch $@

comet-env: $(COMET_STAMP)

ESPEAK := $(shell command -v espeak-ng 2>/dev/null)
espeak-ng:
ifeq ($(ESPEAK),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq espeak-ng >/dev/null
endif
.PHONY: espeak-ng

# Debian's chromium: the leaderboard page's browser test (tests/test_leaderboard_browser.py).
CHROMIUM := $(shell command -v chromium 2>/dev/null)
chromium:
ifeq ($(CHROMIUM),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null
endif
.PHONY: chromium

# ---- targets --------------------------------------------------------------
data: $(VENV_STAMP) espeak-ng
	$(PY) -m testsets.miniworld --out $(MINI) --jobs $(JOBS)

# One intra-op thread on purpose: the recipe's weights are reproducible for a thread
# count, and on two shared cores two threads stall on each other (harness/stages/mini_base.py).
MINI_BASE_OUT ?= models/mini-base
mini-base: data
	OMP_NUM_THREADS=1 $(PY) -m harness.stages.mini_base --out $(MINI_BASE_OUT) --work build/mini-base --evaluate

build: $(VENV_STAMP)
	@test -n "$(SUB)" || { echo "usage: make build SUB=<name>  (submissions: $$(ls submissions | tr '\n' ' '))" >&2; exit 2; }
	@test -f submissions/$(SUB)/build.py || { echo "error: no submission named $(SUB) (submissions: $$(ls submissions | tr '\n' ' '))" >&2; exit 2; }
	$(if $(NPROC),HARNESS_NPROC=$(NPROC)) $(if $(FSDP),HARNESS_FSDP=1) $(PY) submissions/$(SUB)/build.py --track $(TRACK) $(if $(BUILD_LANG),--lang $(BUILD_LANG))

eval: $(VENV_STAMP) $(TRACK_DATA)
	$(PY) -m harness eval --track $(TRACK) --batch-size $(BATCH) $(if $(SUB),--system $(SUB)) $(if $(TESTSET),--testset $(TESTSET)) $(if $(SEGMENTATION),--segmentation $(SEGMENTATION)) $(if $(NPROC),--nproc $(NPROC))
	$(PY) -m harness leaderboard

leaderboard: $(VENV_STAMP)
	$(PY) -m harness leaderboard

check: $(VENV_STAMP)
	@test -n "$(SUB)" || { echo "usage: make check SUB=<name> [TRACK=mini]" >&2; exit 2; }
	$(PY) -m harness check build/$(TRACK)/$(SUB) --track $(TRACK)

bench: $(VENV_STAMP)
	$(TEST_ENV) BENCH_DEVICE=$(BENCH_DEVICE) $(PY) -m pytest tests/bench -m bench --benchmark-only $(PYTEST_ARGS)

test: $(VENV_STAMP) espeak-ng chromium
	$(TEST_ENV) $(PY) -m pytest -m "not slow and not gpu and not bench" $(PYTEST_ARGS)

# The CUDA path (tests marked gpu; they skip without a CUDA device) and the benchmarks on
# the GPU. On a GPU machine: make test-gpu && make bench BENCH_DEVICE=cuda
test-gpu: $(VENV_STAMP)
	$(TEST_ENV) $(PY) -m pytest tests/test_gpu.py -m gpu -rs $(PYTEST_ARGS)

lock: $(VENV_STAMP)
	{ sed -n '1,4p' requirements/main.txt; $(PY) -m pip freeze --exclude-editable \
	  | grep -v -i -E '^(torch|iwslt-compression-harness|pip|setuptools)=='; } > requirements/main.txt.tmp
	mv requirements/main.txt.tmp requirements/main.txt

clean:
	rm -rf $(VENV) $(COMET_VENV) .pytest_cache .benchmarks *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data:
	rm -rf $(MINI)/*/data.parquet $(MINI)/*/wav
