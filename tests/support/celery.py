"""A real Celery worker process for the tests that are about the worker.

Each worker consumes a private queue of its own (with its siblings per concern,
config/queues.py), and while it runs this process routes every task it sends there
(`task_default_queue`), so a test never sees another run's messages and
never leaves any behind for the next one. The worker routes the tasks it sends itself (retries,
follow-up tasks) to the same queue. It uses the test database, the solo pool (one task at a
time, in the worker's main thread), and writes its log to a file whose tail a failure shows.

Run as `python -m tests.support.celery QUEUE NODE` it is the worker's entry point.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import pytest

from config.queues import worker_queues
from tests.support.processes import django_process_env

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 120.0  # a busy 2-core machine can take that long to boot Django and Celery
STOP_SECONDS = 20.0
T = TypeVar("T")


@dataclass
class CeleryWorker:
    process: subprocess.Popen[bytes]
    queue: str
    node: str
    log: IO[bytes]

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(the worker wrote nothing)"

    def fail(self, message: str) -> NoReturn:
        pytest.fail(f"{message}\n--- the Celery worker's log, last lines ---\n{self.log_tail()}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            self.fail(f"the Celery worker exited with {self.process.returncode}")

    def wait_for(
        self, condition: Callable[[], T | None], what: str, seconds: float = 30, poll: float = 0.1
    ) -> T:
        """Poll `condition` until it returns something truthy, and return that; fail with the
        worker's log if the worker dies or `seconds` pass first."""
        deadline = time.monotonic() + seconds
        while True:
            if result := condition():
                return result
            self.check_alive()
            if time.monotonic() > deadline:
                self.fail(f"timed out after {seconds} s waiting for {what}")
            time.sleep(poll)


@contextlib.contextmanager
def celery_worker_running(env: dict[str, str] | None = None) -> Iterator[CeleryWorker]:
    """Start a worker on a new private queue, wait until it answers a ping, route this
    process's tasks to it; on exit stop it (warm shutdown, then kill) and delete the queue."""
    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    node = f"{queue}@{socket.gethostname()}"
    log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.celery", queue, node],
        cwd=REPO, env=django_process_env(env), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = CeleryWorker(process=process, queue=queue, node=node, log=log)
    default_queue = app.conf.task_default_queue
    try:
        worker.wait_for(
            lambda: app.control.ping(destination=[node], timeout=0.5),
            "the Celery worker to start",
            seconds=START_SECONDS,
        )
        app.conf.task_default_queue = queue
        yield worker
    finally:
        app.conf.task_default_queue = default_queue
        _stop(process)
        queues_delete(queue)
        log.close()


def queues_delete(queue: str) -> None:
    """Delete a private queue and its siblings per concern, with whatever is left on them."""
    from config.celery import app

    with app.connection_for_write() as connection:
        for name in worker_queues(queue):
            # Declared first so that its bindings are known and deleted with it; the delete
            # also drops what a retry left queued.
            bound = app.amqp.queues[name](connection.default_channel)
            bound.declare()
            bound.delete()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # warm shutdown: the task in hand finishes
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker(django_db_setup: Any) -> Iterator[CeleryWorker]:
    """A worker for one test (the test needs `django_db(transaction=True)`: the worker only
    sees committed rows)."""
    with celery_worker_running() as worker:
        yield worker


def _worker_main(queue: str, node: str) -> None:
    from config.celery import app

    app.conf.task_default_queue = queue  # what the worker itself sends stays on this queue
    # --quiet: no banner, so the log's tail is the tasks received, run and failed. The private
    # queue's siblings per concern (config/queues.py) too: every task reaches this worker.
    app.start(
        [
            "--quiet", "worker", "--pool", "solo", "--queues", ",".join(worker_queues(queue)),
            "--hostname", node,
            "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "info",
        ]
    )  # fmt: skip


if __name__ == "__main__":
    _worker_main(*sys.argv[1:3])
