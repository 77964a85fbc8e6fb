"""Periodic tracking chores (Celery beat). Tasks are thin: they call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from tenancy.tasks import tenant_task

from .maintenance import (
    organization_ids,
    organization_retention_apply,
    positions_maintain,
    vehicle_states_mark_offline,
)


@shared_task(name="fleet.mark_offline")
def mark_offline() -> int:
    return vehicle_states_mark_offline()


@shared_task(name="fleet.maintain_position_partitions")
def maintain_position_partitions() -> dict[str, Any]:
    """Beat's hourly upkeep: the shared partitions here, then one retention task per
    organization, so one tenant's large delete never holds up another's."""
    result = positions_maintain()
    ids = organization_ids()
    for organization_id in ids:
        apply_position_retention.delay(organization_id)
    return {**result, "retention_tasks": len(ids)}


@tenant_task(name="fleet.apply_position_retention")
def apply_position_retention(organization_id: int) -> dict[str, int]:
    return organization_retention_apply(organization_id=organization_id)
