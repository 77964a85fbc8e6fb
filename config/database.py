"""How a process connects to PostgreSQL: a bounded pool in web processes, one persistent
connection elsewhere. Read by the settings, so nothing here imports Django's database layer.

A web process (Daphne) runs each request's sync code in a thread of its own (asgiref makes a
one-thread executor per request), so a per-thread persistent connection (CONN_MAX_AGE > 0) is
one connection per request in flight, kept open after its thread has gone: under modest load
that took all of PostgreSQL's connections. Web processes therefore share one psycopg pool per
process, whose size bounds the process's connections whatever the number of threads. Celery
workers (prefork: one task at a time per child), beat and management commands are
single-threaded: one persistent connection each, and no pool, whose background threads would
not survive Celery's fork. The budget is in docs/scaling.md."""

from __future__ import annotations

import select
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dj_database_url

# psycopg's prepare_threshold: executions of a statement before psycopg prepares it by itself.
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1

# Programs that serve config.asgi:application (Daphne in production, development and tests).
ASGI_SERVERS = frozenset({"daphne", "uvicorn", "gunicorn", "hypercorn"})


def serves_asgi(argv: Sequence[str]) -> bool:
    """Is this process a web server? `daphne ...`, `python -m daphne ...` (argv[0] is then the
    package's __main__.py) or `manage.py runserver` (Daphne's, also ASGI and threaded)."""
    if not argv:
        return False
    program = Path(argv[0])
    name = program.parent.name if program.name == "__main__.py" else program.name
    return name in ASGI_SERVERS or (len(argv) > 1 and argv[1] == "runserver")


def pooled_connection_check(conn: Any) -> None:
    """The pool's check of each connection it hands out (it raises for a dead one, which the
    pool replaces). A round trip only when the server has sent something since the connection
    was last used: a server that closed it (a restart, a terminated backend, an idle timeout)
    has made its socket readable. Checking every connection with a round trip (psycopg's
    check) was one more statement per request, ~5 % of an API read (docs/benchmarks.md)."""
    from psycopg_pool import ConnectionPool

    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


def database_settings(
    url: str,
    *,
    pool_size: int,
    pool_timeout: float,
    web: bool,
    conn_max_age: int = 60,
    application_name: str = "",
) -> dict[str, Any]:
    """DATABASES["default"] for this process: pooled when it is a web process and pool_size > 0
    (0 keeps the old per-thread persistent connections, for comparison in bench/load.py)."""
    pooled = web and pool_size > 0
    db: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=0 if pooled else conn_max_age)
    )
    db["ENGINE"] = "django.db.backends.postgresql"
    # A connection that died with a PostgreSQL restart is replaced, not handed to a request.
    db["CONN_HEALTH_CHECKS"] = True
    options: dict[str, Any] = dict(db.get("OPTIONS") or {})
    # Names the process's kind in pg_stat_activity, so the budget can be watched per kind.
    options.setdefault(
        "application_name", application_name or ("doorstep-web" if web else "doorstep")
    )
    # Statements are prepared only where the code asks (tenancy/db/base.py, PreparedCursor):
    # Django's cursors bind on the client and never prepare, and a threshold this high keeps
    # psycopg from preparing on its own. Django's default (None) would refuse even the asked.
    options.setdefault("prepare_threshold", PREPARE_ONLY_WHEN_ASKED)
    if pooled:
        options["pool"] = {
            # Two kept warm; the rest opened on demand and closed after a minute unused.
            "min_size": min(2, pool_size),
            "max_size": pool_size,
            # A request waits this long for a connection, then is answered 503 (the
            # middleware in config/middleware.py); PostgreSQL never sees more than max_size.
            "timeout": pool_timeout,
            "max_idle": 60.0,
            "name": "doorstep-web",
        }
        # The pool's check in place of psycopg's round trip (tenancy/db/base.py installs it).
        db["DOORSTEP_POOL_CHECK"] = pooled_connection_check
    db["OPTIONS"] = options
    return db
