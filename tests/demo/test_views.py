"""The demo's roads base layer (demo/views.py) and how the live map finds it."""

from __future__ import annotations

from django.test import Client, override_settings

from tenancy.models import Role
from tests.conftest import Tenant, login


def test_roads_layer_is_geojson(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/roads.geojson")
    assert response.status_code == 200
    roads = response.json()
    assert roads["type"] == "FeatureCollection"
    assert roads["features"] and roads["features"][0]["geometry"]["type"] == "LineString"


def test_drivers_get_the_roads_too_and_strangers_do_not(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.DRIVER]).get("/map/roads.geojson").status_code == 200
    response = Client().get("/map/roads.geojson")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_map_draws_the_demo_roads_when_the_demo_is_installed(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/")
    assert response.context["map_config"]["roadsUrl"] == "/map/roads.geojson"


@override_settings(MAP_BASE_LAYER_URL="")
def test_without_a_base_layer_the_map_asks_for_no_roads(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/")
    assert response.context["map_config"]["roadsUrl"] == ""
