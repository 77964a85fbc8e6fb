"""`updated_since` on the fleet lists, the webhook endpoints and the API tokens: a client syncs
hubs, zones, vehicles, drivers, devices, endpoints and tokens by asking only for what changed. A
vehicle changes with its device coming or going too (its answer shows the device's identifier);
the latest positions are those stored since."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import WebhookEndpoint
from fleet.models import Device, Driver, Hub, Vehicle, VehicleState, Zone
from tenancy.models import ApiToken
from tests.conftest import Tenant
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields

pytestmark = pytest.mark.django_db

API = "/api/v1/"
LISTS: dict[str, type[Any]] = {
    "hubs/": Hub,
    "zones/": Zone,
    "vehicles/": Vehicle,
    "drivers/": Driver,
    "devices/": Device,
    "webhooks/endpoints/": WebhookEndpoint,
    "tokens/": ApiToken,
}


def ids_of(answer: dict[str, Any]) -> list[int]:
    rows = answer["features"] if "features" in answer else answer["results"]
    return [row["id"] for row in rows]


def age_everything(tenant: Tenant) -> dt.datetime:
    """Every row of the lists changed an hour ago; returns a time a minute ago."""
    long_ago = timezone.now() - dt.timedelta(hours=1)
    with scopes_disabled():
        for model in LISTS.values():
            model.objects.filter(organization=tenant.organization).update(updated_at=long_ago)
    return timezone.now() - dt.timedelta(minutes=1)


@pytest.mark.parametrize("path", list(LISTS))
def test_updated_since_lists_what_changed_since(tenant_a: Tenant, path: str) -> None:
    client = scoped_client(tenant_a, ["admin"])
    since = age_everything(tenant_a)
    query = {"updated_since": since.isoformat()}
    assert ids_of(client.get(API + path, query).json()) == []
    everything = ids_of(client.get(API + path).json())
    assert everything, path
    with scopes_disabled():
        row = LISTS[path].objects.get(pk=everything[0])
        row.name = f"{row.name} (renamed)"
        row.save()  # as Django admin saves it
    changed = client.get(API + path, query).json()
    assert ids_of(changed) == [row.pk], path
    shown = changed["features"][0]["properties"] if path == "zones/" else changed["results"][0]
    assert dt.datetime.fromisoformat(shown["updated_at"]) >= since
    assert problem_fields(client.get(API + path, {"updated_since": "2030-01-01T10:00:00"})) == {
        "updated_since"
    }


def test_a_device_moving_changes_both_vehicles(tenant_a: Tenant) -> None:
    client = scoped_client(tenant_a, ["admin"])
    with scopes_disabled():
        spare = Vehicle.objects.create(
            organization=tenant_a.organization, hub=tenant_a.hub, plate="SPARE-9", type="van"
        )
    since = age_everything(tenant_a)
    query = {"updated_since": since.isoformat()}
    moved = patch(client, f"{API}devices/{tenant_a.device.pk}/", {"vehicle": spare.pk})
    assert moved.status_code == 200, moved.content
    vehicles = client.get(f"{API}vehicles/", query).json()["results"]
    assert {row["id"]: row["device"] for row in vehicles} == {
        tenant_a.vehicle.pk: None,
        spare.pk: tenant_a.device.identifier,
    }
    assert ids_of(client.get(f"{API}devices/", query).json()) == [tenant_a.device.pk]


def test_a_token_changes_when_revoked_not_when_used(tenant_a: Tenant) -> None:
    from django.test import Client

    client = scoped_client(tenant_a, ["admin"])
    other = post(client, f"{API}tokens/", {"name": "Shop", "scopes": ["read"]}).json()
    since = age_everything(tenant_a)
    query = {"updated_since": since.isoformat()}
    used = Client(HTTP_AUTHORIZATION=f"Token {other['token']}").get(f"{API}hubs/")
    assert used.status_code == 200
    assert ids_of(client.get(f"{API}tokens/", query).json()) == []
    revoked = post(client, f"{API}tokens/{other['id']}/revoke/")
    assert revoked.status_code == 200, revoked.content
    changed = client.get(f"{API}tokens/", query).json()["results"]
    assert [(row["id"], row["active"]) for row in changed] == [(other["id"], False)]
    assert dt.datetime.fromisoformat(changed[0]["updated_at"]) >= since
    assert changed[0]["last_used_at"] is not None


def test_latest_positions_since_are_the_fixes_stored_since(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = scoped_client(tenant_a, ["read"])
    now = timezone.now()
    with scopes_disabled():
        spare = Vehicle.objects.create(
            organization=tenant_a.organization, hub=tenant_a.hub, plate="SPARE-7", type="van"
        )
        for vehicle, organization, stored in (
            (tenant_a.vehicle, tenant_a.organization, now - dt.timedelta(hours=1)),
            # Stored just now, though the tracker took the fix an hour ago (its backlog).
            (spare, tenant_a.organization, now),
            (tenant_b.vehicle, tenant_b.organization, now),
        ):
            VehicleState.objects.create(
                vehicle=vehicle, organization=organization, fix_time=now - dt.timedelta(hours=1),
                server_time=stored, latitude=52.3, longitude=4.9, status="stopped",
            )  # fmt: skip
    since = (now - dt.timedelta(minutes=1)).isoformat()
    url = f"{API}positions/latest/"
    results = client.get(url, {"updated_since": since}).json()["results"]
    assert [row["vehicle"] for row in results] == [spare.pk]
    assert len(client.get(url).json()["results"]) == 2
    assert problem_fields(client.get(url, {"updated_since": "yesterday"})) == {"updated_since"}


def test_the_schema_names_updated_since_on_every_synced_list() -> None:
    from django.test import Client

    schema = Client().get("/api/schema/", {"format": "json"}).json()
    for path in [*LISTS, "positions/latest/"]:
        operation = schema["paths"][f"/api/v1/{path}"]["get"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert "updated_since" in names, path
        assert "400" in operation["responses"], path


def test_a_device_moved_or_deleted_in_django_admin_changes_its_vehicles(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from tenancy.models import Role
    from tests.conftest import login
    from tests.fleet.test_device_admin import device_form

    client = scoped_client(tenant_a, ["admin"])
    admin = login(tenant_a.users[Role.ADMIN])
    with scopes_disabled():
        spare = Vehicle.objects.create(
            organization=tenant_a.organization, hub=tenant_a.hub, plate="SPARE-8", type="van"
        )
    device = tenant_a.device
    since = age_everything(tenant_a)
    query = {"updated_since": since.isoformat()}
    moved = admin.post(
        f"/admin/fleet/device/{device.pk}/change/",
        device_form(device.identifier, vehicle=str(spare.pk)),
    )
    assert moved.status_code == 302
    with scopes_disabled():
        assert Device.objects.get(pk=device.pk).vehicle_id == spare.pk
    changed = ids_of(client.get(f"{API}vehicles/", query).json())
    assert sorted(changed) == sorted([tenant_a.vehicle.pk, spare.pk])
    # The form offers only the organization's vehicles (another's is not a valid choice).
    page = admin.get(f"/admin/fleet/device/{device.pk}/change/").content.decode()
    assert spare.plate in page and tenant_b.vehicle.plate not in page
    stolen = admin.post(
        f"/admin/fleet/device/{device.pk}/change/",
        device_form(device.identifier, vehicle=str(tenant_b.vehicle.pk)),
    )
    assert stolen.status_code == 200 and "Select a valid choice" in stolen.content.decode()
    since = age_everything(tenant_a)
    gone = admin.post(f"/admin/fleet/device/{device.pk}/delete/", {"post": "yes"})
    assert gone.status_code == 302
    vehicles = client.get(f"{API}vehicles/", {"updated_since": since.isoformat()}).json()
    assert [(row["id"], row["device"]) for row in vehicles["results"]] == [(spare.pk, None)]
