"""The kinds read through the KPI interface (reporting/kpis/summary.py, on the daily rollups):
the fleet summary, one row per vehicle, and the ETA accuracy. The figures are the dashboards'
own; nothing here computes a KPI a second time, it only lays the figures out as rows."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ...kpis.figures import Figure
from ...kpis.summary import kpi_breakdown, kpi_summary
from ..definitions import ChartSpec, Column, ColumnKind, Progress, ReportKind, ReportRequest, Row

DECIMAL, INTEGER, DATE = ColumnKind.DECIMAL, ColumnKind.INTEGER, ColumnKind.DATE


def _value(figure: Figure, scale: float = 1.0, digits: int = 1) -> float | None:
    return None if figure.value is None else round(figure.value * scale, digits)


def _hours(figure: Figure) -> float | None:
    return _value(figure, 1 / 3600, 2)


def summary_build(request: ReportRequest, progress: Progress) -> list[Row]:
    rows: list[Row] = []
    breakdown = kpi_breakdown(
        organization_id=request.organization_id, filters=request.filters, by="vehicle"
    )
    for row in breakdown:
        f = row.figures
        rows.append(
            (
                row.label,
                _value(f.distance_km, digits=1),
                _hours(f.moving_seconds),
                _hours(f.idle_seconds),
                _hours(f.stopped_seconds),
                _value(f.utilization, 100),
                _value(f.deliveries, digits=0),
                _value(f.failures, digits=0),
                _value(f.on_time_rate, 100),
                _value(f.first_attempt_success_rate, 100),
                _value(f.stops_per_hour, digits=2),
                _value(f.speeding_per_100_km, digits=2),
                _value(f.alerts, digits=0),
                _value(f.idle_cost, digits=2),
                _value(f.cost, digits=2),
                _value(f.cost_per_delivery, digits=2),
            )
        )
    progress(1.0)
    return rows


SUMMARY = ReportKind(
    key="summary",
    title="Summary",
    description="Each vehicle's period at a glance: distance, time, deliveries, punctuality, cost.",
    columns=(
        Column("vehicle", "Vehicle"),
        Column("distance_km", "Distance (km)", DECIMAL),
        Column("moving_h", "Moving (h)", DECIMAL, 2),
        Column("idle_h", "Idle (h)", DECIMAL, 2),
        Column("stopped_h", "Stopped (h)", DECIMAL, 2),
        Column("utilization", "Utilization (%)", DECIMAL),
        Column("deliveries", "Deliveries", DECIMAL, 0),
        Column("failures", "Failures", DECIMAL, 0),
        Column("on_time", "On time (%)", DECIMAL),
        Column("first_attempt", "First-attempt success (%)", DECIMAL),
        Column("stops_per_hour", "Stops per hour", DECIMAL, 2),
        Column("speeding_per_100_km", "Speeding per 100 km", DECIMAL, 2),
        Column("alerts", "Alerts", DECIMAL, 0),
        Column("idle_cost", "Idle cost", DECIMAL, 2),
        Column("cost", "Cost", DECIMAL, 2),
        Column("cost_per_delivery", "Cost per delivery", DECIMAL, 2),
    ),
    build=summary_build,
    chart=ChartSpec("vehicle", "distance_km", "Distance by vehicle (km)"),
    reads_rollups=True,
)


def eta_accuracy_build(request: ReportRequest, progress: Progress) -> list[Row]:
    """One row per local day and horizon (60, 30, 10 minutes before arrival)."""
    rows: list[Row] = []
    filters = request.filters
    for offset in range(filters.days):
        day = filters.start + dt.timedelta(days=offset)
        one_day = dataclasses.replace(filters, start=day, end=day)
        summary = kpi_summary(organization_id=request.organization_id, filters=one_day)
        for accuracy in summary.eta_accuracy:
            if not accuracy.predictions:
                continue
            percentiles = accuracy.percentiles
            rows.append(
                (
                    day,
                    accuracy.horizon_minutes,
                    accuracy.predictions,
                    None
                    if accuracy.mean_error_minutes is None
                    else round(accuracy.mean_error_minutes, 1),
                    None
                    if accuracy.mean_absolute_error_minutes is None
                    else round(accuracy.mean_absolute_error_minutes, 1),
                    _value(accuracy.within_5_minutes, 100),
                    percentiles.get(10),
                    percentiles.get(50),
                    percentiles.get(90),
                )
            )
        progress((offset + 1) / filters.days)
    return rows


ETA_ACCURACY = ReportKind(
    key="eta_accuracy",
    title="ETA accuracy",
    description="How far the ETA was from the arrival 60, 30 and 10 minutes before it, per day.",
    columns=(
        Column("day", "Day", DATE),
        Column("horizon_min", "Minutes before arrival", INTEGER),
        Column("predictions", "Predictions", INTEGER),
        Column("mean_error_min", "Mean error (min)", DECIMAL),
        Column("mean_absolute_error_min", "Mean absolute error (min)", DECIMAL),
        Column("within_5_min", "Within 5 min (%)", DECIMAL),
        Column("p10_min", "10th percentile (min)", INTEGER),
        Column("p50_min", "Median (min)", INTEGER),
        Column("p90_min", "90th percentile (min)", INTEGER),
    ),
    build=eta_accuracy_build,
    chart=ChartSpec("horizon_min", "predictions", "Predictions by minutes before arrival"),
    reads_rollups=True,
)
