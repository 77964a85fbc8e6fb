"""Creating an order in the console, and the lookup's delivery details and tracking link."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import DeliveryEvent, Order, Stop
from fleet.models import VehicleState
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build
from tests.factories import HubFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # this run's own Redis database (REDIS_URL): resend cooldowns start fresh


def form_data(tenant: Tenant, **values: Any) -> dict[str, Any]:
    data = {
        "reference": "NEW-1",
        "customer_name": "Noor New",
        "phone": "+31 6 11112222",
        "email": "noor@example.com",
        "address": "Prinsengracht 10",
        "latitude": "52.37",
        "longitude": "4.88",
        "window_start": "2026-12-01T09:00",
        "window_end": "2026-12-01T11:30",
        "service_minutes": "6",
        "priority": "2",
        "weight_kg": "1.5",
        "volume_l": "4",
        "notes": "Side door",
        "hub": str(tenant.hub.pk),
    }
    data.update(values)
    return data


def test_a_dispatcher_creates_an_order_in_the_organizations_time_zone(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "America/New_York"
    tenant_a.organization.save()
    client = login(tenant_a.users[Role.DISPATCHER])
    assert "Create order" in client.get("/orders/new/").content.decode()

    response = client.post("/orders/new/", form_data(tenant_a))

    with scopes_disabled():
        order = Order.objects.get(reference="NEW-1")
        event = DeliveryEvent.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    # 09:00 in New York in December is 14:00 UTC.
    assert order.window_start == dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)
    assert order.window_end == dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC)
    assert (order.priority, order.service_minutes, order.weight_kg) == (2, 6, 1.5)
    assert order.organization_id == tenant_a.organization.pk and order.hub_id == tenant_a.hub.pk
    assert (event.to_status, event.source) == ("created", "console")
    assert event.actor_id == tenant_a.users[Role.DISPATCHER].pk
    assert "Order NEW-1 created." in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"latitude": "", "longitude": ""}, "Coordinates are required"),
        ({"longitude": ""}, "Give the longitude too."),
        ({"latitude": "91"}, "less than or equal to 90"),
        ({"window_end": "2026-12-01T08:00"}, "The window must end after it starts."),
        ({"reference": "ALPHAORDER-0001"}, "An order with this reference already exists."),
        ({"reference": ""}, "This field is required."),
        ({"email": "nope"}, "Enter a valid email address."),
        ({"service_minutes": "241"}, "less than or equal to 240"),
        ({"window_start": "soon"}, "Enter a valid date/time."),
    ],
)
def test_bad_input_is_a_form_error_and_creates_nothing(
    tenant_a: Tenant, values: dict[str, str], message: str
) -> None:
    with scopes_disabled():
        before = Order.objects.count()
    response = login(tenant_a.users[Role.MANAGER]).post(
        "/orders/new/", form_data(tenant_a, **values)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    with scopes_disabled():
        assert Order.objects.count() == before


def test_hub_choices_are_the_organizations_and_the_users_scope(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    other = HubFactory.create(organization=tenant_a.organization, name="Second Depot", code="two")
    with scopes_disabled():
        Membership.objects.get(user=tenant_a.users[Role.DISPATCHER]).hubs.set([other])
    client = login(tenant_a.users[Role.DISPATCHER])
    page = client.get("/orders/new/").content.decode()
    assert "Second Depot (two)" in page
    assert tenant_a.hub.name not in page and tenant_b.hub.name not in page
    for hub in (tenant_b.hub, tenant_a.hub):
        response = client.post("/orders/new/", form_data(tenant_a, hub=str(hub.pk)))
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert client.post("/orders/new/", form_data(tenant_a, hub=str(other.pk))).status_code == 302


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.DRIVER])
def test_support_and_drivers_cannot_create_orders(tenant_a: Tenant, role: str) -> None:
    client = login(tenant_a.users[role])
    assert client.get("/orders/new/").status_code == 403
    assert client.post("/orders/new/", form_data(tenant_a)).status_code == 403
    with scopes_disabled():
        assert not Order.objects.filter(reference="NEW-1").exists()


def test_lookup_shows_eta_late_risk_driver_vehicle_and_position_age(tenant_a: Tenant) -> None:
    order = tenant_a.order
    assert order is not None
    now = timezone.now()
    with scopes_disabled():
        Stop.objects.filter(order=order).update(
            eta=order.window_end + dt.timedelta(minutes=20) if order.window_end else now,
            eta_updated_at=now - dt.timedelta(minutes=2),
            late_risk=True,
        )
        VehicleState.objects.create(
            organization=tenant_a.organization,
            vehicle=tenant_a.vehicle,
            fix_time=now - dt.timedelta(minutes=7),
            server_time=now - dt.timedelta(minutes=7),
            latitude=52.37,
            longitude=4.89,
            status=VehicleState.Status.MOVING,
        )
    body = login(tenant_a.users[Role.SUPPORT]).get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="late-risk"' in body
    assert tenant_a.driver.name in body and tenant_a.vehicle.plate in body
    assert "last position 7\xa0minutes ago" in body
    assert 'class="badge status-moving"' in body
    assert "Re-send tracking link" in body and "Copy tracking link" in body


def test_lookup_of_an_unplanned_order_says_so(tenant_a: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="UNPLANNED-1")
    body = login(tenant_a.users[Role.SUPPORT]).get(f"/orders/{order.pk}/").content.decode()
    assert "Not planned on a route" in body
    assert 'data-testid="order-route"' not in body


def test_resending_the_tracking_link_emails_the_customer_once_a_minute(
    tenant_a: Tenant,
) -> None:
    order = order_build(
        tenant_a.organization, tenant_a.hub, reference="MAIL-1", email="c@example.com"
    )
    client = login(tenant_a.users[Role.SUPPORT])
    url = f"/orders/{order.pk}/tracking-link/send/"

    response = client.post(url)

    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["c@example.com"]
    assert f"/track/{order.tracking_code}/" in mail.outbox[0].body
    assert (
        "Tracking link sent to c@example.com."
        in client.get(f"/orders/{order.pk}/").content.decode()
    )
    client.post(url)
    assert len(mail.outbox) == 1
    assert "less than a minute ago" in client.get(f"/orders/{order.pk}/").content.decode()
    assert client.get(url).status_code == 405


def test_resending_without_an_email_address_is_refused(tenant_a: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="NOMAIL-1", email="")
    client = login(tenant_a.users[Role.SUPPORT])
    client.post(f"/orders/{order.pk}/tracking-link/send/")
    assert not mail.outbox
    assert "no e-mail address" in client.get(f"/orders/{order.pk}/").content.decode()


def test_resending_a_foreign_orders_link_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.order is not None
    with scopes_disabled():
        Order.objects.filter(pk=tenant_b.order.pk).update(email="b@example.com")
    for role in Role.values:
        response = login(tenant_a.users[role]).post(
            f"/orders/{tenant_b.order.pk}/tracking-link/send/"
        )
        assert response.status_code in (403, 404), role
    assert not mail.outbox


def test_short_searches_match_only_exact_handles_and_say_so(tenant_a: Tenant) -> None:
    order_build(tenant_a.organization, tenant_a.hub, reference="Q7", customer_name="Q7 Person")
    order_build(tenant_a.organization, tenant_a.hub, reference="Q77", customer_name="Other")
    client = login(tenant_a.users[Role.SUPPORT])
    body = client.get("/orders/", {"q": "Q7"}, HTTP_HX_REQUEST="true").content.decode()
    assert ">Q7</a>" in body and ">Q77</a>" not in body
    assert 'data-testid="short-query"' in body
    body = client.get("/orders/", {"q": "Q77"}, HTTP_HX_REQUEST="true").content.decode()
    assert ">Q77</a>" in body and 'data-testid="short-query"' not in body


def test_the_lookup_lists_the_newest_orders_first(tenant_a: Tenant) -> None:
    for number in range(3):
        order_build(tenant_a.organization, tenant_a.hub, reference=f"SEQ-{number}")
    body = login(tenant_a.users[Role.SUPPORT]).get("/orders/", {"q": "SEQ-"}).content.decode()
    assert body.index(">SEQ-2</a>") < body.index(">SEQ-1</a>") < body.index(">SEQ-0</a>")
