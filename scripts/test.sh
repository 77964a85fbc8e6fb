#!/usr/bin/env bash
# The engine of `make test`: run the pytest suite against real PostgreSQL and Redis.
#
#   DATABASE_URL / REDIS_URL set (CI, or your own servers): pytest runs against them.
#   Unset (a fresh developer machine): scripts/embedded.py starts an embedded PostgreSQL
#   and/or Redis with their data in .data/test-services (apart from the `make run` data),
#   runs pytest, and stops them afterwards, also on failure or Ctrl-C.
#
# Arguments go to pytest: scripts/test.sh -x -k ingest ; make test ARGS="-x -k ingest".
# The exit code is pytest's. The suite runs on two pytest-xdist workers (PYTEST_WORKERS, or
# ARGS="-n 0" for one process): each has its own test database, cache database and
# channel-layer prefix (config/settings/test.py), and most tests wait on servers and workers.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/pytest ]]; then
    echo "No .venv/bin/pytest: run 'make setup' first." >&2
    exit 2
fi

if [[ -n "${DATABASE_URL:-}" && -n "${REDIS_URL:-}" ]]; then
    exec .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" "$@"
fi

# --fast: fsync off for this throwaway cluster (pytest-django recreates what it needs).
exec .venv/bin/python scripts/embedded.py run --data-dir .data/test-services --fast \
    -- .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" "$@"
