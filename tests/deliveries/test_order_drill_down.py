"""The order list's drill-down filters (the dashboards link to them): the orders on routes of a
vehicle, of a driver, in a period of route days, matched on one stop together; and the orders
inside a zone's polygon."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope

from deliveries.models import Route, Stop
from fleet.models import Zone
from tests.conftest import Tenant
from tests.deliveries.builders import order_build
from tests.factories import DriverFactory, VehicleFactory

DAY = dt.date(2026, 3, 10)


def _route_with_order(
    tenant: Tenant, reference: str, *, day: dt.date, vehicle, driver, **fields: float
) -> None:
    order = order_build(tenant.organization, tenant.hub, reference=reference, **fields)
    with scope(organization=tenant.organization.pk):
        route = Route.objects.create(
            organization=tenant.organization, hub=tenant.hub, date=day, vehicle=vehicle,
            driver=driver,
        )  # fmt: skip
        Stop.objects.create(organization=tenant.organization, route=route, sequence=1, order=order)


@pytest.fixture
def routes(tenant_a: Tenant) -> dict[str, object]:
    other_van = VehicleFactory.create(organization=tenant_a.organization, hub=tenant_a.hub)
    other_driver = DriverFactory.create(organization=tenant_a.organization, name="Other Person")
    van, person = tenant_a.vehicle, tenant_a.driver
    _route_with_order(tenant_a, "DRILL-VAN-DAY", day=DAY, vehicle=van, driver=person)
    _route_with_order(
        tenant_a,
        "DRILL-VAN-LATER",
        day=DAY + dt.timedelta(days=5),
        vehicle=van,
        driver=other_driver,
    )
    _route_with_order(tenant_a, "DRILL-OTHER-DAY", day=DAY, vehicle=other_van, driver=other_driver)
    return {"van": van, "person": person, "other_driver": other_driver}


def _references(
    client,
    query: str,
    among: tuple[str, ...] = ("DRILL-VAN-DAY", "DRILL-VAN-LATER", "DRILL-OTHER-DAY"),
) -> set[str]:
    response = client.get(f"/orders/?{query}")
    assert response.status_code == 200
    return {ref for ref in among if ref in response.content.decode()}


@pytest.mark.django_db
def test_vehicle_and_route_days_narrow_the_list_together(
    tenant_a: Tenant, routes, client_for
) -> None:
    client = client_for(tenant_a, "manager")
    van = routes["van"]
    assert _references(client, f"vehicle={van.pk}") == {"DRILL-VAN-DAY", "DRILL-VAN-LATER"}
    assert _references(client, f"vehicle={van.pk}&route_from={DAY}&route_to={DAY}") == {
        "DRILL-VAN-DAY"
    }
    assert _references(client, f"route_from={DAY}&route_to={DAY}") == {
        "DRILL-VAN-DAY",
        "DRILL-OTHER-DAY",
    }
    assert _references(client, f"driver={routes['other_driver'].pk}") == {
        "DRILL-VAN-LATER",
        "DRILL-OTHER-DAY",
    }
    # Van and driver must be on the same stop's route: this van never drove with that person
    # on the day.
    assert (
        _references(client, f"vehicle={van.pk}&driver={routes['other_driver'].pk}&route_to={DAY}")
        == set()
    )


@pytest.mark.django_db
def test_the_page_says_what_the_list_is_narrowed_to(tenant_a: Tenant, routes, client_for) -> None:
    client = client_for(tenant_a, "manager")
    van = routes["van"]
    page = client.get(f"/orders/?vehicle={van.pk}&route_from={DAY}&route_to={DAY}").content.decode()
    assert 'data-testid="order-drill-down"' in page
    assert van.plate in page and str(DAY) in page
    # The search form keeps the drill-down, so a search inside it stays inside it.
    assert f'name="vehicle" value="{van.pk}"' in page
    plain = client.get("/orders/").content.decode()
    assert 'data-testid="order-drill-down"' not in plain


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["vehicle", "zone"])
def test_a_foreign_vehicle_or_zone_finds_nothing_and_names_nothing(
    tenant_a: Tenant, tenant_b: Tenant, routes, client_for, name: str
) -> None:
    client = client_for(tenant_a, "manager")
    foreign = {"vehicle": (tenant_b.vehicle.pk, tenant_b.vehicle.plate),
               "zone": (tenant_b.zone.pk, tenant_b.zone.name)}[name]  # fmt: skip
    response = client.get(f"/orders/?{name}={foreign[0]}")
    page = response.content.decode()
    assert response.status_code == 200
    assert tenant_b.order is not None
    assert foreign[1] not in page and tenant_b.order.reference not in page
    assert _references(client, f"{name}={foreign[0]}") == set()


@pytest.mark.django_db
def test_bad_drill_down_values_are_form_errors(tenant_a: Tenant, client_for) -> None:
    client = client_for(tenant_a, "manager")
    for query in (
        "vehicle=abc",
        "route_from=2026-02-30",
        "driver=1.5",
        "vehicle=99999999999999999999",
        "zone=abc",
        "zone=0",
        "zone=1.5",
    ):
        response = client.get(f"/orders/?{query}")
        assert response.status_code == 200
        assert "Check the search" in response.content.decode()


def _ring(lat: float, lon: float, half: float) -> list[list[float]]:
    return [
        [lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
        [lon - half, lat + half], [lon - half, lat - half],
    ]  # fmt: skip


@pytest.fixture
def zoned(tenant_a: Tenant) -> dict[str, object]:
    """A zone around a point with a hole in its middle, and orders inside it, in its hole, on
    its edge and outside it, on routes of the same day."""
    lat, lon = 52.30, 4.70
    with scope(organization=tenant_a.organization.pk):
        zone = Zone.objects.create(
            organization=tenant_a.organization, name="Drill Ring Zone", hub=tenant_a.hub,
            geometry={"type": "Polygon", "coordinates": [_ring(lat, lon, 0.02), _ring(lat, lon, 0.005)]},
        )  # fmt: skip
    van, person = tenant_a.vehicle, tenant_a.driver
    for reference, where in (
        ("DRILL-ZONE-IN", (lat + 0.012, lon)),
        ("DRILL-ZONE-HOLE", (lat, lon)),
        ("DRILL-ZONE-EDGE", (lat + 0.02, lon)),
        ("DRILL-ZONE-OUT", (lat + 0.05, lon)),
    ):
        _route_with_order(
            tenant_a, reference, day=DAY, vehicle=van, driver=person,
            latitude=where[0], longitude=where[1],
        )  # fmt: skip
    _route_with_order(
        tenant_a, "DRILL-ZONE-LATER", day=DAY + dt.timedelta(days=3), vehicle=van, driver=person,
        latitude=lat - 0.012, longitude=lon,
    )  # fmt: skip
    return {"zone": zone}


ZONED = (
    "DRILL-ZONE-IN",
    "DRILL-ZONE-HOLE",
    "DRILL-ZONE-EDGE",
    "DRILL-ZONE-OUT",
    "DRILL-ZONE-LATER",
)


def _zoned(client, query: str) -> set[str]:
    return _references(client, query, ZONED)


@pytest.mark.django_db
def test_a_zone_keeps_the_orders_inside_its_polygon(tenant_a: Tenant, zoned, client_for) -> None:
    client = client_for(tenant_a, "manager")
    zone = zoned["zone"]
    # Inside the ring or on its edge; not in the hole, not outside.
    assert _zoned(client, f"zone={zone.pk}") == {
        "DRILL-ZONE-IN", "DRILL-ZONE-EDGE", "DRILL-ZONE-LATER",
    }  # fmt: skip
    # With the dashboard's route days: the zone's orders of that day.
    assert _zoned(client, f"zone={zone.pk}&route_from={DAY}&route_to={DAY}") == {
        "DRILL-ZONE-IN", "DRILL-ZONE-EDGE",
    }  # fmt: skip
    page = client.get(f"/orders/?zone={zone.pk}&route_from={DAY}").content.decode()
    assert 'data-testid="order-drill-down"' in page and "Drill Ring Zone" in page
    assert f'name="zone" value="{zone.pk}"' in page  # a search inside stays inside the zone


@pytest.mark.django_db
def test_the_api_filters_orders_by_zone_too(tenant_a: Tenant, zoned, client_for) -> None:
    client = client_for(tenant_a, "manager")
    response = client.get("/api/v1/orders/", {"zone": zoned["zone"].pk, "route_to": str(DAY)})
    assert response.status_code == 200
    assert {row["reference"] for row in response.json()["results"]} == {
        "DRILL-ZONE-IN", "DRILL-ZONE-EDGE",
    }  # fmt: skip
    bad = client.get("/api/v1/orders/", {"zone": "abc"})
    assert bad.status_code == 400 and "zone" in bad.content.decode()
