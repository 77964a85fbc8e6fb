"""Daily rollups: a vehicle's local day summed up from its fixes with the same trip and stop
rules as the history page, stored once per (organization, vehicle, day).

`rollup_values` is pure (fixes in, numbers out); `rollups_recompute_day` reads the day's fixes
and upserts one row per vehicle that sent any, deleting the rows of vehicles that sent none, so
recomputing a day any number of times leaves the same rows (idempotent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from fleet.models import Vehicle
from tenancy.context import require_organization
from tenancy.models import Organization

from . import selectors
from .models import DailyRouteRollup, DailyVehicleRollup
from .route_rollups import route_rollups_recompute_day
from .trips import DetectionSettings, Fix, track_summarize


def speeding_events_count(fixes: Sequence[Fix], *, threshold_kmh: float, gap_seconds: float) -> int:
    """Episodes above the threshold: a run of fast fixes counts once; a data gap ends a run."""
    events, inside = 0, False
    previous: Fix | None = None
    for fix in fixes:
        if previous is not None and fix.timestamp - previous.timestamp > gap_seconds:
            inside = False
        fast = fix.speed_kmh is not None and fix.speed_kmh > threshold_kmh
        if fast and not inside:
            events += 1
        inside = fast
        previous = fix
    return events


def rollup_values(
    fixes: Sequence[Fix],
    settings: DetectionSettings,
    *,
    speeding_kmh: float,
    steps: Sequence[float] | None = None,
) -> dict[str, Any]:
    """`steps`: the fixes' `trips.step_distances`, when the caller already has them."""
    summary = track_summarize(fixes, settings, steps)
    return {
        "fixes": len(fixes),
        "first_fix_at": dt.datetime.fromtimestamp(fixes[0].timestamp, dt.UTC) if fixes else None,
        "last_fix_at": dt.datetime.fromtimestamp(fixes[-1].timestamp, dt.UTC) if fixes else None,
        "distance_m": round(summary.distance_m, 1),
        "moving_seconds": round(summary.moving_seconds),
        "idle_seconds": round(summary.idle_seconds),
        "stopped_seconds": round(summary.stopped_seconds),
        "trips": len(summary.trips),
        "stops": len(summary.stops),
        "max_speed_kmh": round(summary.max_speed_kmh, 1),
        "speeding_events": speeding_events_count(
            fixes, threshold_kmh=speeding_kmh, gap_seconds=settings.gap_seconds
        ),
        "shift_seconds": round(fixes[-1].timestamp - fixes[0].timestamp) if fixes else 0,
    }


def _vehicle_days_of_routes(organization_id: int, day: dt.date) -> dict[int, dict[str, Any]]:
    """Per vehicle, from the day's route rollups: the driver of its route with the most stops
    and every zone its routes served (the vehicle-day's driver and zones for the filters)."""
    found: dict[int, dict[str, Any]] = {}
    rows = DailyRouteRollup.objects.filter(
        organization_id=organization_id, day=day, vehicle_id__isnull=False
    ).values_list("vehicle_id", "driver_id", "zone_ids", "stops_planned")
    for vehicle_id, driver_id, zone_ids, stops in rows:
        entry = found.setdefault(vehicle_id, {"driver_id": None, "zone_ids": set(), "stops": -1})
        entry["zone_ids"].update(zone_ids)
        if stops > entry["stops"]:
            entry["driver_id"], entry["stops"] = driver_id, stops
    return {
        vehicle_id: {"driver_id": e["driver_id"], "zone_ids": sorted(e["zone_ids"])}
        for vehicle_id, e in found.items()
    }


def rollups_recompute_day(*, organization_id: int, day: dt.date) -> int:
    """Recompute the organization's local `day`: every route's rollup, then every vehicle's
    (which takes its driver and zones from the routes); returns the vehicle rows written."""
    require_organization(organization_id)
    organization = Organization.objects.get(pk=organization_id)
    return _recompute_day(organization, day, selectors.vehicle_track, None)


# Days read together by rollups_recompute_days: a week of a demo fleet's fixes is tens of MB.
DAYS_PER_READ = 7


def rollups_recompute_days(*, organization_id: int, days: Sequence[dt.date]) -> int:
    """`rollups_recompute_day` for many days in one pass (the demo's weeks of history, a
    backfill): the positions are read once per week for every vehicle instead of once per
    vehicle, day and route. The same rows as recomputing each day; returns the rows written."""
    require_organization(organization_id)
    organization = Organization.objects.get(pk=organization_id)
    ordered = sorted(set(days))
    written = 0
    for first in range(0, len(ordered), DAYS_PER_READ):
        chunk = ordered[first : first + DAYS_PER_READ]
        tracks = selectors.TracksRead(
            organization_id=organization_id,
            start=selectors.LocalDay.of(chunk[0], organization.timezone).start,
            end=selectors.LocalDay.of(chunk[-1], organization.timezone).end,
        )
        for day in chunk:
            written += _recompute_day(organization, day, tracks, tracks.vehicle_ids())
    return written


def _recompute_day(
    organization: Organization,
    day: dt.date,
    tracks: selectors.TrackReader,
    with_fixes: set[int] | None,
) -> int:
    """`with_fixes`: the vehicles that have any fix in the period read (None: unknown, ask
    for every vehicle's track)."""
    organization_id = organization.pk
    local_day = selectors.LocalDay.of(day, organization.timezone)
    route_rollups_recompute_day(
        organization_id=organization_id,
        day=day,
        start=local_day.start,
        end=local_day.end,
        tracks=tracks,
    )
    of_routes = _vehicle_days_of_routes(organization_id, day)
    settings = selectors.history_settings_get(organization_id=organization_id)
    speeding_kmh = selectors.speeding_threshold_kmh(organization_id=organization_id)
    vehicle_hubs = dict(
        Vehicle.objects.filter(organization_id=organization_id).values_list("pk", "hub_id")
    )
    computed: dict[int, dict[str, Any]] = {}
    for vehicle_id, hub_id in vehicle_hubs.items():
        if with_fixes is not None and vehicle_id not in with_fixes:
            continue
        track = tracks(
            organization_id=organization_id,
            vehicle_id=vehicle_id,
            start=local_day.start,
            end=local_day.end,
        )
        if len(track):
            values = rollup_values(
                track.fixes(), settings, speeding_kmh=speeding_kmh, steps=track.shared_steps
            )
            served = of_routes.get(vehicle_id, {"driver_id": None, "zone_ids": []})
            computed[vehicle_id] = {**values, "hub_id": hub_id, **served}
    return _store(organization_id, day, computed)


def _store(organization_id: int, day: dt.date, computed: dict[int, dict[str, Any]]) -> int:
    now = timezone.now()
    with transaction.atomic():
        rows = DailyVehicleRollup.objects.filter(organization_id=organization_id, day=day)
        rows.exclude(vehicle_id__in=list(computed)).delete()
        # One INSERT ... ON CONFLICT DO UPDATE for the day: a SELECT and an UPDATE per vehicle
        # (update_or_create) were a third of the benchmark's time.
        rows_new = [
            DailyVehicleRollup(
                organization_id=organization_id,
                vehicle_id=vehicle_id,
                day=day,
                computed_at=now,
                **values,
            )
            for vehicle_id, values in computed.items()
        ]
        if rows_new:
            DailyVehicleRollup.objects.bulk_create(
                rows_new,
                update_conflicts=True,
                unique_fields=["organization", "vehicle", "day"],
                update_fields=[*next(iter(computed.values())), "computed_at"],
            )
    return len(computed)


def rollups_are_final(*, organization_id: int, day: dt.date) -> bool:
    """Has this day been rolled up after it ended (so only late fixes could change it)?"""
    require_organization(organization_id)
    organization = Organization.objects.get(pk=organization_id)
    local_day = selectors.LocalDay.of(day, organization.timezone)
    return DailyVehicleRollup.objects.filter(
        organization_id=organization_id, day=day, computed_at__gte=local_day.end
    ).exists()
