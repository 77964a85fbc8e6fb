"""Zones written over the API as GeoJSON Features (the zone detail's shape): create and change
with the admin scope (or a console admin); the polygon is checked as every reader of zones
takes it (closed rings of [lon, lat] in range, valid for shapely)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from fleet.geo import square_polygon
from fleet.models import Zone
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_of

pytestmark = pytest.mark.django_db

ZONES = "/api/v1/zones/"
SQUARE = square_polygon(52.37, 4.89, 1.0)


def feature(geometry: Any = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": copy.deepcopy(SQUARE) if geometry is None else geometry,
        "properties": {"name": "Centre", **properties},
    }


def polygon(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def multi(*outlines: list[list[Any]]) -> dict[str, Any]:
    return {"type": "MultiPolygon", "coordinates": [[outline] for outline in outlines]}


def pointers(response: Any) -> set[str]:
    return {error["pointer"] for error in problem_of(response, 400)["errors"]}


def test_an_admin_creates_a_zone_and_changes_it_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    body = feature(name=" Centre ", kind="service_area", hub=tenant_a.hub.pk, color="#10B981")
    response = post(admin, ZONES, body, **{"Idempotency-Key": "zone-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{ZONES}{created['id']}/"
    assert (created["type"], created["geometry"]) == ("Feature", SQUARE)
    assert {k: v for k, v in created["properties"].items() if k != "updated_at"} == {
        "name": "Centre",
        "kind": "service_area",
        "hub": tenant_a.hub.pk,
        "color": "#10B981",
    }
    # The answer is the zone detail's Feature, which is also what the list holds.
    assert admin.get(response["Location"]).json() == created
    again = post(admin, ZONES, body, **{"Idempotency-Key": "zone-1"})
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    renamed = patch(admin, response["Location"], {"properties": {"hub": None}})
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["geometry"] == SQUARE
    assert renamed.json()["properties"] == {
        **created["properties"],
        "hub": None,
        "updated_at": renamed.json()["properties"]["updated_at"],
    }
    moved_square = square_polygon(52.4, 4.9, 0.5)
    moved = patch(admin, response["Location"], {"type": "Feature", "geometry": moved_square})
    assert moved.status_code == 200, moved.content
    assert (moved.json()["geometry"], moved.json()["properties"]["name"]) == (
        moved_square,
        "Centre",
    )
    with scopes_disabled():
        stored = Zone.objects.get(pk=created["id"])
    assert (stored.organization_id, stored.hub_id, stored.geometry) == (
        tenant_a.organization.pk,
        None,
        moved_square,
    )


def test_a_zone_with_a_hole_is_taken(tenant_a: Tenant) -> None:
    outer = SQUARE["coordinates"][0]  # type: ignore[index]
    hole = square_polygon(52.37, 4.89, 0.2)["coordinates"][0]  # type: ignore[index]
    response = post(scoped_client(tenant_a, ["admin"]), ZONES, feature(polygon(outer, hole)))
    assert response.status_code == 201, response.content
    assert len(response.json()["geometry"]["coordinates"]) == 2


def test_bad_polygons_and_properties_are_refused_by_member(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    ring = SQUARE["coordinates"][0]  # type: ignore[index]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        (feature(polygon(ring[:3])), {"/geometry/coordinates/0"}),  # three positions
        (feature(polygon([*ring[:-1], [4.0, 52.0]])), {"/geometry"}),  # not closed
        (feature(polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])), {"/geometry"}),  # a bow tie
        (feature(polygon([[0, 0], [0, 0], [0, 0], [0, 0]])), {"/geometry"}),  # no area
        (feature(polygon([[190, 0], [191, 0], [191, 1], [190, 0]])), {"/geometry"}),  # lon
        (feature(polygon([[0, 95], [1, 95], [1, 96], [0, 95]])), {"/geometry"}),  # lat
        (feature(polygon([[0, "a"], [1, 0], [1, 1], [0, 0]])), {"/geometry/coordinates/0/0/1"}),
        (feature(polygon([[0], [1, 0], [1, 1], [0, 0]])), {"/geometry/coordinates/0/0"}),
        (feature({"type": "Polygon", "coordinates": []}), {"/geometry/coordinates"}),
        (
            feature({"type": "Point", "coordinates": [4.9, 52.3]}),
            {"/geometry/type"},
        ),
        (feature(multi(ring, ring)), {"/geometry"}),  # parts that overlap
        (feature(multi(ring[:3])), {"/geometry/coordinates/0/0"}),
        (feature({"type": "MultiPolygon", "coordinates": []}), {"/geometry/coordinates"}),
        (feature({"type": "GeometryCollection", "geometries": []}), {"/geometry/type"}),
        (feature({**SQUARE, "bbox": [0, 0, 1, 1]}), {"/geometry/bbox"}),
        (feature("POLYGON((0 0, 1 0, 1 1, 0 0))"), {"/geometry"}),
        (feature(name=""), {"/properties/name"}),
        (feature(kind="moat"), {"/properties/kind"}),
        (feature(color="red"), {"/properties/color"}),
        (feature(hub=tenant_b.hub.pk), {"/properties/hub"}),
        (feature(updated_at="2030-01-01T00:00:00Z"), {"/properties/updated_at"}),
        ({**feature(), "type": "FeatureCollection"}, {"/type"}),
        ({**feature(), "id": 5}, {"/id"}),
        ({"type": "Feature", "geometry": SQUARE}, {"/properties"}),
    ]
    for body, expected in cases:
        response = post(admin, ZONES, body)
        assert response.status_code == 400, (body, response.content)
        assert pointers(response) == expected, (body, response.json())
        for marker in tenant_b.markers:
            assert marker not in response.content.decode()
    url = f"{ZONES}{tenant_a.zone.pk}/"
    before = admin.get(url).json()
    for change in (
        {"geometry": polygon(ring[:3])},
        {"geometry": polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])},
        {"properties": {"name": " "}},
        {"properties": {"hub": tenant_b.hub.pk}},
        {"geometry": None},
    ):
        problem_of(patch(admin, url, change), 400)
    assert admin.get(url).json() == before
    with scopes_disabled():
        assert not Zone.objects.filter(name="Centre").exists()


def test_a_multipolygon_zone_is_taken(tenant_a: Tenant) -> None:
    west = square_polygon(52.37, 4.80, 0.5)["coordinates"][0]  # type: ignore[index]
    east = square_polygon(52.37, 4.95, 0.5)["coordinates"][0]  # type: ignore[index]
    admin = scoped_client(tenant_a, ["admin"])
    response = post(admin, ZONES, feature(multi(west, east), name="Two sides"))
    assert response.status_code == 201, response.content
    assert response.json()["geometry"] == multi(west, east)
    back = patch(admin, response["Location"], {"geometry": polygon(west)})
    assert back.json()["geometry"] == polygon(west)


def test_altitudes_are_dropped(tenant_a: Tenant) -> None:
    ring = [[4.8, 52.3, 1.5], [4.9, 52.3], [4.9, 52.4, 2], [4.8, 52.3, 1.5]]
    response = post(scoped_client(tenant_a, ["admin"]), ZONES, feature(polygon(ring)))
    assert response.status_code == 201, response.content
    assert response.json()["geometry"]["coordinates"] == [[p[:2] for p in ring]]


def test_a_bow_tie_is_named_where_it_crosses(tenant_a: Tenant) -> None:
    bow_tie = polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])
    response = post(scoped_client(tenant_a, ["admin"]), ZONES, feature(bow_tie))
    assert "Self-intersection" in problem_of(response, 400)["errors"][0]["detail"]


def test_writes_need_the_admin_scope_or_a_console_admin(tenant_a: Tenant) -> None:
    for scopes in (["read"], ["orders"], ["tracking"], ["alerts"]):
        client = scoped_client(tenant_a, scopes)
        assert client.get(ZONES).status_code == 200
        refused = post(client, ZONES, feature())
        assert "'admin'" in problem_of(refused, 403)["detail"]
        problem_of(patch(client, f"{ZONES}{tenant_a.zone.pk}/", {"properties": {"name": "x"}}), 403)
    for role, status in ((Role.MANAGER, 403), (Role.DISPATCHER, 403), (Role.ADMIN, 201)):
        response = post(login(tenant_a.users[role]), ZONES, feature())
        assert response.status_code == status, (role, response.content)
    with scopes_disabled():
        assert Zone.objects.filter(name="Centre").count() == 1


def test_foreign_zones_are_404_and_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with scopes_disabled():
        before = Zone.objects.filter(pk=tenant_b.zone.pk).values().get()
    for client in (scoped_client(tenant_a, ["admin"]), login(tenant_a.users[Role.ADMIN])):
        response = patch(client, f"{ZONES}{tenant_b.zone.pk}/", {"properties": {"name": "x"}})
        problem_of(response, 404)
        assert tenant_b.zone.name not in response.content.decode()
    with scopes_disabled():
        assert Zone.objects.filter(pk=tenant_b.zone.pk).values().get() == before


def test_the_schema_documents_the_zone_writes() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/zones/"]["post"]
    assert {"201", "400", "403", "415", "422"} <= set(create["responses"])
    assert "Token scope: `admin`. Console roles: admin." in create["description"]
    components = schema["components"]["schemas"]
    body = components["ZoneFeatureInput"]
    assert set(body["required"]) == {"type", "geometry", "properties"}
    # The nested objects are closed too: an unknown member anywhere is a 400.
    for name in ("ZoneFeatureInput", "ZonePolygonInput", "ZonePropertiesInput"):
        assert components[name]["additionalProperties"] is False, name
    change = schema["paths"]["/api/v1/zones/{zone_id}/"]["patch"]
    assert {"200", "400", "404"} <= set(change["responses"])
    assert "required" not in components["PatchedZoneFeatureUpdateInput"]
