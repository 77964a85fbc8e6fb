"""The live map's snapshot read: every vehicle of an organization with its state, in the
payload shape of fleet/live/schema.py. It lives with the live-map contract (not in
fleet/selectors.py) so that the contract's modules depend on the selectors and never the
other way round."""

from __future__ import annotations

from typing import Any

from fleet.models import Vehicle, VehicleState
from tenancy.context import require_organization

from .schema import vehicle_descriptive, vehicle_live


def vehicle_live_payload(vehicle: Vehicle, state: VehicleState | None) -> dict[str, Any]:
    """A vehicle as the live map sees it (the `V` of docs/live-map.md, fleet/live/schema.py)."""
    device = getattr(vehicle, "device", None)
    return vehicle_live(
        vehicle_id=vehicle.pk,
        descriptive=vehicle_descriptive(
            plate=vehicle.plate,
            name=vehicle.name,
            hub_id=vehicle.hub_id,
            hub=vehicle.hub.name,
            driver=vehicle.driver.name if vehicle.driver else None,
            device=device.identifier if device else None,
            tags=list(vehicle.tags),
        ),
        lat=state.latitude if state else None,
        lon=state.longitude if state else None,
        speed_kmh=state.speed_kmh if state else None,
        heading=state.heading if state else None,
        status=state.status if state else VehicleState.Status.OFFLINE,
        fix_time=state.fix_time if state else None,
        battery_pct=state.battery_pct if state else None,
    )


def vehicle_live_list(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Every active vehicle of the organization (of `hub_ids` only, when given) with its state."""
    require_organization(organization_id)
    vehicles = Vehicle.objects.filter(organization_id=organization_id, active=True).select_related(
        "hub", "driver", "device"
    )
    if hub_ids:
        vehicles = vehicles.filter(hub_id__in=hub_ids)
    states = {
        s.vehicle_id: s
        for s in VehicleState.objects.filter(
            organization_id=organization_id, vehicle__in=[v.pk for v in vehicles]
        )
    }
    return [vehicle_live_payload(v, states.get(v.pk)) for v in vehicles]
