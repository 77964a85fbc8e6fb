"""Load benchmark: many concurrent users of the console, the REST API and the live map, on the
production web command (scripts/serve.py, Daphne processes), and the PostgreSQL connections the
server holds meanwhile.

50 clients for 60 s (each its own keep-alive connection and logged-in session or API token)
cycle through: the live map page, the orders list, a support lookup (`/orders/?q=<reference>`
as htmx asks), the routes page, `/api/v1/orders/` (list and detail, token) and `/ws/live/`
(connect, subscribe, receive the snapshot, disconnect). Records status codes and p50/p95
latency per kind, and samples the server's connections in pg_stat_activity every 0.5 s during
the run and for 10 s after it.

Run twice in one command: with the web processes' connection pool (as deployed), then the
baseline, the old setting (DOORSTEP_DB_POOL_SIZE=0: CONN_MAX_AGE=60, no pool). Pass: the pooled
run answers no 5xx and never holds more than processes x pool size + ingest + a margin.

The machine's PostgreSQL is shared: the server connects as a role of the benchmark's own with a
CONNECTION LIMIT, so the baseline runs out of *its* connections ("too many connections for
role") instead of the server's, which other users need.

    .venv/bin/python bench/load.py                        # ~4 minutes
    .venv/bin/python bench/load.py --seconds 20 --no-baseline --no-docs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    HOST,
    Daphne,
    OtherLoad,
    django_setup,
    drop_database,
    machine_facts,
    machine_line,
    migrate,
    percentile,
    print_facts,
    say,
    server_url,
    stop_cleanly_on_sigterm,
    table,
    today,
    verdict,
    wait_for_quiet,
    with_dbname,
    write_section,
)

# A database of its own: the other benchmarks' `doorstep_bench` may be in use meanwhile.
DATABASE = "doorstep_bench_load"
ROLE = "doorstep_bench_load"  # owns the benchmark's database
APP_ROLE = "doorstep_bench_load_app"  # the server's login: not a superuser, so the limit holds
CONNECTION_LIMIT = 50  # of the server's 100: the rest stays for the machine's other users
SAMPLER_NAME = "doorstep-bench-load-sampler"
INGEST_PER_PROCESS = 2  # the ingest writer's connection and its directory reload (fleet/ingest)
MARGIN = 2
KINDS = ("map page", "orders list", "support lookup", "routes", "api list", "api detail", "ws")


# --- the seed ---------------------------------------------------------------------------------


@dataclass
class Seed:
    session_keys: list[str]
    token: str
    order_ids: list[int]
    references: list[str]


def seed(clients: int) -> Seed:
    """The demo organizations (demo/tenants.py), a dispatcher session per client and an API token
    of Northwind. Needs django_setup()."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    from deliveries.models import Order
    from demo.seed import demo_seed
    from tenancy.api.tokens import api_token_create
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    started = time.monotonic()
    demo_seed()
    organization = Organization.objects.get(slug="northwind")
    user = get_user_model().objects.get(username="nw-dispatcher")
    keys = []
    for _ in range(clients):
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session["organization_id"] = organization.pk
        session.create()
        assert session.session_key is not None
        keys.append(session.session_key)
    with tenant_context(organization):
        _, token = api_token_create(organization_id=organization.pk, name="bench load")
        orders = list(Order.objects.values_list("pk", "reference")[:40])
    connections.close_all()  # the benchmark's own connection must not count as the server's
    say(
        f"seeded the demo, {clients} sessions, {len(orders)} orders in {time.monotonic() - started:.1f} s"
    )
    return Seed(keys, token, [pk for pk, _ in orders], [ref for _, ref in orders])


# --- a small keep-alive HTTP/1.1 client ----------------------------------------------------------


class Connection:
    """One keep-alive connection; reads Content-Length and chunked answers (an error answered
    early in the middleware stack may come without a length)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if b"content-length" in fields:
            await self.reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.reader = self.writer = None


@dataclass
class Results:
    statuses: dict[str, Counter[int]] = field(
        default_factory=lambda: {kind: Counter() for kind in KINDS}
    )
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[kind][status] += 1
        self.latencies[kind].append(seconds)

    def total(self) -> Counter[int]:
        return sum(self.statuses.values(), Counter())

    def server_errors(self) -> int:
        return sum(n for status, n in self.total().items() if status >= 500)


async def websocket_visit(port: int, session_key: str) -> int:
    """Connect, subscribe, wait for the snapshot, disconnect: 101 when it all worked, else the
    close code (or 0 for a failed handshake)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        async with connect(
            f"ws://{HOST}:{port}/ws/live/",
            additional_headers={"Cookie": f"sessionid={session_key}"},
            origin=f"http://{HOST}:{port}",  # type: ignore[arg-type]
            max_size=None,
            compression=None,
            open_timeout=30,
            ping_interval=None,
        ) as ws:
            await ws.send(json.dumps({"type": "subscribe", "filters": {}, "interval": 5}))
            frame = await asyncio.wait_for(ws.recv(), 30)
            return 101 if json.loads(frame).get("type") == "snapshot" else 0
    except InvalidStatus as exc:
        return int(exc.response.status_code)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else 1006


async def client(number: int, port: int, seed: Seed, results: Results, deadline: float) -> None:
    session = {"Cookie": f"sessionid={seed.session_keys[number]}"}
    api = {"Authorization": f"Token {seed.token}"}
    conn = Connection(port)
    loop = asyncio.get_running_loop()
    # Each client starts at a different kind, so every kind is in flight all the time.
    for step in itertools.count(number):
        if loop.time() >= deadline:
            break
        kind = KINDS[step % len(KINDS)]
        began = loop.time()
        try:
            if kind == "ws":
                status = await websocket_visit(port, seed.session_keys[number])
                # 101 stands for "snapshot received"; a refusal is counted as the HTTP status
                # or the close code the server gave (1011: the server failed).
                status = {101: 200, 1011: 500}.get(status, status)
            else:
                path, headers = {
                    "map page": ("/map/", session),
                    "orders list": ("/orders/", session),
                    "support lookup": (
                        f"/orders/?q={seed.references[step % len(seed.references)]}",
                        {**session, "HX-Request": "true"},
                    ),
                    "routes": ("/routes/", session),
                    "api list": ("/api/v1/orders/", api),
                    "api detail": (
                        f"/api/v1/orders/{seed.order_ids[step % len(seed.order_ids)]}/",
                        api,
                    ),
                }[kind]
                status = await asyncio.wait_for(conn.request(path, headers), 60)
        except Exception as exc:
            results.errors[f"{kind}: {type(exc).__name__}"] += 1
            conn.close()
            continue
        results.record(kind, status, loop.time() - began)
    conn.close()


# --- connection sampling --------------------------------------------------------------------------


class ConnectionSampler:
    """The server's connections to the benchmark database, per application_name, every 0.5 s."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True, application_name=SAMPLER_NAME) as c:
            while not self._stop.is_set():
                rows = c.execute(
                    "SELECT coalesce(nullif(application_name, ''), '?'), count(*) "
                    "FROM pg_stat_activity WHERE datname = %s AND application_name <> %s "
                    "GROUP BY 1",
                    (DATABASE, SAMPLER_NAME),
                ).fetchall()
                self.samples.append((time.monotonic() - self.t0, {r[0]: int(r[1]) for r in rows}))
                self._stop.wait(0.5)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self, since: float = 0.0, until: float = float("inf")) -> tuple[int, dict[str, int]]:
        window = [s for t, s in self.samples if since <= t <= until] or [{}]
        best = max(window, key=lambda s: sum(s.values()))
        return sum(best.values()), best

    def last(self) -> int:
        return sum(self.samples[-1][1].values()) if self.samples else 0


# --- one run ---------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    pool_size: int
    results: Results
    seconds: float
    peak_during: int
    peak_kinds: dict[str, int]
    peak_after: int
    last_after: int
    other_cores: float
    log_errors: dict[str, int]

    def requests(self) -> int:
        return sum(self.results.total().values())


def log_errors(text: str) -> dict[str, int]:
    marks = {
        "too many clients": "sorry, too many clients",
        "too many connections for role": "too many connections for role",
        "pool timeout": "database pool exhausted",
        "Traceback": "Traceback",
    }
    return {name: text.count(needle) for name, needle in marks.items() if needle in text}


def run_load(
    db_url: str, seed: Seed, *, label: str, pool_size: int, args: argparse.Namespace, work: Path
) -> Run:
    env = {"DOORSTEP_DB_POOL_SIZE": str(pool_size), "DJANGO_LOG_LEVEL": "WARNING"}
    log_path = work / f"daphne-{pool_size}.log"
    say(f"--- {label}: {args.processes} processes, {args.clients} clients, {args.seconds} s")
    with Daphne(db_url, log_path, env=env, processes=args.processes) as server:
        # As the machine's admin: the sampler must not take one of the server role's connections.
        with ConnectionSampler(with_dbname(server_url(), DATABASE)) as sampler:
            other = OtherLoad(server.pids())
            results = Results()

            async def go() -> None:
                deadline = asyncio.get_running_loop().time() + args.seconds
                await asyncio.gather(
                    *(client(n, server.port, seed, results, deadline) for n in range(args.clients))
                )

            started = time.monotonic()
            asyncio.run(go())
            seconds = time.monotonic() - started
            ended = time.monotonic() - sampler.t0
            other_cores = other.cores()
            time.sleep(args.after)
        peak, kinds = sampler.peak(until=ended)
        peak_after, _ = sampler.peak(since=ended)
        last = sampler.last()
        errors = log_errors(server.log_tail(10_000_000))
    run = Run(
        label, pool_size, results, seconds, peak, kinds, peak_after, last, other_cores, errors
    )
    say(
        f"{label}: {run.requests()} answers in {seconds:.0f} s, statuses "
        f"{dict(sorted(results.total().items()))}, client errors {dict(results.errors)}; "
        f"connections peak {peak} {kinds}, after the run peak {peak_after}, last {last}; "
        f"server log {errors}; other processes used {other_cores:.2f} cores"
    )
    return run


# --- report ----------------------------------------------------------------------------------------


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "-"


def kind_rows(runs: list[Run]) -> list[list[str]]:
    rows = []
    for kind in KINDS:
        row = [kind]
        for run in runs:
            statuses = run.results.statuses[kind]
            codes = ", ".join(f"{n} x {code}" for code, n in sorted(statuses.items())) or "-"
            lat = run.results.latencies[kind]
            row += [codes, ms(lat, 50), ms(lat, 95)]
        rows.append(row)
    return rows


def report(facts: dict[str, str], runs: list[Run], args: argparse.Namespace, bound: int) -> str:
    pooled = runs[0]
    header = ["kind"]
    for run in runs:
        header += [f"{run.label}: answers", "p50 ms", "p95 ms"]
    summary = [
        [
            run.label,
            f"{run.requests():,} in {run.seconds:.0f} s ({run.requests() / run.seconds:.0f}/s)",
            str(run.results.server_errors()),
            str(sum(run.results.errors.values())),
            f"{run.peak_during} ({', '.join(f'{k} {v}' for k, v in sorted(run.peak_kinds.items()))})",
            f"{run.peak_after} / {run.last_after}",
            ", ".join(f"{k}: {v}" for k, v in run.log_errors.items()) or "none",
            f"{run.other_cores:.2f}",
        ]
        for run in runs
    ]
    ok = pooled.results.server_errors() == 0 and pooled.peak_during <= bound
    ok = ok and pooled.peak_after <= bound and not pooled.results.errors
    lines = [
        "## Load",
        "",
        f"`bench/load.py`, {today()}. Machine: {machine_line(facts)} — shared with other "
        "engineers' test runs, so absolute figures are noisy (the last column says how many "
        f"cores other processes used meanwhile). {args.processes} Daphne processes through "
        f"scripts/serve.py, {args.clients} concurrent clients for {args.seconds} s, each on its "
        "own keep-alive connection with its own dispatcher session (console, websockets) or the "
        "integration token (API), cycling through the kinds below; the demo data (Northwind, "
        "40 orders, 30 vehicles). Connections: the server's in pg_stat_activity every 0.5 s, "
        f"during the run and {args.after} s after it. The server connects as a role with "
        f"CONNECTION LIMIT {CONNECTION_LIMIT}, so the baseline runs out of that role's "
        'connections ("too many connections for role"), not of the shared server\'s.',
        "",
        f"Pass: 0 answers of 5xx and at most {bound} connections (processes x pool size "
        f"{pooled.pool_size} + {INGEST_PER_PROCESS} ingest per process + {MARGIN}) with the "
        f"pool: **{verdict(ok)}**.",
        "",
        table(
            summary,
            [
                "setting",
                "answers",
                "5xx",
                "client errors",
                "connections, peak during",
                "after: peak / last",
                "server log",
                "other load (cores)",
            ],
        ),
        "",
        table(kind_rows(runs), header),
        "",
        "`ws` counts a connect + subscribe + snapshot + close as one answer (200 when the snapshot "
        "arrived, 500 when the server closed with 1011). Latency is per request on a saturated "
        "server (closed loop: each client sends its next request as soon as it has an answer): "
        "most of it is waiting behind the other clients' requests, and, with the pool, for a "
        "free connection. Without the pool the answers are faster only because most of them "
        "are quick 500s; its connections reach the role's cap and stay there after the run "
        "(one per finished request thread), while the pool holds its maximum and gives back "
        "one connection a minute down to 2 per process. No ingest traffic runs here, so the "
        "ingest writer's connections (counted in the bound) do not appear.",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def load_database(keep: bool) -> Iterator[str]:
    """The benchmark's database, owned by a role of its own that may open CONNECTION_LIMIT
    connections: PostgreSQL does not hold a superuser (the machine's `postgres`) to any
    connection limit, so the baseline would take the whole shared server's connections."""
    import psycopg

    admin = with_dbname(server_url(), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        for role in (ROLE, APP_ROLE):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f'CREATE ROLE "{role}" LOGIN')
        # The database's owner (migrations, seeding: it sees every tenant) and the server's
        # application role (row-level security applies; docs/tenancy.md) with the limit.
        conn.execute(f'ALTER ROLE "{ROLE}" NOSUPERUSER NOCREATEDB BYPASSRLS')
        conn.execute(
            f'ALTER ROLE "{APP_ROLE}" NOSUPERUSER NOCREATEDB NOBYPASSRLS NOINHERIT '
            f"CONNECTION LIMIT {CONNECTION_LIMIT}"
        )
        if not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = 'doorstep_operator'"
        ).fetchone():
            conn.execute("CREATE ROLE doorstep_operator NOLOGIN BYPASSRLS")
        conn.execute(f'GRANT doorstep_operator TO "{APP_ROLE}"')
        conn.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
    os.environ["DOORSTEP_DB_APP_USER"] = APP_ROLE  # the server and migrate (its grants) use it
    parts = urlsplit(with_dbname(server_url(), DATABASE))
    url = urlunsplit(parts._replace(netloc=f"{ROLE}@{parts.hostname}:{parts.port or 5432}"))
    try:
        migrate(url, DATABASE)
        yield url
    finally:
        if not keep:
            with contextlib.suppress(Exception):
                drop_database(DATABASE)
            with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')
                conn.execute(f'DROP ROLE IF EXISTS "{APP_ROLE}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--after", type=int, default=10, help="seconds of sampling after a run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=10, help="DOORSTEP_DB_POOL_SIZE")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without pool")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    import tempfile

    facts = machine_facts(None)
    bound = args.processes * (args.pool_size + INGEST_PER_PROCESS) + MARGIN
    with load_database(args.keep_db) as db_url, tempfile.TemporaryDirectory() as tmp:
        facts = machine_facts(db_url)
        print_facts(facts)
        django_setup(db_url)
        data = seed(args.clients)
        wait_for_quiet(max_wait=60, threshold=0.5)
        work = Path(tmp)
        runs = [
            run_load(db_url, data, label="pool", pool_size=args.pool_size, args=args, work=work)
        ]
        if not args.no_baseline:
            runs.append(
                run_load(db_url, data, label="no pool (old)", pool_size=0, args=args, work=work)
            )
    markdown = report(facts, runs, args, bound)
    say(markdown)
    if not args.no_docs:
        write_section("load", markdown)
    pooled = runs[0]
    ok = pooled.results.server_errors() == 0 and pooled.peak_during <= bound
    return 0 if ok and pooled.peak_after <= bound and not pooled.results.errors else 1


if __name__ == "__main__":
    sys.exit(main())
