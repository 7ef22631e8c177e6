# The two commands of the README: `make run` (main job) and `make test` (test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need Python 3.11 on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: install, then the main job on the embedded default (synthetic league): the pipeline
## ingest + validate -> features -> train -> evaluate -> register -> gate -> promote, and a summary.
run: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/sabiscore pipeline

## test: install, then the whole test suite, two test files at a time (one per core: much of
## the suite waits on subprocesses and servers starting). A file's tests stay in one worker,
## so a module's fixtures (a trained store, a running server) are built once.
test: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check sabiscore models tasks flows bentos tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/ingest_garbage.py

clean:
	rm -rf $(VENV) data .pytest_cache
