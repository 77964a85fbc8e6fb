"""Writes of fleet data: validated, atomic, for the organization given (whose tenant context the
caller entered: `require_organization` checks it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from shapely.geometry import shape
from shapely.validation import explain_validity

from tenancy.context import require_organization
from tenancy.errors import PermissionDenied as DomainPermissionDenied

from .live.filters import FilterError, interval_parse, live_filter_parse
from .models import Device, Driver, Hub, SavedView, SavedViewDefault, Vehicle, Zone
from .models.hubs import validate_polygon_geojson
from .selectors import (
    device_identifier_available,
    device_list,
    driver_list,
    hub_queryset,
    vehicle_list,
    zone_geometries,
    zone_list,
)


@transaction.atomic
def saved_view_create(
    *,
    organization_id: int,
    owner_id: int,
    name: str,
    filters: Any,
    refresh_seconds: Any = 5,
    shared: bool = False,
    make_default: bool = False,
    hub_ids: list[int] | None = None,
) -> SavedView:
    """`hub_ids`: the owner's hub scope; a zone outside it is refused like an unknown one."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": "Give the view a name of 1 to 80 characters."})
    try:
        zones = zone_geometries(organization_id=organization_id, hub_ids=hub_ids)
        live_filter_parse(filters, zone_geometries=zones)
        refresh = interval_parse(refresh_seconds)
    except FilterError as exc:
        raise ValidationError({"filters": str(exc)}) from exc
    require_organization(organization_id)
    view = SavedView.objects.create(
        organization_id=organization_id,
        owner_id=owner_id,
        name=name,
        filters=filters or {},
        refresh_seconds=refresh,
        shared=bool(shared),
    )
    if make_default:
        saved_view_make_default(organization_id=organization_id, user_id=owner_id, view=view)
    return view


def saved_view_make_default(*, organization_id: int, user_id: int, view: SavedView) -> None:
    require_organization(organization_id)
    SavedViewDefault.objects.update_or_create(
        organization_id=organization_id, user_id=user_id, defaults={"view": view}
    )


def saved_view_delete(*, organization_id: int, user_id: int, view: SavedView) -> None:
    """Only the owner deletes a view; a shared view stays for everybody else until then."""
    if view.owner_id != user_id:
        raise PermissionDenied("Only the owner can delete this view.")
    require_organization(organization_id)
    view.delete()


# The same words whether the identifier is this organization's or another's (fleet/admin.py).
DEVICE_IDENTIFIER_TAKEN = "This identifier cannot be used; choose another."


def vehicles_touch(*, organization_id: int, vehicle_ids: Iterable[int | None]) -> None:
    """A device came to or left these vehicles: their API answer shows its identifier, so their
    `updated_at` moves (what `updated_since` on vehicles compares). Every writer of a device's
    vehicle calls it, in the device's transaction."""
    ids = {vehicle_id for vehicle_id in vehicle_ids if vehicle_id is not None}
    if ids:
        Vehicle.objects.filter(organization_id=organization_id, pk__in=ids).update(
            updated_at=timezone.now()
        )


def device_create(
    *,
    organization_id: int,
    identifier: str,
    name: str = "",
    protocol: str = Device.Protocol.OSMAND,
    vehicle_id: int | None = None,
    active: bool = True,
    hub_ids: list[int] | None = None,
) -> tuple[Device, str]:
    """A new device and its plain token, which is shown once: only its hash is stored.

    The identifier is unique across every organization (a tracker sends nothing else), so a
    taken one is refused without saying whose it is. `vehicle_id` must be the organization's
    (within `hub_ids`) and carry no device yet."""
    require_organization(organization_id)
    identifier = (identifier or "").strip()
    if not identifier:
        raise ValidationError({"identifier": "Give the tracker's identifier."})
    if not device_identifier_available(identifier):
        raise ValidationError({"identifier": DEVICE_IDENTIFIER_TAKEN})
    if vehicle_id is not None:
        _device_vehicle_check(organization_id, vehicle_id, hub_ids)
    device = Device(
        organization_id=organization_id,
        identifier=identifier,
        name=(name or "").strip(),
        protocol=protocol,
        vehicle_id=vehicle_id,
        active=active,
    )
    plain = device.set_token()
    device.full_clean(exclude=["organization", "vehicle", "identifier"])
    try:
        with transaction.atomic():
            device.save()
            vehicles_touch(organization_id=organization_id, vehicle_ids=[vehicle_id])
    except IntegrityError as exc:
        # Lost a race for the identifier or the vehicle with another request.
        if device_identifier_available(identifier):
            raise ValidationError({"vehicle": "This vehicle has a device already."}) from exc
        raise ValidationError({"identifier": DEVICE_IDENTIFIER_TAKEN}) from exc
    return device, plain


def _device_vehicle_check(organization_id: int, vehicle_id: int, hub_ids: list[int] | None) -> None:
    vehicles = vehicle_list(organization_id=organization_id, hub_ids=hub_ids)
    vehicle = vehicles.filter(pk=vehicle_id).first()
    if vehicle is None:
        raise ValidationError({"vehicle": "No such vehicle in this organization."})
    if getattr(vehicle, "device", None) is not None:
        raise ValidationError({"vehicle": "This vehicle has a device already."})


# What device_update may change: not the identifier (another tracker is another device) nor the
# token (device_token_rotate).
DEVICE_UPDATABLE_FIELDS = ("name", "protocol", "vehicle", "active")


def _fields_known(values: dict[str, Any], fields: Iterable[str]) -> None:
    """A ValidationError naming each of `values` that is not one of the writable `fields`."""
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})


def device_update(
    *,
    organization_id: int,
    device_id: int,
    changes: dict[str, Any],
    hub_ids: list[int] | None = None,
) -> Device:
    """Change some of a device's name, protocol, vehicle (another of the organization's,
    within `hub_ids`, without a device; or None) and active flag. The ingest path's device
    directory follows within 30 s. Raises Device.DoesNotExist for a foreign or out-of-scope id,
    ValidationError naming the field otherwise (nothing is written then)."""
    require_organization(organization_id)
    _fields_known(changes, DEVICE_UPDATABLE_FIELDS)
    with transaction.atomic():
        device = (
            device_list(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update(of=("self",))
            .get(pk=device_id)
        )
        values: dict[str, Any] = {
            ("vehicle_id" if name == "vehicle" else name): (
                value.strip() if isinstance(value, str) else value
            )
            for name, value in changes.items()
        }
        changed = [name for name, value in values.items() if getattr(device, name) != value]
        if not changed:
            return device
        vehicle_id: int | None = values.get("vehicle_id")
        if "vehicle_id" in changed and vehicle_id is not None:
            _device_vehicle_check(organization_id, vehicle_id, hub_ids)
        left = device.vehicle_id
        for name in changed:
            setattr(device, name, values[name])
        device.full_clean(exclude=["organization", "vehicle", "identifier", "token_hash"])
        try:
            with transaction.atomic():
                device.save(update_fields=[*changed, "updated_at"])
                if "vehicle_id" in changed:
                    vehicles_touch(
                        organization_id=organization_id, vehicle_ids=[left, device.vehicle_id]
                    )
        except IntegrityError as exc:
            # Lost a race for the vehicle with another request.
            raise ValidationError({"vehicle": "This vehicle has a device already."}) from exc
    return device


def device_token_rotate(
    *, organization_id: int, device_id: int, hub_ids: list[int] | None = None
) -> tuple[Device, str]:
    """A new token for the device; the old one stops working (the ingest path's device
    directory reloads within 30 s). Raises Device.DoesNotExist for a foreign id."""
    require_organization(organization_id)
    with transaction.atomic():
        device = (
            device_list(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update(of=("self",))
            .get(pk=device_id)
        )
        plain = device.set_token()
        device.save(update_fields=["token_hash", "updated_at"])
    return device, plain


# What a client gives a vehicle (the API; Django admin has its own form).
VEHICLE_FIELDS = (
    "plate", "name", "type", "capacity_kg", "capacity_volume_l", "hub", "driver", "tags", "active",
)  # fmt: skip
PLATE_TAKEN = "A vehicle with this plate exists already."


def _hub_check(organization_id: int, hub_id: int, hub_ids: list[int] | None) -> None:
    """The hub is the organization's, and one of `hub_ids` when the caller has a hub scope."""
    hubs = Hub.objects.filter(organization_id=organization_id, pk=hub_id)
    if hub_ids:
        hubs = hubs.filter(pk__in=hub_ids)
    if not hubs.exists():
        raise ValidationError({"hub": "No such hub in this organization."})


def _fields_set(instance: Any, values: dict[str, Any]) -> list[str]:
    """Set the client's `values` (strings stripped; `hub`, `driver` as their ids) on a fleet
    row; the model fields that changed, for `save(update_fields=...)`."""
    changed = []
    for name, value in values.items():
        field = f"{name}_id" if name in ("hub", "driver") else name
        value = value.strip() if isinstance(value, str) else value
        if getattr(instance, field) != value:
            setattr(instance, field, value)
            changed.append(field)
    return changed


def _vehicle_apply(
    vehicle: Vehicle, values: dict[str, Any], *, hub_ids: list[int] | None
) -> list[str]:
    """Set `values` on the vehicle after checking them; the model fields that changed."""
    organization_id = vehicle.organization_id
    _fields_known(values, VEHICLE_FIELDS)
    if "hub" in values:
        _hub_check(organization_id, values["hub"], hub_ids)
    driver_id = values.get("driver")
    if driver_id is not None and not (
        Driver.objects.filter(organization_id=organization_id, pk=driver_id).exists()
    ):
        raise ValidationError({"driver": "No such driver in this organization."})
    if "plate" in values:
        values["plate"] = str(values["plate"]).strip()
    if "name" in values:
        values["name"] = str(values["name"]).strip()
    if "tags" in values:
        values["tags"] = list(dict.fromkeys(tag.strip() for tag in values["tags"] if tag.strip()))
    changed = _fields_set(vehicle, values)
    if "plate" in changed and (
        Vehicle.objects.filter(organization_id=organization_id, plate=vehicle.plate)
        .exclude(pk=vehicle.pk)
        .exists()
    ):
        raise ValidationError({"plate": PLATE_TAKEN})
    vehicle.full_clean(exclude=["organization", "hub", "driver"], validate_constraints=False)
    return changed


def _vehicle_save(vehicle: Vehicle, update_fields: list[str] | None) -> None:
    try:
        with transaction.atomic():
            vehicle.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Lost a race for the plate with another request.
        raise ValidationError({"plate": PLATE_TAKEN}) from exc


def vehicle_create(
    *, organization_id: int, fields: dict[str, Any], hub_ids: list[int] | None = None
) -> Vehicle:
    """A new vehicle of a hub of the organization (within `hub_ids`), its plate unique in the
    organization, its driver (if any) the organization's; ValidationError naming the field."""
    require_organization(organization_id)
    vehicle = Vehicle(organization_id=organization_id)
    _vehicle_apply(vehicle, dict(fields), hub_ids=hub_ids)
    _vehicle_save(vehicle, None)
    return vehicle


def vehicle_update(
    *,
    organization_id: int,
    vehicle_id: int,
    changes: dict[str, Any],
    hub_ids: list[int] | None = None,
) -> Vehicle:
    """Change some of a vehicle's data with a new vehicle's rules. Raises Vehicle.DoesNotExist
    for a foreign or out-of-scope id; nothing is written on a refusal."""
    require_organization(organization_id)
    with transaction.atomic():
        vehicle = (
            vehicle_list(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update(of=("self",))
            .get(pk=vehicle_id)
        )
        changed = _vehicle_apply(vehicle, dict(changes), hub_ids=hub_ids)
        if changed:
            _vehicle_save(vehicle, [*changed, "updated_at"])
    return vehicle


# What a client gives a driver (the driver app's login is Django admin's).
DRIVER_FIELDS = ("name", "phone", "hub", "active")


def _driver_apply(
    driver: Driver, values: dict[str, Any], *, hub_ids: list[int] | None
) -> list[str]:
    """Set `values` on the driver after checking them; the model fields that changed."""
    _fields_known(values, DRIVER_FIELDS)
    if values.get("hub") is not None:
        _hub_check(driver.organization_id, values["hub"], hub_ids)
    changed = _fields_set(driver, values)
    driver.full_clean(exclude=["organization", "hub", "user"])
    return changed


def driver_create(
    *, organization_id: int, fields: dict[str, Any], hub_ids: list[int] | None = None
) -> Driver:
    """A new driver of the organization (of one of its hubs within `hub_ids`, or of none)."""
    require_organization(organization_id)
    driver = Driver(organization_id=organization_id)
    _driver_apply(driver, dict(fields), hub_ids=hub_ids)
    driver.save()
    return driver


def driver_update(
    *,
    organization_id: int,
    driver_id: int,
    changes: dict[str, Any],
    hub_ids: list[int] | None = None,
) -> Driver:
    """Change some of a driver's data. Raises Driver.DoesNotExist for a foreign or
    out-of-scope id; nothing is written on a refusal."""
    require_organization(organization_id)
    with transaction.atomic():
        driver = (
            driver_list(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update(of=("self",))
            .get(pk=driver_id)
        )
        changed = _driver_apply(driver, dict(changes), hub_ids=hub_ids)
        if changed:
            driver.save(update_fields=[*changed, "updated_at"])
    return driver


# What a client gives a hub: Django admin's hub form (the organization is the caller's).
HUB_FIELDS = (
    "name", "code", "region", "address", "latitude", "longitude", "eta_speed_kmh",
    "eta_detour_factor",
)  # fmt: skip
HUB_CODE_TAKEN = "A hub with this code exists already."


def _hub_apply(hub: Hub, values: dict[str, Any]) -> list[str]:
    """Set `values` on the hub after checking them; the model fields that changed."""
    _fields_known(values, HUB_FIELDS)
    # A hub's position is one point: moving half of it is a mistake, not a change.
    if ("latitude" in values) != ("longitude" in values):
        missing = "longitude" if "latitude" in values else "latitude"
        raise ValidationError({missing: "Give both latitude and longitude."})
    changed = _fields_set(hub, values)
    if "code" in changed and (
        Hub.objects.filter(organization_id=hub.organization_id, code=hub.code)
        .exclude(pk=hub.pk)
        .exists()
    ):
        raise ValidationError({"code": HUB_CODE_TAKEN})
    hub.full_clean(exclude=["organization"], validate_constraints=False)
    return changed


def _hub_save(hub: Hub, update_fields: list[str] | None) -> None:
    try:
        with transaction.atomic():
            hub.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Lost a race for the code with another request.
        raise ValidationError({"code": HUB_CODE_TAKEN}) from exc


def hub_create(
    *, organization_id: int, fields: dict[str, Any], hub_ids: list[int] | None = None
) -> Hub:
    """A new hub of the organization, its code unique in it; ValidationError naming the field.
    A member scoped to some hubs cannot add one (they would not see it)."""
    require_organization(organization_id)
    if hub_ids:
        raise DomainPermissionDenied("A member scoped to some hubs cannot create hubs.")
    hub = Hub(organization_id=organization_id)
    _hub_apply(hub, dict(fields))
    _hub_save(hub, None)
    return hub


def hub_update(
    *,
    organization_id: int,
    hub_id: int,
    changes: dict[str, Any],
    hub_ids: list[int] | None = None,
) -> Hub:
    """Change some of a hub's data with a new hub's rules. Raises Hub.DoesNotExist for a
    foreign or out-of-scope id; nothing is written on a refusal."""
    require_organization(organization_id)
    with transaction.atomic():
        hub = (
            hub_queryset(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update()
            .get(pk=hub_id)
        )
        changed = _hub_apply(hub, dict(changes))
        if changed:
            _hub_save(hub, [*changed, "updated_at"])
    return hub


# What a client gives a zone: Django admin's zone form (the organization is the caller's).
ZONE_FIELDS = ("name", "kind", "hub", "geometry", "color")


def zone_geometry_clean(geometry: Any) -> dict[str, Any]:
    """The zone's Polygon or MultiPolygon as every reader of zones takes it (the model's
    GeoJSON rules: closed rings of [lon, lat] in range; altitudes dropped), and a valid one for
    shapely, which the alerts, the live filters and the rollups measure with: no
    self-intersection, no hole outside, no overlapping parts. ValidationError on `geometry`
    otherwise."""
    try:
        validate_polygon_geojson(geometry)
    except ValidationError as exc:
        raise ValidationError({"geometry": exc.messages}) from exc

    def flat(rings: list[Any]) -> list[list[list[float]]]:
        return [[[float(p[0]), float(p[1])] for p in ring] for ring in rings]

    coordinates = geometry["coordinates"]
    kind = geometry["type"]
    clean = {
        "type": kind,
        "coordinates": (
            [flat(rings) for rings in coordinates] if kind == "MultiPolygon" else flat(coordinates)
        ),
    }
    polygon = shape(clean)
    if not polygon.is_valid:
        reason = explain_validity(polygon)
        raise ValidationError({"geometry": f"Not a valid {kind}: {reason}."})
    return clean


def _zone_apply(zone: Zone, values: dict[str, Any], *, hub_ids: list[int] | None) -> list[str]:
    """Set `values` on the zone after checking them; the model fields that changed."""
    _fields_known(values, ZONE_FIELDS)
    if values.get("hub") is not None:
        _hub_check(zone.organization_id, values["hub"], hub_ids)
    if "geometry" in values:
        values["geometry"] = zone_geometry_clean(values["geometry"])
    changed = _fields_set(zone, values)
    zone.full_clean(exclude=["organization", "hub"])
    return changed


def zone_create(
    *, organization_id: int, fields: dict[str, Any], hub_ids: list[int] | None = None
) -> Zone:
    """A new zone of the organization (of one of its hubs within `hub_ids`, or of none)."""
    require_organization(organization_id)
    zone = Zone(organization_id=organization_id)
    _zone_apply(zone, dict(fields), hub_ids=hub_ids)
    zone.save()
    return zone


def zone_update(
    *,
    organization_id: int,
    zone_id: int,
    changes: dict[str, Any],
    hub_ids: list[int] | None = None,
) -> Zone:
    """Change some of a zone's data or its polygon. Raises Zone.DoesNotExist for a foreign or
    out-of-scope id; nothing is written on a refusal."""
    require_organization(organization_id)
    with transaction.atomic():
        zone = (
            zone_list(organization_id=organization_id, hub_ids=hub_ids)
            .select_for_update()
            .get(pk=zone_id)
        )
        changed = _zone_apply(zone, dict(changes), hub_ids=hub_ids)
        if changed:
            zone.save(update_fields=[*changed, "updated_at"])
    return zone
