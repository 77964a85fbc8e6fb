"""Alerts' Celery tasks: thin, ids in, a service called. Every tenant task acknowledges late
and is rejected (so redelivered) when its worker dies: a worker killed mid-batch loses
nothing, and the re-run doubles nothing (the cursor and the alerts commit together; one open
alert per rule and subject)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task

from tenancy.tasks import tenant_task

from .evaluation.scheduled import organization_sweep
from .evaluation.streaming import positions_evaluate
from .resolvers import alerts_organizations_with_rules

LATE_ACKS = {"acks_late": True, "reject_on_worker_lost": True}


@tenant_task(name="alerts.evaluate_positions", **LATE_ACKS)
def evaluate_positions(
    organization_id: int,
    vehicle_ids: list[int],
    since: str | None = None,
    requested_at: str | None = None,
) -> dict[str, Any]:
    result = positions_evaluate(
        organization_id=organization_id,
        vehicle_ids=vehicle_ids,
        since=dt.datetime.fromisoformat(since) if since else None,
        requested_at=dt.datetime.fromisoformat(requested_at) if requested_at else None,
    )
    return result.__dict__


@tenant_task(name="alerts.sweep_organization", **LATE_ACKS)
def sweep_organization(organization_id: int) -> dict[str, int]:
    return organization_sweep(organization_id=organization_id)


@shared_task(name="alerts.sweep")
def sweep() -> int:
    """Beat (every 15 s): one sweep task per organization with rules, never one loop over all."""
    ids = alerts_organizations_with_rules()
    for organization_id in ids:
        sweep_organization.delay(organization_id)
    return len(ids)
