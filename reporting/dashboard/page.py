"""The dashboard's content for one KPI slice: tiles, chart series, worst offenders and the
drill-down links behind every number. It reads the KPI interface (reporting.kpis.summary,
`kpi_dashboard`: the same figures as its summary, daily and breakdown functions, in one read
per kind of fact) and only arranges and words what that returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from ..kpis.filters import KpiFilters
from ..kpis.summary import KpiDay, KpiRanking, KpiRow, KpiSummary, Worst, kpi_dashboard
from .tiles import RANKABLE, TILE_BY_FIGURE, TILES, Change, TileSpec, change_of, figure_text

OFFENDERS_SHOWN = 8


@dataclass(frozen=True)
class Tile:
    spec: TileSpec
    value_text: str
    value: float | None
    previous_text: str
    change: Change | None
    detail: str  # numerator / denominator in words, when the figure is a ratio
    orders_url: str
    ranked: bool  # the offender tables are ranked by this figure
    rank_url: str  # the dashboard with the offender tables ranked by this figure ("" if not)


@dataclass(frozen=True)
class OffenderRow:
    key: str
    label: str
    ranked_text: str
    deliveries_text: str
    on_time_text: str
    failures_text: str
    idle_text: str
    focus_url: str  # the dashboard narrowed to this vehicle, driver or day
    orders_url: str  # the orders behind the row
    history_url: str  # a day's row of one vehicle: its track; else ""


@dataclass(frozen=True)
class OffenderTable:
    by: str
    title: str
    rows: list[OffenderRow]
    total: int  # entities with a value for the ranked figure


@dataclass(frozen=True)
class DashboardPage:
    filters: KpiFilters
    summary: KpiSummary
    tiles: list[Tile]
    offenders: list[OffenderTable]
    chart_data: dict[str, Any]
    rank: str
    rank_label: str
    has_data: bool
    reasons: list[dict[str, Any]]
    eta_rows: list[dict[str, Any]]


def _slice_query(filters: KpiFilters, **override: Any) -> dict[str, Any]:
    query: dict[str, Any] = {
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "hub": list(filters.hub_ids),
        "zone": list(filters.zone_ids),
        "vehicle": list(filters.vehicle_ids),
        "driver": list(filters.driver_ids),
    }
    query.update(override)
    return {k: v for k, v in query.items() if v not in ((), [], "", None)}


def dashboard_url(filters: KpiFilters, **override: Any) -> str:
    return f"{reverse('console:dashboards')}?{urlencode(_slice_query(filters, **override), doseq=True)}"


def orders_url(
    filters: KpiFilters,
    *,
    status: str = "",
    vehicle: int | None = None,
    driver: int | None = None,
    day: dt.date | None = None,
) -> str:
    """The order list narrowed like the slice: route days, and a hub, zone, vehicle or driver
    when the slice names exactly one (the list filters by one of each). A zone keeps the
    orders inside its polygon; the tiles count the routes that served it (docs/reporting.md)."""
    start, end = (day, day) if day else (filters.start, filters.end)
    query: dict[str, Any] = {"route_from": start.isoformat(), "route_to": end.isoformat()}
    if status:
        query["status"] = status
    one_of = {
        "hub": filters.hub_ids,
        "zone": filters.zone_ids,
        "vehicle": (vehicle,) if vehicle else filters.vehicle_ids,
        "driver": (driver,) if driver else filters.driver_ids,
    }
    for name, ids in one_of.items():
        if len(ids) == 1:
            query[name] = ids[0]
    return f"{reverse('console:orders')}?{urlencode(query)}"


def _detail(figure: Any, spec: TileSpec) -> str:
    if not spec.of_counts or figure.value is None or figure.denominator is None:
        return ""
    return f"{figure.numerator:,.0f} of {figure.denominator:,.0f}".replace(",", "\u202f")


def _tiles(summary: KpiSummary, rank: str) -> list[Tile]:
    tiles = []
    for spec in TILES:
        figure = getattr(summary.figures, spec.figure)
        previous = getattr(summary.previous, spec.figure)
        tiles.append(
            Tile(
                spec=spec,
                value_text=figure_text(figure.value, figure.unit, spec.style),
                value=figure.value,
                previous_text=figure_text(previous.value, previous.unit, spec.style),
                change=change_of(figure.value, previous.value, figure.unit, spec.better),
                detail=_detail(figure, spec),
                orders_url=orders_url(summary.filters, status=spec.order_status),
                ranked=spec.figure == rank,
                rank_url=(
                    dashboard_url(summary.filters, rank=spec.figure)
                    if spec.figure in RANKABLE
                    else ""
                ),
            )
        )
    return tiles


def _text(row_figures: Any, name: str) -> str:
    figure = getattr(row_figures, name)
    spec = TILE_BY_FIGURE.get(name)
    return figure_text(figure.value, figure.unit, spec.style if spec else "")


def _offender_row(filters: KpiFilters, row: KpiRow, rank: str) -> OffenderRow:
    if row.by == "day":
        day = dt.date.fromisoformat(row.key)
        focus = dashboard_url(filters, start=row.key, end=row.key, rank=rank)
        orders = orders_url(filters, day=day)
        history = (
            reverse(
                "history:vehicle_day", kwargs={"vehicle_id": filters.vehicle_ids[0], "day": day}
            )
            if len(filters.vehicle_ids) == 1
            else ""
        )
    else:
        entity = int(row.key)
        focus = dashboard_url(filters, rank=rank, **{row.by: [entity]})
        orders = orders_url(
            filters,
            vehicle=entity if row.by == "vehicle" else None,
            driver=entity if row.by == "driver" else None,
        )
        history = ""
    label = (
        dt.date.fromisoformat(row.key).strftime("%a %-d %b %Y") if row.by == "day" else row.label
    )
    return OffenderRow(
        key=row.key,
        label=label,
        ranked_text=_text(row.figures, rank),
        deliveries_text=_text(row.figures, "deliveries"),
        on_time_text=_text(row.figures, "on_time_rate"),
        failures_text=_text(row.figures, "failures"),
        idle_text=_text(row.figures, "idle_seconds"),
        focus_url=focus,
        orders_url=orders,
        history_url=history,
    )


def _offenders(
    filters: KpiFilters, tables: dict[str, KpiRanking], rank: str
) -> list[OffenderTable]:
    titles = {"vehicle": "Vehicles", "driver": "Drivers", "day": "Days"}
    return [
        OffenderTable(
            by=by,
            title=titles[by],
            rows=[_offender_row(filters, row, rank) for row in ranking.rows],
            total=ranking.total,
        )
        for by, ranking in tables.items()
    ]


def _value(figure: Any, scale: float = 1.0, digits: int = 2) -> float | None:
    return None if figure.value is None else round(figure.value * scale, digits)


def _chart_data(summary: KpiSummary, days: list[KpiDay]) -> dict[str, Any]:
    """The trend charts' series (json_script): one entry per local day."""
    return {
        "timezone": summary.timezone,
        "days": [d.day.isoformat() for d in days],
        "dayUrls": [
            dashboard_url(summary.filters, start=d.day.isoformat(), end=d.day.isoformat())
            for d in days
        ],
        "deliveries": [_value(d.figures.deliveries, digits=0) for d in days],
        "failures": [_value(d.figures.failures, digits=0) for d in days],
        "onTimeRate": [_value(d.figures.on_time_rate, 100, 1) for d in days],
        "movingHours": [_value(d.figures.moving_seconds, 1 / 3600) for d in days],
        "idleHours": [_value(d.figures.idle_seconds, 1 / 3600) for d in days],
        "stoppedHours": [_value(d.figures.stopped_seconds, 1 / 3600) for d in days],
        "utilization": [_value(d.figures.utilization, 100, 1) for d in days],
        "reasons": [{"label": r.label, "failures": r.failures} for r in summary.failures_by_reason],
    }


def _minutes(value: int | None) -> str:
    return "—" if value is None else f"{value:+d} min"


def _eta_rows(summary: KpiSummary) -> list[dict[str, Any]]:
    return [
        {
            "horizon": eta.horizon_minutes,
            "predictions": figure_text(eta.predictions, "count"),
            "measured": eta.predictions > 0,
            "within": figure_text(eta.within_5_minutes.value, "ratio"),
            "median": _minutes(eta.percentiles.get(50)),
            "spread": f"{_minutes(eta.percentiles.get(10))} … {_minutes(eta.percentiles.get(90))}",
        }
        for eta in summary.eta_accuracy
    ]


def _has_data(summary: KpiSummary) -> bool:
    figures = summary.figures
    return any(
        getattr(figures, name).value
        for name in ("deliveries", "failures", "distance_km", "moving_seconds", "alerts")
    )


def dashboard_page(*, organization_id: int, filters: KpiFilters, rank: str) -> DashboardPage:
    """Everything the dashboard shows for this slice (the KPI functions check the tenant)."""
    rank = rank if rank in RANKABLE else "on_time_rate"
    # Worst first: the highest values of a figure where lower is better, else the lowest.
    worst: Worst = "highest" if TILE_BY_FIGURE[rank].better == "lower" else "lowest"
    figures = kpi_dashboard(
        organization_id=organization_id,
        filters=filters,
        rank=rank,
        worst=worst,
        shown=OFFENDERS_SHOWN,
    )
    summary, days = figures.summary, figures.days
    tables = {
        "vehicle": figures.worst_vehicles,
        "driver": figures.worst_drivers,
        "day": figures.worst_days,
    }
    return DashboardPage(
        filters=filters,
        summary=summary,
        tiles=_tiles(summary, rank),
        offenders=_offenders(filters, tables, rank),
        chart_data=_chart_data(summary, days),
        rank=rank,
        rank_label=TILE_BY_FIGURE[rank].label,
        has_data=_has_data(summary),
        eta_rows=_eta_rows(summary),
        reasons=[
            {
                "label": r.label,
                "failures": r.failures,
                "orders_url": orders_url(filters, status="failed"),
            }
            for r in summary.failures_by_reason
        ],
    )
