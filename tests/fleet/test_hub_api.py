"""Hubs written over the API: create and change with the admin scope (or a console admin), with
Django admin's rules (a code unique in the organization, a position of latitude and longitude)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from fleet.models import Hub
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.factories import HubFactory
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

HUBS = "/api/v1/hubs/"


def new_hub(**fields: Any) -> dict[str, Any]:
    return {"name": "North Depot", "code": "north", "latitude": 52.4, "longitude": 4.9, **fields}


def test_an_admin_creates_a_hub_and_changes_it_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    body = new_hub(name=" North Depot ", region="Noord", eta_speed_kmh=30)
    response = post(admin, HUBS, body, **{"Idempotency-Key": "hub-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{HUBS}{created['id']}/"
    assert {k: created[k] for k in ("name", "code", "region", "address", "latitude")} == {
        "name": "North Depot",
        "code": "north",
        "region": "Noord",
        "address": "",
        "latitude": 52.4,
    }
    assert (created["eta_speed_kmh"], created["eta_detour_factor"]) == (30, 1.35)
    again = post(admin, HUBS, body, **{"Idempotency-Key": "hub-1"})
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    assert again["Idempotent-Replayed"] == "true"
    changed = patch(admin, response["Location"], {"address": "1 Quay", "eta_detour_factor": 1.5})
    assert changed.status_code == 200, changed.content
    assert changed.json() == {
        **created,
        "address": "1 Quay",
        "eta_detour_factor": 1.5,
        "updated_at": changed.json()["updated_at"],
    }
    moved = patch(admin, response["Location"], {"latitude": 52.5, "longitude": 5.0})
    assert (moved.json()["latitude"], moved.json()["longitude"]) == (52.5, 5.0)
    with scopes_disabled():
        stored = Hub.objects.get(pk=created["id"])
    assert (stored.organization_id, stored.code, stored.address, stored.latitude) == (
        tenant_a.organization.pk,
        "north",
        "1 Quay",
        52.5,
    )


def test_bad_hubs_are_refused_by_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    cases = [
        (new_hub(code=tenant_a.hub.code), {"code"}),
        (new_hub(code="no spaces"), {"code"}),
        (new_hub(code=""), {"code"}),
        (new_hub(name=""), {"name"}),
        (new_hub(latitude=91), {"latitude"}),
        (new_hub(longitude=-180.5), {"longitude"}),
        (new_hub(eta_speed_kmh=1), {"eta_speed_kmh"}),
        (new_hub(eta_detour_factor=9), {"eta_detour_factor"}),
        (new_hub(id=5), {"id"}),
        (new_hub(organization=tenant_b.organization.pk), {"organization"}),
        ({"name": "x", "code": "x"}, {"latitude", "longitude"}),
    ]
    for body, fields in cases:
        response = post(admin, HUBS, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
        for marker in tenant_b.markers:
            assert marker not in response.content.decode()
    # Another organization's code is not taken here.
    assert post(admin, HUBS, new_hub(code=tenant_b.hub.code)).status_code == 201
    url = f"{HUBS}{tenant_a.hub.pk}/"
    before = admin.get(url).json()
    changes: list[tuple[dict[str, Any], set[str]]] = [
        ({"code": tenant_b.hub.code}, {"code"}),  # the hub created above
        ({"name": "  "}, {"name"}),
        ({"latitude": 10}, {"longitude"}),
        ({"longitude": 10}, {"latitude"}),
        ({"latitude": None, "longitude": None}, {"latitude", "longitude"}),
        ({"updated_at": "2030-01-01T00:00:00Z"}, {"updated_at"}),
    ]
    for change, names in changes:
        assert problem_fields(patch(admin, url, change)) == names, change
    assert admin.get(url).json() == before
    assert patch(admin, url, {"code": tenant_a.hub.code}).status_code == 200


def test_writes_need_the_admin_scope_or_a_console_admin(tenant_a: Tenant) -> None:
    for scopes in (["read"], ["orders"], ["tracking"], ["alerts"]):
        client = scoped_client(tenant_a, scopes)
        assert client.get(HUBS).status_code == 200
        refused = post(client, HUBS, new_hub())
        assert "'admin'" in problem_of(refused, 403)["detail"]
        problem_of(patch(client, f"{HUBS}{tenant_a.hub.pk}/", {"name": "x"}), 403)
    for role, status in ((Role.MANAGER, 403), (Role.DISPATCHER, 403), (Role.ADMIN, 201)):
        response = post(login(tenant_a.users[role]), HUBS, new_hub())
        assert response.status_code == status, (role, response.content)
    with scopes_disabled():
        assert Hub.objects.filter(code="north").count() == 1


def test_a_hub_scoped_admin_changes_their_hubs_only_and_creates_none(tenant_a: Tenant) -> None:
    admin = tenant_a.users[Role.ADMIN]
    with scopes_disabled():
        other = HubFactory.create(organization=tenant_a.organization, code="other")
        Membership.objects.get(user=admin, organization=tenant_a.organization).hubs.set(
            [tenant_a.hub]
        )
    client = login(admin)
    problem_of(post(client, HUBS, new_hub()), 403)
    problem_of(patch(client, f"{HUBS}{other.pk}/", {"name": "mine now"}), 404)
    assert patch(client, f"{HUBS}{tenant_a.hub.pk}/", {"region": "R"}).status_code == 200
    with scopes_disabled():
        assert not Hub.objects.filter(code="north").exists()
        assert Hub.objects.get(pk=other.pk).name != "mine now"


def test_foreign_hubs_are_404_and_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with scopes_disabled():
        before = Hub.objects.filter(pk=tenant_b.hub.pk).values().get()
    for client in (scoped_client(tenant_a, ["admin"]), login(tenant_a.users[Role.ADMIN])):
        response = patch(client, f"{HUBS}{tenant_b.hub.pk}/", {"name": "stolen"})
        problem_of(response, 404)
        assert tenant_b.hub.name not in response.content.decode()
    with scopes_disabled():
        assert Hub.objects.filter(pk=tenant_b.hub.pk).values().get() == before


def test_the_schema_documents_the_hub_writes() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/hubs/"]["post"]
    assert {"201", "400", "403", "415", "422"} <= set(create["responses"])
    assert "Token scope: `admin`. Console roles: admin." in create["description"]
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}
    body = schema["components"]["schemas"]["HubInput"]
    assert set(body["required"]) == {"name", "code", "latitude", "longitude"}
    assert body["additionalProperties"] is False
    change = schema["paths"]["/api/v1/hubs/{hub_id}/"]["patch"]
    assert {"200", "400", "404"} <= set(change["responses"])
    assert "required" not in schema["components"]["schemas"]["PatchedHubUpdateInput"]
