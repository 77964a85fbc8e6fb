"""Reporting's Celery tasks: thin, they take ids and call a service."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from celery import shared_task

from tenancy.models import Organization
from tenancy.tasks import tenant_task

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


# Reports' tasks live beside their code; Celery's autodiscovery looks here.
from .reports import tasks as report_tasks  # noqa: E402,F401
