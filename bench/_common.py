"""Shared helpers of the benchmarks: machine facts, the benchmark database, a Daphne server,
the fleet seed, an open-loop paced HTTP load generator, and the docs/benchmarks.md writer.

Everything targets 127.0.0.1 only, and every load loop is bounded in count and time."""

from __future__ import annotations

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is not a benchmark
    raise SystemExit(0)

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
# A database of its own per run when several people benchmark on one server at once.
BENCH_DB = os.environ.get("DOORSTEP_BENCH_DB") or "doorstep_bench"
BENCH_TOKEN = "bench-device-token"
BENCH_PREFIX = "bench-"
HOST = "127.0.0.1"
DOCS = REPO / "docs" / "benchmarks.md"
# Positions of the benchmark fleet: around Amsterdam, a few metres between neighbours.
BASE_LAT, BASE_LON = 52.30, 4.80


def say(message: str) -> None:
    print(message, flush=True)


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM (timeout, kill) unwinds like Ctrl-C: Daphne is stopped and the database dropped."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# --- machine facts ----------------------------------------------------------------------------


def machine_facts(db_url: str | None = None) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    facts = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }
    if db_url:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["postgresql"] = row[0] if row else "?"
    return facts


def print_facts(facts: dict[str, str]) -> None:
    say("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def machine_line(facts: dict[str, str]) -> str:
    return (
        f"{facts['cpu']}, {facts['cores']} cores, {facts['ram']} RAM, Python {facts['python']}, "
        f"PostgreSQL {facts.get('postgresql', '?')}"
    )


# --- services ---------------------------------------------------------------------------------


def server_url() -> str:
    """The PostgreSQL server to benchmark on (its `postgres` database for admin work)."""
    return os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(name: str = BENCH_DB) -> str:
    """Drop and create the benchmark's own database on the server; returns its URL."""
    import psycopg

    admin = with_dbname(server_url(), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_dbname(server_url(), name)


def drop_database(name: str = BENCH_DB) -> None:
    import psycopg

    admin = with_dbname(server_url(), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url(),
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    env.update(extra or {})
    return env


def migrate(db_url: str, name: str = BENCH_DB) -> None:
    started = time.monotonic()
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=service_env(db_url),
        check=True,
    )
    say(f"migrated {name} in {time.monotonic() - started:.1f} s")


def django_setup(db_url: str) -> None:
    os.environ.update(service_env(db_url))
    import django

    # The benchmark process seeds and counts every tenant's rows: it connects as the owner.
    # The servers it starts later do not inherit this and run as the application role.
    os.environ["DOORSTEP_DB_AS_OWNER"] = "1"
    try:
        django.setup()
        from django.conf import settings

        settings.DATABASES  # noqa: B018  (read now, while the variable is set)
    finally:
        del os.environ["DOORSTEP_DB_AS_OWNER"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


class Daphne:
    """Daphne serving config.asgi:application with the bench settings through scripts/serve.py
    (as in production): one process, or several sharing one socket."""

    def __init__(
        self,
        db_url: str,
        log_path: Path,
        port: int | None = None,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        processes: int = 1,
    ) -> None:
        self.db_url = db_url
        self.env = env or {}
        self.port = port or free_port()
        self.log_path = log_path
        self.extra = extra or []
        self.processes = processes
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        # Through scripts/serve.py even for one process, as deployed: its socket has a listen
        # backlog of 1,024 (Daphne's own is Twisted's 50, and a burst of new connections past
        # it costs the client a one-second SYN retry).
        return [
            PYTHON,
            str(REPO / "scripts" / "serve.py"),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--processes",
            str(self.processes),
            *(["--", *self.extra] if self.extra else []),
        ]

    def __enter__(self) -> Daphne:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=REPO,
            env=service_env(self.db_url, self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_port(self.port, proc=self.proc)
        self._wait_answering()
        time.sleep(2)  # every child up, not only the first to accept
        return self

    def _wait_answering(self, timeout: float = 90.0) -> None:
        """serve.py listens before its children have loaded Django: wait for a real answer."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            url = f"http://{HOST}:{self.port}/login/"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no answer from {HOST}:{self.port} after {timeout} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> set[int]:
        return {process.pid for process in self._processes()}

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _processes(self) -> list[Any]:
        import psutil

        parent = psutil.Process(self.pid)
        return [parent, *parent.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self._processes():
            times = process.cpu_times()
            total += float(times.user + times.system)
        return total

    def rss_bytes(self) -> int:
        """The server's resident memory: the Daphne processes (not the small launcher)."""
        return sum(int(process.memory_info().rss) for process in self._processes()[1:])

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


# --- other load on the machine ----------------------------------------------------------------
# The machine is shared (other engineers' test runs use the same two cores), so a benchmark
# waits for a quiet machine and reports how much CPU others took while it measured.


def _is_ours(proc: Any, daphne_pids: set[int]) -> bool:
    try:
        if proc.pid == os.getpid() or proc.pid in daphne_pids:
            return True
        cmdline = " ".join(proc.cmdline())
    except Exception:
        return False
    return BENCH_DB in cmdline or "doorstep-fault" in cmdline


def _busy_seconds() -> float:
    import psutil

    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _ours_seconds(daphne_pids: set[int]) -> float:
    import resource

    import psutil

    total = 0.0
    for proc in psutil.process_iter():
        if _is_ours(proc, daphne_pids):
            with contextlib.suppress(Exception):
                times = proc.cpu_times()
                total += times.user + times.system
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk and other reaped children
    return total + children.ru_utime + children.ru_stime


class OtherLoad:
    """CPU used by processes that are not this benchmark's (in cores), over a window."""

    def __init__(self, daphne_pids: set[int] | None = None) -> None:
        self.daphne_pids = daphne_pids or set()
        self.start()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.busy0 = _busy_seconds()
        self.ours0 = _ours_seconds(self.daphne_pids)

    def cores(self) -> float:
        wall = max(time.monotonic() - self.t0, 1e-6)
        busy = _busy_seconds() - self.busy0
        ours = _ours_seconds(self.daphne_pids) - self.ours0
        return max(0.0, (busy - ours) / wall)


def wait_for_quiet(max_wait: float = 600, threshold: float = 0.25, window: float = 5) -> float:
    """Wait (at most max_wait s) until other processes use under `threshold` cores over a
    `window`; returns the last reading."""
    deadline = time.monotonic() + max_wait
    while True:
        load = OtherLoad()
        time.sleep(window)
        cores = load.cores()
        if cores < threshold:
            say(f"machine quiet: other processes use {cores:.2f} cores")
            return cores
        if time.monotonic() > deadline:
            say(
                f"WARNING: machine still busy after {max_wait:.0f} s ({cores:.2f} cores used by "
                "other processes); figures below are depressed by that"
            )
            return cores
        say(f"waiting for a quiet machine: other processes use {cores:.2f} cores")


# --- the benchmark fleet -----------------------------------------------------------------------


@dataclass
class Fleet:
    organization_id: int
    identifiers: list[str]
    device_ids: list[int]
    vehicle_ids: list[int]
    user_id: int | None = None
    session_keys: list[str] = field(default_factory=list)

    def position(self, index: int, step: int) -> tuple[float, float]:
        """Device `index`'s position at its `step`-th fix: a metre per step, never more than
        110 m from its start (the speed-jump filter only refuses hops over 200 m)."""
        lat = BASE_LAT + (index % 100) * 0.002 + (step % 100) * 0.00001
        lon = BASE_LON + (index // 100) * 0.002
        return round(lat, 6), round(lon, 6)


def identifier(index: int) -> str:
    return f"{BENCH_PREFIX}{index + 1:05d}"


def seed_fleet(vehicles: int, *, screens: int = 0) -> Fleet:
    """One organization with `vehicles` vehicles, each with a device (token BENCH_TOKEN), and,
    for `screens` > 0, a dispatcher with that many logged-in sessions. Needs django_setup()."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django_scopes import scopes_disabled

    from fleet.models import Device, Driver, Hub, Vehicle
    from tenancy.models import Membership, Organization, Role
    from tenancy.tokens import token_hash as tenancy_token_hash

    started = time.monotonic()
    token_hash = tenancy_token_hash(BENCH_TOKEN)
    with scopes_disabled():
        org = Organization.objects.create(name="Bench Fleet", slug="bench", osmand_speed_unit="kn")
        hubs = [
            Hub.objects.create(
                organization=org,
                name=f"Bench hub {n}",
                code=f"bench-{n}",
                latitude=BASE_LAT,
                longitude=BASE_LON + n * 0.1,
            )
            for n in range(4)
        ]
        drivers = Driver.objects.bulk_create(
            [Driver(organization=org, name=f"Driver {n:05d}") for n in range(vehicles)],
            batch_size=2000,
        )
        vehicle_rows = Vehicle.objects.bulk_create(
            [
                Vehicle(
                    organization=org,
                    plate=f"BN-{n + 1:05d}",
                    name=f"Van {n + 1}",
                    hub=hubs[n % len(hubs)],
                    driver=drivers[n],
                    tags=["bench"],
                )
                for n in range(vehicles)
            ],
            batch_size=2000,
        )
        devices = Device.objects.bulk_create(
            [
                Device(
                    organization=org,
                    identifier=identifier(n),
                    name=f"Tracker {n + 1}",
                    vehicle=vehicle_rows[n],
                    token_hash=token_hash,
                )
                for n in range(vehicles)
            ],
            batch_size=2000,
        )
        fleet = Fleet(
            organization_id=org.pk,
            identifiers=[d.identifier for d in devices],
            device_ids=[d.pk for d in devices],
            vehicle_ids=[v.pk for v in vehicle_rows],
        )
        if screens:
            user = get_user_model().objects.create_user("bench-dispatcher", password="x" * 20)
            Membership.objects.create(organization=org, user=user, role=Role.DISPATCHER)
            fleet.user_id = user.pk
            for _ in range(screens):
                session = SessionStore()
                session["_auth_user_id"] = str(user.pk)
                session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
                session["_auth_user_hash"] = user.get_session_auth_hash()
                session["organization_id"] = org.pk
                session.create()
                assert session.session_key is not None
                fleet.session_keys.append(session.session_key)
    say(
        f"seeded {vehicles} vehicles+devices"
        + (f", {screens} dispatcher sessions" if screens else "")
        + f" in {time.monotonic() - started:.1f} s"
    )
    return fleet


def table_counts(db_url: str) -> tuple[int, int]:
    """(rows in fleet_position, rows in fleet_rejectedfix)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        positions = conn.execute("SELECT count(*) FROM fleet_position").fetchone()
        rejected = conn.execute("SELECT count(*) FROM fleet_rejectedfix").fetchone()
    return int(positions[0] if positions else 0), int(rejected[0] if rejected else 0)


def settled_counts(db_url: str, quiet: float = 1.0, timeout: float = 60) -> tuple[int, int]:
    """table_counts once they stop changing: requests still in flight have finished."""
    deadline = time.monotonic() + timeout
    last = table_counts(db_url)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        current = table_counts(db_url)
        if current == last:
            return current
        last = current
    return last


def checkpoint(db_url: str) -> None:
    """Write out what the previous part left dirty (CHECKPOINT, then ANALYZE of the tables it
    grew), so a part does not pay for the one before it: a checkpoint starting in the middle of
    a latency run shows up as its tail."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        conn.execute("ANALYZE fleet_vehiclestate")


def rejected_reasons(db_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT reason, count(*) FROM fleet_rejectedfix GROUP BY reason"
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


# --- numbers ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- wrk ---------------------------------------------------------------------------------------

WRK_OSMAND_LUA = r"""
-- Each request is a distinct fix: thread t of T cycles over its own devices (index % T == t),
-- and each pass over them advances the fix time by one second, so no fix is a duplicate.
local threads = {}
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end
function init(args)
  base = tonumber(args[1]); ndev = tonumber(args[2]); nthreads = tonumber(args[3])
  prefix = args[4]
  per = math.floor(ndev / nthreads)
  sent = 0
end
function request()
  local slot = sent % per
  local round = math.floor(sent / per)
  sent = sent + 1
  local index = tid + nthreads * slot
  local lat = 52.30 + (index % 100) * 0.002 + (round % 100) * 0.00001
  local lon = 4.80 + math.floor(index / 100) * 0.002
  return wrk.format("GET", string.format(
    "/ingest/osmand/?id=%s%05d&lat=%.6f&lon=%.6f&timestamp=%d&speed=15&batt=80",
    prefix, index + 1, lat, lon, base + round))
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("sent") end
  io.write(string.format("BENCH sent=%d completed=%d non2xx=%d timeouts=%d connect=%d read=%d\n",
    total, summary.requests, summary.errors.status, summary.errors.timeout,
    summary.errors.connect, summary.errors.read))
  io.write(string.format("BENCH p50_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass
class WrkResult:
    rps: float
    completed: int
    sent: int
    non2xx: int
    errors: int
    p50_ms: float
    p99_ms: float
    raw: str

    @property
    def ok(self) -> int:
        return self.completed - self.non2xx


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return path


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
    script: str | None = None,
    script_args: list[str] | None = None,
    workdir: Path,
) -> WrkResult:
    args = [wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    args.append("--latency")
    if script is not None:
        lua = workdir / "bench.lua"
        lua.write_text(script)
        args += ["-s", str(lua)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    out = subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    completed_match = re.search(r"(\d+) requests in", out)
    fields = dict(re.findall(r"(\w+)=([\d.]+)", " ".join(re.findall(r"BENCH (.*)", out))))
    completed = int(completed_match.group(1)) if completed_match else 0
    non2xx = int(fields.get("non2xx", 0))
    non2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx_match:
        non2xx = int(non2xx_match.group(1))
    errors = sum(int(fields.get(k, 0)) for k in ("timeouts", "connect", "read"))
    if "p99_ms" not in fields:  # no Lua script: read wrk's --latency distribution
        for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
            fields[f"p{pct}_ms"] = str(float(value) * scale)
        errors_match = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
        )
        if errors_match:
            errors = sum(int(x) for x in errors_match.groups())
    return WrkResult(
        rps=float(rps_match.group(1)) if rps_match else 0.0,
        completed=completed,
        sent=int(fields.get("sent", completed)),
        non2xx=non2xx,
        errors=errors,
        p50_ms=float(fields.get("p50_ms", "nan")),
        p99_ms=float(fields.get("p99_ms", "nan")),
        raw=out,
    )


# --- an open-loop paced HTTP/1.1 load generator -------------------------------------------------


class RawConnection:
    """A keep-alive HTTP/1.1 connection with just enough of the protocol for our endpoints:
    a tiny client keeps the load generator's CPU use small on a 2-core machine."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class PacedResult:
    scheduled: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, from the scheduled send time
    elapsed: float = 0.0
    connections: int = 0
    skipped: int = 0  # never sent: the client's backlog was full (the server fell far behind)
    unfinished: int = 0  # sent, but no answer when the run ended (cancelled)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def achieved_rate(self) -> float:
        return (self.ok + sum(v for k, v in self.statuses.items() if k != 200)) / max(
            self.elapsed, 1e-9
        )


async def paced_requests(
    port: int,
    *,
    rate: float,
    seconds: float,
    make_request: Callable[[int], tuple[str, str, bytes]],
    max_connections: int = 512,
    on_response: Callable[[int, int, float], None] | None = None,
    sample_every: float = 0.0,
    on_sample: Callable[[float], None] | None = None,
    max_backlog: int | None = None,
) -> PacedResult:
    """Send rate*seconds requests at fixed times t0 + i/rate (open loop: a slow answer never
    delays the next send), each on an idle keep-alive connection (a new one if none is idle).
    Latency is measured from the scheduled time, so queueing in the client counts too. When
    more than `max_backlog` requests (default: 10 s worth) are outstanding, the server is far
    behind: further requests are counted as skipped instead of piling up in the client."""
    loop = asyncio.get_running_loop()
    backlog_cap = max_backlog if max_backlog is not None else int(rate * 10)
    result = PacedResult(scheduled=int(rate * seconds))
    idle: list[RawConnection] = []
    free = asyncio.Condition()
    opened = 0
    tasks: set[asyncio.Task[None]] = set()

    async def connection() -> RawConnection:
        nonlocal opened
        async with free:
            while not idle and opened >= max_connections:
                await free.wait()
            if idle:
                return idle.pop()
            opened += 1
        try:
            return await RawConnection.open(port)
        except Exception:
            async with free:
                opened -= 1
                free.notify()
            raise

    async def one(index: int, due: float) -> None:
        nonlocal opened
        method, path, body = make_request(index)
        conn: RawConnection | None = None
        try:
            conn = await connection()
            status, _ = await asyncio.wait_for(conn.request(method, path, body), 30)
        except Exception:
            result.errors += 1
            if conn is not None:
                conn.close()
                async with free:
                    opened -= 1
                    free.notify()
            return
        done = loop.time()
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.latencies.append(done - due)
        if on_response is not None:
            on_response(index, status, done)
        async with free:
            idle.append(conn)
            free.notify()

    t0 = loop.time()
    next_sample = t0 + sample_every if sample_every else math.inf
    index = 0
    while index < result.scheduled:
        now = loop.time()
        if now >= next_sample and on_sample is not None:
            on_sample(now - t0)
            next_sample += sample_every
        due = t0 + index / rate
        if due > now:
            await asyncio.sleep(min(due - now, 0.05))
            continue
        while index < result.scheduled and t0 + index / rate <= now:
            if len(tasks) >= backlog_cap:
                result.skipped += 1
                index += 1
                continue
            task = loop.create_task(one(index, t0 + index / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=60)
        result.unfinished = len(pending)
        for task in pending:
            task.cancel()
    result.elapsed = loop.time() - t0
    result.connections = opened
    for conn in idle:
        conn.close()
    return result


def osmand_path(fleet_size: int, index: int, *, now_ms: int | None = None) -> str:
    """The index-th fix of a fleet reporting round-robin; fix time = wall clock in ms (a device
    never sends twice in the same millisecond at these rates, so every fix is distinct)."""
    device = index % fleet_size
    step = index // fleet_size
    lat = BASE_LAT + (device % 100) * 0.002 + (step % 100) * 0.00001
    lon = BASE_LON + (device // 100) * 0.002
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    return (
        f"/ingest/osmand/?id={identifier(device)}&lat={lat:.6f}&lon={lon:.6f}"
        f"&timestamp={stamp}&speed=15&batt=80"
    )


# --- docs/benchmarks.md ------------------------------------------------------------------------

DOC_HEADER = """# Benchmarks

Each benchmark is one command, targets 127.0.0.1 only, stops by itself, and prints its figures
beside a baseline measured in the same run. They run on the machine's PostgreSQL (a database
`doorstep_bench` of their own, dropped and recreated) and Redis (a channel-layer prefix of
their own): `DATABASE_URL` / `REDIS_URL` when set, else 127.0.0.1:5432 and 127.0.0.1:6379.
`wrk` must be installed (`apt-get install -y wrk`). The tables below are rewritten by the
benchmarks themselves (`--no-docs` to skip); other sections are kept as they are.
"""


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between this benchmark's markers in docs/benchmarks.md."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = DOCS.read_text() if DOCS.exists() else DOC_HEADER
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)
    say(f"wrote the {name} section of {DOCS.relative_to(REPO)}")


def table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


@contextlib.contextmanager
def bench_database(keep: bool = False) -> Iterator[str]:
    url = recreate_database()
    try:
        yield url
    finally:
        if not keep:
            with contextlib.suppress(Exception):
                drop_database()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
