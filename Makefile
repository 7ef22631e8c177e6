# The two commands of the README: `make run` (main job) and `make test` (test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench clean web web-install web-check

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

## test: install, lint (ruff check, ruff format --check; mypy on the domain), then the whole test suite (doctests included), two test files at a time (one per core: much of
## the suite waits on subprocesses and servers starting). A file's tests stay in one worker,
## so a module's fixtures (a trained store, a running server) are built once.
## The web site's own checks (npm ci from the lock file, type check, Vitest) run first; its
## end-to-end test in Chromium is tests/web (it skips without chromium or web/node_modules,
## unless SABISCORE_REQUIRE_BROWSER=1, as .ci/run sets).
test: $(STAMP) lint web-check
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -n 2 --dist loadfile --durations=25

LINTED := sabiscore models tasks flows bentos cli tests benchmarks scripts

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/ingest_garbage.py

## web: build the site (web/, Next.js) and start it on $(WEB_PORT) against a running
## `sabiscore serve` at $(SABISCORE_API_URL); see README "The web site".
WEB_PORT          ?= 3000
SABISCORE_API_URL ?= http://127.0.0.1:8000
export NEXT_TELEMETRY_DISABLED := 1

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web-install: web/node_modules/.package-lock.json

web-check:
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory web-install && cd web && npm run --silent typecheck && npm test --silent; \
	elif [ "$$SABISCORE_REQUIRE_BROWSER" = 1 ]; then echo "web: npm not found (Node.js 20 needed)"; exit 1; \
	else echo "web: npm not found, the site's checks are skipped (Node.js 20 needed)"; fi

web: web-install
	cd web && npx next build
	cd web && SABISCORE_API_URL=$(SABISCORE_API_URL) SABISCORE_ENV=$${SABISCORE_ENV:-development} \
		npx next start -p $(WEB_PORT)

clean:
	rm -rf $(VENV) data .pytest_cache web/.next web/node_modules
