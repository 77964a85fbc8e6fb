"""Query-count baselines (NetBox style): how many queries each main page and API list makes.

Each page is measured on a realistic tenant (20 orders, 3 routes, 10 vehicles on top of the
shared fixture), pinned with `django_assert_max_num_queries`, and measured again after the data
doubled: the count must not move. A loop that queries once per row (an N+1) fails here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope

from deliveries.models import Route, Stop
from fleet.models import RejectedFix, Vehicle
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import (
    api_token_of,
    order_advance,
    order_build,
    webhook_rows_build,
)
from tests.factories import DeviceFactory

# page -> the role that opens it, its path (from the tenant) and its pinned query count.
Page = tuple[str, Callable[[Tenant], str], int]


def route_of(tenant: Tenant) -> Route:
    route = tenant.delivery_objects[Route]
    assert isinstance(route, Route)
    return route


def order_id(tenant: Tenant) -> int:
    assert tenant.order is not None
    return tenant.order.pk


PAGES: dict[str, Page] = {
    "live map": (Role.DISPATCHER, lambda t: "/map/", 11),
    "orders list": (Role.DISPATCHER, lambda t: "/orders/", 7),
    "order detail": (Role.DISPATCHER, lambda t: f"/orders/{order_id(t)}/", 12),
    "support lookup": (
        Role.SUPPORT,
        lambda t: f"/orders/?q={t.order.tracking_code if t.order else ''}",
        7,
    ),
    "routes list": (Role.DISPATCHER, lambda t: "/routes/", 10),
    "route editor": (Role.DISPATCHER, lambda t: f"/routes/{route_of(t).pk}/", 10),
    "data health": (Role.DISPATCHER, lambda t: "/map/data-health/", 8),
    "webhooks": (Role.ADMIN, lambda t: "/webhooks/", 9),
}

API_LISTS: dict[str, tuple[Callable[[Tenant], str], int]] = {
    "orders api": (lambda t: "/api/v1/orders/", 4),
    "order events api": (lambda t: f"/api/v1/orders/{order_id(t)}/events/", 4),
    # The hottest read of integrations (bench/api_load.py): the token, then the order with
    # its hub; nothing else touches the database (the token's organization is located once
    # per process, its last use is written at most once a minute).
    "order detail api": (lambda t: f"/api/v1/orders/{order_id(t)}/", 2),
}


def data_add(tenant: Tenant, *, orders: int = 20, routes: int = 3, vehicles: int = 10) -> None:
    """More of what a working day has: vehicles with devices, orders with a few events each,
    and routes whose stops are those orders (the fixture's route gets some too), webhook
    endpoints with a logged delivery, and refused fixes for the data-health page."""
    organization, hub = tenant.organization, tenant.hub
    for _ in range(vehicles):
        DeviceFactory.create(organization=organization, vehicle__hub=hub)
    batch = uuid.uuid4().hex[:6]
    built = []
    for n in range(orders):
        order = order_build(
            organization, hub, reference=f"QC-{batch}-{n}", customer_name=f"Customer {n}"
        )
        if n % 2:
            order_advance(order, "assigned")
        built.append(order)
    with scope(organization=organization.pk):
        fleet = list(Vehicle.objects.filter(hub=hub))
        day_routes = [route_of(tenant)] + [
            Route.objects.create(
                organization=organization,
                hub=hub,
                date=timezone.localdate(),
                vehicle=fleet[i % len(fleet)],
                driver=tenant.driver,
            )
            for i in range(routes)
        ]
        for n, order in enumerate(built):
            route = day_routes[n % len(day_routes)]
            sequence = Stop.objects.filter(route=route).count() + 1
            Stop.objects.create(
                organization=organization, route=route, sequence=sequence, order=order
            )
        for n in range(3):
            RejectedFix.objects.create(
                organization=organization,
                device=tenant.device,
                received_at=timezone.now(),
                fix_time=timezone.now() - dt.timedelta(minutes=n),
                reason=RejectedFix.Reason.NULL_ISLAND,
                detail=f"refused {batch} {n}",
            )
    for order in built[:3]:
        webhook_rows_build(f"QC{batch}", organization, order)


def count(client: Client, path: str, **headers: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


@pytest.mark.parametrize("name", PAGES)
def test_a_page_makes_a_pinned_number_of_queries_whatever_the_data(
    name: str, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    role, path_of, ceiling = PAGES[name]
    data_add(tenant_a)
    client = login(tenant_a.users[role])
    path = path_of(tenant_a)
    client.get(path)  # warm the per-process caches (session, content types)
    with django_assert_max_num_queries(ceiling):
        client.get(path)
    before = count(client, path)
    data_add(tenant_a)
    assert count(client, path) == before, f"{name}: the query count grows with the data"


@pytest.mark.parametrize("name", API_LISTS)
def test_an_api_list_makes_a_pinned_number_of_queries_whatever_the_data(
    name: str, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    path_of, ceiling = API_LISTS[name]
    data_add(tenant_a)
    order = tenant_a.order
    assert order is not None
    order_advance(order, "assigned", "out_for_delivery")
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}")
    path = path_of(tenant_a)
    client.get(path)
    with django_assert_max_num_queries(ceiling):
        client.get(path)
    before = count(client, path)
    data_add(tenant_a)
    order_advance(order, "arrived")
    assert count(client, path) == before, f"{name}: the query count grows with the data"


# One settings query; the vehicle and route sums per day (the period and the one before)
# and per (vehicle, driver); the alerts of both periods once; the two hub-day histogram
# reads and the reason labels; the vehicle and driver labels (34 when each figure read alone).
DASHBOARD_QUERIES = 21


def rollups_add(tenant: Tenant, *, vehicles: int, days: int) -> None:
    """Vehicle-day and route-day rollup rows for `vehicles` more vans over the last `days` days
    of the dashboard's default period (what the dashboard reads)."""
    from reporting.models import DailyRouteRollup, DailyVehicleRollup
    from reporting.route_rollups import hub_day_histograms_refresh
    from tenancy.context import tenant_context

    organization, hub = tenant.organization, tenant.hub
    today = timezone.localdate()
    for _ in range(vehicles):
        device = DeviceFactory.create(organization=organization, vehicle__hub=hub)
        with scope(organization=organization.pk):
            for offset in range(days):
                day = today - dt.timedelta(days=offset)
                DailyVehicleRollup.objects.create(
                    organization=organization, vehicle=device.vehicle, day=day, hub_id=hub.pk,
                    distance_m=80_000, moving_seconds=15_000, shift_seconds=36_000,
                    computed_at=timezone.now(),
                )  # fmt: skip
                route = Route.objects.create(
                    organization=organization, hub=hub, date=day, vehicle=device.vehicle,
                    driver=tenant.driver,
                )  # fmt: skip
                DailyRouteRollup.objects.create(
                    organization=organization, route=route, day=day, hub_id=hub.pk,
                    vehicle_id=device.vehicle_id, driver_id=tenant.driver.pk, deliveries=20,
                    delivered_with_window=20, delivered_on_time=18, failures=1,
                    failures_by_reason={"not_home": 1}, computed_at=timezone.now(),
                )  # fmt: skip
    with tenant_context(organization):
        for offset in range(days):
            day = today - dt.timedelta(days=offset)
            hub_day_histograms_refresh(organization_id=organization.pk, day=day)


def test_the_dashboard_makes_a_pinned_number_of_queries_whatever_the_history(
    tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    rollups_add(tenant_a, vehicles=3, days=5)
    client = login(tenant_a.users[Role.MANAGER])
    client.get("/dashboards/")
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        client.get("/dashboards/")
    before = count(client, "/dashboards/")
    rollups_add(tenant_a, vehicles=3, days=10)
    assert count(client, "/dashboards/") == before, "the dashboard's query count grows with history"
