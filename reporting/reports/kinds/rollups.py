"""The kinds read from the daily vehicle rollups (one row per vehicle and local day, whatever
the history's size): idle time."""

from __future__ import annotations

from tenancy.context import require_organization

from ...models import DailyVehicleRollup
from ..definitions import ChartSpec, Column, ColumnKind, Progress, ReportKind, ReportRequest, Row
from ..sources import report_vehicles

DECIMAL, INTEGER, DATE = ColumnKind.DECIMAL, ColumnKind.INTEGER, ColumnKind.DATE


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 2)


def idle_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id, filters = request.organization_id, request.filters
    require_organization(organization_id)
    vehicles = {v.pk: v for v in report_vehicles(organization_id=organization_id, filters=filters)}
    rollups = DailyVehicleRollup.objects.filter(
        organization_id=organization_id,
        day__gte=filters.start,
        day__lte=filters.end,
        vehicle_id__in=list(vehicles),
    ).order_by("day", "vehicle_id")
    rows: list[Row] = []
    for rollup in rollups:
        vehicle = vehicles[rollup.vehicle_id]
        tracked = rollup.moving_seconds + rollup.idle_seconds + rollup.stopped_seconds
        rows.append(
            (
                vehicle.plate,
                vehicle.driver.name if vehicle.driver else "",
                rollup.day,
                _hours(rollup.idle_seconds),
                _hours(rollup.moving_seconds),
                _hours(rollup.stopped_seconds),
                round(100 * rollup.idle_seconds / tracked, 1) if tracked else None,
                rollup.stops,
            )
        )
    progress(1.0)
    return rows


IDLE = ReportKind(
    key="idle",
    title="Idle time",
    description="Each vehicle's day: time idling with the engine on, against moving and stopped.",
    columns=(
        Column("vehicle", "Vehicle"),
        Column("driver", "Driver"),
        Column("day", "Day", DATE),
        Column("idle_h", "Idle (h)", DECIMAL, 2),
        Column("moving_h", "Moving (h)", DECIMAL, 2),
        Column("stopped_h", "Stopped (h)", DECIMAL, 2),
        Column("idle_share", "Idle share (%)", DECIMAL),
        Column("stops", "Stops", INTEGER),
    ),
    build=idle_build,
    chart=ChartSpec("vehicle", "idle_h", "Idle hours by vehicle"),
    reads_rollups=True,
)
