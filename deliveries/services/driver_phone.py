"""The driver's phone as a tracking device: the driver app reports GPS through the JSON batch
ingest API with it (docs/driver-app.md)."""

from __future__ import annotations

import secrets

from django.db import transaction

from fleet.models import Device, Driver
from fleet.services import vehicles_touch
from tenancy.context import require_organization

PHONE_PREFIX = "phone"


def driver_phone_device_issue(
    *, organization_id: int, driver: Driver, vehicle_id: int | None
) -> tuple[Device, str]:
    """The driver's phone as a JSON-batch device, with a freshly rotated token.

    One phone device per driver, created on first use with an unguessable identifier. It is
    bound to the route's vehicle when that vehicle has no tracker of its own, so a driver
    without a tracker still moves on the live map; a vehicle's own tracker is never displaced.
    The plain token goes to the page over the driver's session only; rotating it on every new
    session means a token copied out of an old session stops working.
    """
    require_organization(organization_id)
    with transaction.atomic():
        device = (
            Device.objects.select_for_update()
            .filter(
                organization_id=organization_id,
                identifier__startswith=f"{PHONE_PREFIX}-{driver.pk}-",
            )
            .first()
        )
        if device is None:
            device = Device(
                organization_id=organization_id,
                identifier=f"{PHONE_PREFIX}-{driver.pk}-{secrets.token_hex(8)}",
                name=f"Phone of {driver.name}"[:80],
                protocol=Device.Protocol.JSON,
            )
        taken = (
            vehicle_id is None
            or Device.objects.filter(organization_id=organization_id, vehicle_id=vehicle_id)
            .exclude(pk=device.pk)
            .exists()
        )
        # Never left on a previous route's vehicle: the phone's fixes would move the wrong van.
        left = device.vehicle_id
        device.vehicle_id = None if taken else vehicle_id
        plain = device.set_token()
        device.active = True
        device.save()
        if left != device.vehicle_id:
            vehicles_touch(organization_id=organization_id, vehicle_ids=[left, device.vehicle_id])
    return device, plain
