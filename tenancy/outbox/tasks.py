"""The relay's tasks: one per organization (on commit, or from the sweep) and the beat sweep."""

from __future__ import annotations

from celery import shared_task

from tenancy.tasks import tenant_task

from .services import outbox_relay_run, outbox_relay_sweep_run


@tenant_task(name="outbox.relay")
def outbox_relay(organization_id: int) -> int:
    return outbox_relay_run(organization_id=organization_id)


@shared_task(name="outbox.relay_sweep")
def outbox_relay_sweep() -> int:
    return outbox_relay_sweep_run()
