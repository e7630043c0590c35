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
#   make leaderboard-mini  the committed mini leaderboard, from one commit: refuses a tree with local changes
#                 outside leaderboard/, builds every submission (cached stages), removes leaderboard/results/mini/,
#                 evaluates every system on every mini test set (long-form included), renders
#   make check SUB=<name> [TRACK=]        storage-constraint compliance of build/<track>/<name>/ (runs no code)
#   make smoke SUB=<name> [TRACK=]        a system run by contract (run.sh, harness.evaluation.contract): its run.sh on the first
#                 5 utterances of the track's first test set, each direction, no network; one-line verdict, exit code
#   make data     generate the mini-track test and training sets under testsets/mini/ (present and intact:
#                 only verifies the hashes); build and eval on the mini track make them when missing
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
# The mini track's sets come from make data (the 7B tracks read theirs from the hub); build and
# eval depend on its stamp, so a fresh clone makes them and later runs do not even re-verify them
# (make data always does). The stamp is remade when the generator's sources change.
MINI_STAMP := $(MINI)/.generated
TRACK_DATA := $(if $(filter mini,$(TRACK)),$(MINI_STAMP))
# make eval compares every system with the track's base; on the mini track it is built when
# missing (the 7B base comes from the hub: there the eval names make build SUB=baseline).
BASE_BUILT := $(if $(filter mini,$(TRACK)),build/$(TRACK)/baseline/system.json)
SUBMISSIONS := $(sort $(notdir $(patsubst %/build.py,%,$(wildcard submissions/*/build.py))))

# Nothing the tests or the mini track do may reach a model or dataset hub. The 7B
# tracks fetch the base model and ACL 60/60 once (loading a built system is always
# offline: harness.systems.models passes local_files_only).
OFFLINE := $(if $(filter mini,$(TRACK)),1,0)
export HF_HUB_OFFLINE := $(OFFLINE)
export HF_DATASETS_OFFLINE := $(OFFLINE)
export TRANSFORMERS_OFFLINE := $(OFFLINE)
export TOKENIZERS_PARALLELISM := false
TEST_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1


.PHONY: build eval leaderboard leaderboard-mini check smoke data mini-base lint schema test test-gpu bench clean clean-data lock comet-env

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
	@touch $(MINI_STAMP)

# espeak-ng is only needed to speak the sets, so it is installed here, not on every build.
$(MINI_STAMP): $(wildcard testsets/miniworld/*.py) | $(VENV_STAMP)
	$(if $(ESPEAK),,$(MAKE) --no-print-directory espeak-ng)
	$(PY) -m testsets.miniworld --out $(MINI) --jobs $(JOBS)
	@touch $@

# One intra-op thread on purpose: the recipe's weights are reproducible for a thread
# count, and on two shared cores two threads stall on each other (harness/stages/mini_base.py).
MINI_BASE_OUT ?= models/mini-base
mini-base: data
	OMP_NUM_THREADS=1 $(PY) -m harness.stages.mini_base --out $(MINI_BASE_OUT) --work build/mini-base --evaluate

build: $(VENV_STAMP) $(TRACK_DATA)
	@test -n "$(SUB)" || { echo "usage: make build SUB=<name>  (submissions: $$(ls submissions | tr '\n' ' '))" >&2; exit 2; }
	@test -f submissions/$(SUB)/build.py || { echo "error: no submission named $(SUB) (submissions: $$(ls submissions | tr '\n' ' '))" >&2; exit 2; }
	$(if $(NPROC),HARNESS_NPROC=$(NPROC)) $(if $(FSDP),HARNESS_FSDP=1) $(PY) submissions/$(SUB)/build.py --track $(TRACK) $(if $(BUILD_LANG),--lang $(BUILD_LANG))

# The mini base as it is (a copy of models/mini-base/, seconds); a retrained base is copied again.
build/mini/baseline/system.json: $(wildcard models/mini-base/*) | $(VENV_STAMP)
	$(PY) submissions/baseline/build.py --track mini

eval: $(VENV_STAMP) $(TRACK_DATA) $(BASE_BUILT)
	$(PY) -m harness eval --track $(TRACK) --batch-size $(BATCH) $(if $(SUB),--system $(SUB)) $(if $(TESTSET),--testset $(TESTSET)) $(if $(SEGMENTATION),--segmentation $(SEGMENTATION)) $(if $(NPROC),--nproc $(NPROC))
	$(PY) -m harness leaderboard

leaderboard: $(VENV_STAMP)
	$(PY) -m harness leaderboard

# The committed mini leaderboard, from one commit: every row built, decoded and scored by the
# checked-out code, so the tree may differ from HEAD only under leaderboard/ (what this writes;
# the results files record the commit with the same exclusion, harness.results.git_state).
# Every submission is built (both directions; the stage cache makes an unchanged one quick) and
# evaluated afresh; --system keeps a stale build/mini/ folder of no submission off the page.
leaderboard-mini:
	@changed="$$(git status --porcelain --untracked-files=no -- . ':!leaderboard')" \
	  || { echo "error: make leaderboard-mini needs a git checkout (the results record its commit)" >&2; exit 2; }; \
	  test -z "$$changed" || { echo "error: local changes outside leaderboard/ ($$(echo "$$changed" | cut -c4- | head -3 | paste -sd ' ')$$(test $$(echo "$$changed" | wc -l) -le 3 || echo ' ...')): commit them first, so the leaderboard records one commit" >&2; exit 2; }
	for sub in $(SUBMISSIONS); do $(MAKE) --no-print-directory build SUB=$$sub TRACK=mini BUILD_LANG= || exit; done
	rm -rf leaderboard/results/mini
	$(PY) -m harness eval --track mini --batch-size $(BATCH) $(foreach sub,$(SUBMISSIONS),--system $(sub))
	$(PY) -m harness leaderboard

check: $(VENV_STAMP)
	@test -n "$(SUB)" || { echo "usage: make check SUB=<name> [TRACK=mini]" >&2; exit 2; }
	$(PY) -m harness check build/$(TRACK)/$(SUB) --track $(TRACK)

smoke: $(VENV_STAMP) $(TRACK_DATA)
	@test -n "$(SUB)" || { echo "usage: make smoke SUB=<name> [TRACK=mini]" >&2; exit 2; }
	$(PY) -m harness smoke build/$(TRACK)/$(SUB) --track $(TRACK)

bench: $(VENV_STAMP) $(TRACK_DATA)
	$(TEST_ENV) BENCH_DEVICE=$(BENCH_DEVICE) $(PY) -m pytest tests/bench -m bench --benchmark-only $(PYTEST_ARGS)

# The results files' JSON Schema, generated from harness/results_schema.py (tests/test_results_schema.py
# fails while the committed file differs).
schema: $(VENV_STAMP)
	$(PY) -m harness.results_schema write

# ruff (pyproject.toml [tool.ruff]): unused or undefined names and syntax errors, before any test.
lint: $(VENV_STAMP)
	$(PY) -m ruff check harness submissions testsets tests

test: lint $(VENV_STAMP) espeak-ng chromium
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
	rm -rf $(MINI)/*/data.parquet $(MINI)/*/wav $(MINI_STAMP)
