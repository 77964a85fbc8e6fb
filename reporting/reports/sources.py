"""Reads shared by the report kinds: which vehicles, zones and days a slice covers, and each
vehicle-day's fixes. Every function takes the organization and calls `require_organization`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q

from fleet.models import Vehicle, Zone
from tenancy.context import require_organization

from .. import selectors
from ..kpis.filters import KpiFilters
from ..selectors import LocalDay
from ..trips import Fix
from .definitions import Progress, ReportRequest


def local_days(filters: KpiFilters, timezone: str) -> list[LocalDay]:
    return [
        LocalDay.of(filters.start + dt.timedelta(days=offset), timezone)
        for offset in range(filters.days)
    ]


def period_bounds(filters: KpiFilters, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The period as one half-open UTC interval: first local midnight to the last one."""
    return (
        LocalDay.of(filters.start, timezone).start,
        LocalDay.of(filters.end, timezone).end,
    )


def report_vehicles(*, organization_id: int, filters: KpiFilters) -> list[Vehicle]:
    """The slice's vehicles: of its hubs (and of the hubs its zones belong to), the chosen
    vehicles, the vehicles of the chosen drivers; empty filters keep everything."""
    require_organization(organization_id)
    vehicles = Vehicle.objects.filter(organization_id=organization_id)
    if filters.hub_ids:
        vehicles = vehicles.filter(hub_id__in=filters.hub_ids)
    if filters.zone_ids:
        vehicles = vehicles.filter(
            hub_id__in=Zone.objects.filter(
                organization_id=organization_id, pk__in=filters.zone_ids
            ).values("hub_id")
        )
    if filters.vehicle_ids:
        vehicles = vehicles.filter(pk__in=filters.vehicle_ids)
    if filters.driver_ids:
        vehicles = vehicles.filter(driver_id__in=filters.driver_ids)
    return list(vehicles.select_related("hub", "driver").order_by("plate", "pk"))


def report_zones(*, organization_id: int, filters: KpiFilters) -> list[Zone]:
    """The chosen zones, or every zone of the slice's hubs (zones without a hub count as
    everybody's)."""
    require_organization(organization_id)
    zones = Zone.objects.filter(organization_id=organization_id)
    if filters.zone_ids:
        zones = zones.filter(pk__in=filters.zone_ids)
    elif filters.hub_ids:
        zones = zones.filter(Q(hub_id__in=filters.hub_ids) | Q(hub__isnull=True))
    return list(zones.order_by("name", "pk"))


@dataclass(frozen=True)
class VehicleDay:
    vehicle: Vehicle
    day: LocalDay
    fixes: list[Fix]

    @property
    def driver_name(self) -> str:
        driver = self.vehicle.driver
        return driver.name if driver is not None else ""


def vehicle_days(request: ReportRequest, progress: Progress) -> Iterator[VehicleDay]:
    """Each vehicle's fixes of each local day of the period (days without fixes skipped),
    reporting progress as it goes: the raw-position kinds read one vehicle-day at a time, so
    memory stays one day's track however long the period."""
    organization_id = request.organization_id
    vehicles = report_vehicles(organization_id=organization_id, filters=request.filters)
    days = local_days(request.filters, request.timezone)
    total = max(len(vehicles) * len(days), 1)
    done = 0
    for day in days:
        for vehicle in vehicles:
            track = selectors.vehicle_track(
                organization_id=organization_id,
                vehicle_id=vehicle.pk,
                start=day.start,
                end=day.end,
            )
            done += 1
            if len(track):
                yield VehicleDay(vehicle, day, track.fixes())
            progress(done / total)
    progress(1.0)
