"""Run one piece of work in several threads released together: races under test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(work: Callable[[], T], times: int, timeout: float = 30) -> list[T]:
    """`work` in `times` threads that start together (a barrier); their results, in the order
    they finished. Each thread closes its own database connection."""
    results: list[T] = []
    barrier = threading.Barrier(times)

    def run() -> None:
        try:
            barrier.wait(timeout=timeout)
            results.append(work())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
