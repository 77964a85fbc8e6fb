"""Reads for history and reports. Every function takes the organization, checks that the caller
entered its tenant context (`require_organization`) and filters by it; none enters a context."""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection
from django.db.models import QuerySet

from alerts.models import Alert
from deliveries.models import DeliveryEvent, OrderStatus, Route, Stop
from fleet.models import Vehicle
from tenancy.context import require_organization
from tenancy.models import Organization
from tenancy.outbox.models import OutboxEvent

from .models import HistorySettings
from .plan_actual import PlanVersusActual, StopPlan, plan_versus_actual
from .trips import DetectionSettings, Fix, TrackSummary, step_distances, track_summarize

# The delivery events a vehicle's day shows on its timeline.
TIMELINE_STATUSES = (OrderStatus.ARRIVED, OrderStatus.DELIVERED, OrderStatus.FAILED)


@dataclass(frozen=True)
class LocalDay:
    """One calendar day in the organization's zone, as a half-open UTC interval (23 or 25 hours
    long on a DST change)."""

    day: dt.date
    timezone: str
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, day: dt.date, timezone: str) -> LocalDay:
        zone = zoneinfo.ZoneInfo(timezone)
        start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return cls(day, timezone, start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def local_today(organization: Organization) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(organization.timezone)).date()


@dataclass
class TrackColumns:
    """A track as parallel columns (the shape the history page and the exports read)."""

    timestamp: list[float] = field(default_factory=list)
    latitude: list[float] = field(default_factory=list)
    longitude: list[float] = field(default_factory=list)
    speed_kmh: list[float | None] = field(default_factory=list)
    heading: list[float | None] = field(default_factory=list)
    altitude_m: list[float | None] = field(default_factory=list)
    ignition: list[bool | None] = field(default_factory=list)
    # Filled by `TracksRead`, which shares them between the windows of one vehicle's track
    # (the vehicle's day and its routes' windows): not part of the track's value.
    shared_fixes: list[Fix] | None = field(default=None, repr=False, compare=False)
    shared_steps: list[float] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.timestamp)

    def summarize(self, settings: DetectionSettings) -> TrackSummary:
        """`track_summarize` of these fixes (with the step distances when already known)."""
        return track_summarize(self.fixes(), settings, self.shared_steps)

    def fixes(self) -> list[Fix]:
        if self.shared_fixes is not None:
            return self.shared_fixes
        return [
            Fix(t, lat, lon, speed, ignition)
            for t, lat, lon, speed, ignition in zip(
                self.timestamp,
                self.latitude,
                self.longitude,
                self.speed_kmh,
                self.ignition,
                strict=True,
            )
        ]


def history_settings_get(*, organization_id: int) -> DetectionSettings:
    """The organization's trip and stop rules; the defaults until an admin saves some."""
    require_organization(organization_id)
    row = HistorySettings.objects.filter(organization_id=organization_id).first()
    if row is None:
        return DetectionSettings()
    return DetectionSettings(
        min_stop_seconds=row.min_stop_seconds,
        min_trip_distance_m=float(row.min_trip_distance_m),
        min_trip_seconds=row.min_trip_seconds,
        gap_seconds=row.gap_seconds,
        use_ignition=row.use_ignition,
        moving_speed_kmh=row.moving_speed_kmh,
        stop_radius_m=float(row.stop_radius_m),
    )


def speeding_threshold_kmh(*, organization_id: int) -> float:
    require_organization(organization_id)
    row = HistorySettings.objects.filter(organization_id=organization_id).first()
    return row.speeding_kmh if row else HistorySettings._meta.get_field("speeding_kmh").default


def history_vehicle_list(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> QuerySet[Vehicle]:
    """The vehicles a member may replay: the organization's (of `hub_ids` only, when given)."""
    require_organization(organization_id)
    vehicles = Vehicle.objects.filter(organization_id=organization_id).select_related("hub")
    if hub_ids:
        vehicles = vehicles.filter(hub_id__in=hub_ids)
    return vehicles.order_by("plate")


def history_vehicle_get(
    *, organization_id: int, vehicle_id: int, hub_ids: list[int] | None = None
) -> Vehicle:
    """Raises Vehicle.DoesNotExist for a foreign or out-of-scope vehicle."""
    return history_vehicle_list(organization_id=organization_id, hub_ids=hub_ids).get(pk=vehicle_id)


TRACK_COLUMNS_SQL = """
SELECT
    COALESCE(array_agg(EXTRACT(EPOCH FROM fix_time)::float8 ORDER BY fix_time), '{}'),
    COALESCE(array_agg(latitude ORDER BY fix_time), '{}'),
    COALESCE(array_agg(longitude ORDER BY fix_time), '{}'),
    COALESCE(array_agg(speed_kmh ORDER BY fix_time), '{}'),
    COALESCE(array_agg(heading ORDER BY fix_time), '{}'),
    COALESCE(array_agg(altitude_m ORDER BY fix_time), '{}'),
    COALESCE(array_agg(ignition ORDER BY fix_time), '{}')
FROM fleet_position
WHERE organization_id = %s AND vehicle_id = %s AND fix_time >= %s AND fix_time < %s
"""


def vehicle_track(
    *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
) -> TrackColumns:
    """The vehicle's fixes in [start, end), oldest first, as columns.

    One row of seven arrays, built by PostgreSQL: a day of 8,640 fixes through the ORM cost a
    row object and an aware datetime per fix, most of the endpoint's time. The query names the
    organization itself, and row-level security holds under it like under every ORM query."""
    require_organization(organization_id)
    with connection.cursor() as cursor:
        cursor.execute(TRACK_COLUMNS_SQL, [organization_id, vehicle_id, start, end])
        row = cursor.fetchone()
    return TrackColumns(*(list(column) for column in row))


class TrackReader(Protocol):
    """Reads a vehicle's fixes in [start, end): `vehicle_track`, or a `TracksRead`."""

    def __call__(
        self, *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
    ) -> TrackColumns: ...


VEHICLE_TRACKS_SQL = """
SELECT
    vehicle_id,
    array_agg(EXTRACT(EPOCH FROM fix_time)::float8 ORDER BY fix_time),
    array_agg(latitude ORDER BY fix_time),
    array_agg(longitude ORDER BY fix_time),
    array_agg(speed_kmh ORDER BY fix_time),
    array_agg(heading ORDER BY fix_time),
    array_agg(altitude_m ORDER BY fix_time),
    array_agg(ignition ORDER BY fix_time)
FROM fleet_position
WHERE organization_id = %s AND vehicle_id IS NOT NULL AND fix_time >= %s AND fix_time < %s
GROUP BY vehicle_id
"""


class TracksRead:
    """Every vehicle's fixes of a period read in one query, then served like `vehicle_track`
    for any window inside it: the rollup of many days reads the positions once instead of
    once per vehicle, day and route (the same fixes, so the same rollups)."""

    def __init__(self, *, organization_id: int, start: dt.datetime, end: dt.datetime) -> None:
        require_organization(organization_id)
        self.organization_id, self.start, self.end = organization_id, start, end
        with connection.cursor() as cursor:
            cursor.execute(VEHICLE_TRACKS_SQL, [organization_id, start, end])
            self.tracks = {
                row[0]: TrackColumns(*(list(column) for column in row[1:]))
                for row in cursor.fetchall()
            }
        self._built: dict[int, tuple[list[Fix], list[float]]] = {}

    def vehicle_ids(self) -> set[int]:
        return set(self.tracks)

    def __call__(
        self, *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
    ) -> TrackColumns:
        if organization_id != self.organization_id or start < self.start or end > self.end:
            # A route that runs past midnight, say: outside what was read, ask the database.
            return vehicle_track(
                organization_id=organization_id, vehicle_id=vehicle_id, start=start, end=end
            )
        track = self.tracks.get(vehicle_id)
        if track is None:
            return TrackColumns()
        first = bisect.bisect_left(track.timestamp, start.timestamp())
        last = bisect.bisect_left(track.timestamp, end.timestamp())
        fixes, steps = self._fixes_and_steps(vehicle_id, track)
        columns = {name: getattr(track, name)[first:last] for name in TRACK_COLUMN_NAMES}
        return TrackColumns(
            **columns,
            shared_fixes=fixes[first:last],
            # A window's first step is 0 (no fix before it inside the window); the others are
            # the same two fixes' distance as in the whole track.
            shared_steps=[0.0, *steps[first + 1 : last]] if last > first else [],
        )

    def _fixes_and_steps(
        self, vehicle_id: int, track: TrackColumns
    ) -> tuple[list[Fix], list[float]]:
        """The vehicle's `Fix`es and step distances over the whole period, built once."""
        if vehicle_id not in self._built:
            fixes = track.fixes()
            self._built[vehicle_id] = (fixes, step_distances(fixes))
        return self._built[vehicle_id]


TRACK_COLUMN_NAMES = (
    "timestamp", "latitude", "longitude", "speed_kmh", "heading", "altitude_m", "ignition"
)  # fmt: skip


def vehicle_delivery_events(
    *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Arrived, delivered and failed events in [start, end) of the orders on this vehicle's
    routes, with their order and failure reason (one query)."""
    require_organization(organization_id)
    order_ids = Stop.objects.filter(
        organization_id=organization_id, route__vehicle_id=vehicle_id
    ).values("order_id")
    events = (
        DeliveryEvent.objects.filter(
            organization_id=organization_id,
            order_id__in=order_ids,
            to_status__in=TIMELINE_STATUSES,
            at__gte=start,
            at__lt=end,
        )
        .select_related("order", "failure_reason")
        .order_by("at", "id")
    )
    return [
        {
            "timestamp": event.at.timestamp(),
            "kind": event.to_status,
            "order_id": event.order_id,
            "reference": event.order.reference,
            "reason": event.failure_reason.label if event.failure_reason else "",
            "latitude": event.latitude,
            "longitude": event.longitude,
        }
        for event in events
    ]


def vehicle_alerts(
    *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """The alerts about this vehicle opened in [start, end)."""
    require_organization(organization_id)
    alerts = Alert.objects.filter(
        organization_id=organization_id,
        vehicle_id=vehicle_id,
        opened_at__gte=start,
        opened_at__lt=end,
    ).order_by("opened_at", "id")
    return [
        {
            "timestamp": alert.opened_at.timestamp(),
            "kind": "alert",
            "alert_id": alert.pk,
            "title": alert.title,
            "severity": alert.get_severity_display(),
            "latitude": alert.latitude,
            "longitude": alert.longitude,
        }
        for alert in alerts
    ]


def stop_eta_predictions(
    organization_id: int, stops: list[Stop], since: dt.datetime, until: dt.datetime
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """A stop's ETA predictions: its planned arrival (made when the route was dispatched or
    created) and every `order.eta_changed` event of its order until the end of the day."""
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    by_order: dict[int, list[Stop]] = defaultdict(list)
    for stop in stops:
        by_order[stop.order_id].append(stop)
    for stop in stops:
        if stop.planned_arrival is not None:
            made = stop.route.dispatched_at or stop.route.created_at
            found[stop.pk].append((made, stop.planned_arrival))
    events = OutboxEvent.objects.filter(
        organization_id=organization_id,
        kind="order.eta_changed",
        aggregate="order",
        aggregate_id__in=list(by_order),
        occurred_at__gte=since,
        occurred_at__lt=until,
    ).values_list("aggregate_id", "occurred_at", "payload")
    for order_id, occurred_at, payload in events:
        eta = (payload.get("order") or {}).get("eta")
        if eta:
            for target in by_order.get(order_id, []):
                found[target.pk].append((occurred_at, dt.datetime.fromisoformat(eta)))
    for predictions in found.values():
        predictions.sort()
    return found


def route_eta_history(
    *, organization_id: int, route: Route, timezone: str
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Every ETA prediction of the route's stops `{stop id: [(made_at, predicted), ...]}`,
    from the day before the route's local day (a plan made the evening before) to its end."""
    day = LocalDay.of(route.date, timezone)
    stops = list(
        Stop.objects.filter(organization_id=organization_id, route_id=route.pk).select_related(
            "route"
        )
    )
    return stop_eta_predictions(organization_id, stops, day.start - dt.timedelta(days=1), day.end)


def vehicle_day_routes(*, organization_id: int, vehicle_id: int, day: dt.date) -> list[Route]:
    """The routes the vehicle drove (or was to drive) on `day`, for links to their plan
    versus actual."""
    require_organization(organization_id)
    return list(
        Route.objects.filter(organization_id=organization_id, vehicle_id=vehicle_id, date=day)
        .select_related("hub")
        .order_by("pk")
    )


def route_plan_versus_actual(
    *, organization_id: int, route_id: int, hub_ids: list[int] | None = None
) -> tuple[Route, PlanVersusActual]:
    """A route (raises Route.DoesNotExist when foreign or outside `hub_ids`) and its plan
    against what was driven."""
    require_organization(organization_id)
    routes = Route.objects.filter(organization_id=organization_id).select_related(
        "hub", "vehicle", "driver"
    )
    if hub_ids:
        routes = routes.filter(hub_id__in=hub_ids)
    route = routes.get(pk=route_id)
    stops = [
        StopPlan(
            stop_id=stop.pk,
            sequence=stop.sequence,
            reference=stop.order.reference,
            latitude=stop.order.latitude,
            longitude=stop.order.longitude,
            planned_arrival=stop.planned_arrival,
            eta=stop.eta,
            actual_arrival=stop.actual_arrival,
            actual_departure=stop.actual_departure,
            window_start=stop.order.window_start,
            window_end=stop.order.window_end,
        )
        for stop in Stop.objects.filter(organization_id=organization_id, route_id=route.pk)
        .select_related("order")
        .order_by("sequence")
    ]
    arrivals = [s.actual_arrival for s in stops if s.actual_arrival is not None]
    departures = [s.actual_departure for s in stops if s.actual_departure is not None]
    driven_distance = None
    if route.vehicle_id and len(arrivals) >= 2:
        track = vehicle_track(
            organization_id=organization_id,
            vehicle_id=route.vehicle_id,
            start=min(arrivals),
            end=max([*arrivals, *departures]) + dt.timedelta(seconds=1),
        )
        settings = history_settings_get(organization_id=organization_id)
        driven_distance = track_summarize(track.fixes(), settings).distance_m
    result = plan_versus_actual(
        stops, hub=(route.hub.latitude, route.hub.longitude), driven_distance_m=driven_distance
    )
    return route, result
