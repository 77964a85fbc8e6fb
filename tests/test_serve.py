"""scripts/serve.py: several Daphne processes on one port, each with a listening socket of its
own (SO_REUSEPORT), so the kernel spreads new connections evenly over the processes."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def serve() -> ModuleType:
    """scripts/serve.py, imported by path (scripts/ is not a package)."""
    name = "doorstep_scripts_serve"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "serve.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_each_process_has_a_socket_and_new_connections_are_spread_over_them() -> None:
    socks = serve().listening_sockets("127.0.0.1", 0, 2, shared=False)
    clients: list[socket.socket] = []
    try:
        assert len({id(sock) for sock in socks}) == 2
        port = socks[0].getsockname()[1]
        assert socks[1].getsockname()[1] == port
        # 40 clients connecting at once, as a load balancer or a benchmark does.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        accepted = []
        for sock in socks:
            sock.setblocking(False)
            count = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 40
        # Binomial(40, 1/2): fewer than 8 on one side is a one-in-100,000 event.
        assert min(accepted) >= 8, accepted
    finally:
        for client in clients:
            client.close()
        for sock in socks:
            sock.close()


def test_one_process_or_asked_for_keeps_one_shared_socket() -> None:
    for processes, shared in ((1, False), (3, True)):
        socks = serve().listening_sockets("127.0.0.1", 0, processes, shared=shared)
        try:
            assert len(socks) == processes and len({id(sock) for sock in socks}) == 1
        finally:
            socks[0].close()
