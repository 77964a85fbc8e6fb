"""Reporting's Celery tasks: thin, they take ids and call a service."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from celery import shared_task

from tenancy.models import Organization
from tenancy.tasks import tenant_task

from .dirty import dirty_days_recompute
from .rollups import rollups_are_final, rollups_recompute_day


@tenant_task(name="reporting.rollups_compute_day")
def rollups_compute_day(organization_id: int, day: str, only_if_stale: bool = False) -> int:
    """One organization's local day (yyyy-mm-dd), recomputed from its fixes (idempotent).
    With `only_if_stale`, a day already rolled up after it ended is left alone."""
    local_day = dt.date.fromisoformat(day)
    if only_if_stale and rollups_are_final(organization_id=organization_id, day=local_day):
        return 0
    return rollups_recompute_day(organization_id=organization_id, day=local_day)


@shared_task(name="reporting.rollups_compute_yesterday")
def rollups_compute_yesterday() -> int:
    """Beat's nightly fan-out: one task per organization for the day that just ended in its
    own time zone (organizations are not tenant rows: listing them needs no context). Beat
    runs it hourly, so every zone's midnight is followed within the hour; a day already rolled
    up is skipped."""
    organizations = list(Organization.objects.order_by("pk").values_list("pk", "timezone"))
    for organization_id, timezone in organizations:
        yesterday = dt.datetime.now(zoneinfo.ZoneInfo(timezone)).date() - dt.timedelta(days=1)
        rollups_compute_day.delay(organization_id, yesterday.isoformat(), only_if_stale=True)
    return len(organizations)


@tenant_task(name="reporting.rollups_recompute_dirty")
def rollups_recompute_dirty(organization_id: int) -> int:
    """One organization's days marked dirty by late fixes or changed orders, recomputed."""
    return len(dirty_days_recompute(organization_id=organization_id))


@shared_task(name="reporting.rollups_dirty_sweep")
def rollups_dirty_sweep() -> int:
    """Beat's fan-out: one task per organization (listing organizations needs no context;
    a task for an organization without marks finds nothing and returns)."""
    organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for organization_id in organization_ids:
        rollups_recompute_dirty.delay(organization_id)
    return len(organization_ids)


# Reports' tasks live beside their code; Celery's autodiscovery looks here.
from .reports import tasks as report_tasks  # noqa: E402,F401
