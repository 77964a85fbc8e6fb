"""Celery queues per concern, so an alert never waits behind work of another kind.

| queue | tasks | why apart |
| --- | --- | --- |
| `<default>.relay` | `outbox.relay` | every domain event goes through it, the alerts' fast path included: it must never queue behind a batch of evaluations or a report |
| `<default>.evaluation` | `alerts.evaluate_positions` | the streaming evaluation of the ingest's fixes: steady and heavy, scales with the fix rate |
| `<default>` (`celery`) | everything else: beat fan-outs and sweeps, notifications, webhooks, ETAs, reports | |

The names follow the default queue (`task_default_queue`, read when a task is sent): a test's
or a benchmark's worker that consumes a private default queue `q` consumes `q.relay` and
`q.evaluation` too (`worker_queues(q)`), and never meets another run's messages. A worker
started without `-Q` consumes all three (`CELERY_TASK_QUEUES`); a worker started with `-Q`
must name every queue it is meant to serve. No Django here: settings import it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_QUEUE = "celery"
RELAY = "relay"
EVALUATION = "evaluation"
CONCERNS = (RELAY, EVALUATION)
TASK_CONCERNS = {
    "outbox.relay": RELAY,
    "alerts.evaluate_positions": EVALUATION,
}


def queue_name(concern: str | None, default: str = DEFAULT_QUEUE) -> str:
    """The queue of a concern next to the default queue `default` (None: the default)."""
    return f"{default}.{concern}" if concern else default


def worker_queues(default: str = DEFAULT_QUEUE) -> list[str]:
    """Every queue a worker serving everything must consume."""
    return [default, *(queue_name(concern, default) for concern in CONCERNS)]


def kombu_queues(default: str = DEFAULT_QUEUE) -> list[Any]:
    """CELERY_TASK_QUEUES: each queue bound to an exchange of its own name with its name as the
    routing key (what Celery builds for a queue it creates on the fly); a Queue given without
    them would get the default exchange and routing key, and a message for one queue would be
    delivered to all three."""
    from kombu import Exchange, Queue

    return [Queue(name, Exchange(name), routing_key=name) for name in worker_queues(default)]


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    """Celery's router (CELERY_TASK_ROUTES): a task of a concern goes to that concern's queue
    beside the current default queue; the rest to the default queue."""
    concern = TASK_CONCERNS.get(name)
    if concern is None:
        return None
    from config.celery import app

    return {"queue": queue_name(concern, app.conf.task_default_queue)}
