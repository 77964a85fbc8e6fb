"""The rows the KPIs are added up from, read with the slice's filters: one `Fact` per
vehicle-day rollup, per route-day rollup and per alert opened in the period. Each names its
local day, vehicle, driver and hub, so any grouping is a dictionary away."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from alerts.models import Alert
from deliveries.models import FailureReason, Route
from fleet.models import Driver, Hub, Vehicle
from tenancy.context import require_organization
from tenancy.models import Organization

from ..models import DailyRouteRollup, DailyVehicleRollup, HistorySettings
from ..selectors import LocalDay
from .figures import CostParameters, KpiTotals
from .filters import KpiFilters


@dataclass(frozen=True)
class Fact:
    day: dt.date
    vehicle_id: int | None
    driver_id: int | None
    hub_id: int | None
    totals: KpiTotals


def organization_timezone(*, organization_id: int) -> str:
    return str(Organization.objects.values_list("timezone", flat=True).get(pk=organization_id))


def cost_parameters_get(*, organization_id: int) -> CostParameters:
    require_organization(organization_id)
    organization = Organization.objects.get(pk=organization_id)
    settings = HistorySettings.objects.filter(organization_id=organization_id).first()
    defaults = CostParameters()
    return CostParameters(
        currency=organization.currency,
        cost_per_km=organization.vehicle_cost_per_km,
        cost_per_hour=organization.driver_cost_per_hour,
        idle_fuel_litres_per_hour=(
            settings.idle_fuel_litres_per_hour if settings else defaults.idle_fuel_litres_per_hour
        ),
        fuel_price_per_litre=(
            settings.fuel_price_per_litre if settings else defaults.fuel_price_per_litre
        ),
    )


def _entity_filters(rows: QuerySet[Any], filters: KpiFilters) -> QuerySet[Any]:
    """Rollup rows carry their hub, vehicle, drivers and zones as of the day they describe, so
    a vehicle that moved hubs later still counts for the hub it served then."""
    if filters.hub_ids:
        rows = rows.filter(hub_id__in=filters.hub_ids)
    if filters.vehicle_ids:
        rows = rows.filter(vehicle_id__in=filters.vehicle_ids)
    if filters.driver_ids:
        rows = rows.filter(driver_id__in=filters.driver_ids)
    if filters.zone_ids:
        rows = rows.filter(zone_ids__overlap=list(filters.zone_ids))
    return rows


def vehicle_facts(*, organization_id: int, filters: KpiFilters) -> list[Fact]:
    rows = _entity_filters(
        DailyVehicleRollup.objects.filter(
            organization_id=organization_id, day__gte=filters.start, day__lte=filters.end
        ),
        filters,
    ).values_list(
        "day",
        "vehicle_id",
        "driver_id",
        "hub_id",
        "distance_m",
        "moving_seconds",
        "idle_seconds",
        "stopped_seconds",
        "shift_seconds",
        "speeding_events",
    )
    return [
        Fact(
            day,
            vehicle_id,
            driver_id,
            hub_id,
            KpiTotals(
                vehicle_days=1,
                distance_m=distance,
                moving_seconds=moving,
                idle_seconds=idle,
                stopped_seconds=stopped,
                shift_seconds=shift,
                speeding_events=speeding,
            ),
        )
        for day, vehicle_id, driver_id, hub_id, distance, moving, idle, stopped, shift, speeding in (
            rows
        )
    ]


ROUTE_FIELDS = (
    "stops_planned",
    "stops_visited",
    "deliveries",
    "failures",
    "delivered_with_window",
    "delivered_on_time",
    "first_attempts",
    "first_attempt_successes",
    "dwell_seconds",
    "dwell_stops",
    "on_route_seconds",
)


def route_facts(*, organization_id: int, filters: KpiFilters) -> list[Fact]:
    rows = _entity_filters(
        DailyRouteRollup.objects.filter(
            organization_id=organization_id, day__gte=filters.start, day__lte=filters.end
        ),
        filters,
    ).values(
        "day",
        "vehicle_id",
        "driver_id",
        "hub_id",
        *ROUTE_FIELDS,
        "planned_distance_m",
        "actual_distance_m",
        "planned_seconds",
        "actual_seconds",
        "failures_by_reason",
        "eta_errors",
    )
    result = []
    for row in rows:
        compared = row["planned_distance_m"] is not None and row["actual_distance_m"] is not None
        timed = row["planned_seconds"] is not None and row["actual_seconds"] is not None
        totals = KpiTotals(
            routes=1,
            **{name: row[name] for name in ROUTE_FIELDS},
            compared_routes=1 if compared or timed else 0,
            planned_distance_m=row["planned_distance_m"] if compared else 0.0,
            actual_distance_m=row["actual_distance_m"] if compared else 0.0,
            planned_seconds=row["planned_seconds"] if timed else 0,
            actual_seconds=row["actual_seconds"] if timed else 0,
            failures_by_reason=row["failures_by_reason"],
            eta_errors=row["eta_errors"],
        )
        result.append(Fact(row["day"], row["vehicle_id"], row["driver_id"], row["hub_id"], totals))
    return result


def alert_facts(*, organization_id: int, filters: KpiFilters, timezone: str) -> list[Fact]:
    """Alerts are read from the alerts table, not rolled up: they are acknowledged and resolved
    long after the day they opened, and one indexed range read per period is cheap."""
    start = LocalDay.of(filters.start, timezone).start
    end = LocalDay.of(filters.end, timezone).end
    alerts = Alert.objects.filter(
        organization_id=organization_id, opened_at__gte=start, opened_at__lt=end
    )
    if filters.hub_ids:
        alerts = alerts.filter(hub_id__in=filters.hub_ids)
    if filters.vehicle_ids:
        alerts = alerts.filter(vehicle_id__in=filters.vehicle_ids)
    routes = Route.objects.filter(organization_id=organization_id)
    if filters.driver_ids:
        alerts = alerts.filter(
            route_id__in=routes.filter(driver_id__in=filters.driver_ids).values("pk")
        )
    if filters.zone_ids:
        # An alert belongs to a zone's slice when its vehicle served the zone that day.
        served = DailyVehicleRollup.objects.filter(
            organization_id=organization_id,
            day__gte=filters.start,
            day__lte=filters.end,
            zone_ids__overlap=list(filters.zone_ids),
        ).values("vehicle_id")
        alerts = alerts.filter(Q(vehicle_id__in=served))
    rows = list(
        alerts.values_list(
            "opened_at", "acknowledged_at", "resolved_at", "vehicle_id", "hub_id", "route_id"
        )
    )
    route_drivers = dict(
        routes.filter(pk__in={r[5] for r in rows if r[5]}).values_list("pk", "driver_id")
    )
    zone = zoneinfo.ZoneInfo(timezone)
    result = []
    for opened, acknowledged, resolved, vehicle_id, hub_id, route_id in rows:
        totals = KpiTotals(
            alerts=1,
            alerts_acknowledged=1 if acknowledged else 0,
            acknowledge_seconds=(acknowledged - opened).total_seconds() if acknowledged else 0.0,
            alerts_resolved=1 if resolved else 0,
            resolve_seconds=(resolved - opened).total_seconds() if resolved else 0.0,
        )
        driver_id = route_drivers.get(route_id) if route_id else None
        result.append(Fact(opened.astimezone(zone).date(), vehicle_id, driver_id, hub_id, totals))
    return result


def facts_load(*, organization_id: int, filters: KpiFilters) -> list[Fact]:
    require_organization(organization_id)
    timezone = organization_timezone(organization_id=organization_id)
    return [
        *vehicle_facts(organization_id=organization_id, filters=filters),
        *route_facts(organization_id=organization_id, filters=filters),
        *alert_facts(organization_id=organization_id, filters=filters, timezone=timezone),
    ]


def failure_reason_labels(*, organization_id: int) -> dict[str, str]:
    require_organization(organization_id)
    return dict(
        FailureReason.objects.filter(organization_id=organization_id).values_list("code", "label")
    )


def entity_labels(*, organization_id: int, by: str, ids: list[int]) -> dict[int, str]:
    require_organization(organization_id)
    if by == "vehicle":
        query = Vehicle.objects.filter(organization_id=organization_id, pk__in=ids)
        return dict(query.values_list("pk", "plate"))
    if by == "driver":
        query = Driver.objects.filter(organization_id=organization_id, pk__in=ids)
        return dict(query.values_list("pk", "name"))
    query = Hub.objects.filter(organization_id=organization_id, pk__in=ids)
    return dict(query.values_list("pk", "name"))


__all__ = ["Decimal", "Fact", "facts_load"]
