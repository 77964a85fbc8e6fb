"""One click to a vehicle's day: from the order page (the day of the order's route) and from
the live map's vehicle panel (the vehicle's today). The links lead to pages that open."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from deliveries.models import Route
from tenancy.models import Role
from tests.conftest import Tenant, login

pytestmark = pytest.mark.django_db


def test_the_order_page_links_the_vehicle_day_of_its_route(tenant_a: Tenant) -> None:
    route = tenant_a.delivery_objects[Route]
    with scopes_disabled():
        Route.objects.filter(pk=route.pk).update(date=dt.date(2026, 3, 29))
    assert tenant_a.order is not None
    client = login(tenant_a.users[Role.SUPPORT])
    body = client.get(f"/orders/{tenant_a.order.pk}/").content.decode()
    link = f"/history/vehicles/{tenant_a.vehicle.pk}/2026-03-29/"
    assert f'href="{link}" data-testid="order-vehicle-day"' in body
    assert "The vehicle&#x27;s day (Sun 29 Mar)" in body or "The vehicle's day (Sun 29 Mar)" in body
    page = client.get(link)
    assert page.status_code == 200
    assert tenant_a.vehicle.plate in page.content.decode()


def test_an_order_without_a_vehicle_has_no_day_link(tenant_a: Tenant) -> None:
    with scopes_disabled():
        Route.objects.filter(pk=tenant_a.delivery_objects[Route].pk).update(vehicle=None)
    assert tenant_a.order is not None
    body = login(tenant_a.users[Role.SUPPORT]).get(f"/orders/{tenant_a.order.pk}/").content
    assert b"order-vehicle-day" not in body


def test_the_live_map_panel_links_the_vehicle_today(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    body = client.get(f"/map/vehicles/{tenant_a.vehicle.pk}/").content.decode()
    link = f"/history/vehicles/{tenant_a.vehicle.pk}/"
    assert f'href="{link}" data-testid="vehicle-history-link"' in body
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"].startswith(link) and response["Location"] != link


def test_the_route_page_and_the_vehicle_day_link_plan_versus_actual(tenant_a: Tenant) -> None:
    route = tenant_a.delivery_objects[Route]
    with scopes_disabled():
        Route.objects.filter(pk=route.pk).update(date=dt.date(2026, 3, 29))
    client = login(tenant_a.users[Role.DISPATCHER])
    plan_actual = f"/history/routes/{route.pk}/"
    body = client.get(f"/routes/{route.pk}/").content.decode()
    assert f'href="{plan_actual}" data-testid="route-plan-actual"' in body
    day = client.get(f"/history/vehicles/{tenant_a.vehicle.pk}/2026-03-29/").content.decode()
    assert f'href="{plan_actual}" data-testid="day-plan-actual"' in day
    # The day before has no route of this vehicle: no link.
    other = client.get(f"/history/vehicles/{tenant_a.vehicle.pk}/2026-03-28/").content.decode()
    assert "day-plan-actual" not in other
    assert client.get(plan_actual).status_code == 200
