"""The support agent's order lookup page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.urls import clear_script_prefix, set_script_prefix
from django_scopes import scopes_disabled

from deliveries.filtersets import OrderFilterSet
from deliveries.models import DeliveryEvent, Order
from deliveries.services.orders import order_transition
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    ["alphaorder-0001", "ALPHACUSTOMER", "alphastreet", "alphaphone", "tracking"],
)
def test_search_finds_the_order_by_any_handle(
    tenant_a: Tenant, tenant_b: Tenant, query: str
) -> None:
    assert tenant_a.order is not None and tenant_b.order is not None
    if query == "tracking":
        query = tenant_a.order.tracking_code
    body = login(tenant_a.users[Role.SUPPORT]).get("/orders/", {"q": query}).content.decode()
    assert tenant_a.order.reference in body
    assert tenant_b.order.reference not in body


def test_search_never_finds_a_foreign_order(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.order is not None
    client = login(tenant_a.users[Role.SUPPORT])
    for query in (tenant_b.order.reference, tenant_b.order.tracking_code, "bravo"):
        body = client.get("/orders/", {"q": query}).content.decode()
        assert "No orders found" in body  # (the query itself is echoed in the search box)
        assert f">{tenant_b.order.reference}</a>" not in body
        assert tenant_b.order.customer_name not in body


def test_lookup_page_lists_and_htmx_returns_the_partial(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.SUPPORT])
    page = client.get("/orders/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="order-search"' in body and "badge delivery-created" in body
    partial = client.get("/orders/", {"q": "alpha"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "ALPHAORDER-0001" in partial


def test_detail_shows_status_window_timeline_and_tracking_link(tenant_a: Tenant) -> None:
    order = tenant_a.order
    assert order is not None
    for to_status in ("assigned", "out_for_delivery", "arrived", "failed", "returned_to_hub"):
        with tenant_context(tenant_a.organization.pk):
            order_transition(
                organization_id=tenant_a.organization.pk,
                order_id=order.pk,
                to_status=to_status,
                actor=tenant_a.users[Role.DRIVER],
                source=DeliveryEvent.Source.DRIVER,
                reason_code="not_home" if to_status == "failed" else None,
            )
    client = login(tenant_a.users[Role.SUPPORT])
    body = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'class="badge delivery-returned" data-status="returned_to_hub"' in body
    assert f"/track/{order.tracking_code}/" in body
    assert "Copy tracking link" in body
    assert "alpha-org Not home" in body  # the failure reason of the timeline
    assert body.count("badge delivery-") >= 7
    partial = client.get(f"/orders/{order.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Timeline" in partial


@pytest.fixture
def under_a_prefix() -> Iterator[None]:
    # What a WSGI server does for a SCRIPT_NAME of /doorstep (the test client never does).
    set_script_prefix("/doorstep/")
    try:
        yield
    finally:
        clear_script_prefix()


def test_the_tracking_link_is_the_tracking_pages_url_under_any_prefix(
    tenant_a: Tenant, under_a_prefix: None
) -> None:
    order = tenant_a.order
    assert order is not None
    response = login(tenant_a.users[Role.SUPPORT]).get(f"/orders/{order.pk}/")
    assert response.status_code == 200
    wanted = f"http://testserver/doorstep/track/{order.tracking_code}/"
    assert response.context["tracking_url"] == wanted
    assert wanted in response.content.decode()


def test_foreign_order_detail_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.order is not None
    response = login(tenant_a.users[Role.SUPPORT]).get(f"/orders/{tenant_b.order.pk}/")
    assert response.status_code == 404
    assert tenant_b.order.reference not in response.content.decode()


def test_driver_cannot_open_the_lookup(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.DRIVER]).get("/orders/").status_code == 403


def test_needs_coordinates_is_flagged(tenant_a: Tenant) -> None:
    order_build(
        tenant_a.organization, tenant_a.hub, reference="NOGEO-1", latitude=None, longitude=None
    )
    body = login(tenant_a.users[Role.SUPPORT]).get("/orders/", {"q": "NOGEO"}).content.decode()
    assert "Needs coordinates" in body


def test_search_uses_the_trigram_indexes(tenant_a: Tenant) -> None:
    """The search's WHERE clause matches the GIN trigram indexes' expressions: with sequential
    scans off (and without the organization filter, which wins on a tiny table) the planner
    answers every branch of it from an index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            # The embedded development PostgreSQL ships no pg_trgm; CI's PostgreSQL does.
            pytest.skip("pg_trgm is not installed in this PostgreSQL")
    with scopes_disabled():
        orders = OrderFilterSet({"q": "alphacust"}, queryset=Order.objects.all()).qs
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = orders.order_by().only("id").explain()
    for index in ("order_reference_trgm", "order_customer_name_trgm", "order_phone_trgm"):
        assert index in plan, plan
    assert "Seq Scan" not in plan


def test_empty_form_values_mean_no_filter(tenant_a: Tenant) -> None:
    body = (
        login(tenant_a.users[Role.SUPPORT])
        .get("/orders/", {"q": "alpha", "status": ""})
        .content.decode()
    )
    assert "ALPHAORDER-0001" in body and "Check the search" not in body
