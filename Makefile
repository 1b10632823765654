# Every target creates .venv and installs the pinned dependencies on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test test-slow lint bench lock

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("p2p-bridge needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint requirements.lock --editable '.[test]'
	@touch $(STAMP)

run: $(STAMP)  ## the bridge; with no credentials set, the built-in demo
	$(VENV)/bin/p2p-bridge run

demo: $(STAMP)  ## the demo against the sandbox
	$(VENV)/bin/p2p-bridge demo

test: $(STAMP)  ## the whole default test suite (a few minutes at most)
	$(PY) -m pytest

test-slow: $(STAMP)  ## long runs: chaos and soak
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/ruff format --check bridge tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)  ## benchmarks; figures go to BENCHMARKS.md
	$(PY) -m bench

lock: $(STAMP)  ## refresh requirements.lock from the installed environment
	$(PY) -m pip freeze --exclude-editable --exclude pip > requirements.lock
