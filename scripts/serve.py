"""Run several Daphne processes on one listening socket: the one-machine scaling step.

One Daphne process is one Python interpreter, so it uses one core. This binds the port once and
hands the socket to N `daphne --fd` children; the kernel spreads new connections over them.
Each process has its own ingest group-commit writer and its own LiveHub (each joins the
organizations' live groups once), so nothing else needs to change.

    python scripts/serve.py --port 8000 --processes 2 [--host 0.0.0.0] [-- extra daphne args]

SIGTERM or Ctrl-C stops every child; if a child dies, the others are stopped too and the exit
code is the child's (a supervisor restarts the whole group).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
APPLICATION = "config.asgi:application"


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def children(
    sock: socket.socket, processes: int, extra: list[str], application: str = APPLICATION
) -> list[subprocess.Popen[bytes]]:
    daphne = str(BIN / "daphne") if (BIN / "daphne").exists() else "daphne"
    return [
        subprocess.Popen(
            [daphne, "--fd", str(sock.fileno()), *extra, application],
            pass_fds=(sock.fileno(),),
        )
        for _ in range(processes)
    ]


def stop(procs: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("WEB_PROCESSES", "0")) or default_processes(),
        help="Daphne processes (default: WEB_PROCESSES, else one per core up to 4)",
    )
    parser.add_argument(
        "--application",
        default=APPLICATION,
        help="the ASGI application (benchmarks serve their baselines the same way)",
    )
    parser.add_argument("extra", nargs="*", help="after --: extra daphne arguments")
    args = parser.parse_args()
    sock = listening_socket(args.host, args.port)
    procs = children(sock, args.processes, args.extra, args.application)
    sock.close()  # the children hold it now

    def forward(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    print(
        f"serving on http://{args.host}:{args.port} with {args.processes} Daphne processes",
        flush=True,
    )
    try:
        while True:
            for proc in procs:
                code = proc.poll()
                if code is not None:
                    print(f"daphne {proc.pid} exited with {code}; stopping", flush=True)
                    return code or 1
            time.sleep(0.5)
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
