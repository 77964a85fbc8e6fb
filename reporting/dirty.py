"""Days whose rollups are out of date. A fix that arrives after its day was rolled up (a device
that was offline and uploads its buffer), a corrected order or a late stop event marks the
day; beat's sweep recomputes marked days. Marks for today are not written: today is computed
live and rolled up after midnight anyway."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from deliveries.models import Route, Stop
from tenancy.context import require_organization
from tenancy.models import Organization

from .models import RollupDirtyMark


def _local_today(organization_id: int) -> tuple[dt.date, zoneinfo.ZoneInfo]:
    zone = zoneinfo.ZoneInfo(
        str(Organization.objects.values_list("timezone", flat=True).get(pk=organization_id))
    )
    return timezone.now().astimezone(zone).date(), zone


def rollups_mark_dirty(
    *, organization_id: int, kind: str, marks: Iterable[tuple[int, dt.date]]
) -> int:
    """Mark (subject, day) pairs of `kind` ("vehicle" or "route"); returns the marks written.
    Days from today on are skipped (see the module's docstring); marking twice is harmless."""
    require_organization(organization_id)
    today, _ = _local_today(organization_id)
    now = timezone.now()
    rows = [
        RollupDirtyMark(
            organization_id=organization_id, kind=kind, subject_id=subject, day=day, marked_at=now
        )
        for subject, day in set(marks)
        if day < today
    ]
    RollupDirtyMark.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["organization", "day", "kind", "subject_id"],
        update_fields=["marked_at"],
    )
    return len(rows)


def fixes_arrived(
    *, organization_id: int, vehicle_ids: Iterable[int], first: dt.datetime, last: dt.datetime
) -> int:
    """A flush stored fixes of `vehicle_ids` between `first` and `last`: mark their past days."""
    today, zone = _local_today(organization_id)
    day = first.astimezone(zone).date()
    end = min(last.astimezone(zone).date(), today - dt.timedelta(days=1))
    days = []
    while day <= end:
        days.append(day)
        day += dt.timedelta(days=1)
    if not days:
        return 0  # the usual flush: today's fixes only (the relay's hot path)
    ids = list(vehicle_ids)
    return rollups_mark_dirty(
        organization_id=organization_id,
        kind=RollupDirtyMark.Kind.VEHICLE,
        marks=[(v, d) for v in ids for d in days],
    )


def order_changed(*, organization_id: int, order_id: int) -> int:
    """An order's status changed: every past route day it was planned on is out of date."""
    require_organization(organization_id)
    routes = Stop.objects.filter(organization_id=organization_id, order_id=order_id).values_list(
        "route_id", "route__date"
    )
    return rollups_mark_dirty(
        organization_id=organization_id, kind=RollupDirtyMark.Kind.ROUTE, marks=list(routes)
    )


def route_changed(*, organization_id: int, route_id: int) -> int:
    require_organization(organization_id)
    routes = Route.objects.filter(organization_id=organization_id, pk=route_id).values_list(
        "pk", "date"
    )
    return rollups_mark_dirty(
        organization_id=organization_id, kind=RollupDirtyMark.Kind.ROUTE, marks=list(routes)
    )


def dirty_days_recompute(*, organization_id: int, limit: int = 31) -> list[dt.date]:
    """Recompute up to `limit` marked days, oldest first, and drop the marks that were there
    before the recompute began (a mark written meanwhile stays for the next sweep)."""
    from .rollups import rollups_recompute_day

    require_organization(organization_id)
    started = timezone.now()
    days = list(
        RollupDirtyMark.objects.filter(organization_id=organization_id)
        .order_by("day")
        .values_list("day", flat=True)
        .distinct()[:limit]
    )
    for day in days:
        with transaction.atomic():
            rollups_recompute_day(organization_id=organization_id, day=day)
            RollupDirtyMark.objects.filter(
                organization_id=organization_id, day=day, marked_at__lte=started
            ).delete()
    return days
