# Shanzhi (善治) — one command for everything. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help setup run test lint typecheck proto proto-check buf-lint buf-breaking unit bench fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV) ## Create .venv with every package from the lock file
	$(UV) sync --frozen --all-packages

run: setup ## Run the broker, the four services and the gateway locally, with demo data
	$(RUN) shanzhi-dev run

test: setup lint typecheck proto-check buf-lint ## Lint, type-check, check generated code, run every test
	$(RUN) pytest $(PYTEST_ARGS)

unit: setup ## Run only the tests that need no database or broker
	$(RUN) pytest -m "not postgres and not broker and not e2e" $(PYTEST_ARGS)

lint: setup ## ruff
	$(RUN) ruff check .

typecheck: setup ## mypy over every package's source
	$(RUN) mypy libs/kit/src libs/devtools/src services/*/src gateway/src

fmt: setup ## Fix what ruff can fix
	$(RUN) ruff check --fix .

proto: setup ## Regenerate the Python code from proto/ (and the GraphQL SDL)
	$(RUN) python scripts/gen_protos.py
	$(RUN) python -m shanzhi_gateway.export_schema

proto-check: setup ## Fail if the generated code differs from proto/
	$(RUN) python scripts/gen_protos.py --check

node_modules/.bin/buf: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

buf-lint: node_modules/.bin/buf ## buf lint (STANDARD rules) over proto/
	node_modules/.bin/buf lint

buf-breaking: node_modules/.bin/buf ## buf breaking (FILE rules) against the main branch
	node_modules/.bin/buf breaking --against '.git#branch=main'

bench: setup ## Benchmarks against PostgreSQL, beside a pgbench baseline
	$(RUN) python -m shanzhi_dev.bench

clean: ## Remove local data and caches
	rm -rf var bench-results .pytest_cache .mypy_cache .ruff_cache
