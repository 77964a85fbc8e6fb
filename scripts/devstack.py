"""The engine of ``make run``: the whole Doorstep system on one machine, nothing to install.

1. Services: PostgreSQL and Redis from ``DATABASE_URL`` / ``REDIS_URL`` when set, else
   embedded ones (see scripts/embedded.py) with their data in ``.data/`` (kept across runs).
2. ``manage.py migrate`` and ``manage.py seed_demo --history-days 60`` (idempotent: demo
   tenants and logins, and 60 past days, so the 30-day dashboard has the 30 days it compares
   with; DOORSTEP_DEMO_HISTORY_DAYS changes it).
3. Under honcho, one coloured log stream of:
     web        daphne on http://127.0.0.1:8000 (HTTP + websockets)
     worker     celery worker on every queue (config/queues.py: the outbox relay, alert
                evaluation, and the rest: reports, webhooks, sweeps)
     beat       celery beat (time-based rules, rollups, schedules)
     simulator  ``manage.py simulate_fleet`` (demo fleet posting GPS fixes), once it exists
     mail       the local SMTP sink (scripts/mail_sink.py) every email goes to, unless
                DJANGO_EMAIL_HOST is set: messages in ``.data/mail/``, alert emails also on
                /alerts/emails/ for the demo's admins
4. Ctrl-C / SIGTERM / SIGHUP stop everything: the app processes first (SIGTERM, SIGKILL
   after 5 s), then Redis and PostgreSQL. Nothing is left running.

Options: ``--port`` (or DOORSTEP_WEB_PORT, default 8000), ``--host`` (default 127.0.0.1),
The simulator injects anomalies: DOORSTEP_DEMO_ANOMALIES (default "all"; "" for none) at
DOORSTEP_DEMO_ANOMALY_RATE (default 0.0005 per fix and kind), and plays the scripted scenario
(demo/scenario.py: every alert kind within minutes, then every 20 minutes;
DOORSTEP_DEMO_SCENARIO=0 turns it off). ``--redis-port`` (or DOORSTEP_REDIS_PORT, default 6390; a taken port falls back to a free
one), ``--no-simulator``, ``--access-log`` (show one line per HTTP request; off by default
because the simulator makes many).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import embedded  # scripts/embedded.py (this script's folder is first on sys.path)
from honcho.manager import Manager
from honcho.printer import Message, Printer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
BIN = Path(sys.executable).parent  # the virtualenv's bin/, where daphne and celery live
SEED_DEMO = ROOT / "demo" / "management" / "commands" / "seed_demo.py"
SIMULATE_FLEET = ROOT / "demo" / "management" / "commands" / "simulate_fleet.py"


def say(message: str = "") -> None:
    print(message, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Until honcho takes over: SIGINT, SIGTERM and SIGHUP all unwind through the finally
    blocks that stop the services. Installed explicitly because a shell starting us in the
    background makes us inherit an *ignored* SIGINT."""
    raise KeyboardInterrupt


# migrate + seed_demo in one Python process: each Django start costs seconds on a small
# machine. Migration output goes to stderr (shown live); stdout carries only seed_demo's
# report (the demo logins), which we capture for the banner.
PREPARE = """
import sys, django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=1, stdout=sys.stderr)
if "--seed" in sys.argv:
    call_command("seed_demo", history_days=int(sys.argv[sys.argv.index("--seed") + 1]))
"""

# Weeks of past days for the manager's dashboards and the history pages, seeded in seconds
# (demo/history.py; days already seeded stay). DOORSTEP_DEMO_HISTORY_DAYS=0 turns it off.
HISTORY_DAYS = os.environ.get("DOORSTEP_DEMO_HISTORY_DAYS", "60")


def prepare(env: dict[str, str], seed: bool) -> list[str]:
    """Apply migrations and (when the command exists) seed the demo data; return its lines.
    On an interrupt the child is stopped before we unwind."""
    command = [str(BIN / "python"), "-c", PREPARE, *(["--seed", HISTORY_DAYS] if seed else [])]
    # As the database owner: migrate creates the roles, grants and row-level security that
    # the other processes (the application role) then run under (docs/tenancy.md).
    owner_env = {**env, "DOORSTEP_DB_AS_OWNER": "1"}
    child = subprocess.Popen(command, cwd=ROOT, env=owner_env, stdout=subprocess.PIPE, text=True)
    try:
        output, _ = child.communicate()
    except BaseException:
        child.terminate()
        child.wait()
        raise
    if child.returncode != 0:
        say(output)
        raise subprocess.CalledProcessError(child.returncode, ["manage.py migrate / seed_demo"])
    return output.rstrip().splitlines()


def wait_http(url: str, timeout: float = 120) -> bool:
    """True once something answers HTTP at ``url`` (any status), False after ``timeout``."""
    host_port = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, int(port or 80), timeout=2)
        try:
            connection.request("GET", "/login/")
            connection.getresponse()
            return True
        except OSError:
            time.sleep(0.25)
        finally:
            connection.close()
    return False


def announce_when_ready(manager: Manager, url: str, lines: list[str]) -> None:
    """Print the banner into honcho's stream once the web server answers (from a thread:
    messages go through honcho's event queue, so they never interleave with other output)."""

    def run() -> None:
        if not wait_http(url, timeout=300):
            return
        for line in lines:
            message = Message("line", line + "\n", datetime.datetime.now(), "system", None)
            manager.events.put(message)

    threading.Thread(target=run, name="announce", daemon=True).start()


def build_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    env["PYTHONUNBUFFERED"] = "1"  # output reaches honcho line by line, not in 4 KB lumps
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if "DJANGO_EMAIL_HOST" not in env:
        # Every email the demo sends goes to the local sink (1025, or a free port if taken).
        mail_port = 1025 if embedded.port_free(1025) else embedded.free_port()
        env["DJANGO_EMAIL_HOST"], env["DJANGO_EMAIL_PORT"] = "127.0.0.1", str(mail_port)
        env["DOORSTEP_MAIL_SINK"] = "1"
    if args.host not in ("127.0.0.1", "localhost") and "DJANGO_ALLOWED_HOSTS" not in env:
        say(f"note: set DJANGO_ALLOWED_HOSTS to include the name you use to reach {args.host}")
    return env


def build_manager(args: argparse.Namespace, env: dict[str, str], url: str) -> Manager:
    manager = Manager(printer=Printer(sys.stdout))
    python, daphne, celery = (
        shlex.quote(str(BIN / name)) for name in ("python", "daphne", "celery")
    )
    access_log = "-" if args.access_log else os.devnull
    schedule = shlex.quote(str(DATA / "celerybeat-schedule"))
    processes = {
        "web": f"exec {daphne} -b {args.host} -p {args.port} "
        f"--access-log {access_log} config.asgi:application",
        # Without -Q: every queue (the relay, the evaluation, the default one).
        "worker": f"exec {celery} -A config worker -l info --concurrency 2",
        "beat": f"exec {celery} -A config beat -l info --schedule {schedule}",
    }
    if SIMULATE_FLEET.exists() and not args.no_simulator:
        devstack = shlex.quote(str(Path(__file__).resolve()))
        # The demo's anomalies (offline, speeding, jumps, stops, ...) are what open alerts in
        # the inbox. The rate is per fix and kind: 0.0005 with 50 vehicles every 5 s is one
        # anomaly of each kind every ~3 minutes somewhere in the fleet.
        anomalies = shlex.quote(env.get("DOORSTEP_DEMO_ANOMALIES", "all"))
        rate = shlex.quote(env.get("DOORSTEP_DEMO_ANOMALY_RATE", "0.0005"))
        # The scripted scenario (demo/scenario.py) shows every alert kind within minutes.
        scenario = " --scenario" if env.get("DOORSTEP_DEMO_SCENARIO", "1") != "0" else ""
        processes["simulator"] = (
            f"{python} {devstack} wait-http {url} && "
            f"exec {python} manage.py simulate_fleet --url {url} "
            f"--anomalies {anomalies} --anomaly-rate {rate}{scenario}"
        )
    if env.get("DOORSTEP_MAIL_SINK") == "1":
        sink = shlex.quote(str(Path(__file__).resolve().parent / "mail_sink.py"))
        mail_dir = shlex.quote(str(DATA / "mail"))
        processes["mail"] = (
            f"exec {python} {sink} --port {env['DJANGO_EMAIL_PORT']} --dir {mail_dir}"
        )
    for name, command in processes.items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    return manager


def run_stack(args: argparse.Namespace) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)

    url = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}"
    if not embedded.port_free(args.port, args.host):
        say(f"Port {args.port} is in use (another `make run`?). Stop it or use --port.")
        return 1

    DATA.mkdir(exist_ok=True)
    env = build_env(args)
    started = time.monotonic()
    try:
        with embedded.services(DATA, redis_port=args.redis_port, log=say) as service_env:
            env.update(service_env)
            say(f"DATABASE_URL={env.get('DATABASE_URL', '(settings default)')}")
            say(f"REDIS_URL={env.get('REDIS_URL', '(settings default)')}")

            say("manage.py migrate" + (" + seed_demo" if SEED_DEMO.exists() else "") + " ...")
            logins = prepare(env, seed=SEED_DEMO.exists())
            say("\n".join(logins) if logins else "seed_demo does not exist yet: no demo data.")

            manager = build_manager(args, env, url)
            rule = "-" * 72
            mail = (
                [f"Emails: {url}/alerts/emails/ (as an admin), raw in {DATA / 'mail'}"]
                if env.get("DOORSTEP_MAIL_SINK") == "1"
                else []
            )
            banner = [rule, f"Doorstep is running: {url}", *logins, *mail,
                      "Ctrl-C stops everything."]  # fmt: skip
            say(f"Ready for processes after {time.monotonic() - started:.1f}s")
            announce_when_ready(manager, url, [*banner, rule])
            # Honcho installs its own SIGINT/SIGTERM handlers (terminate all processes);
            # route SIGHUP (terminal closed) there too.
            signal.signal(signal.SIGHUP, lambda signum, frame: manager.terminate())
            manager.loop()
            code = manager.returncode or 0
            if code in (130, 143):  # stopped on request: a clean exit
                code = 0
    except KeyboardInterrupt:
        code = 130
    except subprocess.CalledProcessError as exc:
        say(f"Failed: {shlex.join(str(part) for part in exc.cmd)} (exit {exc.returncode})")
        code = exc.returncode or 1
    say("Doorstep stopped." if code == 0 else f"Doorstep stopped (exit {code}).")
    return code


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="web bind address")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DOORSTEP_WEB_PORT", 8000)))
    parser.add_argument(
        "--redis-port",
        type=int,
        default=int(os.environ.get("DOORSTEP_REDIS_PORT", embedded.DEFAULT_REDIS_PORT)),
        help="port of the embedded Redis (when REDIS_URL is unset)",
    )
    parser.add_argument("--no-simulator", action="store_true", help="do not run simulate_fleet")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["wait-http"]:  # internal: the simulator waits for the web server
        return 0 if wait_http(argv[1]) else 1
    return run_stack(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
