"""The rows the KPIs are added up from, read with the slice's filters: one `Fact` per
vehicle-day rollup, per route-day rollup and per alert opened in the period. Each names its
local day, vehicle, driver and hub, so any grouping is a dictionary away."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from alerts.models import Alert
from deliveries.models import FailureReason, Route
from fleet.models import Driver, Hub, Vehicle
from tenancy.context import require_organization
from tenancy.models import Organization

from ..models import (
    ETA_ERROR_COLUMNS,
    ETA_ERROR_MINUTES,
    ROUTE_KPI_SUMS,
    VEHICLE_KPI_SUMS,
    DailyEtaErrorHistogram,
    DailyFailureReasonCount,
    DailyRouteRollup,
    DailyVehicleRollup,
    HistorySettings,
)
from ..selectors import LocalDay
from .figures import CostParameters, KpiTotals
from .filters import KpiFilters


@dataclass(frozen=True)
class Fact:
    day: dt.date | None  # None when not grouped by day
    vehicle_id: int | None
    driver_id: int | None
    hub_id: int | None
    totals: KpiTotals


@dataclass(frozen=True)
class KpiSettings:
    """What every KPI read needs of the organization: its time zone (local days) and costs."""

    timezone: str
    costs: CostParameters


def kpi_settings_get(*, organization_id: int) -> KpiSettings:
    """The organization and its history settings' cost fields in one query (each dashboard
    read needs them; they were three queries a read)."""
    require_organization(organization_id)
    settings = HistorySettings.objects.filter(organization_id=OuterRef("pk"))
    organization = (
        Organization.objects.filter(pk=organization_id)
        .annotate(
            idle_fuel=Subquery(settings.values("idle_fuel_litres_per_hour")[:1]),
            fuel_price=Subquery(settings.values("fuel_price_per_litre")[:1]),
        )
        .get()
    )
    defaults = CostParameters()
    costs = CostParameters(
        currency=organization.currency,
        cost_per_km=organization.vehicle_cost_per_km,
        cost_per_hour=organization.driver_cost_per_hour,
        idle_fuel_litres_per_hour=(
            defaults.idle_fuel_litres_per_hour
            if organization.idle_fuel is None
            else organization.idle_fuel
        ),
        fuel_price_per_litre=(
            defaults.fuel_price_per_litre
            if organization.fuel_price is None
            else organization.fuel_price
        ),
    )
    return KpiSettings(str(organization.timezone), costs)


def _period(model: Any, organization_id: int, filters: KpiFilters) -> QuerySet[Any]:
    return model.objects.filter(
        organization_id=organization_id, day__gte=filters.start, day__lte=filters.end
    )


def _entity_filters(rows: QuerySet[Any], filters: KpiFilters) -> QuerySet[Any]:
    """Rollup rows carry their hub, vehicle, drivers and zones as of the day they describe, so
    a vehicle that moved hubs later still counts for the hub it served then. (The hub-day
    bins have no vehicle or driver: they are read only without those filters.)"""
    if filters.hub_ids:
        rows = rows.filter(hub_id__in=filters.hub_ids)
    if filters.vehicle_ids:
        rows = rows.filter(vehicle_id__in=filters.vehicle_ids)
    if filters.driver_ids:
        rows = rows.filter(driver_id__in=filters.driver_ids)
    if filters.zone_ids:
        rows = rows.filter(zone_ids__overlap=list(filters.zone_ids))
    return rows


GROUP_FIELDS = ("day", "vehicle_id", "driver_id", "hub_id")


def _slice_where(organization_id: int, filters: KpiFilters) -> tuple[str, list[Any]]:
    """The slice's conditions on a rollup table as SQL (those of `_period` and
    `_entity_filters`); only the filters the slice has, so a bin table without vehicle and
    driver columns is read with this too when the slice names none."""
    where = ["organization_id = %s", "day >= %s", "day <= %s"]
    params: list[Any] = [organization_id, filters.start, filters.end]
    for column, ids in (
        ("hub_id", filters.hub_ids),
        ("vehicle_id", filters.vehicle_ids),
        ("driver_id", filters.driver_ids),
    ):
        if ids:
            where.append(f"{column} = ANY(%s)")
            params.append(list(ids))
    if filters.zone_ids:
        where.append("zone_ids && %s::bigint[]")
        params.append(list(filters.zone_ids))
    return " AND ".join(where), params


def _sums(
    model: Any,
    organization_id: int,
    filters: KpiFilters,
    group: tuple[str, ...],
    aggregates: dict[str, str],
) -> list[dict[str, Any]]:
    """`aggregates` (SQL expressions by name) of the slice's rows per `group`; with no group,
    one row of totals. A plain statement: building and reading it through the ORM took about
    as long as PostgreSQL's aggregate itself (~3 ms a query on a 200-van month)."""
    require_organization(organization_id)
    unknown = set(group) - set(GROUP_FIELDS)
    if unknown:
        raise ValueError(f"group by {sorted(unknown)}: some of {', '.join(GROUP_FIELDS)}")
    where, params = _slice_where(organization_id, filters)
    columns = [*group, *(f"{expression} AS {name}" for name, expression in aggregates.items())]
    sql = f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WHERE {where}"  # noqa: S608
    if group:
        sql += f" GROUP BY {', '.join(group)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # nosec B608: names are ours, values are parameters
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _fact(row: dict[str, Any], totals: KpiTotals) -> Fact:
    """A fact of a group: the fields it was not grouped by are None."""
    return Fact(
        row.get("day"), row.get("vehicle_id"), row.get("driver_id"), row.get("hub_id"), totals
    )


_VEHICLE_SUMS = {"vehicle_days": "COUNT(*)", **{f"sum_{n}": f"SUM({n})" for n in VEHICLE_KPI_SUMS}}


def vehicle_facts(
    *, organization_id: int, filters: KpiFilters, group: tuple[str, ...] = GROUP_FIELDS
) -> list[Fact]:
    """The vehicle-day rollups of the slice, summed in the database per (day, vehicle, driver,
    hub): the dashboard's time stays that of one indexed aggregate however long the period."""
    rows = _sums(DailyVehicleRollup, organization_id, filters, group, _VEHICLE_SUMS)
    result = []
    for row in rows:
        sums: dict[str, Any] = {n: row[f"sum_{n}"] or 0 for n in VEHICLE_KPI_SUMS}
        if row["vehicle_days"]:
            result.append(_fact(row, KpiTotals(vehicle_days=row["vehicle_days"], **sums)))
    return result


@dataclass(frozen=True)
class Histograms:
    """A slice's failures by reason ({code: n}, "" for no reason) and ETA errors
    ({"60": {"<minutes>": n}, ...}): not additive facts, read once for a summary."""

    failures_by_reason: dict[str, int]
    eta_errors: dict[str, dict[str, int]]


def histograms_load(*, organization_id: int, filters: KpiFilters) -> Histograms:
    """Without a vehicle or driver filter, the per-day hub histograms (reporting.models.
    _HubDayBin: a few hundred rows for a 30-day fleet, however many vans); with one, the JSON
    of that slice's route rows, which are as few as the vehicles and drivers asked for."""
    require_organization(organization_id)
    if filters.vehicle_ids or filters.driver_ids:
        return _route_histograms(organization_id, filters)
    counts = _entity_filters(_period(DailyFailureReasonCount, organization_id, filters), filters)
    errors: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(*_eta_histograms_sql(organization_id, filters))  # nosec B608
        for horizon, *bins in cursor.fetchall():
            found = zip(ETA_ERROR_MINUTES, bins, strict=True)
            errors[str(horizon)] = {str(m): int(n) for m, n in found if n}
    reasons = dict(
        counts.values_list("reason_code")
        .annotate(n=Sum("failures"))
        .order_by()
        .values_list("reason_code", "n")
    )
    return Histograms(reasons, errors)


_ETA_HISTOGRAMS_SUM = (
    f"SELECT horizon_minutes, {', '.join(f'SUM({c})' for c in ETA_ERROR_COLUMNS)} "  # noqa: S608
    f"FROM {DailyEtaErrorHistogram._meta.db_table} "
    "WHERE {where} GROUP BY horizon_minutes"
)


def _eta_histograms_sql(organization_id: int, filters: KpiFilters) -> tuple[str, list[Any]]:
    """The 121 bin sums as one plain statement, written once: the ORM spent ~25 ms building
    121 `Sum` expressions per call, five times the query itself. (Read without a vehicle or
    driver filter only: the bins have no such columns.)"""
    where, params = _slice_where(organization_id, filters)
    return _ETA_HISTOGRAMS_SUM.format(where=where), params


def _route_histograms(organization_id: int, filters: KpiFilters) -> Histograms:
    """The route rows' JSON histograms summed by PostgreSQL (jsonb_each)."""
    rows = _entity_filters(_period(DailyRouteRollup, organization_id, filters), filters)
    ids_sql, params = rows.values("id").query.sql_with_params()
    table = DailyRouteRollup._meta.db_table  # only our own table name is interpolated
    reasons_sql = (
        "SELECT f.key, SUM(f.value::bigint) "  # noqa: S608
        f"FROM {table} r, jsonb_each_text(r.failures_by_reason) f "
        f"WHERE r.id IN ({ids_sql}) GROUP BY f.key"
    )
    errors_sql = (
        "SELECT h.key, m.key, SUM(m.value::bigint) "  # noqa: S608
        f"FROM {table} r, jsonb_each(r.eta_errors) h, jsonb_each_text(h.value) m "
        f"WHERE r.id IN ({ids_sql}) GROUP BY h.key, m.key"
    )
    errors: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(reasons_sql, params)  # nosec B608: the name is ours, values are params
        reasons = {code: int(n) for code, n in cursor.fetchall()}
        cursor.execute(errors_sql, params)  # nosec B608
        for horizon, minutes, n in cursor.fetchall():
            errors.setdefault(horizon, {})[minutes] = int(n)
    return Histograms(reasons, errors)


# Plan against actual counts the routes where both sides of distance or of duration are known.
_DISTANCES = "planned_distance_m IS NOT NULL AND actual_distance_m IS NOT NULL"
_DURATIONS = "planned_seconds IS NOT NULL AND actual_seconds IS NOT NULL"
_ROUTE_SUMS = {
    "routes": "COUNT(*)",
    "compared_routes": f"COUNT(*) FILTER (WHERE ({_DISTANCES}) OR ({_DURATIONS}))",
    "sum_planned_distance_m": f"SUM(planned_distance_m) FILTER (WHERE {_DISTANCES})",
    "sum_actual_distance_m": f"SUM(actual_distance_m) FILTER (WHERE {_DISTANCES})",
    "sum_planned_seconds": f"SUM(planned_seconds) FILTER (WHERE {_DURATIONS})",
    "sum_actual_seconds": f"SUM(actual_seconds) FILTER (WHERE {_DURATIONS})",
    **{f"sum_{n}": f"SUM({n})" for n in ROUTE_KPI_SUMS},
}


def route_facts(
    *, organization_id: int, filters: KpiFilters, group: tuple[str, ...] = GROUP_FIELDS
) -> list[Fact]:
    sums = _sums(DailyRouteRollup, organization_id, filters, group, _ROUTE_SUMS)
    result = []
    for row in sums:
        if not row["routes"]:
            continue
        counts: dict[str, Any] = {n: row[f"sum_{n}"] or 0 for n in ROUTE_KPI_SUMS}
        totals = KpiTotals(
            routes=row["routes"],
            **counts,
            compared_routes=row["compared_routes"],
            planned_distance_m=row["sum_planned_distance_m"] or 0.0,
            actual_distance_m=row["sum_actual_distance_m"] or 0.0,
            planned_seconds=row["sum_planned_seconds"] or 0,
            actual_seconds=row["sum_actual_seconds"] or 0,
        )
        result.append(_fact(row, totals))
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
    # The route's driver comes along in the same query (alerts keep a plain route id).
    driver = routes.filter(pk=OuterRef("route_id")).values("driver_id")[:1]
    rows = alerts.annotate(route_driver_id=Subquery(driver)).values_list(
        "opened_at", "acknowledged_at", "resolved_at", "vehicle_id", "hub_id", "route_driver_id"
    )
    zone = zoneinfo.ZoneInfo(timezone)
    result = []
    for opened, acknowledged, resolved, vehicle_id, hub_id, driver_id in rows:
        totals = KpiTotals(
            alerts=1,
            alerts_acknowledged=1 if acknowledged else 0,
            acknowledge_seconds=(acknowledged - opened).total_seconds() if acknowledged else 0.0,
            alerts_resolved=1 if resolved else 0,
            resolve_seconds=(resolved - opened).total_seconds() if resolved else 0.0,
        )
        result.append(Fact(opened.astimezone(zone).date(), vehicle_id, driver_id, hub_id, totals))
    return result


def periods_alert_facts(
    *, organization_id: int, periods: tuple[KpiFilters, ...], timezone: str
) -> list[Fact]:
    """The alerts of adjacent periods (oldest first, the same entity filters: a dashboard's
    period and the one before it) in one read of their span. A zone slice keeps the alerts of
    the vehicles that served the zone in each period, so it reads each period on its own."""
    if periods[0].zone_ids:
        return [
            fact
            for period in periods
            for fact in alert_facts(
                organization_id=organization_id, filters=period, timezone=timezone
            )
        ]
    span = dataclasses.replace(periods[-1], start=periods[0].start)
    return alert_facts(organization_id=organization_id, filters=span, timezone=timezone)


def facts_load(
    *,
    organization_id: int,
    filters: KpiFilters,
    timezone: str,
    group: tuple[str, ...] = GROUP_FIELDS,
) -> list[Fact]:
    """The slice's facts summed per `group` (a subset of day, vehicle_id, driver_id, hub_id;
    () for one total) for the rollups; alerts come one per alert (few, and their day and
    driver are derived)."""
    return [
        *rollup_facts(organization_id=organization_id, filters=filters, group=group),
        *alert_facts(organization_id=organization_id, filters=filters, timezone=timezone),
    ]


def rollup_facts(
    *, organization_id: int, filters: KpiFilters, group: tuple[str, ...] = GROUP_FIELDS
) -> list[Fact]:
    """The vehicle-day and route-day rollups of the slice summed per `group` (no alerts)."""
    require_organization(organization_id)
    return [
        *vehicle_facts(organization_id=organization_id, filters=filters, group=group),
        *route_facts(organization_id=organization_id, filters=filters, group=group),
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


__all__ = ["Decimal", "Fact", "Histograms", "KpiSettings", "facts_load", "histograms_load"]
