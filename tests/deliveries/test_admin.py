"""Django admin of the delivery models: scoped, tokens shown once, the timeline read-only."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from deliveries.models import DeliveryEvent
from tenancy.models import ApiToken, Role
from tests.conftest import Tenant, login

pytestmark = pytest.mark.django_db


def test_api_token_is_shown_once_and_stored_hashed(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.post(
        "/admin/tenancy/apitoken/add/", {"name": "Shop sync", "active": "on"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    shown = next(m for m in messages if "API token for Shop sync" in m)
    plain = shown.split(": ", 1)[1].split(" ")[0]
    with scopes_disabled():
        token = ApiToken.objects.get(name="Shop sync")
    assert token.organization == tenant_a.organization
    assert token.token_hash != plain and token.check_token(plain)
    page = client.get(f"/admin/tenancy/apitoken/{token.pk}/change/").content.decode()
    assert plain not in page and token.token_hash not in page
    # The new token works against the API.
    from django.test import Client

    api = Client(HTTP_AUTHORIZATION=f"Token {plain}")
    assert api.get("/api/v1/orders/").status_code == 200


def test_delivery_events_cannot_be_changed_or_deleted_in_admin(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    with scopes_disabled():
        event = DeliveryEvent.objects.get(order=tenant_a.order)
    assert client.get("/admin/deliveries/deliveryevent/").status_code == 200
    assert client.get(f"/admin/deliveries/deliveryevent/{event.pk}/delete/").status_code == 403
    client.post(f"/admin/deliveries/deliveryevent/{event.pk}/change/", {"note": "x"})
    with scopes_disabled():
        assert DeliveryEvent.objects.get(pk=event.pk).note == ""


def test_order_admin_lists_only_own_orders(tenant_a: Tenant, tenant_b: Tenant) -> None:
    body = login(tenant_a.users[Role.ADMIN]).get("/admin/deliveries/order/").content.decode()
    assert tenant_a.order is not None and tenant_b.order is not None
    assert tenant_a.order.reference in body
    assert tenant_b.order.reference not in body
