"""Periodic tracking chores (Celery beat). Tasks are thin: they call a service."""

from __future__ import annotations

from celery import shared_task

from .maintenance import positions_maintain, vehicle_states_mark_offline


@shared_task(name="fleet.mark_offline")
def mark_offline() -> int:
    return vehicle_states_mark_offline()


@shared_task(name="fleet.maintain_position_partitions")
def maintain_position_partitions() -> dict[str, list[str]]:
    return positions_maintain()
