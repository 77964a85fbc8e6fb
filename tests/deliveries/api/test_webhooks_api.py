"""Webhook endpoints, the delivery log and replays over the API (admin scope; console admins,
and managers for the log and replays). The sending itself: tests/deliveries/test_webhooks.py."""

from __future__ import annotations

import json

import pytest
from django_scopes import scopes_disabled

from deliveries.models import WebhookDelivery, WebhookEndpoint
from tenancy.models import IdempotencyReceipt, Role
from tests.conftest import Tenant, login
from tests.support.api_clients import patch, post, scoped_client
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


def new_endpoint(**fields: object) -> dict[str, object]:
    return {
        "name": "Shop hook",
        "url": "https://shop.example/hooks/doorstep",
        "events": ["order.created", "order.delivered"],
        **fields,
    }


def test_an_admin_subscribes_an_endpoint_and_gets_its_secret_once(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    response = post(admin, ENDPOINTS, new_endpoint(), **{"Idempotency-Key": "wh-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Location"] == f"{ENDPOINTS}{created['id']}/"
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get(pk=created["id"])
        receipt = IdempotencyReceipt.objects.get(key="wh-1")
    assert created["secret"] == endpoint.secret and len(endpoint.secret) >= 32
    assert endpoint.events == ["order.created", "order.delivered"]
    assert endpoint.organization_id == tenant_a.organization.pk
    assert endpoint.secret not in json.dumps(receipt.body)
    detail = admin.get(response["Location"]).json()
    assert "secret" not in detail and detail["url"] == "https://shop.example/hooks/doorstep"
    listing = admin.get(ENDPOINTS).content.decode()
    assert "Shop hook" in listing and endpoint.secret not in listing


def test_an_endpoint_is_changed_in_part(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    endpoint = tenant_a.delivery_objects[WebhookEndpoint]
    url = f"{ENDPOINTS}{endpoint.pk}/"
    response = patch(admin, url, {"events": ["order.failed"], "active": False})
    assert response.status_code == 200, response.content
    assert response.json()["events"] == ["order.failed"] and response.json()["active"] is False
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.active, endpoint.name) == (
        ["order.failed"],
        False,
        "Alphahook Endpoint",
    )
    for body, fields in [
        ({"url": "not a url"}, {"url"}),
        ({"events": ["order.exploded"]}, {"events"}),
        ({"secret": "mine"}, {"secret"}),
        ({"name": ""}, {"name"}),
    ]:
        assert problem_fields(patch(admin, url, body)) == fields, body


def test_deleting_an_endpoint_takes_its_delivery_log_with_it(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    endpoint = tenant_a.delivery_objects[WebhookEndpoint]
    other = post(admin, ENDPOINTS, new_endpoint()).json()
    with scopes_disabled():
        assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    url = f"{ENDPOINTS}{endpoint.pk}/"
    response = admin.delete(url)
    assert response.status_code == 204 and response.content == b""
    with scopes_disabled():
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
        assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()
    problem_of(admin.get(url), 404)
    problem_of(admin.delete(url), 404)
    assert [row["id"] for row in admin.get(ENDPOINTS).json()["results"]] == [other["id"]]


def test_an_attempt_under_way_when_its_endpoint_goes_records_nothing(tenant_a: Tenant) -> None:
    from deliveries.services import webhooks as services
    from tenancy.context import tenant_context

    delivery = tenant_a.delivery_objects[WebhookDelivery]
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        with scopes_disabled():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status="pending", next_attempt_at=None
            )
        claimed = services._attempt_claim(organization_id, delivery.pk)
        assert claimed is not None
        services.webhook_endpoint_delete(
            organization_id=organization_id, endpoint_id=claimed.endpoint_id
        )
        # The POST failed (say): a retry would be due, but there is nothing left to retry.
        assert services._attempt_record(claimed, 500, "HTTP 500") is None
    with scopes_disabled():
        assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_the_delivery_log_filters_and_pages_newest_first(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    logged = tenant_a.delivery_objects[WebhookDelivery]
    with scopes_disabled():
        newer = WebhookDelivery.objects.create(
            organization=tenant_a.organization,
            endpoint=logged.endpoint,
            event="order.delivered",
            event_id="00000000-0000-4000-8000-000000000001",
            payload={"n": 2},
            status=WebhookDelivery.Status.SUCCEEDED,
        )
    first = admin.get(DELIVERIES, {"limit": 1}).json()
    assert [d["id"] for d in first["results"]] == [newer.pk]
    second = admin.get(first["next"]).json()
    assert [d["id"] for d in second["results"]] == [logged.pk] and second["next"] is None
    assert second["results"][0]["last_error"] == "Alphahook refused"
    failed = admin.get(DELIVERIES, {"status": "failed"}).json()["results"]
    assert [d["id"] for d in failed] == [logged.pk]
    by_event = admin.get(DELIVERIES, {"event": "order.delivered"}).json()["results"]
    assert [d["id"] for d in by_event] == [newer.pk]
    # B's endpoint is no choice of A's: refused by name, nothing of B's shown.
    b_endpoint = tenant_b.delivery_objects[WebhookEndpoint]
    refused = admin.get(DELIVERIES, {"endpoint": b_endpoint.pk})
    assert problem_fields(refused) == {"endpoint"}
    for query in ({"status": "lost"}, {"endpoint": "1.5"}, {"cursor": "x"}):
        assert admin.get(DELIVERIES, query).status_code == 400, query
    assert admin.get(f"{DELIVERIES}{logged.pk}/").json()["payload"] == logged.payload


def test_a_replay_queues_a_new_delivery_of_the_same_payload(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    original = tenant_a.delivery_objects[WebhookDelivery]
    response = post(admin, f"{DELIVERIES}{original.pk}/replay/")
    assert response.status_code == 201, response.content
    replay = response.json()
    assert response["Location"] == f"{DELIVERIES}{replay['id']}/"
    assert replay["replay_of"] == original.pk and replay["status"] == "pending"
    assert replay["payload"] == original.payload
    assert replay["event_id"] != str(original.event_id)
    forced = post(admin, f"{DELIVERIES}{original.pk}/replay/", {"force": True})
    assert problem_fields(forced) == {"force"}
    with scopes_disabled():
        WebhookEndpoint.objects.filter(pk=original.endpoint_id).update(active=False)
        count = WebhookDelivery.objects.count()
    assert (
        "inactive" in problem_of(post(admin, f"{DELIVERIES}{original.pk}/replay/"), 409)["detail"]
    )
    with scopes_disabled():
        assert WebhookDelivery.objects.count() == count


@pytest.mark.parametrize("scopes", [["read"], ["orders"], ["tracking"]])
def test_everything_needs_the_admin_scope(tenant_a: Tenant, scopes: list[str]) -> None:
    client = scoped_client(tenant_a, scopes)
    original = tenant_a.delivery_objects[WebhookDelivery]
    for response in (
        client.get(ENDPOINTS),
        client.get(DELIVERIES),
        post(client, ENDPOINTS, new_endpoint()),
        post(client, f"{DELIVERIES}{original.pk}/replay/"),
        client.delete(f"{ENDPOINTS}{original.endpoint_id}/"),
    ):
        assert "admin" in problem_of(response, 403)["detail"]
    with scopes_disabled():
        assert WebhookEndpoint.objects.filter(pk=original.endpoint_id).exists()
        assert not WebhookEndpoint.objects.filter(name="Shop hook").exists()
        assert not WebhookDelivery.objects.filter(replay_of=original).exists()


@pytest.mark.parametrize(
    ("role", "read", "replay", "create"),
    [
        (Role.ADMIN, 200, 201, 201),
        (Role.MANAGER, 200, 201, 403),
        (Role.DISPATCHER, 403, 403, 403),
        (Role.SUPPORT, 403, 403, 403),
    ],
)
def test_console_roles(tenant_a: Tenant, role: str, read: int, replay: int, create: int) -> None:
    client = login(tenant_a.users[role])
    original = tenant_a.delivery_objects[WebhookDelivery]
    assert client.get(DELIVERIES).status_code == read
    assert post(client, f"{DELIVERIES}{original.pk}/replay/").status_code == replay
    assert post(client, ENDPOINTS, new_endpoint()).status_code == create
    # Deleting is an admin's, like creating.
    deleted = client.delete(f"{ENDPOINTS}{original.endpoint_id}/")
    assert deleted.status_code == (204 if create == 201 else 403)


def test_bad_endpoints_are_refused_by_name(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    for body, fields in [
        (new_endpoint(url="ftp://x.example/"), {"url"}),
        (new_endpoint(url=""), {"url"}),
        (new_endpoint(events="order.created"), {"events"}),
        (new_endpoint(events=["nope"]), {"events"}),
        (new_endpoint(name=""), {"name"}),
        (new_endpoint(secret="s"), {"secret"}),
        ({"name": "x"}, {"url", "events"}),
    ]:
        assert problem_fields(post(admin, ENDPOINTS, body)) == fields, body
    with scopes_disabled():
        assert not WebhookEndpoint.objects.filter(name="Shop hook").exists()


def test_the_schema_documents_the_endpoint_delete() -> None:
    from django.test import Client

    schema = Client().get("/api/schema/", {"format": "json"}).json()
    delete = schema["paths"]["/api/v1/webhooks/endpoints/{endpoint_id}/"]["delete"]
    assert {"204", "401", "403", "404", "429"} <= set(delete["responses"])
    assert "requestBody" not in delete
    assert "Console roles: admin" in delete["description"]
