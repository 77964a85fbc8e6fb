"""The local SMTP sink of ``make run``: accepts every message on 127.0.0.1 (port 1025 by
default), stores it as an .eml file under ``.data/mail/`` and prints one line per message,
so every email the demo sends can be seen (admins also read alert emails on /alerts/emails/).

Usage: python scripts/mail_sink.py [--host 127.0.0.1] [--port 1025] [--dir .data/mail]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import signal
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


class MailDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.counter = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{stamp}-{next(self.counter):05d}.eml"
        path.write_bytes(envelope.content)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        to = ", ".join(envelope.rcpt_tos)
        print(f"mail to {to}: {message.get('Subject', '(no subject)')}  [{path.name}]", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=ROOT / ".data" / "mail")
    args = parser.parse_args()
    controller = Controller(MailDirectory(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, messages in {args.dir}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
