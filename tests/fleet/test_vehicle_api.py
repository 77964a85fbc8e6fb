"""Vehicles written over the API: create and change with the admin scope (or a console admin),
with Django admin's rules (a plate unique in the organization, its own hub and driver)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from fleet.models import Vehicle
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

VEHICLES = "/api/v1/vehicles/"


def new_vehicle(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {"plate": "NEW-01", "hub": tenant.hub.pk, **fields}


def test_an_admin_creates_a_vehicle_and_changes_it_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    body = new_vehicle(
        tenant_a, name=" Cold van ", type="truck", tags=["cold", "cold", "express"], capacity_kg=900
    )
    response = post(admin, VEHICLES, body, **{"Idempotency-Key": "veh-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{VEHICLES}{created['id']}/"
    assert {k: created[k] for k in ("plate", "name", "type", "tags", "capacity_kg", "hub")} == {
        "plate": "NEW-01",
        "name": "Cold van",
        "type": "truck",
        "tags": ["cold", "express"],
        "capacity_kg": 900,
        "hub": tenant_a.hub.pk,
    }
    assert (created["driver"], created["device"], created["active"]) == (None, None, True)
    again = post(admin, VEHICLES, body, **{"Idempotency-Key": "veh-1"})
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    changed = patch(
        admin, response["Location"], {"driver": tenant_a.driver.pk, "active": False, "tags": []}
    )
    assert changed.status_code == 200, changed.content
    assert changed.json() == {
        **created,
        "driver": tenant_a.driver.pk,
        "active": False,
        "tags": [],
        "updated_at": changed.json()["updated_at"],
    }
    with scopes_disabled():
        stored = Vehicle.objects.get(pk=created["id"])
    assert (stored.driver_id, stored.active, stored.organization_id) == (
        tenant_a.driver.pk,
        False,
        tenant_a.organization.pk,
    )


def test_bad_vehicles_are_refused_by_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    cases = [
        (new_vehicle(tenant_a, plate=tenant_a.vehicle.plate), {"plate"}),
        (new_vehicle(tenant_a, plate=""), {"plate"}),
        (new_vehicle(tenant_a, hub=tenant_b.hub.pk), {"hub"}),
        (new_vehicle(tenant_a, driver=tenant_b.driver.pk), {"driver"}),
        (new_vehicle(tenant_a, type="zeppelin"), {"type"}),
        (new_vehicle(tenant_a, capacity_kg=-1), {"capacity_kg"}),
        (new_vehicle(tenant_a, tags="cold"), {"tags"}),
        (new_vehicle(tenant_a, device="x"), {"device"}),
        (new_vehicle(tenant_a, id=5), {"id"}),
        ({"plate": "X-1"}, {"hub"}),
    ]
    for body, fields in cases:
        response = post(admin, VEHICLES, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
        for marker in tenant_b.markers:
            assert marker not in response.content.decode()
    url = f"{VEHICLES}{tenant_a.vehicle.pk}/"
    before = admin.get(url).json()
    changes: list[tuple[dict[str, Any], set[str]]] = [
        ({"plate": "  "}, {"plate"}),
        ({"hub": tenant_b.hub.pk}, {"hub"}),
        ({"driver": tenant_b.driver.pk}, {"driver"}),
        ({"active": "maybe"}, {"active"}),
    ]
    for change, names in changes:
        assert problem_fields(patch(admin, url, change)) == names, change
    assert admin.get(url).json() == before
    with scopes_disabled():
        assert not Vehicle.objects.filter(plate="X-1").exists()


def test_a_plate_taken_by_another_vehicle_is_refused_on_change(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    other = post(admin, VEHICLES, new_vehicle(tenant_a, plate="OTHER-1")).json()
    taken = patch(admin, f"{VEHICLES}{other['id']}/", {"plate": tenant_a.vehicle.plate})
    assert problem_fields(taken) == {"plate"}
    same = patch(admin, f"{VEHICLES}{other['id']}/", {"plate": "OTHER-1"})
    assert same.status_code == 200


def test_writes_need_the_admin_scope_or_a_console_admin(tenant_a: Tenant) -> None:
    for scopes in (["read"], ["orders"], ["tracking"]):
        client = scoped_client(tenant_a, scopes)
        assert client.get(VEHICLES).status_code == 200
        refused = post(client, VEHICLES, new_vehicle(tenant_a))
        assert "'admin'" in problem_of(refused, 403)["detail"]
        change = patch(client, f"{VEHICLES}{tenant_a.vehicle.pk}/", {"name": "x"})
        problem_of(change, 403)
    for role, status in ((Role.MANAGER, 403), (Role.DISPATCHER, 403), (Role.ADMIN, 201)):
        response = post(login(tenant_a.users[role]), VEHICLES, new_vehicle(tenant_a))
        assert response.status_code == status, (role, response.content)
    with scopes_disabled():
        assert Vehicle.objects.filter(plate="NEW-01").count() == 1


def test_foreign_vehicles_are_404_and_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with scopes_disabled():
        before = Vehicle.objects.filter(pk=tenant_b.vehicle.pk).values().get()
    for client in (scoped_client(tenant_a, ["admin"]), login(tenant_a.users[Role.ADMIN])):
        response = patch(client, f"{VEHICLES}{tenant_b.vehicle.pk}/", {"name": "stolen"})
        problem_of(response, 404)
        assert tenant_b.vehicle.plate not in response.content.decode()
    with scopes_disabled():
        assert Vehicle.objects.filter(pk=tenant_b.vehicle.pk).values().get() == before


def test_the_schema_documents_the_vehicle_writes() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/vehicles/"]["post"]
    assert {"201", "400", "403", "415", "422"} <= set(create["responses"])
    assert "Token scope: `admin`. Console roles: admin." in create["description"]
    body = schema["components"]["schemas"]["VehicleInput"]
    assert set(body["required"]) == {"plate", "hub"} and body["additionalProperties"] is False
    change = schema["paths"]["/api/v1/vehicles/{vehicle_id}/"]["patch"]
    assert {"200", "400", "404"} <= set(change["responses"])
    patched = schema["components"]["schemas"]["PatchedVehicleUpdateInput"]
    assert "required" not in patched
