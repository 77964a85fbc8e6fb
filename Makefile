# Doorstep developer commands. `make run` runs the whole system, `make test` the test suite;
# both work on a machine with only Python 3.11+ and Node/npm (PostgreSQL and Redis start
# embedded when DATABASE_URL / REDIS_URL are unset). See docs/development.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# `pip install --user` puts uv in ~/.local/bin, which is often not on PATH yet.
export PATH := $(HOME)/.local/bin:$(PATH)

VENV := .venv
PY := $(VENV)/bin/python
# pytest arguments for `make test`, e.g. make test ARGS="-x -k ingest"
ARGS ?=
# A throwaway key, only so the production settings load for `check --deploy`.
DEPLOY_CHECK_KEY = $(shell python3 -c "import secrets; print(secrets.token_urlsafe(50))")

.PHONY: help setup run test check fmt bench

help:
	@echo "make setup   install uv if missing, the virtualenv (uv sync --frozen), static assets"
	@echo "make run     the whole system on http://127.0.0.1:8000 with demo data (Ctrl-C stops)"
	@echo "make test    the test suite (ARGS=\"...\" passes arguments to pytest)"
	@echo "make check   ruff, formatting, mypy, import layers (import-linter), djLint (templates), Django system + deploy checks, migrations, bandit, dependency audit"
	@echo "make fmt     format and autofix"
	@echo "make bench   run every bench/*.py with its default arguments"

setup:
	@if ! command -v uv >/dev/null 2>&1; then \
		echo "uv not found: installing it with pip --user"; \
		python3 -m pip install --user uv \
			|| python3 -m pip install --user --break-system-packages uv \
			|| python3 -m pip install uv; \
	fi
	uv sync --frozen
	@if [ -f scripts/build_static.sh ]; then bash scripts/build_static.sh; fi

run: setup
	$(PY) scripts/devstack.py

test: setup
	bash scripts/test.sh $(ARGS)

# makemigrations needs a database only to check the applied history: it uses DATABASE_URL
# when set, and otherwise just warns that it could not connect. bandit fails on high-severity
# findings; the dependency audit says SKIPPED (and passes) when no vulnerability database can
# be reached, and fails on real findings (docs/security.md).
check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/djlint templates */templates --lint
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY="$(DEPLOY_CHECK_KEY)" \
		$(PY) manage.py check --deploy --fail-level WARNING
	$(VENV)/bin/bandit -c pyproject.toml -r . -q --severity-level high
	$(PY) scripts/audit_deps.py

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every bench/*.py with its default arguments (helper modules there exit at once when run).
# The benchmarks pick their services themselves: DATABASE_URL / REDIS_URL when set, else the
# machine's PostgreSQL and Redis on 5432 / 6379 (see docs/benchmarks.md). All of them run;
# the target fails if any failed.
bench: setup
	@failed=""; shopt -s nullglob; files=(bench/*.py); \
	[ $${#files[@]} -gt 0 ] || echo "No benchmarks in bench/ yet."; \
	for f in "$${files[@]}"; do \
		echo "== $(PY) $$f"; $(PY) "$$f" || failed="$$failed $$f"; \
	done; \
	if [ -n "$$failed" ]; then echo "Failed:$$failed"; exit 1; fi
