"""The order list's drill-down filters (the dashboards link to them): the orders on routes of a
vehicle, of a driver, in a period of route days, matched on one stop together."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope

from deliveries.models import Route, Stop
from tests.conftest import Tenant
from tests.deliveries.builders import order_build
from tests.factories import DriverFactory, VehicleFactory

DAY = dt.date(2026, 3, 10)


def _route_with_order(tenant: Tenant, reference: str, *, day: dt.date, vehicle, driver) -> None:
    order = order_build(tenant.organization, tenant.hub, reference=reference)
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


def _references(client, query: str) -> set[str]:
    response = client.get(f"/orders/?{query}")
    assert response.status_code == 200
    return {
        ref
        for ref in ("DRILL-VAN-DAY", "DRILL-VAN-LATER", "DRILL-OTHER-DAY")
        if ref in response.content.decode()
    }


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
def test_a_foreign_vehicle_finds_nothing_and_names_nothing(
    tenant_a: Tenant, tenant_b: Tenant, routes, client_for
) -> None:
    client = client_for(tenant_a, "manager")
    response = client.get(f"/orders/?vehicle={tenant_b.vehicle.pk}")
    page = response.content.decode()
    assert response.status_code == 200
    assert tenant_b.order is not None
    assert tenant_b.vehicle.plate not in page and tenant_b.order.reference not in page
    assert _references(client, f"vehicle={tenant_b.vehicle.pk}") == set()


@pytest.mark.django_db
def test_bad_drill_down_values_are_form_errors(tenant_a: Tenant, client_for) -> None:
    client = client_for(tenant_a, "manager")
    for query in (
        "vehicle=abc",
        "route_from=2026-02-30",
        "driver=1.5",
        "vehicle=99999999999999999999",
    ):
        response = client.get(f"/orders/?{query}")
        assert response.status_code == 200
        assert "Check the search" in response.content.decode()
