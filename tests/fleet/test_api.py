"""The fleet REST API over HTTP: hubs, zones (GeoJSON), vehicles, drivers, positions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from fleet.models import VehicleState
from reporting.trips import Fix
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.reporting.positions import positions_insert

pytestmark = pytest.mark.django_db

API = "/api/v1/"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def test_lists_show_only_the_organizations_own_rows(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = token_client()
    expected = {
        "hubs/": tenant_a.hub.name,
        "vehicles/": tenant_a.vehicle.plate,
        "drivers/": tenant_a.driver.name,
    }
    for path, marker in expected.items():
        response = client.get(API + path)
        assert response.status_code == 200, (path, response.content)
        body = response.content.decode()
        assert marker in body
        for foreign in tenant_b.markers:
            assert foreign not in body, (path, foreign)
        assert set(response.json()) == {"next", "next_cursor", "results"}
    vehicle = client.get(f"{API}vehicles/{tenant_a.vehicle.pk}/").json()
    assert vehicle["plate"] == tenant_a.vehicle.plate
    assert vehicle["device"] == tenant_a.device.identifier


def test_zones_are_geojson(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = token_client()
    collection = client.get(API + "zones/").json()
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["type"] == "Feature" and feature["id"] == tenant_a.zone.pk
    assert feature["geometry"] == tenant_a.zone.geometry
    assert feature["properties"]["name"] == tenant_a.zone.name
    one = client.get(f"{API}zones/{tenant_a.zone.pk}/").json()
    assert one == feature


@pytest.mark.parametrize(
    "path",
    [
        "hubs/{b.hub.pk}/",
        "zones/{b.zone.pk}/",
        "vehicles/{b.vehicle.pk}/",
        "drivers/{b.driver.pk}/",
        "vehicles/{b.vehicle.pk}/positions/?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
    ],
)
def test_foreign_ids_are_404(tenant_a: Tenant, tenant_b: Tenant, path: str) -> None:
    url = API + path.format(b=tenant_b)
    for client in (token_client(), login(tenant_a.users[Role.DISPATCHER])):
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
        for foreign in tenant_b.markers:
            assert foreign not in response.content.decode()


def test_filters_are_the_filtersets(tenant_a: Tenant) -> None:
    client = token_client()
    plate = tenant_a.vehicle.plate
    assert client.get(API + "vehicles/", {"q": plate[:4]}).json()["results"][0]["plate"] == plate
    assert client.get(API + "vehicles/", {"q": "nothing-like-it"}).json()["results"] == []
    assert client.get(API + "vehicles/", {"active": "maybe"}).status_code == 400
    assert client.get(API + "drivers/", {"hub": "1.5"}).status_code == 400


def track(tenant: Tenant, start: dt.datetime, count: int) -> list[Fix]:
    fixes = [
        Fix(
            timestamp=(start + dt.timedelta(seconds=10 * n)).timestamp(),
            latitude=tenant.hub.latitude + n * 0.0001,
            longitude=tenant.hub.longitude,
            speed_kmh=30.0,
            ignition=True,
        )
        for n in range(count)
    ]
    with scopes_disabled():
        positions_insert(tenant.device, fixes)
    return fixes


def test_position_history_pages_as_json_and_geojson(tenant_a: Tenant, tenant_b: Tenant) -> None:
    start = (timezone.now() - dt.timedelta(hours=1)).replace(microsecond=0)
    track(tenant_a, start, 5)
    track(tenant_b, start, 3)
    client = token_client()
    url = f"{API}vehicles/{tenant_a.vehicle.pk}/positions/"
    window: dict[str, Any] = {
        "from": start.isoformat(),
        "to": (start + dt.timedelta(seconds=40)).isoformat(),  # exclusive: 4 of the 5
        "limit": 3,
    }
    first = client.get(url, window).json()
    assert len(first["results"]) == 3 and first["next_cursor"]
    second = client.get(url, {**window, "cursor": first["next_cursor"]}).json()
    assert len(second["results"]) == 1 and second["next_cursor"] is None
    times = [row["fix_time"] for row in first["results"] + second["results"]]
    assert times == sorted(times) and len(set(times)) == 4
    geo = client.get(url, {**window, "output": "geojson"}).json()["results"]
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3
    point = geo["features"][0]["geometry"]
    assert point == {
        "type": "Point",
        "coordinates": [tenant_a.hub.longitude, tenant_a.hub.latitude],
    }


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"},  # naive
        {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},  # backwards
        {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},  # over 7 days
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "output": "kml"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "limit": "0"},
    ],
)
def test_position_history_refuses_bad_ranges(tenant_a: Tenant, params: dict[str, str]) -> None:
    url = f"{API}vehicles/{tenant_a.vehicle.pk}/positions/"
    assert token_client().get(url, params).status_code == 400


def test_latest_positions_are_the_vehicle_states(tenant_a: Tenant, tenant_b: Tenant) -> None:
    now = timezone.now()
    with scopes_disabled():
        for tenant in (tenant_a, tenant_b):
            VehicleState.objects.update_or_create(
                vehicle=tenant.vehicle,
                defaults={
                    "organization": tenant.organization, "device": tenant.device,
                    "fix_time": now, "server_time": now, "latitude": tenant.hub.latitude,
                    "longitude": tenant.hub.longitude, "status": "moving",
                },
            )  # fmt: skip
    results = token_client().get(API + "positions/latest/").json()["results"]
    assert [(r["vehicle"], r["plate"], r["status"]) for r in results] == [
        (tenant_a.vehicle.pk, tenant_a.vehicle.plate, "moving")
    ]
