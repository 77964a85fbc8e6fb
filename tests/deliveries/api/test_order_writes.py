"""Order writes beyond create over HTTP: partial update, cancel, batch create, lookup."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import DeliveryEvent, Order, Stop
from deliveries.services.routes import stop_add
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of, order_advance, order_build
from tests.support.etas import on_commit_run

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
BATCH = "/api/v1/orders/batch/"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def item(tenant: Tenant, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "reference": f"B-{number:04d}",
        "customer_name": f"Batch Customer {number}",
        "address": f"{number} Batch Street",
        "hub": tenant.hub.pk,
        "latitude": tenant.hub.latitude + 0.01,
        "longitude": tenant.hub.longitude + 0.01,
        "window_start": "2030-05-01T10:00:00+02:00",
        "window_end": "2030-05-01T12:00:00+02:00",
        **fields,
    }


def bad_fields(body: dict[str, Any]) -> set[str]:
    """The field names a problem (or a batch item) points at."""
    return {error["pointer"].lstrip("/").split("/")[0] for error in body["errors"]}


def patch(client: Client, order_id: int, body: dict[str, Any]) -> Any:
    return client.patch(f"{ORDERS}{order_id}/", body, content_type="application/json")


# --- PATCH ------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_given_and_announces_them(tenant_a: Tenant) -> None:
    order = tenant_a.order
    assert order is not None
    response = patch(token_client(), order.pk, {"address": " 9 New Road ", "priority": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["address"] == "9 New Road" and body["priority"] == 2
    assert body["customer_name"] == order.customer_name
    with scopes_disabled():
        stored = Order.objects.get(pk=order.pk)
        event = OutboxEvent.objects.filter(kind="order.updated", aggregate_id=order.pk).get()
    assert stored.address == "9 New Road" and stored.tracking_code == order.tracking_code
    assert event.payload["changed_fields"] == ["address", "priority"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latitude": None}, "latitude"),  # one coordinate without the other
        ({"window_start": "2026-12-02T10:00:00"}, "window_start"),  # naive
        ({"window_end": "2000-01-01T00:00:00Z"}, "window_end"),  # ends before it starts
        ({"tracking_code": "mine-now-0123456789"}, "tracking_code"),  # read-only
        ({"colour": "red"}, "colour"),  # unknown
        ({"reference": ""}, "reference"),
        ({"email": "not-an-address"}, "email"),
    ],
)
def test_patch_refuses_what_a_create_would_refuse(
    tenant_a: Tenant, body: dict[str, Any], field: str
) -> None:
    order = tenant_a.order
    assert order is not None
    response = patch(token_client(), order.pk, body)
    assert response.status_code == 400, response.content
    assert field in bad_fields(response.json())
    with scopes_disabled():
        assert Order.objects.get(pk=order.pk).updated_at == order.updated_at


def test_patch_refuses_a_reference_of_another_order(tenant_a: Tenant) -> None:
    other = order_build(tenant_a.organization, tenant_a.hub, reference="TAKEN-1")
    assert tenant_a.order is not None
    response = patch(token_client(), tenant_a.order.pk, {"reference": other.reference})
    assert response.status_code == 400
    assert "reference" in bad_fields(response.json())


def test_patch_refuses_a_foreign_hub_and_a_hub_change_on_a_route(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert tenant_a.order is not None
    response = patch(token_client(), tenant_a.order.pk, {"hub": tenant_b.hub.pk})
    assert response.status_code == 400 and "hub" in bad_fields(response.json())
    # tenant_a.order sits on a planned route: its hub is fixed while it is there.
    with tenant_context(tenant_a.organization):
        from fleet.models import Hub

        second = Hub.objects.create(
            organization=tenant_a.organization, name="Second", code="second",
            latitude=52.0, longitude=4.0,
        )  # fmt: skip
    response = patch(token_client(), tenant_a.order.pk, {"hub": second.pk})
    assert response.status_code == 400 and "route" in response.json()["errors"][0]["detail"]


def test_patch_of_an_order_out_for_delivery_is_a_conflict(tenant_a: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="OUT-1")
    order_advance(order, "assigned", "out_for_delivery")
    response = patch(token_client(), order.pk, {"address": "Elsewhere"})
    assert response.status_code == 409
    assert response.json()["order_status"] == "out_for_delivery"


def test_patch_of_a_foreign_order_is_404_and_changes_nothing(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert tenant_b.order is not None
    for client in (token_client(), login(tenant_a.users[Role.DISPATCHER])):
        response = patch(client, tenant_b.order.pk, {"address": "Hijacked"})
        assert response.status_code == 404
    with scopes_disabled():
        assert Order.objects.get(pk=tenant_b.order.pk).address == tenant_b.order.address


def test_patching_the_position_refreshes_the_routes_etas(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="ETA-1")
    route = tenant_a.delivery_objects[Stop].route
    with django_capture_on_commit_callbacks() as added, tenant_context(tenant_a.organization):
        stop = stop_add(
            organization_id=tenant_a.organization.pk, route_id=route.pk, order_id=order.pk
        )
    on_commit_run(added)
    with scopes_disabled():
        before = Stop.objects.get(pk=stop.pk).eta
    with django_capture_on_commit_callbacks() as patched:
        response = patch(
            token_client(),
            order.pk,
            {"latitude": tenant_a.hub.latitude + 0.2, "longitude": tenant_a.hub.longitude + 0.2},
        )
    assert on_commit_run(patched) == 1
    assert response.status_code == 200
    with scopes_disabled():
        after = Stop.objects.get(pk=stop.pk).eta
    assert before is not None and after is not None and after > before


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_takes_the_order_off_its_route(tenant_a: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="CANCEL-1")
    route = tenant_a.delivery_objects[Stop].route
    with tenant_context(tenant_a.organization):
        stop_add(organization_id=tenant_a.organization.pk, route_id=route.pk, order_id=order.pk)
    response = token_client().post(
        f"{ORDERS}{order.pk}/cancel/", {"note": "Customer called"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    with scopes_disabled():
        assert not Stop.objects.filter(order=order).exists()
        sequences = list(Stop.objects.filter(route=route).values_list("sequence", flat=True))
        last = DeliveryEvent.objects.filter(order=order).order_by("-id").first()
    assert sequences == [1]
    assert last is not None and last.to_status == "cancelled" and last.note == "Customer called"
    assert last.source == "api"


def test_cancel_of_a_finished_order_is_a_conflict(tenant_a: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="DONE-1")
    order_advance(order, "cancelled")
    response = token_client().post(
        f"{ORDERS}{order.pk}/cancel/", {}, content_type="application/json"
    )
    assert response.status_code == 409


def test_cancel_of_a_foreign_order_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.order is not None
    for client in (token_client(), login(tenant_a.users[Role.ADMIN])):
        response = client.post(
            f"{ORDERS}{tenant_b.order.pk}/cancel/", {}, content_type="application/json"
        )
        assert response.status_code == 404
    with scopes_disabled():
        assert Order.objects.get(pk=tenant_b.order.pk).status == "created"
        assert Stop.objects.filter(order=tenant_b.order).exists()


# --- batch ------------------------------------------------------------------------------------


def test_batch_judges_every_item_on_its_own(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_a.order is not None
    items = [
        item(tenant_a, 1),
        item(tenant_a, 2, window_start="2030-05-01T10:00:00"),  # naive: 400
        item(tenant_a, 3, reference=tenant_a.order.reference),  # exists: 409
        item(tenant_a, 4, hub=tenant_b.hub.pk),  # foreign hub: 400
        item(tenant_a, 1),  # the same reference twice in one batch: 400
        item(tenant_a, 6, latitude=None, longitude=None),  # no geocoder: 400
        item(tenant_a, 7, unknown="x"),  # unknown field: 400
        "not an object",
        item(tenant_a, 9),
    ]
    response = token_client().post(BATCH, {"orders": items}, content_type="application/json")
    assert response.status_code == 400  # a non-object item makes the body itself wrong
    response = token_client().post(
        BATCH, {"orders": items[:-2] + items[-1:]}, content_type="application/json"
    )
    assert response.status_code == 207, response.content
    body = response.json()
    statuses = [result["status"] for result in body["results"]]
    assert statuses == [201, 400, 409, 400, 400, 400, 400, 201]
    assert (body["created"], body["failed"]) == (2, 6)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert bad_fields(results[1]) == {"window_start"}
    assert results[2]["existing_id"] == tenant_a.order.pk
    assert results[2]["location"] == f"{ORDERS}{tenant_a.order.pk}/"
    assert bad_fields(results[3]) == {"hub"} and "item 0" in results[4]["errors"][0]["detail"]
    assert bad_fields(results[5]) == {"latitude"} and bad_fields(results[6]) == {"unknown"}
    created = results[0]
    assert created["location"] == f"{ORDERS}{created['id']}/" and created["tracking_code"]
    with scopes_disabled():
        orders = Order.objects.filter(
            organization=tenant_a.organization, reference__startswith="B-"
        )
        assert sorted(orders.values_list("reference", flat=True)) == ["B-0001", "B-0009"]
        assert DeliveryEvent.objects.filter(order__in=orders, to_status="created").count() == 2
        kinds = OutboxEvent.objects.filter(
            kind="order.created", aggregate_id__in=orders.values("pk")
        )
        assert kinds.count() == 2
        assert not Order.objects.filter(
            organization=tenant_b.organization, reference="B-0004"
        ).exists()
    detail = token_client().get(created["location"]).json()
    assert detail["reference"] == "B-0001"


@pytest.mark.parametrize("body", [{"orders": []}, {"orders": {}}, {}, {"orders": [{}] * 1001}])
def test_batch_refuses_a_body_that_is_not_1_to_1000_items(tenant_a: Tenant, body: Any) -> None:
    response = token_client().post(BATCH, body, content_type="application/json")
    assert response.status_code == 400
    assert bad_fields(response.json()) == {"orders"}


def test_batch_of_1000_orders_creates_them_all(tenant_a: Tenant) -> None:
    items = [item(tenant_a, number) for number in range(1000)]
    response = token_client().post(BATCH, {"orders": items}, content_type="application/json")
    assert response.status_code == 207
    assert response.json()["created"] == 1000
    with scopes_disabled():
        assert Order.objects.filter(organization=tenant_a.organization).count() == 1001


def test_batch_falls_back_per_item_when_the_bulk_insert_clashes(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference another writer created after the batch's check fails only its item: the
    bulk insert clashes, and the items are then written one savepoint each."""
    from deliveries.services import order_batch

    racing = order_build(tenant_a.organization, tenant_a.hub, reference="B-0002")
    # The check ran before the other writer committed: it saw no such reference.
    monkeypatch.setattr(order_batch, "references_taken", lambda *args: {})
    items = [item(tenant_a, number) for number in (1, 2, 3)]
    response = token_client().post(BATCH, {"orders": items}, content_type="application/json")
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 409, 201], body
    assert body["results"][1]["existing_id"] == racing.pk
    with scopes_disabled():
        assert Order.objects.filter(reference__in=["B-0001", "B-0003"]).count() == 2
        assert Order.objects.filter(reference="B-0002").count() == 1


def test_batch_by_a_hub_scoped_dispatcher_refuses_other_hubs(tenant_a: Tenant) -> None:
    from fleet.models import Hub
    from tenancy.models import Membership

    with tenant_context(tenant_a.organization):
        other = Hub.objects.create(
            organization=tenant_a.organization, name="Other", code="other", latitude=52, longitude=4
        )
        membership = Membership.objects.get(user=tenant_a.users[Role.DISPATCHER])
        membership.hubs.set([tenant_a.hub])
    client = login(tenant_a.users[Role.DISPATCHER])
    items = [item(tenant_a, 1), item(tenant_a, 2, hub=other.pk)]
    response = client.post(BATCH, {"orders": items}, content_type="application/json")
    assert [r["status"] for r in response.json()["results"]] == [201, 400]


# --- lookup -----------------------------------------------------------------------------------


def test_lookup_by_reference_and_by_tracking_code(tenant_a: Tenant, tenant_b: Tenant) -> None:
    order, foreign = tenant_a.order, tenant_b.order
    assert order is not None and foreign is not None
    client = token_client()
    by_reference = client.get(f"{ORDERS}by-reference/{order.reference}/")
    by_code = client.get(f"{ORDERS}by-tracking-code/{order.tracking_code}/")
    assert by_reference.status_code == by_code.status_code == 200
    assert by_reference.json()["id"] == by_code.json()["id"] == order.pk
    slashed = order_build(tenant_a.organization, tenant_a.hub, reference="2026/000123")
    assert client.get(f"{ORDERS}by-reference/2026/000123/").json()["id"] == slashed.pk
    for url in (
        f"{ORDERS}by-reference/{foreign.reference}/",
        f"{ORDERS}by-tracking-code/{foreign.tracking_code}/",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert foreign.reference not in response.content.decode()


def test_batch_writes_each_order_with_its_timeline_event_and_outbox_event(
    tenant_a: Tenant,
) -> None:
    """The batch's one-statement insert writes what order_create writes: the `created` event
    (by the token's source) and the `order.created` outbox event with order_event_payload()'s
    payload, in the same transaction."""
    from deliveries.outbox import order_event_payload

    items = [item(tenant_a, 1), item(tenant_a, 2, window_start=None, window_end=None)]
    response = token_client().post(BATCH, {"orders": items}, content_type="application/json")
    assert response.status_code == 207, response.content
    ids = [result["id"] for result in response.json()["results"]]
    with tenant_context(tenant_a.organization):
        for order_id in ids:
            order = Order.objects.get(pk=order_id)
            (event,) = DeliveryEvent.objects.filter(order=order)
            assert (event.from_status, event.to_status, event.source) == ("", "created", "api")
            (outbox,) = OutboxEvent.objects.filter(aggregate="order", aggregate_id=order_id)
            assert outbox.kind == "order.created"
            assert outbox.payload == order_event_payload(order, eta_lookup=False)
            assert outbox.occurred_at == order.created_at == event.at


def test_batch_item_with_a_nul_character_fails_alone(tenant_a: Tenant) -> None:
    items = [item(tenant_a, 1, notes="a\x00b"), item(tenant_a, 2)]
    response = token_client().post(BATCH, {"orders": items}, content_type="application/json")
    assert [r["status"] for r in response.json()["results"]] == [400, 201]


def test_batch_window_is_stored_in_utc(tenant_a: Tenant) -> None:
    response = token_client().post(
        BATCH, {"orders": [item(tenant_a, 1)]}, content_type="application/json"
    )
    assert response.status_code == 207
    with scopes_disabled():
        stored = Order.objects.get(reference="B-0001")
    assert stored.window_start == dt.datetime(2030, 5, 1, 8, tzinfo=dt.UTC)
    assert stored.created_at <= timezone.now()
