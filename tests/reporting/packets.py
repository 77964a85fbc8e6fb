"""A disputed delivery, built as it happens: a failed first attempt on one day, a delivery on
the next with the van's trail around the stop, and a proof of delivery with photo, signature
and geo-stamp. Used by the dispute packet tests and the cross-tenant harness."""

from __future__ import annotations

import datetime as dt
import io
import math
import zoneinfo
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django_scopes import scopes_disabled
from PIL import Image

from deliveries.models import DeliveryEvent, FailureReason, Order, ProofOfDelivery, Route, Stop
from reporting.dispute.services import dispute_packet_issue
from reporting.models import DisputePacket
from reporting.trips import Fix
from tenancy.context import tenant_context
from tests.conftest import Tenant
from tests.reporting.positions import positions_insert

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
FIRST_DAY = dt.date(2026, 6, 9)
DAY = dt.date(2026, 6, 10)
ADDRESS = (52.3700, 4.8900)
# The proof's geo-stamp: 30 m north and 20 m east of the address.
STAMP = (ADDRESS[0] + 30 / 110_574, ADDRESS[1] + 20 / (111_320 * math.cos(math.radians(52.37))))


def local(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=AMSTERDAM)


def image_bytes(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Dispute:
    order: Order
    first_stop: Stop
    stop: Stop
    proof: ProofOfDelivery


def trail_fixes() -> list[Fix]:
    """09:45-10:25 every 10 s: driving in from the south-west, parked 10:02-10:09 at the
    door, driving off to the east."""
    fixes = []
    start = local(DAY, 9, 45).timestamp()
    for step in range(0, 40 * 6 + 1):
        t = start + step * 10
        minute = step / 6
        if minute < 17:  # approaching
            k = (17 - minute) / 17
            lat, lon, speed = ADDRESS[0] - 0.01 * k, ADDRESS[1] - 0.012 * k, 30.0
        elif minute < 24:  # parked at the door
            lat, lon, speed = ADDRESS[0] + 0.00005, ADDRESS[1], 0.0
        else:
            k = (minute - 24) / 16
            lat, lon, speed = ADDRESS[0], ADDRESS[1] + 0.015 * k, 28.0
        fixes.append(Fix(t, lat, lon, speed, None))
    return fixes


def disputed_delivery(tenant: Tenant) -> Dispute:
    organization = tenant.organization
    organization.timezone = "Europe/Amsterdam"
    organization.save(update_fields=["timezone"])
    order = tenant.order
    assert order is not None
    user = tenant.users["driver"]
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(
            latitude=ADDRESS[0], longitude=ADDRESS[1], status="delivered",
            window_start=local(DAY, 10), window_end=local(DAY, 12),
        )  # fmt: skip
        order.refresh_from_db()
        first_route = tenant.delivery_objects[Route]
        Route.objects.filter(pk=first_route.pk).update(date=FIRST_DAY)
        first_stop = tenant.delivery_objects[Stop]
        Stop.objects.filter(pk=first_stop.pk).update(
            actual_arrival=local(FIRST_DAY, 15, 1), actual_departure=local(FIRST_DAY, 15, 4)
        )
        route = Route.objects.create(
            organization=organization, hub=tenant.hub, date=DAY,
            vehicle=tenant.vehicle, driver=tenant.driver,
        )  # fmt: skip
        stop = Stop.objects.create(
            organization=organization, route=route, sequence=4, order=order,
            planned_arrival=local(DAY, 10), eta=local(DAY, 10, 1),
            actual_arrival=local(DAY, 10, 2), actual_departure=local(DAY, 10, 9),
        )  # fmt: skip
        not_home = FailureReason.objects.get(organization=organization, code="not_home")
        for to_status, at, extra in (
            ("assigned", local(FIRST_DAY, 7), {}),
            ("out_for_delivery", local(FIRST_DAY, 8), {}),
            ("arrived", local(FIRST_DAY, 15, 1), {}),
            ("failed", local(FIRST_DAY, 15, 3), {"failure_reason": not_home}),
            ("out_for_delivery", local(DAY, 8), {}),
            ("arrived", local(DAY, 10, 2), {}),
            ("delivered", local(DAY, 10, 7, 30),
             {"latitude": STAMP[0], "longitude": STAMP[1], "note": "Left with the neighbour"}),
        ):  # fmt: skip
            DeliveryEvent.objects.create(
                organization=organization, order=order, to_status=to_status, at=at,
                actor=user, source=DeliveryEvent.Source.DRIVER, **extra,
            )  # fmt: skip
        proof = tenant.delivery_objects[ProofOfDelivery]
        proof.photo.save("photo.png", ContentFile(image_bytes((64, 48), (10, 120, 40))), save=False)
        proof.signature.save(
            "sig.png", ContentFile(image_bytes((90, 30), (20, 20, 20))), save=False
        )
        proof.latitude, proof.longitude, proof.accuracy_m = STAMP[0], STAMP[1], 8.0
        proof.captured_at, proof.captured_by = local(DAY, 10, 7, 12), user
        proof.notes = "Green door"
        proof.save()
    positions_insert(tenant.device, trail_fixes())
    return Dispute(order, first_stop, stop, proof)


def dispute_packet_of(tenant: Tenant) -> DisputePacket:
    """The tenant's order's packet, issued through the service (for the harness)."""
    assert tenant.order is not None
    with tenant_context(tenant.organization.pk):
        return dispute_packet_issue(
            organization_id=tenant.organization.pk, order_id=tenant.order.pk, user_id=None
        )
