"""Devices over the API: list and read for every token, create and rotate a token with the
admin scope (or a console admin); the device token is answered once and only its hash kept."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from fleet.models import Device, Vehicle
from tenancy.models import IdempotencyReceipt, Role
from tenancy.tokens import token_hash
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


def spare_vehicle(tenant: Tenant, plate: str = "SPARE-1") -> Vehicle:
    with scopes_disabled():
        return Vehicle.objects.create(
            organization=tenant.organization, hub=tenant.hub, plate=plate, type="van"
        )


def stored(device_id: int) -> Device:
    with scopes_disabled():
        return Device.objects.get(pk=device_id)


def test_an_admin_token_creates_a_device_whose_token_is_shown_once(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    vehicle = spare_vehicle(tenant_a)
    body = {"identifier": "tracker-new-1", "name": "Van tracker", "vehicle": vehicle.pk}
    response = post(admin, DEVICES, body, **{"Idempotency-Key": "dev-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{DEVICES}{created['id']}/"
    assert created["identifier"] == "tracker-new-1" and created["vehicle"] == vehicle.pk
    plain = created["token"]
    assert len(plain) >= 24
    device = stored(created["id"])
    assert device.token_hash == token_hash(plain) and device.check_token(plain)
    # Never again: not on a read, not in the list, not in the idempotency receipt.
    detail = admin.get(response["Location"])
    assert "token" not in detail.json()
    assert plain not in admin.get(DEVICES).content.decode()
    with scopes_disabled():
        receipt = IdempotencyReceipt.objects.get(key="dev-1")
    assert plain not in json.dumps(receipt.body)
    again = post(admin, DEVICES, body, **{"Idempotency-Key": "dev-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == created["id"] and again.json()["token"] is None
    with scopes_disabled():
        assert Device.objects.filter(identifier="tracker-new-1").count() == 1


def test_rotating_a_token_replaces_the_old_one(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    old_hash = stored(tenant_a.device.pk).token_hash
    response = post(admin, f"{DEVICES}{tenant_a.device.pk}/rotate-token/")
    assert response.status_code == 200, response.content
    plain = response.json()["token"]
    device = stored(tenant_a.device.pk)
    assert device.token_hash != old_hash and device.check_token(plain)
    assert not device.check_token("device-secret")  # the factory's old token


def test_a_device_changes_name_vehicle_and_active_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    url = f"{DEVICES}{tenant_a.device.pk}/"
    before = admin.get(url).json()
    spare = spare_vehicle(tenant_a)
    moved = patch(admin, url, {"vehicle": spare.pk, "name": "  Moved tracker "})
    assert moved.status_code == 200, moved.content
    assert moved.json() == {
        **before,
        "vehicle": spare.pk,
        "name": "Moved tracker",
        "updated_at": moved.json()["updated_at"],
    }
    assert moved.json()["updated_at"] > before["updated_at"]
    assert "token" not in moved.json()
    device = stored(tenant_a.device.pk)
    assert (device.vehicle_id, device.name) == (spare.pk, "Moved tracker")
    assert device.check_token("device-secret")  # the token stays
    # The vehicle it left may take another device now.
    freed = post(admin, DEVICES, {"identifier": "tracker-second", "vehicle": tenant_a.vehicle.pk})
    assert freed.status_code == 201, freed.content
    off = patch(admin, url, {"vehicle": None, "active": False, "protocol": "json"})
    assert off.status_code == 200, off.content
    assert (off.json()["vehicle"], off.json()["active"], off.json()["protocol"]) == (
        None,
        False,
        "json",
    )
    assert patch(admin, url, {}).json() == off.json()  # nothing given: nothing changes


def test_a_device_change_refuses_what_a_create_would(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    url = f"{DEVICES}{tenant_a.device.pk}/"
    taken = spare_vehicle(tenant_a, "TAKEN-1")
    assert post(admin, DEVICES, {"identifier": "taker", "vehicle": taken.pk}).status_code == 201
    before = admin.get(url).json()
    cases = [
        ({"vehicle": taken.pk}, {"vehicle"}),  # has a device
        ({"vehicle": tenant_b.vehicle.pk}, {"vehicle"}),  # B's
        ({"vehicle": 2**62}, {"vehicle"}),
        ({"vehicle": "abc"}, {"vehicle"}),
        ({"protocol": "carrier-pigeon"}, {"protocol"}),
        ({"name": "x" * 81}, {"name"}),
        ({"identifier": "renamed"}, {"identifier"}),
        ({"token": "mine"}, {"token"}),
        ({"active": "maybe"}, {"active"}),
    ]
    for body, fields in cases:
        response = patch(admin, url, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
        assert tenant_b.vehicle.plate not in response.content.decode()
    assert admin.get(url).json() == before


def test_writes_need_the_tracking_scope_reads_do_not(tenant_a: Tenant) -> None:
    vehicle = spare_vehicle(tenant_a)
    for scopes in (["read"], ["orders"]):
        client = scoped_client(tenant_a, scopes)
        listing = client.get(DEVICES)
        assert listing.status_code == 200
        assert [d["identifier"] for d in listing.json()["results"]] == [tenant_a.device.identifier]
        refused = post(client, DEVICES, {"identifier": f"x-{scopes[0]}", "vehicle": vehicle.pk})
        assert "'tracking'" in problem_of(refused, 403)["detail"]
        rotate = post(client, f"{DEVICES}{tenant_a.device.pk}/rotate-token/")
        problem_of(rotate, 403)
        change = patch(client, f"{DEVICES}{tenant_a.device.pk}/", {"active": False})
        assert "'tracking'" in problem_of(change, 403)["detail"]
    assert stored(tenant_a.device.pk).check_token("device-secret")
    assert stored(tenant_a.device.pk).active
    with scopes_disabled():
        assert not Device.objects.filter(identifier__startswith="x-").exists()
    # A telematics integration's token: devices, and nothing an admin token adds.
    tracking = scoped_client(tenant_a, ["tracking"])
    created = post(tracking, DEVICES, {"identifier": "x-tracking", "vehicle": vehicle.pk})
    assert created.status_code == 201, created.content
    rotated = post(tracking, f"{DEVICES}{created.json()['id']}/rotate-token/")
    assert rotated.status_code == 200 and rotated.json()["token"]
    renamed = patch(tracking, f"{DEVICES}{created.json()['id']}/", {"name": "Van 9"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Van 9"
    for url in ("/api/v1/tokens/", "/api/v1/webhooks/endpoints/"):
        problem_of(post(tracking, url, {"name": "x"}), 403)


@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.ADMIN, True), (Role.MANAGER, False), (Role.DISPATCHER, False)]
)
def test_console_members_need_the_admin_role_to_write(
    tenant_a: Tenant, role: str, allowed: bool
) -> None:
    client = login(tenant_a.users[role])
    assert client.get(DEVICES).status_code == 200
    response = post(client, DEVICES, {"identifier": f"console-{role}"})
    assert response.status_code == (201 if allowed else 403), response.content
    change = patch(client, f"{DEVICES}{tenant_a.device.pk}/", {"name": f"by {role}"})
    assert change.status_code == (200 if allowed else 403), change.content


def test_bad_input_is_refused_by_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    cases = [
        ({"identifier": ""}, {"identifier"}),
        ({"identifier": "ok-1", "protocol": "carrier-pigeon"}, {"protocol"}),
        ({"identifier": "ok-1", "vehicle": "abc"}, {"vehicle"}),
        ({"identifier": "ok-1", "token": "mine"}, {"token"}),
        ({"identifier": "ok-1", "vehicle": tenant_b.vehicle.pk}, {"vehicle"}),  # B's vehicle
        ({"identifier": "ok-1", "vehicle": tenant_a.vehicle.pk}, {"vehicle"}),  # has a device
        ({}, {"identifier"}),
    ]
    for body, fields in cases:
        response = post(admin, DEVICES, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
    # A taken identifier is refused in the same words whoever has it.
    own = problem_of(post(admin, DEVICES, {"identifier": tenant_a.device.identifier}), 400)
    foreign = problem_of(post(admin, DEVICES, {"identifier": tenant_b.device.identifier}), 400)
    assert own["errors"] == foreign["errors"]
    assert tenant_b.organization.name not in json.dumps(foreign)
    with scopes_disabled():
        assert not Device.objects.filter(identifier="ok-1").exists()


def test_foreign_devices_are_404_and_unchanged(tenant_a: Tenant, tenant_b: Tenant) -> None:
    before = stored(tenant_b.device.pk).token_hash
    for client in (
        scoped_client(tenant_a, ["admin"]),
        login(tenant_a.users[Role.ADMIN]),
        Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}"),
    ):
        problem_of(client.get(f"{DEVICES}{tenant_b.device.pk}/"), 404)
        rotate = post(client, f"{DEVICES}{tenant_b.device.pk}/rotate-token/")
        assert rotate.status_code in (403, 404)
        assert tenant_b.device.identifier not in rotate.content.decode()
        change = patch(client, f"{DEVICES}{tenant_b.device.pk}/", {"vehicle": None})
        assert change.status_code in (403, 404)
        assert tenant_b.device.identifier not in change.content.decode()
    device = stored(tenant_b.device.pk)
    assert (device.token_hash, device.vehicle_id) == (before, tenant_b.vehicle.pk)


def test_a_hub_scoped_member_sees_only_their_hubs_devices(tenant_a: Tenant) -> None:
    from tenancy.models import Membership
    from tests.factories import HubFactory

    other_hub = HubFactory.create(
        organization=tenant_a.organization, code=f"h-{uuid.uuid4().hex[:6]}"
    )
    user = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        membership = Membership.objects.get(user=user, organization=tenant_a.organization)
        membership.hubs.set([other_hub])
    client = login(user)
    assert client.get(DEVICES).json()["results"] == []
    problem_of(client.get(f"{DEVICES}{tenant_a.device.pk}/"), 404)


def test_the_schema_documents_the_device_change() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    change = schema["paths"]["/api/v1/devices/{device_id}/"]["patch"]
    assert {"200", "400", "403", "404", "415"} <= set(change["responses"])
    assert "Token scope: `tracking`. Console roles: admin." in change["description"]
    body = schema["components"]["schemas"]["PatchedDeviceUpdateInput"]
    assert set(body["properties"]) == {"name", "protocol", "vehicle", "active"}
    assert body["additionalProperties"] is False
