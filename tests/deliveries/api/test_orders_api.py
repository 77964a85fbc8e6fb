"""The orders REST API over HTTP: tokens, sessions, validation, transitions, timeline."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from deliveries.models import DeliveryEvent, Order
from tenancy.models import ApiToken, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.support.problems import problem_fields

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def new_order(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {
        "reference": "API-1",
        "customer_name": "Api Customer",
        "address": "5 Api Street",
        "hub": tenant.hub.pk,
        "phone": "+31 612345678",
        "latitude": 52.3,
        "longitude": 4.9,
        "window_start": "2030-05-01T10:00:00+02:00",
        "window_end": "2030-05-01T12:00:00+02:00",
        **fields,
    }


def test_token_lists_only_own_orders(tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = token_client().get(ORDERS)
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 1 and body["next"] is None
    assert body["results"][0]["reference"] == tenant_a.order.reference  # type: ignore[union-attr]
    assert tenant_b.order.reference not in response.content.decode()  # type: ignore[union-attr]


def test_token_use_is_recorded(tenant_a: Tenant) -> None:
    token_client().get(ORDERS)
    with scopes_disabled():
        assert ApiToken.objects.get(organization=tenant_a.organization).last_used_at is not None


@pytest.mark.parametrize(
    "header", ["Token nonsense", "Token", "Token a b", "Bearer alpha-api-token-secret-0123456789"]
)
def test_bad_credentials_are_refused(tenant_a: Tenant, header: str) -> None:
    response = Client(HTTP_AUTHORIZATION=header).get(ORDERS)
    assert response.status_code in (401, 403)


def test_inactive_token_is_refused(tenant_a: Tenant) -> None:
    with scopes_disabled():
        ApiToken.objects.filter(organization=tenant_a.organization).update(active=False)
    assert token_client().get(ORDERS).status_code == 401


def test_anonymous_is_refused(tenant_a: Tenant) -> None:
    assert Client().get(ORDERS).status_code == 401


def test_create_order_with_token(tenant_a: Tenant) -> None:
    response = token_client().post(ORDERS, new_order(tenant_a), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "created" and data["tracking_code"]
    assert data["needs_coordinates"] is False
    assert data["window_start"].startswith("2030-05-01T08:00:00")
    with scopes_disabled():
        event = DeliveryEvent.objects.get(order_id=data["id"])
    assert event.source == DeliveryEvent.Source.API and event.actor is None


def test_create_order_invalid_input_gives_field_errors(tenant_a: Tenant) -> None:
    payload = new_order(tenant_a, reference="", latitude=200, email="nope")
    response = token_client().post(ORDERS, payload, content_type="application/json")
    assert response.status_code == 400
    assert {"reference", "latitude", "email"} <= problem_fields(response)


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"window_end": "2030-05-01T09:00:00+02:00"}, "window_end"),
        ({"longitude": None}, "latitude"),
    ],
)
def test_create_order_service_errors_are_400(
    tenant_a: Tenant, fields: dict[str, Any], error_field: str
) -> None:
    response = token_client().post(
        ORDERS, new_order(tenant_a, **fields), content_type="application/json"
    )
    assert response.status_code == 400
    assert error_field in problem_fields(response)


def test_create_order_on_a_foreign_hub_is_400(tenant_a: Tenant, tenant_b: Tenant) -> None:
    payload = new_order(tenant_a, hub=tenant_b.hub.pk)
    response = token_client().post(ORDERS, payload, content_type="application/json")
    assert response.status_code == 400
    assert "hub" in problem_fields(response)
    with scopes_disabled():
        assert not Order.objects.filter(reference="API-1").exists()


def test_detail_and_foreign_detail(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = token_client()
    assert client.get(f"{ORDERS}{tenant_a.order.pk}/").status_code == 200  # type: ignore[union-attr]
    assert client.get(f"{ORDERS}{tenant_b.order.pk}/").status_code == 404  # type: ignore[union-attr]
    assert client.get(f"{ORDERS}999999999/").status_code == 404


def test_transition_and_timeline(tenant_a: Tenant) -> None:
    client = token_client()
    order_id = tenant_a.order.pk  # type: ignore[union-attr]
    url = f"{ORDERS}{order_id}/transition/"
    for to_status in ("assigned", "out_for_delivery", "arrived"):
        response = client.post(url, {"to_status": to_status}, content_type="application/json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == to_status
    response = client.post(
        url,
        {
            "to_status": "failed",
            "reason_code": "not_home",
            "note": "Rang twice",
            "latitude": 52.1,
            "longitude": 4.8,
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    events = client.get(f"{ORDERS}{order_id}/events/").json()["results"]
    assert [e["to_status"] for e in events] == [
        "created",
        "assigned",
        "out_for_delivery",
        "arrived",
        "failed",
    ]
    assert events[-1]["reason_code"] == "not_home"
    assert events[-1]["note"] == "Rang twice" and events[-1]["source"] == "api"


def test_invalid_transition_is_409(tenant_a: Tenant) -> None:
    url = f"{ORDERS}{tenant_a.order.pk}/transition/"  # type: ignore[union-attr]
    response = token_client().post(url, {"to_status": "delivered"}, content_type="application/json")
    assert response.status_code == 409
    assert "cannot become delivered" in response.json()["detail"]


def test_failed_without_reason_is_409(tenant_a: Tenant) -> None:
    with scope(organization=tenant_a.organization.pk):
        Order.objects.filter(pk=tenant_a.order.pk).update(status="arrived")  # type: ignore[union-attr]
    url = f"{ORDERS}{tenant_a.order.pk}/transition/"  # type: ignore[union-attr]
    response = token_client().post(url, {"to_status": "failed"}, content_type="application/json")
    assert response.status_code == 409
    assert "reason" in response.json()["detail"]


def test_transition_bad_input_is_400(tenant_a: Tenant) -> None:
    url = f"{ORDERS}{tenant_a.order.pk}/transition/"  # type: ignore[union-attr]
    client = token_client()
    assert (
        client.post(url, {"to_status": "flying"}, content_type="application/json").status_code
        == 400
    )
    response = client.post(
        url, {"to_status": "assigned", "latitude": 10}, content_type="application/json"
    )
    assert response.status_code == 400 and "latitude" in problem_fields(response)


def rows(response: Any) -> int:
    assert response.status_code == 200, response.content
    return len(response.json()["results"])


def test_filters(tenant_a: Tenant, settings: Any) -> None:
    settings.GEOCODER_URL = "http://geocoder.invalid/"  # an order may come without coordinates
    client = token_client()
    client.post(
        ORDERS,
        new_order(tenant_a, reference="FILTER-1", latitude=None, longitude=None),
        content_type="application/json",
    )
    assert rows(client.get(ORDERS, {"q": "filter-1"})) == 1
    assert rows(client.get(ORDERS, {"q": tenant_a.order.tracking_code})) == 1  # type: ignore[union-attr]
    assert rows(client.get(ORDERS, {"needs_coordinates": "true"})) == 1
    assert rows(client.get(ORDERS, {"status": "created"})) == 2
    assert rows(client.get(ORDERS, {"status": "delivered"})) == 0
    assert client.get(ORDERS, {"status": "bogus"}).status_code == 400


def test_session_user_uses_own_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.SUPPORT])
    response = client.get(ORDERS)
    assert response.status_code == 200 and rows(response) == 1
    url = f"{ORDERS}{tenant_a.order.pk}/transition/"  # type: ignore[union-attr]
    response = client.post(url, {"to_status": "cancelled"}, content_type="application/json")
    assert response.status_code == 200
    with scopes_disabled():
        event = DeliveryEvent.objects.filter(order=tenant_a.order).last()
    assert event is not None
    assert event.actor == tenant_a.users[Role.SUPPORT] and event.source == "console"


def test_driver_session_is_refused(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.DRIVER]).get(ORDERS).status_code == 403


def test_schema_documents_the_api(tenant_a: Tenant) -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/orders/{order_id}/transition/" in paths
    assert "409" in paths["/api/v1/orders/{order_id}/transition/"]["post"]["responses"]
    params = {p["name"] for p in paths["/api/v1/orders/"]["get"]["parameters"]}
    assert {"q", "status", "limit", "cursor", "updated_since"} <= params


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("2030-01-01T00:00:00+18:57", 200),  # Python accepts it, PostgreSQL would not
        ("2030-01-01T00:00:00+01:00", 200),
        ("0001-01-01T00:00:00+05:00", 400),  # before year 1 in UTC
        ("yesterday", 400),
    ],
)
def test_window_filters_normalise_offsets(tenant_a: Tenant, value: str, status: int) -> None:
    response = token_client().get(ORDERS, {"window_from": value, "window_to": value})
    assert response.status_code == status


def test_hub_scoped_user_sees_only_their_hubs_orders(tenant_a: Tenant) -> None:
    from tenancy.models import Membership
    from tests.deliveries.builders import order_build
    from tests.factories import HubFactory

    other_hub = HubFactory.create(organization=tenant_a.organization, name="Other hub")
    other = order_build(tenant_a.organization, other_hub, reference="OTHER-HUB-1")
    user = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        Membership.objects.get(user=user).hubs.add(tenant_a.hub)
    client = login(user)
    references = [o["reference"] for o in client.get(ORDERS).json()["results"]]
    assert references == [tenant_a.order.reference]  # type: ignore[union-attr]
    assert client.get(f"{ORDERS}{other.pk}/").status_code == 404
    response = client.post(
        f"{ORDERS}{other.pk}/transition/",
        {"to_status": "assigned"},
        content_type="application/json",
    )
    assert response.status_code == 404
    response = client.post(
        ORDERS, new_order(tenant_a, hub=other_hub.pk), content_type="application/json"
    )
    assert response.status_code == 400
    assert login(user).get(f"/orders/{other.pk}/").status_code == 404
