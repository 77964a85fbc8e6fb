"""Queues per concern (config/queues.py): the outbox relay and the streaming evaluation each on
a queue of their own beside the default one, under a private default queue too; a worker
without -Q consumes all three, and the tests' worker consumes its private three."""

from __future__ import annotations

from typing import Any

import pytest

from config.queues import TASK_CONCERNS, worker_queues
from tests.support.celery import CeleryWorker


def routed(app: Any, name: str) -> str:
    return str(app.amqp.router.route({}, name)["queue"].name)


def test_each_concern_has_its_queue_beside_the_default_one() -> None:
    from config.celery import app

    saved = app.conf.task_default_queue
    try:
        for default in ("celery", "test-private"):
            app.conf.task_default_queue = default
            assert routed(app, "outbox.relay") == f"{default}.relay"
            assert routed(app, "alerts.evaluate_positions") == f"{default}.evaluation"
            for other in ("alerts.sweep", "alerts.sweep_organization", "outbox.relay_sweep",
                          "alerts.notifications_tick", "deliveries.webhook_resend_due"):  # fmt: skip
                assert routed(app, other) == default
    finally:
        app.conf.task_default_queue = saved


def test_every_routed_task_exists_and_a_plain_worker_consumes_every_queue() -> None:
    from config.celery import app

    app.loader.import_default_modules()
    assert set(TASK_CONCERNS) <= set(app.tasks)
    # `celery -A config worker` without -Q (Procfile, docker-compose, make run) consumes the
    # configured queues: all three, each on an exchange and routing key of its own (a queue
    # bound to the default routing key would receive the other queues' messages too).
    queues = {q.name: q for q in app.conf.task_queues}
    assert sorted(queues) == sorted(worker_queues("celery"))
    assert {(q.exchange.name, q.routing_key) for q in queues.values()} == {
        (name, name) for name in queues
    }
    assert app.conf.worker_prefetch_multiplier == 1
    relay = app.tasks["outbox.relay"]
    assert relay.acks_late and relay.reject_on_worker_lost


@pytest.mark.django_db(transaction=True)
def test_the_tests_worker_consumes_its_private_queue_and_its_siblings(
    celery_worker: CeleryWorker,
) -> None:
    from config.celery import app

    active = app.control.inspect(destination=[celery_worker.node], timeout=5).active_queues()
    assert active, "the worker did not answer"
    names = sorted(q["name"] for q in active[celery_worker.node])
    assert names == sorted(worker_queues(celery_worker.queue))
