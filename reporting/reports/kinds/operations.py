"""The kinds read from orders, routes and alerts: deliveries, plan versus actual and
exceptions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from shapely import Point, prepared
from shapely.ops import unary_union

from alerts.models import Alert
from deliveries.models import DeliveryEvent, OrderStatus, Route, Stop
from fleet.models import Vehicle
from tenancy.context import require_organization

from ... import selectors
from ..definitions import ChartSpec, Column, ColumnKind, Progress, ReportKind, ReportRequest, Row
from ..episodes import polygon_of
from ..sources import period_bounds, report_vehicles, report_zones

TEXT, INTEGER, DECIMAL = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.DECIMAL
DATETIME, DATE = ColumnKind.DATETIME, ColumnKind.DATE
OUTCOMES = (OrderStatus.DELIVERED, OrderStatus.FAILED)


def _minutes_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def _window_verdict(at: dt.datetime, start: dt.datetime | None, end: dt.datetime | None) -> str:
    """Inside its window by the delivery event's own time (never a row's update time)."""
    if start is None and end is None:
        return "no window"
    if start is not None and at < start:
        return "early"
    if end is not None and at > end:
        return "late"
    return "on time"


def _last_stops(organization_id: int, order_ids: Iterable[int]) -> dict[int, Stop]:
    """Each order's latest stop (a re-attempt is a later route's stop), with its route."""
    stops = (
        Stop.objects.filter(organization_id=organization_id, order_id__in=list(order_ids))
        .select_related("route__vehicle", "route__driver")
        .order_by("order_id", "route__date", "pk")
    )
    return {stop.order_id: stop for stop in stops}


def _inside_zones(request: ReportRequest) -> prepared.PreparedGeometry | None:
    if not request.filters.zone_ids:
        return None
    zones = report_zones(organization_id=request.organization_id, filters=request.filters)
    return prepared.prep(unary_union([polygon_of(zone.geometry) for zone in zones]))


def deliveries_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id, filters = request.organization_id, request.filters
    require_organization(organization_id)
    start, end = period_bounds(filters, request.timezone)
    events = DeliveryEvent.objects.filter(
        organization_id=organization_id, to_status__in=OUTCOMES, at__gte=start, at__lt=end
    )
    if filters.hub_ids:
        events = events.filter(order__hub_id__in=filters.hub_ids)
    events_list = list(events.select_related("order__hub", "failure_reason").order_by("at", "pk"))
    progress(0.5)
    stops = _last_stops(organization_id, {event.order_id for event in events_list})
    zones = _inside_zones(request)
    attempts: dict[int, int] = {}
    rows: list[Row] = []
    for event in events_list:
        order = event.order
        attempts[order.pk] = attempts.get(order.pk, 0) + 1
        route = stops[order.pk].route if order.pk in stops else None
        if filters.vehicle_ids and (route is None or route.vehicle_id not in filters.vehicle_ids):
            continue
        if filters.driver_ids and (route is None or route.driver_id not in filters.driver_ids):
            continue
        if zones is not None and not (
            order.latitude is not None
            and order.longitude is not None
            and zones.contains(Point(order.longitude, order.latitude))
        ):
            continue
        rows.append(
            (
                order.reference,
                order.hub.name,
                route.vehicle.plate if route and route.vehicle else "",
                route.driver.name if route and route.driver else "",
                event.get_to_status_display(),
                event.at,
                order.window_start,
                order.window_end,
                _window_verdict(event.at, order.window_start, order.window_end)
                if event.to_status == OrderStatus.DELIVERED
                else "",
                attempts[order.pk],
                event.failure_reason.label if event.failure_reason else "",
            )
        )
    progress(1.0)
    return rows


DELIVERIES = ReportKind(
    key="deliveries",
    title="Deliveries",
    description="Every delivery and failed attempt, with its window and the reason of a failure.",
    columns=(
        Column("order", "Order"),
        Column("hub", "Hub"),
        Column("vehicle", "Vehicle"),
        Column("driver", "Driver"),
        Column("outcome", "Outcome"),
        Column("at", "At", DATETIME),
        Column("window_start", "Window from", DATETIME),
        Column("window_end", "Window to", DATETIME),
        Column("window", "Against the window"),
        Column("attempt", "Attempt in period", INTEGER),
        Column("failure_reason", "Failure reason"),
    ),
    build=deliveries_build,
    chart=ChartSpec("outcome", None, "Deliveries and failed attempts by outcome"),
)


def _route_ids(request: ReportRequest) -> list[int]:
    organization_id, filters = request.organization_id, request.filters
    routes = Route.objects.filter(
        organization_id=organization_id, date__gte=filters.start, date__lte=filters.end
    )
    if filters.hub_ids:
        routes = routes.filter(hub_id__in=filters.hub_ids)
    if filters.vehicle_ids:
        routes = routes.filter(vehicle_id__in=filters.vehicle_ids)
    if filters.driver_ids:
        routes = routes.filter(driver_id__in=filters.driver_ids)
    return list(routes.order_by("date", "pk").values_list("pk", flat=True))


def plan_actual_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id = request.organization_id
    require_organization(organization_id)
    route_ids = _route_ids(request)
    rows: list[Row] = []
    for done, route_id in enumerate(route_ids, start=1):
        route, result = selectors.route_plan_versus_actual(
            organization_id=organization_id, route_id=route_id
        )
        compliance = result.sequence_compliance
        rows.append(
            (
                route.date,
                route.pk,
                route.hub.name,
                route.vehicle.plate if route.vehicle else "",
                route.driver.name if route.driver else "",
                len(result.planned_sequence),
                len(result.driven_sequence),
                None if compliance is None else round(compliance * 100, 1),
                round(result.planned_distance_m / 1000, 2),
                None
                if result.driven_distance_m is None
                else round(result.driven_distance_m / 1000, 2),
                None if result.planned_seconds is None else round(result.planned_seconds / 60, 1),
                None if result.driven_seconds is None else round(result.driven_seconds / 60, 1),
                result.count("on_time"),
                result.count("late"),
                result.count("not_visited"),
            )
        )
        progress(done / len(route_ids))
    progress(1.0)
    return rows


PLAN_ACTUAL = ReportKind(
    key="plan_actual",
    title="Plan versus actual",
    description="Each route's plan against what was driven: sequence, distance, duration, windows.",
    columns=(
        Column("date", "Date", DATE),
        Column("route", "Route", INTEGER),
        Column("hub", "Hub"),
        Column("vehicle", "Vehicle"),
        Column("driver", "Driver"),
        Column("stops_planned", "Stops planned", INTEGER),
        Column("stops_visited", "Stops visited", INTEGER),
        Column("sequence_compliance", "Sequence compliance (%)", DECIMAL),
        Column("planned_km", "Planned (km)", DECIMAL, 2),
        Column("driven_km", "Driven (km)", DECIMAL, 2),
        Column("planned_min", "Planned (min)", DECIMAL),
        Column("driven_min", "Driven (min)", DECIMAL),
        Column("on_time", "On time", INTEGER),
        Column("late", "Late", INTEGER),
        Column("not_visited", "Not visited", INTEGER),
    ),
    build=plan_actual_build,
    chart=ChartSpec("vehicle", "driven_km", "Driven distance by vehicle (km)"),
)


def exceptions_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id, filters = request.organization_id, request.filters
    require_organization(organization_id)
    start, end = period_bounds(filters, request.timezone)
    alerts = Alert.objects.filter(
        organization_id=organization_id, opened_at__gte=start, opened_at__lt=end
    )
    if filters.hub_ids:
        alerts = alerts.filter(hub_id__in=filters.hub_ids)
    if filters.vehicle_ids or filters.driver_ids or filters.zone_ids:
        vehicle_ids = [
            v.pk for v in report_vehicles(organization_id=organization_id, filters=filters)
        ]
        alerts = alerts.filter(vehicle_id__in=vehicle_ids)
    plates = dict(
        Vehicle.objects.filter(organization_id=organization_id).values_list("pk", "plate")
    )
    rows: list[Row] = []
    for alert in alerts.order_by("opened_at", "pk"):
        rows.append(
            (
                alert.opened_at,
                alert.get_kind_display(),
                alert.get_severity_display(),
                alert.title,
                plates.get(alert.vehicle_id or 0, ""),
                alert.get_status_display(),
                alert.acknowledged_at,
                _minutes_between(alert.opened_at, alert.acknowledged_at),
                alert.resolved_at,
                _minutes_between(alert.opened_at, alert.resolved_at),
            )
        )
    progress(1.0)
    return rows


EXCEPTIONS = ReportKind(
    key="exceptions",
    title="Exceptions",
    description="Every alert opened: its kind, severity, and how long until acknowledged and resolved.",
    columns=(
        Column("opened", "Opened", DATETIME),
        Column("kind", "Kind"),
        Column("severity", "Severity"),
        Column("title", "Alert"),
        Column("vehicle", "Vehicle"),
        Column("status", "Status"),
        Column("acknowledged", "Acknowledged", DATETIME),
        Column("minutes_to_acknowledge", "To acknowledge (min)", DECIMAL),
        Column("resolved", "Resolved", DATETIME),
        Column("minutes_to_resolve", "To resolve (min)", DECIMAL),
    ),
    build=exceptions_build,
    chart=ChartSpec("kind", None, "Alerts by kind"),
)
