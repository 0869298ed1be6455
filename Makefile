# One Makefile that people and CI both call. Python 3.11+ on PATH as python3.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export SCRIPTCACHE_DATABASE_URL ?= sqlite:///./var/scriptcache.db
export SCRIPTCACHE_STORE_URL ?= file://./var/blobs

# Test processes for pytest-xdist: the suite waits on browsers, workers and servers as much as
# it computes. Since replays run in Chromium's headless shell (half the CPU), four on 2 cores
# beat three: make test took 4 min 37 s against 5 min 08 s (README, Tests).
TEST_WORKERS ?= 4
# The campaigns load the machine on their own (a worker killed at random, 10,000 blocks, the
# fuzzer): two at a time, so that their time limits measure scriptcache, not the crowd.
CAMPAIGN_WORKERS ?= 2

# The browser-use extra lives in a venv of its own: its exact pins would move pydantic, click,
# rich and pyotp below the versions the main venv runs (docs/PRODUCERS.md, "browser-use").
BU_VENV ?= .venv-browser-use
BU_PY := $(BU_VENV)/bin/python

.PHONY: install install-browser-use services run test test-campaigns test-browser-use test-fast lint bench demo clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,browser]'
	touch $@

install: $(VENV)/.installed

$(BU_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BU_VENV)
	$(BU_PY) -m pip install --quiet --upgrade pip
	$(BU_PY) -m pip install --quiet -e '.[test,browser,browser-use]'
	touch $@

## install-browser-use: the browser-use extra (scriptcache import browser-use's plug-in and tests)
install-browser-use: $(BU_VENV)/.installed

## services: what the suite needs: Chromium and redis-server (apt-get when missing), PostgreSQL
## on localhost:5432 started when installed but down (deploy/ensure-services.sh)
services:
	@bash deploy/ensure-services.sh

## run: migrate, then start worker + beat (sweeper) + Flower on the embedded defaults; starts a
## private redis-server (data in ./var/redis) when no Redis answers at the broker URL
run: install
	$(BIN)/scriptcache migrate
	@bash deploy/run-local.sh

## test: the whole suite, after `make services`, on $(TEST_WORKERS) processes (tests that share a
## session fixture run in one: --dist loadgroup)
test: install services
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not browser_use and not campaign"

## test-campaigns: the long campaigns make test leaves out (fuzzing, 10,000 blocks, worker
## kills at random moments, fidelity across site changes, the relocation corpus), and every
## property test again at its full example count (make test draws a fifth); CI runs them
## after make test
test-campaigns: install services
	SCRIPTCACHE_TEST_EXAMPLES=full $(PY) -m pytest -n $(CAMPAIGN_WORKERS) --dist loadgroup \
		-m "(campaign or property) and not browser_use"

## test-browser-use: the tests that run the real browser-use Agent, in the extra's venv (under
## CI a missing browser-use fails them)
test-browser-use: install-browser-use services
	$(BU_PY) -m pytest -m browser_use tests/browser_use

## test-fast: the pure tests only (no service, process or browser): under a minute
test-fast: install
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not browser and not worker and not services and not slow" tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## bench: the benchmark suite (not part of make test); writes docs/BENCHMARKS.md and the plot
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/run_all.py

demo: install
	$(BIN)/scriptcache demo

clean:
	rm -rf $(VENV) $(BU_VENV) var .pytest_cache .mypy_cache .ruff_cache
