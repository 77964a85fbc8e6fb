"""The manager's dashboard on a known day: the figures of hand-written rollup rows (the KPI
arithmetic itself is tested in test_kpi_interface.py / test_kpis.py), the change against the
previous period, drill-down links that lead to the right filtered lists, empty and error
states, roles, and a foreign organization's ids."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django_scopes import scope

from deliveries.models import Route
from reporting.models import DailyRouteRollup, DailyVehicleRollup
from reporting.route_rollups import hub_day_histograms_refresh
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant

DAY = dt.date(2026, 3, 10)  # the known day; the period before it is the 9th
ONE_DAY = f"/dashboards/?start={DAY}&end={DAY}"


def _route(tenant: Tenant, day: dt.date) -> Route:
    with scope(organization=tenant.organization.pk):
        return Route.objects.create(
            organization=tenant.organization, hub=tenant.hub, date=day,
            vehicle=tenant.vehicle, driver=tenant.driver,
        )  # fmt: skip


def _rollups(
    tenant: Tenant, day: dt.date, *, vehicle: dict[str, Any], route: dict[str, Any]
) -> None:
    ids = {"hub_id": tenant.hub.pk}
    with scope(organization=tenant.organization.pk):
        DailyVehicleRollup.objects.create(
            organization=tenant.organization, vehicle=tenant.vehicle, day=day,
            driver_id=tenant.driver.pk, computed_at=timezone.now(), **ids, **vehicle,
        )  # fmt: skip
        DailyRouteRollup.objects.create(
            organization=tenant.organization, route=_route(tenant, day), day=day,
            vehicle_id=tenant.vehicle.pk, driver_id=tenant.driver.pk, computed_at=timezone.now(),
            **ids, **route,
        )  # fmt: skip
    # The rollup pass also sums the day's route rows into hub-day bins (what a summary reads).
    with tenant_context(tenant.organization):
        hub_day_histograms_refresh(organization_id=tenant.organization.pk, day=day)


@pytest.fixture
def known_day(tenant_a: Tenant) -> Tenant:
    """The 10th: 40 delivered (36 of them inside their window), 4 failed (3 not at home, 1
    refused), 44 first attempts of which 40 delivered, 44 stops in 8 h on route, 5 min at each
    door; 120 km, 5 h moving, 30 min idle, 2.5 h stopped, 3 speeding episodes, a 10-hour shift.
    The 9th: 32 delivered (30 of 40 with a window on time), 100 km."""
    _rollups(
        tenant_a, DAY,
        vehicle={"distance_m": 120_000.0, "moving_seconds": 18_000, "idle_seconds": 1_800,
                 "stopped_seconds": 9_000, "shift_seconds": 36_000, "speeding_events": 3, "fixes": 1200},
        route={"deliveries": 40, "failures": 4, "delivered_with_window": 40, "delivered_on_time": 36,
               "first_attempts": 44, "first_attempt_successes": 40, "stops_planned": 44,
               "stops_visited": 44, "on_route_seconds": 28_800, "dwell_seconds": 13_200,
               "dwell_stops": 44, "failures_by_reason": {"not_home": 3, "refused": 1}},
    )  # fmt: skip
    _rollups(
        tenant_a, DAY - dt.timedelta(days=1),
        vehicle={"distance_m": 100_000.0, "moving_seconds": 16_000, "idle_seconds": 3_600,
                 "stopped_seconds": 9_000, "shift_seconds": 36_000, "speeding_events": 1, "fixes": 1200},
        route={"deliveries": 32, "failures": 8, "delivered_with_window": 40, "delivered_on_time": 30,
               "first_attempts": 40, "first_attempt_successes": 32, "stops_planned": 40,
               "stops_visited": 40, "on_route_seconds": 28_800, "dwell_seconds": 12_000,
               "dwell_stops": 40, "failures_by_reason": {"not_home": 8}},
    )  # fmt: skip
    return tenant_a


def _tiles(page: str) -> dict[str, dict[str, str]]:
    """figure -> {value, change, links} read off the rendered tiles."""
    tiles = {}
    for match in re.finditer(
        r'<article class="kpi-tile[^"]*" data-figure="(\w+)">(.*?)</article>', page, re.S
    ):
        body = match.group(2)
        value = re.search(r'data-testid="tile-value"[^>]*>([^<]*)<', body)
        change = re.search(r'data-testid="tile-change">(.*?)</p>', body, re.S)
        tiles[match.group(1)] = {
            "value": html.unescape(value.group(1)).strip() if value else "",
            "change": " ".join(re.sub(r"<[^>]+>", " ", html.unescape(change.group(1))).split())
            if change
            else "",
            "links": " ".join(html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)),
        }
    return tiles


def _first(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found is not None, pattern
    return found.group(1)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(html.unescape(url)).query)


@pytest.mark.django_db
def test_the_known_day_in_the_tiles_with_the_change_against_the_day_before(
    known_day: Tenant, client_for
) -> None:
    response = client_for(known_day, Role.MANAGER).get(ONE_DAY)
    assert response.status_code == 200
    page = response.content.decode()
    tiles = _tiles(page)
    nnsp = "\u202f"
    assert tiles["deliveries"]["value"] == "40"
    assert tiles["deliveries"]["change"] == "▲ +25.0 % previous 32"
    assert tiles["on_time_rate"]["value"] == "90.0 %"  # 36 / 40
    assert tiles["on_time_rate"]["change"] == "▲ +15.0 pts previous 75.0 %"
    assert tiles["first_attempt_success_rate"]["value"] == "90.9 %"  # 40 / 44
    assert tiles["failures"]["value"] == "4"
    assert tiles["failures"]["change"] == "▼ -50.0 % previous 8"
    assert tiles["stops_per_hour"]["value"] == "5.5 / h"  # 44 stops / 8 h
    assert tiles["average_dwell_seconds"]["value"] == "5 min 00 s"  # 13,200 s / 44
    assert tiles["utilization"]["value"] == "80.0 %"  # 8 h on route / 10 h shift
    assert tiles["distance_km"]["value"] == "120 km"
    assert tiles["distance_km"]["change"] == "▲ +20.0 % previous 100 km"
    assert tiles["idle_seconds"]["value"] == "0.5 h"
    assert tiles["speeding_per_100_km"]["value"] == "2.50"  # 3 / 120 km x 100
    assert nnsp not in tiles["deliveries"]["value"]
    # Good news green, bad news red: fewer failures is good, less... everything else rose.
    assert re.search(r'data-figure="failures">.*?change--good', page, re.S)
    assert re.search(r'data-figure="on_time_rate">.*?change--good', page, re.S)
    assert re.search(r'data-figure="idle_seconds">.*?change--good', page, re.S)  # 1 h -> 30 min
    assert re.search(r'data-figure="speeding_per_100_km">.*?change--bad', page, re.S)
    # The time zone the days are in is on the page.
    assert 'data-testid="dashboard-timezone">' + known_day.organization.timezone in page


@pytest.mark.django_db
def test_the_charts_data_and_the_reasons(known_day: Tenant, client_for) -> None:
    page = (
        client_for(known_day, Role.MANAGER)
        .get(f"/dashboards/?start={DAY - dt.timedelta(days=1)}&end={DAY}")
        .content.decode()
    )
    data = json.loads(
        _first(r'<script id="dashboard-data" type="application/json">(.*?)</script>', page)
    )
    assert data["days"] == [str(DAY - dt.timedelta(days=1)), str(DAY)]
    assert data["deliveries"] == [32, 40]
    assert data["failures"] == [8, 4]
    assert data["onTimeRate"] == [75.0, 90.0]
    assert data["movingHours"] == [pytest.approx(4.44, abs=0.01), 5.0]
    assert data["idleHours"] == [1.0, 0.5]
    assert data["reasons"][0] == {
        "label": f"{known_day.organization.slug} Not home",
        "failures": 11,
    }
    assert data["timezone"] == known_day.organization.timezone
    assert _query(data["dayUrls"][1])["start"] == [str(DAY)] and _query(data["dayUrls"][1])[
        "end"
    ] == [str(DAY)]


@pytest.mark.django_db
def test_a_zone_slice_drills_down_to_the_orders_of_that_zone(known_day: Tenant, client_for) -> None:
    client = client_for(known_day, Role.MANAGER)
    zone = known_day.zone
    page = client.get(f"{ONE_DAY}&zone={zone.pk}").content.decode()
    delivered = _first(r'href="(/orders/\?[^"]+)"', page[page.index('data-figure="deliveries"') :])
    assert _query(delivered) == {
        "route_from": [str(DAY)], "route_to": [str(DAY)], "status": ["delivered"],
        "zone": [str(zone.pk)],
    }  # fmt: skip
    listing = client.get(html.unescape(delivered)).content.decode()
    assert 'data-testid="order-drill-down"' in listing and zone.name in listing
    # Without a zone in the slice the links carry none.
    plain = client.get(ONE_DAY).content.decode()
    assert "zone" not in _query(
        _first(r'href="(/orders/\?[^"]+)"', plain[plain.index('data-figure="deliveries"') :])
    )


@pytest.mark.django_db
def test_drill_down_links_lead_to_the_right_filtered_lists(known_day: Tenant, client_for) -> None:
    client = client_for(known_day, Role.MANAGER)
    page = client.get(ONE_DAY).content.decode()
    orders = _first(r'href="(/orders/\?[^"]+)"', page[page.index('data-figure="failures"') :])
    assert _query(orders) == {
        "route_from": [str(DAY)],
        "route_to": [str(DAY)],
        "status": ["failed"],
    }
    # The deliveries tile's orders: delivered, on the day's routes; the list shows them narrowed.
    delivered = _first(r'href="(/orders/\?[^"]+)"', page[page.index('data-figure="deliveries"') :])
    assert _query(delivered)["status"] == ["delivered"]
    listing = client.get(html.unescape(delivered))
    assert (
        listing.status_code == 200 and 'data-testid="order-drill-down"' in listing.content.decode()
    )
    # Worst vehicles, drivers and days: each row narrows the dashboard and lists its orders.
    vehicles = page[
        page.index('data-testid="worst-vehicle"') : page.index('data-testid="worst-driver"')
    ]
    assert known_day.vehicle.plate in vehicles
    focus = _first(r'<td><a href="([^"]+)"', vehicles)
    assert _query(focus)["vehicle"] == [str(known_day.vehicle.pk)] and _query(focus)["start"] == [
        str(DAY)
    ]
    narrowed = client.get(html.unescape(focus))
    assert (
        narrowed.status_code == 200
        and _tiles(narrowed.content.decode())["deliveries"]["value"] == "40"
    )
    vehicle_orders = _first(r'class="row-actions"><a href="([^"]+)"', vehicles)
    assert _query(vehicle_orders) == {
        "route_from": [str(DAY)], "route_to": [str(DAY)], "vehicle": [str(known_day.vehicle.pk)],
    }  # fmt: skip
    drivers = page[page.index('data-testid="worst-driver"') : page.index('data-testid="worst-day"')]
    assert known_day.driver.name in drivers
    driver_orders = _first(r'class="row-actions"><a href="([^"]+)"', drivers)
    assert _query(driver_orders)["driver"] == [str(known_day.driver.pk)]
    days = page[page.index('data-testid="worst-day"') :]
    assert "Tue 10 Mar 2026" in days
    # A tile's "Vehicles" ranks the tables by its figure.
    ranked = _first(
        r'href="([^"]+)#worst-vehicle"', page[page.index('data-figure="idle_seconds"') :]
    )
    assert _query(ranked)["rank"] == ["idle_seconds"]
    by_idle = client.get(html.unescape(ranked)).content.decode()
    assert "Vehicles: worst idle time" in by_idle
    assert re.search(
        r'data-figure="idle_seconds" ?>|kpi-tile is-ranked" data-figure="idle_seconds"', by_idle
    )


@pytest.mark.django_db
def test_a_period_without_data_says_so(tenant_a: Tenant, client_for) -> None:
    response = client_for(tenant_a, Role.MANAGER).get(
        "/dashboards/?start=2025-01-01&end=2025-01-31"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="dashboard-empty"' in page
    tiles = _tiles(page)
    assert tiles["on_time_rate"]["value"] == "—" and tiles["deliveries"]["value"] == "0"
    assert "no comparison" in tiles["on_time_rate"]["change"]
    assert "Nothing to rank" in page


@pytest.mark.django_db
def test_bad_filters_are_a_400_with_the_fields_marked(
    known_day: Tenant, tenant_b: Tenant, client_for
) -> None:
    client = client_for(known_day, Role.MANAGER)
    for query in (
        "start=2026-03-10&end=2026-03-01",
        "start=2026-02-30",
        f"vehicle={tenant_b.vehicle.pk}",
        "hub=abc",
    ):
        response = client.get(f"/dashboards/?{query}")
        page = response.content.decode()
        assert response.status_code == 400, query
        assert 'data-testid="dashboard-invalid"' in page and 'aria-invalid="true"' in page
        assert "kpi-tile" not in page
        for marker in tenant_b.markers:
            assert marker not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.MANAGER, 200),
        (Role.ADMIN, 200),
        (Role.DISPATCHER, 200),
        (Role.SUPPORT, 403),
        (Role.DRIVER, 403),
    ],
)
def test_roles(role: str, status: int, tenant_a: Tenant, client_for) -> None:
    assert client_for(tenant_a, role).get("/dashboards/").status_code == status


@pytest.mark.django_db
def test_a_manager_lands_on_the_dashboard_and_the_navigation_marks_it(
    tenant_a: Tenant, client_for
) -> None:
    client = client_for(tenant_a, Role.MANAGER)
    assert client.get("/").url == "/dashboards/"
    page = client.get("/dashboards/").content.decode()
    assert re.search(r'is-active" href="/dashboards/" aria-current="page"', page)
    assert "Coming soon" not in page


@pytest.mark.django_db
def test_another_organizations_figures_never_show(
    known_day: Tenant, tenant_b: Tenant, client_for
) -> None:
    """B's manager asks for the same day: B has no rollups, A's figures must not appear."""
    page = client_for(tenant_b, Role.MANAGER).get(ONE_DAY).content.decode()
    assert _tiles(page)["deliveries"]["value"] == "0"
    assert known_day.vehicle.plate not in page and known_day.hub.name not in page
