"""Reads of fleet data. Every function takes the organization, checks that the caller entered
its tenant context (`require_organization`) and filters by it; none enters a context itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from tenancy.context import require_organization

from .models import Device, Driver, Hub, SavedView, SavedViewDefault, Vehicle, VehicleState, Zone
from .models.tracking import Position, TrackingSettings
from .resolvers import device_identifier_taken


def device_identifier_available(identifier: str, *, exclude_device_id: int | None = None) -> bool:
    """Whether no device of any organization uses `identifier` (other than `exclude_device_id`).

    Identifiers are unique across the installation (OsmAnd fixes carry nothing else), so this
    is the fleet resolver's cross-tenant yes/no; callers never learn whose device it is."""
    return not device_identifier_taken(identifier=identifier, except_device_id=exclude_device_id)


def vehicle_get(
    *, organization_id: int, vehicle_id: int, hub_ids: list[int] | None = None
) -> Vehicle:
    """One vehicle of the organization; raises Vehicle.DoesNotExist for a foreign or out-of-scope id."""
    require_organization(organization_id)
    vehicles = Vehicle.objects.filter(organization_id=organization_id).select_related(
        "hub", "driver", "device"
    )
    if hub_ids:
        vehicles = vehicles.filter(hub_id__in=hub_ids)
    return vehicles.get(pk=vehicle_id)


def vehicle_state_get(*, organization_id: int, vehicle_id: int) -> VehicleState | None:
    require_organization(organization_id)
    return VehicleState.objects.filter(
        organization_id=organization_id, vehicle_id=vehicle_id
    ).first()


def zone_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Zone]:
    """The organization's zones; with `hub_ids`, those hubs' zones and the org-wide ones (no hub)."""
    require_organization(organization_id)
    zones = Zone.objects.filter(organization_id=organization_id)
    if hub_ids:
        zones = zones.filter(Q(hub_id__in=hub_ids) | Q(hub__isnull=True))
    return zones


def zone_geometries(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> dict[int, dict[str, Any]]:
    return {z.pk: z.geometry for z in zone_list(organization_id=organization_id, hub_ids=hub_ids)}


def zone_feature_collection(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> dict[str, Any]:
    zones = zone_list(organization_id=organization_id, hub_ids=hub_ids)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": zone.pk,
                "properties": {"name": zone.name, "kind": zone.kind, "color": zone.color},
                "geometry": zone.geometry,
            }
            for zone in zones
        ],
    }


def hub_list(*, organization_id: int, hub_ids: list[int] | None = None) -> list[Hub]:
    require_organization(organization_id)
    hubs = Hub.objects.filter(organization_id=organization_id)
    if hub_ids:
        hubs = hubs.filter(pk__in=hub_ids)
    return list(hubs)


def vehicle_tag_list(*, organization_id: int) -> list[str]:
    require_organization(organization_id)
    tags: set[str] = set()
    for row in Vehicle.objects.filter(organization_id=organization_id).values_list(
        "tags", flat=True
    ):
        tags.update(row)
    return sorted(tags)


def saved_view_list(*, organization_id: int, user_id: int) -> QuerySet[SavedView]:
    """The user's own views and the views shared with the organization."""
    require_organization(organization_id)
    return SavedView.objects.filter(
        Q(owner_id=user_id) | Q(shared=True), organization_id=organization_id
    ).order_by("name")


def saved_view_default_id(*, organization_id: int, user_id: int) -> int | None:
    require_organization(organization_id)
    default = SavedViewDefault.objects.filter(
        organization_id=organization_id, user_id=user_id
    ).first()
    return default.view_id if default else None


def tracking_settings_get(*, organization_id: int) -> TrackingSettings:
    require_organization(organization_id)
    settings = TrackingSettings.objects.filter(organization_id=organization_id).first()
    return settings or TrackingSettings(organization_id=organization_id)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hub_queryset(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Hub]:
    require_organization(organization_id)
    hubs = Hub.objects.filter(organization_id=organization_id)
    return hubs.filter(pk__in=hub_ids) if hub_ids else hubs


def vehicle_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Vehicle]:
    """The organization's vehicles (of `hub_ids` only, when given), with their devices."""
    require_organization(organization_id)
    vehicles = Vehicle.objects.filter(organization_id=organization_id).select_related("device")
    return vehicles.filter(hub_id__in=hub_ids) if hub_ids else vehicles


def device_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Device]:
    """The organization's devices with their vehicles; with `hub_ids`, only those on those
    hubs' vehicles (a device on no vehicle belongs to no hub)."""
    require_organization(organization_id)
    devices = Device.objects.filter(organization_id=organization_id).select_related("vehicle")
    return devices.filter(vehicle__hub_id__in=hub_ids) if hub_ids else devices


def device_get(*, organization_id: int, device_id: int, hub_ids: list[int] | None = None) -> Device:
    """One device; raises Device.DoesNotExist for a foreign or out-of-scope id."""
    return device_list(organization_id=organization_id, hub_ids=hub_ids).get(pk=device_id)


def driver_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Driver]:
    """The organization's drivers; with `hub_ids`, those hubs' drivers and those of no hub."""
    require_organization(organization_id)
    drivers = Driver.objects.filter(organization_id=organization_id)
    if hub_ids:
        drivers = drivers.filter(Q(hub_id__in=hub_ids) | Q(hub__isnull=True))
    return drivers


def vehicle_state_list(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> QuerySet[VehicleState]:
    """The latest position and status of every vehicle that ever reported one."""
    require_organization(organization_id)
    states = VehicleState.objects.filter(organization_id=organization_id).select_related("vehicle")
    return states.filter(vehicle__hub_id__in=hub_ids) if hub_ids else states


def vehicle_position_history(
    *, organization_id: int, vehicle_id: int, start: dt.datetime, end: dt.datetime
) -> QuerySet[Position]:
    """The vehicle's stored fixes with start <= fix time < end (the partitions outside the
    range are skipped by PostgreSQL: the range is on the partition key)."""
    require_organization(organization_id)
    return Position.objects.filter(
        organization_id=organization_id,
        vehicle_id=vehicle_id,
        fix_time__gte=start,
        fix_time__lt=end,
    )
