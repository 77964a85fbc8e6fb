"""Route-day rollups: one row per route of a local day with what the delivery KPIs add up
(docs/reporting.md). `route_rollup_values` is pure (a route's stops, their orders' delivery
events and ETA predictions in, numbers out); `route_rollups_recompute_day` gathers them for
every route of the day and upserts, deleting the rows of routes no longer on that day, so a
recompute leaves the same rows however often it runs.

Times are the delivery events' own (`DeliveryEvent.at`), never a row's update time: a
corrected order is judged by when it was delivered, not by when someone last saved it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from shapely.geometry import Point

from deliveries.models import DeliveryEvent, OrderStatus, Route, Stop
from tenancy.context import require_organization

from .eta_bins import ETA_ERROR_CLIP_MINUTES
from .models import (
    ETA_ERROR_COLUMNS,
    ETA_ERROR_MINUTES,
    DailyEtaErrorHistogram,
    DailyFailureReasonCount,
    DailyRouteRollup,
)
from .plan_actual import StopPlan, plan_versus_actual
from .selectors import TrackReader, history_settings_get, stop_eta_predictions, vehicle_track
from .zones import zone_polygons

ETA_HORIZONS_MINUTES = (60, 30, 10)
OUTCOMES = (OrderStatus.DELIVERED, OrderStatus.FAILED)


@dataclass(frozen=True)
class Outcome:
    """A delivered or failed event of an order."""

    status: str
    at: dt.datetime
    reason_code: str = ""


@dataclass(frozen=True)
class StopFacts:
    plan: StopPlan
    # Every delivered/failed event of the order up to the end of the route's day, oldest first.
    outcomes: tuple[Outcome, ...] = ()
    # (made at, predicted arrival): the ETA predictions of this stop, oldest first.
    predictions: tuple[tuple[dt.datetime, dt.datetime], ...] = field(default_factory=tuple)


def eta_errors(
    predictions: Sequence[tuple[dt.datetime, dt.datetime]], arrival: dt.datetime
) -> dict[str, int]:
    """Predicted minus actual arrival in whole minutes (clipped), per horizon: the last
    prediction made at least `h` minutes before the arrival. A horizon without one is left out."""
    errors: dict[str, int] = {}
    for horizon in ETA_HORIZONS_MINUTES:
        cutoff = arrival - dt.timedelta(minutes=horizon)
        made = [predicted for at, predicted in predictions if at <= cutoff]
        if made:
            minutes = round((made[-1] - arrival).total_seconds() / 60)
            clip = ETA_ERROR_CLIP_MINUTES
            errors[str(horizon)] = max(-clip, min(clip, minutes))
    return errors


def _on_time(at: dt.datetime, plan: StopPlan) -> bool:
    if plan.window_start is not None and at < plan.window_start:
        return False
    return plan.window_end is None or at <= plan.window_end


def route_rollup_values(
    stops: Sequence[StopFacts],
    *,
    hub: tuple[float, float],
    driven_distance_m: float | None,
) -> dict[str, Any]:
    """The route-day's sums. A stop's outcome is its order's last delivered/failed event of
    the day; a first attempt is a stop whose order had no failed event before this one."""
    values: dict[str, Any] = {
        "stops_planned": len(stops),
        "stops_visited": 0,
        "deliveries": 0,
        "failures": 0,
        "delivered_with_window": 0,
        "delivered_on_time": 0,
        "first_attempts": 0,
        "first_attempt_successes": 0,
        "dwell_seconds": 0,
        "dwell_stops": 0,
    }
    reasons: dict[str, int] = defaultdict(int)
    errors: dict[str, dict[str, int]] = {}
    for stop in stops:
        plan = stop.plan
        if plan.actual_arrival is not None:
            values["stops_visited"] += 1
            if plan.actual_departure is not None and plan.actual_departure >= plan.actual_arrival:
                values["dwell_stops"] += 1
                dwell = (plan.actual_departure - plan.actual_arrival).total_seconds()
                values["dwell_seconds"] += round(dwell)
            for horizon, minutes in eta_errors(stop.predictions, plan.actual_arrival).items():
                bucket = errors.setdefault(horizon, {})
                bucket[str(minutes)] = bucket.get(str(minutes), 0) + 1
        if not stop.outcomes:
            continue
        last = stop.outcomes[-1]
        earlier_failures = [o for o in stop.outcomes[:-1] if o.status == OrderStatus.FAILED]
        if not earlier_failures:
            values["first_attempts"] += 1
        if last.status == OrderStatus.DELIVERED:
            values["deliveries"] += 1
            if not earlier_failures:
                values["first_attempt_successes"] += 1
            if plan.window_start is not None or plan.window_end is not None:
                values["delivered_with_window"] += 1
                values["delivered_on_time"] += int(_on_time(last.at, plan))
        else:
            values["failures"] += 1
            reasons[last.reason_code] += 1
    result = plan_versus_actual(
        [s.plan for s in stops], hub=hub, driven_distance_m=driven_distance_m
    )
    arrivals = [s.plan.actual_arrival for s in stops if s.plan.actual_arrival]
    departures = [s.plan.actual_departure for s in stops if s.plan.actual_departure]
    ends = [*arrivals, *departures]
    values["on_route_seconds"] = (
        round((max(ends) - min(arrivals)).total_seconds()) if arrivals else 0
    )
    values.update(
        planned_distance_m=round(result.planned_distance_m, 1) if stops else None,
        actual_distance_m=(
            round(result.driven_distance_m, 1) if result.driven_distance_m is not None else None
        ),
        planned_seconds=round(result.planned_seconds) if result.planned_seconds else None,
        actual_seconds=round(result.driven_seconds) if result.driven_seconds else None,
        sequence_compliance=result.sequence_compliance,
        failures_by_reason=dict(sorted(reasons.items())),
        eta_errors=dict(sorted(errors.items())),
    )
    return values


def _outcomes(
    organization_id: int, order_ids: list[int], until: dt.datetime
) -> dict[int, list[Outcome]]:
    found: dict[int, list[Outcome]] = defaultdict(list)
    events = (
        DeliveryEvent.objects.filter(
            organization_id=organization_id,
            order_id__in=order_ids,
            to_status__in=OUTCOMES,
            at__lt=until,
        )
        .order_by("at", "id")
        .values_list("order_id", "to_status", "at", "failure_reason__code")
    )
    for order_id, status, at, reason in events:
        found[order_id].append(Outcome(status, at, reason or ""))
    return found


def _zones_of(stops: list[Stop], zones: list[tuple[int, Any]]) -> list[int]:
    hit: set[int] = set()
    for stop in stops:
        order = stop.order
        if order.latitude is None or order.longitude is None:
            continue
        point = Point(order.longitude, order.latitude)
        hit.update(zone_id for zone_id, polygon in zones if polygon.covers(point))
    return sorted(hit)


def route_rollups_recompute_day(
    *,
    organization_id: int,
    day: dt.date,
    start: dt.datetime,
    end: dt.datetime,
    tracks: TrackReader = vehicle_track,
) -> int:
    """Recompute the rollup of every route dated `day` (whose local day runs from `start` to
    `end`); returns the rows written. `tracks` reads a vehicle's fixes (the database, or a
    `TracksRead` of several days)."""
    require_organization(organization_id)
    routes = list(
        Route.objects.filter(organization_id=organization_id, date=day).select_related("hub")
    )
    zones = zone_polygons(organization_id=organization_id)
    settings = history_settings_get(organization_id=organization_id)
    computed: dict[int, dict[str, Any]] = {}
    # The day's stops, outcomes and predictions in three queries, not three per route.
    stops_of: dict[int, list[Stop]] = defaultdict(list)
    for stop in (
        Stop.objects.filter(organization_id=organization_id, route__in=[r.pk for r in routes])
        .select_related("order", "route")
        .order_by("route_id", "sequence")
    ):
        stops_of[stop.route_id].append(stop)
    every_stop = [s for route_stops in stops_of.values() for s in route_stops]
    outcomes = _outcomes(organization_id, [s.order_id for s in every_stop], end)
    predictions = stop_eta_predictions(
        organization_id, every_stop, start - dt.timedelta(days=1), end
    )
    for route in routes:
        stops = stops_of.get(route.pk, [])
        facts = [
            StopFacts(
                plan=StopPlan(
                    stop_id=s.pk,
                    sequence=s.sequence,
                    reference=s.order.reference,
                    latitude=s.order.latitude,
                    longitude=s.order.longitude,
                    planned_arrival=s.planned_arrival,
                    eta=s.eta,
                    actual_arrival=s.actual_arrival,
                    actual_departure=s.actual_departure,
                    window_start=s.order.window_start,
                    window_end=s.order.window_end,
                ),
                outcomes=tuple(outcomes.get(s.order_id, ())),
                predictions=tuple(predictions.get(s.pk, ())),
            )
            for s in stops
        ]
        computed[route.pk] = {
            **route_rollup_values(
                facts,
                hub=(route.hub.latitude, route.hub.longitude),
                driven_distance_m=_driven_m(route, stops, settings, tracks),
            ),
            "day": day,
            "hub_id": route.hub_id,
            "vehicle_id": route.vehicle_id,
            "driver_id": route.driver_id,
            "zone_ids": _zones_of(stops, zones),
        }
    return _store(organization_id, day, computed)


def _driven_m(route: Route, stops: list[Stop], settings: Any, tracks: TrackReader) -> float | None:
    arrivals = [s.actual_arrival for s in stops if s.actual_arrival is not None]
    if not route.vehicle_id or len(arrivals) < 2:
        return None
    departures = [s.actual_departure for s in stops if s.actual_departure is not None]
    track = tracks(
        organization_id=route.organization_id,
        vehicle_id=route.vehicle_id,
        start=min(arrivals),
        end=max([*arrivals, *departures]) + dt.timedelta(seconds=1),
    )
    return float(track.summarize(settings).distance_m)


def _store(organization_id: int, day: dt.date, computed: dict[int, dict[str, Any]]) -> int:
    now = timezone.now()
    with transaction.atomic():
        rows = DailyRouteRollup.objects.filter(organization_id=organization_id, day=day)
        rows.exclude(route_id__in=list(computed)).delete()
        rows_new = [
            DailyRouteRollup(
                organization_id=organization_id, route_id=route_id, computed_at=now, **values
            )
            for route_id, values in computed.items()
        ]
        if rows_new:
            DailyRouteRollup.objects.bulk_create(
                rows_new,
                update_conflicts=True,
                unique_fields=["organization", "route"],
                update_fields=[*next(iter(computed.values())), "computed_at"],
            )
        hub_day_histograms_refresh(organization_id=organization_id, day=day)
    return len(computed)


# The day's route rows' JSON histograms, summed per hub and set of zones (reporting.models,
# `_HubDayBin`). Only our own table names are interpolated; values travel as parameters.
_ROUTES = DailyRouteRollup._meta.db_table
_ETA_HISTOGRAMS = DailyEtaErrorHistogram._meta.db_table
_REASON_COUNTS = DailyFailureReasonCount._meta.db_table
# One row per (hub, zones, horizon): each bin column sums that minute's count of every route.
_ETA_HISTOGRAMS_FILL = f"""
    INSERT INTO {_ETA_HISTOGRAMS}
        (organization_id, day, hub_id, zone_ids, horizon_minutes, {", ".join(ETA_ERROR_COLUMNS)})
    SELECT r.organization_id, r.day, r.hub_id, r.zone_ids, h.key::smallint, {
    ", ".join(f"COALESCE(SUM((h.value ->> '{m}')::integer), 0)" for m in ETA_ERROR_MINUTES)
}
    FROM {_ROUTES} r, jsonb_each(r.eta_errors) h
    WHERE r.organization_id = %s AND r.day = %s
    GROUP BY r.organization_id, r.day, r.hub_id, r.zone_ids, h.key
"""  # noqa: S608
_REASON_COUNTS_FILL = f"""
    INSERT INTO {_REASON_COUNTS} (organization_id, day, hub_id, zone_ids, reason_code, failures)
    SELECT r.organization_id, r.day, r.hub_id, r.zone_ids, f.key, SUM(f.value::integer)
    FROM {_ROUTES} r, jsonb_each_text(r.failures_by_reason) f
    WHERE r.organization_id = %s AND r.day = %s
    GROUP BY r.organization_id, r.day, r.hub_id, r.zone_ids, f.key
"""  # noqa: S608


def hub_day_histograms_refresh(*, organization_id: int, day: dt.date) -> None:
    """Rebuild the day's ETA-error histograms and failure-reason counts from its route rollups
    (the rollup pass calls it after writing them): replaced, never added to, so a recompute
    leaves the same rows and the bins always equal the sum of the route rows."""
    require_organization(organization_id)
    with transaction.atomic():
        for model in (DailyEtaErrorHistogram, DailyFailureReasonCount):
            model.objects.filter(organization_id=organization_id, day=day).delete()
        with connection.cursor() as cursor:
            cursor.execute(_ETA_HISTOGRAMS_FILL, [organization_id, day])  # nosec B608
            cursor.execute(_REASON_COUNTS_FILL, [organization_id, day])  # nosec B608
