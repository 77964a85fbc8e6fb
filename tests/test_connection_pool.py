"""The web processes' bounded connection pool (config/database.py, config/middleware.py), on the
real server: scripts/serve.py with two Daphne processes, as production runs it.

In-process tests (CONN_MAX_AGE=0, one thread) cannot see the failure this guards against:
under Daphne every request runs in a thread of its own, and per-thread persistent connections
ran PostgreSQL out of connections ("too many clients already") under modest load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.conf import settings
from django.test import RequestFactory

from config.database import database_settings, pooled_connection_check, serves_asgi
from config.middleware import busy_response, http_share
from tests.conftest import Tenant, build_tenant, login
from tests.deliveries.builders import api_token_of
from tests.support.processes import database_url_for_children, django_process_env
from tests.support.stack import HOST, PYTHON, free_port

REPO = Path(__file__).resolve().parents[1]
PROCESSES = 2
POOL_SIZE = 3
POOL_TIMEOUT = 5.0
APPLICATION = "doorstep-web-pool-test"  # this server's connections in pg_stat_activity
CLIENTS = 30
# 720 requests over 6 connections: enough to have run out without the pool (it reached 30
# connections, one per client), few enough to stay near 15 s on the shared 2-core machine.
REQUESTS_PER_CLIENT = 24


# --- the settings, as pure functions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "web"),
    [
        (["/app/.venv/bin/daphne", "--fd", "3", "config.asgi:application"], True),
        (["/usr/lib/python3/site-packages/daphne/__main__.py", "-p", "8000"], True),
        (["manage.py", "runserver"], True),
        (["/app/.venv/bin/celery", "-A", "config", "worker"], False),
        (["manage.py", "migrate"], False),
        ([], False),
    ],
)
def test_only_web_servers_count_as_web_processes(argv: list[str], web: bool) -> None:
    assert serves_asgi(argv) is web


def test_web_processes_pool_and_others_keep_one_persistent_connection() -> None:
    url = "postgres://app@db:5432/doorstep"
    web = database_settings(url, pool_size=8, pool_timeout=4, web=True)
    assert web["CONN_MAX_AGE"] == 0  # Django's pool refuses persistent connections
    assert web["OPTIONS"]["pool"] == {
        "min_size": 2,
        "max_size": 8,
        "timeout": 4,
        "max_idle": 60.0,
        "name": "doorstep-web",
    }
    assert web["DOORSTEP_POOL_CHECK"] is pooled_connection_check
    worker = database_settings(url, pool_size=8, pool_timeout=4, web=False)
    assert "pool" not in worker["OPTIONS"] and worker["CONN_MAX_AGE"] == 60
    unpooled = database_settings(url, pool_size=0, pool_timeout=4, web=True)
    assert "pool" not in unpooled["OPTIONS"] and unpooled["CONN_MAX_AGE"] == 60


def test_the_pool_check_finds_a_connection_the_server_closed_without_a_round_trip() -> None:
    with psycopg.connect(database_url_for_children(), autocommit=True) as conn:
        statements: list[object] = []
        traced = conn.execute

        def execute(*args: Any, **kwargs: Any) -> Any:
            statements.append(args)
            return traced(*args, **kwargs)

        conn.execute = execute  # type: ignore[method-assign]
        pooled_connection_check(conn)  # alive, nothing sent since: no statement
        assert statements == []
        pid = conn.info.backend_pid
        with psycopg.connect(database_url_for_children(), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        with pytest.raises(psycopg.OperationalError):
            while time.monotonic() < deadline:  # the server's goodbye reaches the socket
                pooled_connection_check(conn)
                time.sleep(0.05)
        assert statements  # the round trip ran, and failed: the pool replaces the connection


@pytest.mark.parametrize(("pool_size", "share"), [(1, 1), (2, 1), (3, 2), (10, 8), (20, 16)])
def test_page_requests_leave_connections_for_the_websockets(pool_size: int, share: int) -> None:
    assert http_share(pool_size) == share


def test_the_busy_answer_is_json_for_the_api_and_a_page_elsewhere(rf: RequestFactory) -> None:
    api = busy_response(rf.get("/api/v1/orders/"))
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert api["Content-Type"] == "application/problem+json"
    assert json.loads(api.content)["detail"] == "Service busy, retry shortly."
    page = busy_response(rf.get("/orders/"))
    assert page.status_code == 503 and b"busy" in page.content
    assert page["Content-Length"] == str(len(page.content))  # sent before CommonMiddleware


# --- the real server ----------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def server_connections() -> list[tuple[str, str]]:
    """(state, query) of every connection the server under test holds."""
    with psycopg.connect(database_url_for_children(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(state, ''), left(query, 60) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = %s",
            (settings.DATABASES["default"]["NAME"], APPLICATION),
        ).fetchall()
    return [(str(state), str(query)) for state, query in rows]


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module (starting two Django processes is most of a test's time); it
    needs only the test database to exist, each test commits the data it uses."""
    port = free_port()
    log = tmp_path_factory.mktemp("pool") / "serve.log"
    env = django_process_env(
        {
            "DOORSTEP_DB_POOL_SIZE": str(POOL_SIZE),
            "DOORSTEP_DB_POOL_TIMEOUT": str(POOL_TIMEOUT),
            "DOORSTEP_DB_APPLICATION_NAME": APPLICATION,
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                PYTHON,
                "scripts/serve.py",
                "--host",
                HOST,
                "--port",
                str(port),
                "--processes",
                str(PROCESSES),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/login/", timeout=2)
                break
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        time.sleep(1.5)  # the second Daphne process too, not only the first to accept
        yield Server(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return build_tenant("Alpha")


class Sampler:
    """Counts the server's connections every 50 ms in a thread, while the load runs."""

    def __init__(self) -> None:
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(server_connections()))
            self.samples += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


async def keep_alive_client(
    url: str, number: int, headers_api: dict[str, str], cookies: dict[str, str]
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for index in range(REQUESTS_PER_CLIENT):
            # One keep-alive connection, two kinds of request: the session cookie is sent
            # only with the console page, the token only with the API.
            if (number + index) % 2:
                response = await client.get("/api/v1/orders/", headers=headers_api)
            else:
                response = await client.get("/orders/", headers=cookies)
            statuses[response.status_code] += 1
    return statuses


async def load(url: str, token: str, session: str) -> Counter[int]:
    headers = {"Authorization": f"Token {token}"}
    cookies = {"Cookie": f"sessionid={session}"}
    results = await asyncio.gather(
        *(keep_alive_client(url, n, headers, cookies) for n in range(CLIENTS))
    )
    return sum(results, Counter())


def test_concurrent_clients_never_take_more_connections_than_the_pools_hold(
    server: Server, tenant: Tenant
) -> None:
    session = login(tenant.users["support"]).cookies["sessionid"].value
    with Sampler() as sampler:
        statuses = asyncio.run(load(server.url, api_token_of("Alpha"), session))
    bound = PROCESSES * POOL_SIZE
    assert statuses == {200: CLIENTS * REQUESTS_PER_CLIENT}, server.log_tail()
    assert sampler.samples > 5
    assert 0 < sampler.peak <= bound
    assert "Traceback" not in server.log_tail()
    # Idle afterwards: what the pools keep, no connection left over per finished thread.
    time.sleep(1)
    after = server_connections()
    assert len(after) <= bound
    assert {state for state, _ in after} <= {"idle"}


async def blocked_requests(url: str, session: str, count: int) -> list[httpx.Response]:
    async def one() -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await client.get("/orders/", headers={"Cookie": f"sessionid={session}"})

    return await asyncio.gather(*(one() for _ in range(count)))


def test_a_full_pool_is_answered_503_with_retry_after(server: Server, tenant: Tenant) -> None:
    """Every pooled connection stuck behind a lock: the requests that find no connection
    within the pool timeout are told to retry; the others finish once the lock goes."""
    session = login(tenant.users["support"]).cookies["sessionid"].value
    count = PROCESSES * POOL_SIZE + 4
    with psycopg.connect(database_url_for_children()) as blocker:
        # Every console request reads its session first: it waits for this lock, holding
        # its connection.
        blocker.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(POOL_TIMEOUT + 3, blocker.rollback)
        release.start()
        try:
            responses = asyncio.run(blocked_requests(server.url, session, count))
        finally:
            release.cancel()
    codes = Counter(response.status_code for response in responses)
    assert set(codes) <= {200, 503}, (codes, server.log_tail())
    assert codes[503] >= count - PROCESSES * POOL_SIZE
    assert 1 <= codes[200] <= PROCESSES * POOL_SIZE
    busy = next(response for response in responses if response.status_code == 503)
    assert busy.headers["Retry-After"] == "5"
    assert "busy" in busy.text
    assert "Traceback" not in server.log_tail()
    assert len(server_connections()) <= PROCESSES * POOL_SIZE


def test_the_test_process_itself_does_not_pool() -> None:
    # pytest is not a web server: the suite keeps its one connection per thread, CONN_MAX_AGE 0.
    options: dict[str, Any] = settings.DATABASES["default"]["OPTIONS"]
    assert "pool" not in options
    assert sys.argv and not serves_asgi(sys.argv)
