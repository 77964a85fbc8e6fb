"""The relay's tasks: one per organization (on commit, or from the sweep) and the beat sweep."""

from __future__ import annotations

from celery import shared_task

from tenancy.tasks import tenant_task

from .services import outbox_relay_run, outbox_relay_sweep_run


# Acknowledged late and handed out again when its worker dies: a relay killed mid-batch rolled
# its batch back, and the re-run delivers it (handlers are idempotent; delivery rows and
# relayed_at commit with the batch). Its queue is its own (config/queues.py).
@tenant_task(name="outbox.relay", acks_late=True, reject_on_worker_lost=True)
def outbox_relay(organization_id: int) -> int:
    return outbox_relay_run(organization_id=organization_id)


@shared_task(name="outbox.relay_sweep")
def outbox_relay_sweep() -> int:
    return outbox_relay_sweep_run()
