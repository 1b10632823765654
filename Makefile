# Every target creates .venv and installs the locked dependencies (requirements/dev.txt, hash-checked) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The suite mostly waits (timers, loopback): it runs in parallel processes, more of them than cores. The bridge-process
# tests share one worker (their xdist_group): each start imports aiogram, seconds of CPU under coverage.
TEST_WORKERS ?= 4
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command 'make lock'

.PHONY: install run demo test test-slow chaos lint check bench lock lock-upgrade hooks

install: $(STAMP)  ## the venv with runtime and dev dependencies, and the bridge itself (editable)

$(STAMP): pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("p2p-bridge needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --requirement requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $(STAMP)

run: $(STAMP)  ## the bridge; with no credentials set, the built-in demo
	$(VENV)/bin/p2p-bridge run --or-demo

demo: $(STAMP)  ## the demo against the sandbox
	$(VENV)/bin/p2p-bridge demo

test: $(STAMP)  ## the default test suite (a few minutes), warnings as errors, with the coverage floor
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report

test-slow: $(STAMP)  ## long runs: chaos and soak
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

chaos: $(STAMP)  ## the chaos run alone (faults on both sides, kills), with its summary; CHAOS_SEED replays one
	$(PY) -m pytest -m chaos -s $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff (lint and format) and mypy --strict over bridge, tests and bench
	$(PY) -m pip check  # a dependency added to pyproject.toml but not locked fails here: run `make lock`
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/ruff format --check bridge tests bench
	$(VENV)/bin/mypy

check: lint test  ## what CI runs

bench: $(STAMP)  ## benchmarks; figures go to BENCHMARKS.md
	$(PY) -m bench

hooks: $(STAMP)  ## run ruff and mypy before every git commit (pre-commit)
	$(VENV)/bin/pre-commit install

lock: $(STAMP)  ## recompile requirements/*.txt from pyproject.toml, keeping the current pins where they still fit
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) --output-file requirements/runtime.txt
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --constraint requirements/runtime.txt \
		$(LOCK_FLAGS) $(LOCK_ARGS) --output-file requirements/dev.txt

lock-upgrade:  ## the same, every package at its newest release
	$(MAKE) lock LOCK_ARGS=--upgrade
