"""Run several Daphne processes on one port: the one-machine scaling step.

One Daphne process is one Python interpreter, so it uses one core. This binds one listening
socket per process on the same port (SO_REUSEPORT) and hands each to one of N `daphne --fd`
children; the kernel spreads new connections evenly over them (`--shared-socket`: one socket
for all, whichever process wakes first accepts).
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


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def listening_sockets(host: str, port: int, processes: int, shared: bool) -> list[socket.socket]:
    """One socket per process on the same port (SO_REUSEPORT): the kernel spreads new
    connections evenly over them. With one socket shared by every process, the first to wake
    took every connection waiting (Twisted accepts up to 100 in a row): 50 clients that
    connected at once were split 44 / 6, and the busier process's clients waited twice as long
    (docs/benchmarks.md, "API load"). `shared`: one socket handed to every process."""
    if processes == 1 or shared or not hasattr(socket, "SO_REUSEPORT"):
        return [listening_socket(host, port)] * processes
    first = listening_socket(host, port, reuse_port=True)
    # Port 0 asks the kernel for a free port: the others join the one it gave the first.
    port = first.getsockname()[1]
    return [first, *(listening_socket(host, port, reuse_port=True) for _ in range(processes - 1))]


def children(
    socks: list[socket.socket], extra: list[str], application: str = APPLICATION
) -> list[subprocess.Popen[bytes]]:
    daphne = str(BIN / "daphne") if (BIN / "daphne").exists() else "daphne"
    return [
        subprocess.Popen(
            [daphne, "--fd", str(sock.fileno()), *extra, application],
            pass_fds=(sock.fileno(),),
        )
        for sock in socks
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
    parser.add_argument(
        "--shared-socket",
        action="store_true",
        help="one listening socket for every process (default: one each, SO_REUSEPORT)",
    )
    parser.add_argument("extra", nargs="*", help="after --: extra daphne arguments")
    args = parser.parse_args()
    socks = listening_sockets(args.host, args.port, args.processes, args.shared_socket)
    procs = children(socks, args.extra, args.application)
    for sock in set(socks):
        sock.close()  # the children hold them now

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
