"""Drivers written over the API: create and change with the admin scope (or a console admin)."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from fleet.models import Driver
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

DRIVERS = "/api/v1/drivers/"


def test_an_admin_creates_a_driver_and_changes_them_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    body = {"name": " Dana Driver ", "phone": "+31 6 1", "hub": tenant_a.hub.pk}
    response = post(admin, DRIVERS, body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{DRIVERS}{created['id']}/"
    assert (created["name"], created["hub"], created["active"]) == (
        "Dana Driver",
        tenant_a.hub.pk,
        True,
    )
    changed = patch(admin, response["Location"], {"hub": None, "active": False})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["hub"], changed.json()["active"], changed.json()["name"]) == (
        None,
        False,
        "Dana Driver",
    )
    with scopes_disabled():
        driver = Driver.objects.get(pk=created["id"])
    assert (driver.organization_id, driver.hub_id, driver.user_id) == (
        tenant_a.organization.pk,
        None,
        None,
    )


def test_bad_drivers_are_refused_by_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    for body, fields in [
        ({"name": ""}, {"name"}),
        ({}, {"name"}),
        ({"name": "x", "hub": tenant_b.hub.pk}, {"hub"}),
        ({"name": "x", "user": 1}, {"user"}),
        ({"name": "x", "phone": "1" * 33}, {"phone"}),
    ]:
        response = post(admin, DRIVERS, body)
        assert problem_fields(response) == fields, body
        assert tenant_b.hub.name not in response.content.decode()
    url = f"{DRIVERS}{tenant_a.driver.pk}/"
    before = admin.get(url).json()
    assert problem_fields(patch(admin, url, {"hub": tenant_b.hub.pk})) == {"hub"}
    assert problem_fields(patch(admin, url, {"name": " "})) == {"name"}
    assert admin.get(url).json() == before


def test_writes_need_the_admin_scope_or_a_console_admin(tenant_a: Tenant) -> None:
    for scopes in (["read"], ["orders"], ["tracking"]):
        client = scoped_client(tenant_a, scopes)
        problem_of(post(client, DRIVERS, {"name": "x"}), 403)
        problem_of(patch(client, f"{DRIVERS}{tenant_a.driver.pk}/", {"name": "x"}), 403)
    assert post(login(tenant_a.users[Role.DISPATCHER]), DRIVERS, {"name": "x"}).status_code == 403
    assert post(login(tenant_a.users[Role.ADMIN]), DRIVERS, {"name": "x"}).status_code == 201
    with scopes_disabled():
        assert Driver.objects.filter(name="x").count() == 1


def test_foreign_drivers_are_404_and_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with scopes_disabled():
        before = Driver.objects.filter(pk=tenant_b.driver.pk).values().get()
    for client in (scoped_client(tenant_a, ["admin"]), login(tenant_a.users[Role.ADMIN])):
        response = patch(client, f"{DRIVERS}{tenant_b.driver.pk}/", {"name": "stolen"})
        problem_of(response, 404)
        assert tenant_b.driver.name not in response.content.decode()
    with scopes_disabled():
        assert Driver.objects.filter(pk=tenant_b.driver.pk).values().get() == before


def test_the_schema_documents_the_driver_writes() -> None:
    from django.test import Client

    schema = Client().get("/api/schema/", {"format": "json"}).json()
    create = schema["paths"]["/api/v1/drivers/"]["post"]
    assert {"201", "400", "403", "422"} <= set(create["responses"])
    assert schema["components"]["schemas"]["DriverInput"]["required"] == ["name"]
    change = schema["paths"]["/api/v1/drivers/{driver_id}/"]["patch"]
    assert {"200", "400", "404"} <= set(change["responses"])
