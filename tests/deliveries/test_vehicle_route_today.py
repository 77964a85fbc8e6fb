"""deliveries/views/vehicle.py: the live map's details panel asks for a vehicle's route today."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from deliveries.models import Route, Stop
from deliveries.models.orders import OrderStatus
from tenancy.models import Organization, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build
from tests.factories import DeviceFactory, HubFactory

pytestmark = pytest.mark.django_db

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


def url(vehicle_id: int) -> str:
    return f"/routes/vehicles/{vehicle_id}/today.json"


def route_of_three(tenant: Tenant) -> tuple[Route, list[Stop]]:
    """The tenant's route today: stop 1 delivered, stop 2 next (ETA set, late), stop 3 ahead."""
    Organization.objects.filter(pk=tenant.organization.pk).update(timezone="Europe/Amsterdam")
    route = tenant.delivery_objects[Route]
    first = tenant.delivery_objects[Stop]
    # A window inside today's local day whatever the hour the suite runs (a window that
    # crosses midnight is written with its second day's date).
    today = timezone.localtime(timezone.now(), AMSTERDAM).date()
    opens = dt.datetime.combine(today, dt.time(10, 0), tzinfo=AMSTERDAM)
    second_order = order_build(
        tenant.organization, tenant.hub, reference="NEXT-0002", address="Prinsengracht 263",
        window_start=opens, window_end=opens + dt.timedelta(hours=2),
    )  # fmt: skip
    third_order = order_build(tenant.organization, tenant.hub, reference="LATER-0003")
    eta = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=25)
    with scope(organization=tenant.organization.pk):
        Route.objects.filter(pk=route.pk).update(
            date=timezone.localtime(timezone.now(), AMSTERDAM).date(),
            status=Route.Status.IN_PROGRESS,
        )
        first.order.status = OrderStatus.DELIVERED
        first.order.save(update_fields=["status"])
        Stop.objects.filter(pk=first.pk).update(actual_departure=timezone.now())
        second = Stop.objects.create(
            organization=tenant.organization, route=route, sequence=2, order=second_order,
            eta=eta, late_risk=True,
        )  # fmt: skip
        third = Stop.objects.create(
            organization=tenant.organization, route=route, sequence=3, order=third_order
        )
    return route, [first, second, third]


def test_a_vehicle_on_its_route_shows_progress_and_the_next_stop(tenant_a: Tenant) -> None:
    route, stops = route_of_three(tenant_a)
    response = login(tenant_a.users[Role.DISPATCHER]).get(url(tenant_a.vehicle.pk))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()["route"]
    assert body["id"] == route.pk
    assert body["name"] == f"Route #{route.pk}"
    assert body["hub"] == tenant_a.hub.name
    assert (body["status"], body["status_label"]) == ("in_progress", "In progress")
    assert body["url"] == f"/routes/{route.pk}/"
    assert (body["stops_done"], body["stops_total"]) == (1, 3)
    next_stop = body["next_stop"]
    assert next_stop["sequence"] == 2
    assert next_stop["reference"] == "NEXT-0002"
    assert next_stop["address"] == "Prinsengracht 263"
    assert next_stop["late_risk"] is True
    eta = stops[1].eta
    assert eta is not None
    assert next_stop["eta"] == eta.isoformat()
    # The organization's clock, not the server's (UTC) one.
    assert next_stop["eta_text"] == f"{timezone.localtime(eta, AMSTERDAM):%H:%M}"
    window_start = timezone.localtime(stops[1].order.window_start, AMSTERDAM)
    assert next_stop["window"].startswith(f"{window_start:%H:%M}\u2013")


def test_support_sees_the_route_without_a_link_to_the_editor(tenant_a: Tenant) -> None:
    route_of_three(tenant_a)
    body = login(tenant_a.users[Role.SUPPORT]).get(url(tenant_a.vehicle.pk)).json()
    assert body["route"]["url"] == ""
    assert body["route"]["next_stop"]["reference"] == "NEXT-0002"


def test_no_route_today_and_every_stop_done(tenant_a: Tenant) -> None:
    route, stops = route_of_three(tenant_a)
    client = login(tenant_a.users[Role.DISPATCHER])
    with scope(organization=tenant_a.organization.pk):
        for stop in stops[1:]:
            stop.order.status = OrderStatus.DELIVERED
            stop.order.save(update_fields=["status"])
    body = client.get(url(tenant_a.vehicle.pk)).json()["route"]
    assert (body["stops_done"], body["stops_total"], body["next_stop"]) == (3, 3, None)

    with scope(organization=tenant_a.organization.pk):
        Route.objects.filter(pk=route.pk).update(date=route.date - dt.timedelta(days=3))
    assert client.get(url(tenant_a.vehicle.pk)).json()["route"] is None


@pytest.mark.parametrize("role", [Role.DRIVER])
def test_roles_without_the_console_are_refused(tenant_a: Tenant, role: str) -> None:
    assert login(tenant_a.users[role]).get(url(tenant_a.vehicle.pk)).status_code == 403


def test_a_hub_scoped_dispatcher_gets_404_for_another_hubs_vehicle(tenant_a: Tenant) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Noord")
    other = DeviceFactory.create(organization=tenant_a.organization, vehicle__hub=other_hub)
    user = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        user.memberships.get().hubs.set([tenant_a.hub])
        assert other.vehicle is not None
        other_vehicle_id = other.vehicle.pk
    client = login(user)
    assert client.get(url(other_vehicle_id)).status_code == 404
    assert client.get(url(tenant_a.vehicle.pk)).status_code == 200
